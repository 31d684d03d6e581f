//! `CpuSet`: a set of CPU ids, and the Linux list format ("0-3,8,10-11") it is
//! read from (sysfs `cpulist`, cgroup `cpuset.cpus`) and printed in.

use std::fmt;
use std::str::FromStr;

use super::error::TopologyError;

const WORD_BITS: usize = u64::BITS as usize;

/// A set of CPU ids, stored as a bitset of any size.
///
/// Invariant: `words` never ends in a zero word, so two equal sets have equal
/// `words` and the derived `PartialEq`/`Hash` are correct.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct CpuSet {
    words: Vec<u64>,
}

impl CpuSet {
    /// The largest CPU id [`CpuSet::parse_list`] accepts. Linux supports at
    /// most 8192 CPUs today; the limit only keeps a garbled file such as
    /// `"0-4000000000"` from allocating gigabytes.
    pub const MAX_PARSED_CPU: usize = (1 << 20) - 1;

    /// An empty set.
    pub const fn new() -> CpuSet {
        CpuSet { words: Vec::new() }
    }

    /// Builds a set from the bits of `words`: bit `b` of `words[w]` is CPU
    /// `w * 64 + b`.
    pub(crate) fn from_words(words: Vec<u64>) -> CpuSet {
        let mut set = CpuSet { words };
        set.trim();
        set
    }

    /// Adds `cpu`; returns whether it was absent.
    pub fn insert(&mut self, cpu: usize) -> bool {
        let (w, bit) = (cpu / WORD_BITS, 1u64 << (cpu % WORD_BITS));
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
        }
        let absent = self.words[w] & bit == 0;
        self.words[w] |= bit;
        absent
    }

    /// Removes `cpu`; returns whether it was present.
    pub fn remove(&mut self, cpu: usize) -> bool {
        let (w, bit) = (cpu / WORD_BITS, 1u64 << (cpu % WORD_BITS));
        match self.words.get_mut(w) {
            Some(word) if *word & bit != 0 => {
                *word &= !bit;
                self.trim();
                true
            }
            _ => false,
        }
    }

    /// Whether `cpu` is in the set.
    pub fn contains(&self, cpu: usize) -> bool {
        self.words
            .get(cpu / WORD_BITS)
            .is_some_and(|word| word & (1u64 << (cpu % WORD_BITS)) != 0)
    }

    /// The number of CPUs in the set.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set holds no CPU.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The CPUs of the set in ascending order.
    pub fn iter(&self) -> CpuSetIter<'_> {
        CpuSetIter {
            words: &self.words,
            index: 0,
            current: self.words.first().copied().unwrap_or(0),
        }
    }

    /// The CPUs in both `self` and `other`.
    pub fn intersection(&self, other: &CpuSet) -> CpuSet {
        let words = self.words.iter().zip(&other.words).map(|(a, b)| a & b);
        CpuSet::from_words(words.collect())
    }

    /// The CPUs in `self`, `other`, or both.
    pub fn union(&self, other: &CpuSet) -> CpuSet {
        let (long, short) = if self.words.len() >= other.words.len() {
            (&self.words, &other.words)
        } else {
            (&other.words, &self.words)
        };
        let mut words = long.clone();
        for (w, s) in words.iter_mut().zip(short) {
            *w |= s;
        }
        CpuSet { words }
    }

    /// The CPUs in `self` but not in `other`.
    pub fn difference(&self, other: &CpuSet) -> CpuSet {
        let words = self.words.iter().enumerate().map(|(i, w)| {
            let o = other.words.get(i).copied().unwrap_or(0);
            w & !o
        });
        CpuSet::from_words(words.collect())
    }

    /// Whether every CPU of `self` is also in `other`.
    pub fn is_subset(&self, other: &CpuSet) -> bool {
        self.words.iter().enumerate().all(|(i, w)| {
            let o = other.words.get(i).copied().unwrap_or(0);
            w & !o == 0
        })
    }

    /// Parses the Linux list format: comma-separated CPU ids and inclusive
    /// ranges (`"0-3,8,10-11"`). Whitespace around entries and a trailing
    /// newline are accepted; an empty (or all-whitespace) string is the empty
    /// set. The stride form `"0-7:2/4"` is not accepted.
    ///
    /// # Errors
    ///
    /// A malformed list, or a CPU id above [`CpuSet::MAX_PARSED_CPU`]; the
    /// message quotes the input and gives the byte offset of the problem.
    pub fn parse_list(input: &str) -> Result<CpuSet, TopologyError> {
        Parser { input, pos: 0 }.parse()
    }

    fn trim(&mut self) {
        while self.words.last() == Some(&0) {
            self.words.pop();
        }
    }
}

