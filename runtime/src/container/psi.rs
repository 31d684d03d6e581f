//! Pressure stall information (PSI): the share of recent time in which tasks
//! waited for CPU or memory, from `/proc/pressure/*` (the whole machine) and
//! a v2 cgroup's `cpu.pressure` / `memory.pressure` (this cgroup only).
//!
//! A file reads, one line each:
//!
//! ```text
//! some avg10=0.12 avg60=0.05 avg300=0.01 total=123456
//! full avg10=0.00 avg60=0.00 avg300=0.00 total=0
//! ```
//!
//! `some` is the time at least one task was stalled, `full` the time all
//! non-idle tasks were stalled at once; the averages are percentages over
//! 10 s, 60 s and 300 s, `total` the cumulative stall time in microseconds.

use std::time::Duration;

/// One line of a PSI file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PsiLine {
    /// Percentage of the last 10 seconds spent stalled (0.0 to 100.0).
    pub avg10: f64,
    /// Percentage of the last 60 seconds spent stalled.
    pub avg60: f64,
    /// Percentage of the last 300 seconds spent stalled.
    pub avg300: f64,
    /// Total stall time since the counter started.
    pub total: Duration,
}

/// One PSI file: the `some` line and, where the kernel writes one, the
/// `full` line (always for memory; for CPU since Linux 5.13, where the
/// system-wide value is always zero).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Psi {
    /// Time in which at least one task was stalled.
    pub some: PsiLine,
    /// Time in which every non-idle task was stalled at once.
    pub full: Option<PsiLine>,
}

impl Psi {
    /// Parses a PSI file's contents.
    ///
    /// # Errors
    ///
    /// No `some` line, a line that is neither `some` nor `full`, a missing
    /// or malformed `avg10`/`avg60`/`avg300`/`total`, or an average outside
    /// 0 to 100. Unknown `key=value` fields are ignored, so a future kernel
    /// adding one still parses.
    pub fn parse(text: &str) -> Result<Psi, String> {
        let mut some = None;
        let mut full = None;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut words = line.split_whitespace();
            let slot = match words.next() {
                Some("some") => &mut some,
                Some("full") => &mut full,
                _ => {
                    return Err(format!(
                        "unexpected line {line:?} (want `some ...` or `full ...`)"
                    ))
                }
            };
            *slot = Some(parse_line(words, line)?);
        }
        let some = some.ok_or_else(|| "no `some` line".to_owned())?;
        Ok(Psi { some, full })
    }
}

fn parse_line<'a>(words: impl Iterator<Item = &'a str>, line: &str) -> Result<PsiLine, String> {
    let (mut avg10, mut avg60, mut avg300, mut total) = (None, None, None, None);
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(format!("field {word:?} is not key=value in {line:?}"));
        };
        let slot = match key {
            "avg10" => &mut avg10,
            "avg60" => &mut avg60,
            "avg300" => &mut avg300,
            "total" => {
                let micros = value.parse::<u64>().map_err(|_| {
                    format!("total={value:?} is not a count of microseconds in {line:?}")
                })?;
                total = Some(Duration::from_micros(micros));
                continue;
            }
            _ => continue,
        };
        let pct = value
            .parse::<f64>()
            .ok()
            .filter(|p| (0.0..=100.0).contains(p))
            .ok_or_else(|| format!("{key}={value:?} is not a percentage in {line:?}"))?;
        *slot = Some(pct);
    }
    let need = |v: Option<f64>, key: &str| v.ok_or_else(|| format!("no {key}= in {line:?}"));
    Ok(PsiLine {
        avg10: need(avg10, "avg10")?,
        avg60: need(avg60, "avg60")?,
        avg300: need(avg300, "avg300")?,
        total: total.ok_or_else(|| format!("no total= in {line:?}"))?,
    })
}

/// CPU and memory pressure, for the whole machine and for this process's
/// cgroup. Each is `None` where the file is absent (a kernel without PSI,
/// a v1-only host for the cgroup files) or could not be parsed; the
/// result's [`Sources`](super::Sources) says which.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Pressure {
    /// `/proc/pressure/cpu`.
    pub system_cpu: Option<Psi>,
    /// `/proc/pressure/memory`.
    pub system_memory: Option<Psi>,
    /// The process's v2 cgroup's `cpu.pressure`.
    pub cgroup_cpu: Option<Psi>,
    /// The process's v2 cgroup's `memory.pressure`.
    pub cgroup_memory: Option<Psi>,
}

impl Pressure {
    /// CPU pressure: the cgroup's where readable (it describes this
    /// container only), else the machine's.
    pub fn cpu(&self) -> Option<&Psi> {
        self.cgroup_cpu.as_ref().or(self.system_cpu.as_ref())
    }

    /// Memory pressure: the cgroup's where readable, else the machine's.
    pub fn memory(&self) -> Option<&Psi> {
        self.cgroup_memory.as_ref().or(self.system_memory.as_ref())
    }
}