impl FromStr for CpuSet {
    type Err = TopologyError;

    fn from_str(s: &str) -> Result<CpuSet, TopologyError> {
        CpuSet::parse_list(s)
    }
}

impl FromIterator<usize> for CpuSet {
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> CpuSet {
        let mut set = CpuSet::new();
        set.extend(iter);
        set
    }
}

impl Extend<usize> for CpuSet {
    fn extend<I: IntoIterator<Item = usize>>(&mut self, iter: I) {
        for cpu in iter {
            self.insert(cpu);
        }
    }
}

impl<'a> IntoIterator for &'a CpuSet {
    type Item = usize;
    type IntoIter = CpuSetIter<'a>;

    fn into_iter(self) -> CpuSetIter<'a> {
        self.iter()
    }
}

/// Prints the Linux list format, runs of two or more CPUs as ranges:
/// `"0-3,8,10-11"`; the empty set prints as `""`.
impl fmt::Display for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut cpus = self.iter().peekable();
        let mut first = true;
        while let Some(start) = cpus.next() {
            let mut end = start;
            while cpus.peek() == Some(&(end + 1)) {
                end += 1;
                cpus.next();
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if end == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuSet({self})")
    }
}

/// Iterator over the CPUs of a [`CpuSet`] in ascending order, from
/// [`CpuSet::iter`].
#[derive(Clone, Debug)]
pub struct CpuSetIter<'a> {
    words: &'a [u64],
    index: usize,
    /// The bits of `words[index]` not yet yielded.
    current: u64,
}

impl Iterator for CpuSetIter<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.current == 0 {
            self.index += 1;
            self.current = *self.words.get(self.index)?;
        }
        let bit = self.current.trailing_zeros() as usize;
        self.current &= self.current - 1;
        Some(self.index * WORD_BITS + bit)
    }
}

/// A hand-written parser so that every error can name the byte it is at.
struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn parse(mut self) -> Result<CpuSet, TopologyError> {
        let mut set = CpuSet::new();
        self.skip_whitespace();
        if self.pos == self.input.len() {
            return Ok(set);
        }
        loop {
            self.skip_whitespace();
            let at = self.pos;
            let start = self.number("a CPU id")?;
            self.skip_whitespace();
            let end = if self.peek() == Some(b'-') {
                self.pos += 1;
                self.skip_whitespace();
                if matches!(self.peek(), None | Some(b',')) {
                    return Err(self.error("range end missing"));
                }
                let end = self.number("a range end")?;
                if end < start {
                    let what = format!("range {start}-{end} is reversed (start after end)");
                    return Err(TopologyError::parse(self.input, what, at));
                }
                self.skip_whitespace();
                end
            } else {
                start
            };
            set.extend(start..=end);
            match self.peek() {
                None => return Ok(set),
                Some(b',') => self.pos += 1,
                Some(b':') => {
                    return Err(self.error("stride ranges (\"a-b:n/m\") are not supported"))
                }
                Some(_) => return Err(self.unexpected()),
            }
        }
    }

    /// Reads a decimal CPU id; `what` names it in the error if there is none.
    fn number(&mut self, what: &str) -> Result<usize, TopologyError> {
        let at = self.pos;
        let digits = self.input.as_bytes()[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return Err(match self.peek() {
                None | Some(b',') => self.error(&format!("expected {what}")),
                Some(_) => self.unexpected(),
            });
        }
        self.pos += digits;
        let text = &self.input[at..self.pos];
        match text.parse::<usize>() {
            Ok(n) if n <= CpuSet::MAX_PARSED_CPU => Ok(n),
            _ => {
                let max = CpuSet::MAX_PARSED_CPU;
                let what = format!("CPU id {text} is larger than the supported maximum {max}");
                Err(TopologyError::parse(self.input, what, at))
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn error(&self, what: &str) -> TopologyError {
        TopologyError::parse(self.input, what.to_owned(), self.pos)
    }

    fn unexpected(&self) -> TopologyError {
        let c = self.input[self.pos..].chars().next().unwrap_or(' ');
        self.error(&format!("unexpected character {c:?}"))
    }
}
