//! RESP2 requests, parsed incrementally and within fixed caps.
//!
//! A request is either an array of bulk strings (what every client library,
//! `redis-cli` and `redis-benchmark` send) or an inline command (a line of
//! words, what a person types into `telnet`). [`parse`] looks at the bytes
//! received so far and returns one whole request and the bytes it used, or
//! `None` when more bytes are needed. It never copies a bulk string before
//! all of it has arrived, and it rejects a request whose *declared* size
//! exceeds the caps before any of its payload arrives, so a `$1073741824`
//! header costs nothing. Error texts are Redis's own (`Protocol error: ...`).

use std::fmt;

/// The caps every connection's requests are held to.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The largest request (header, arguments and their framing), and so
    /// the most input a connection buffers.
    pub max_request_bytes: usize,
    /// The most arguments in one request.
    pub max_args: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 4 << 20,
            max_args: 64 * 1024,
        }
    }
}

/// The longest inline command line (Redis's `PROTO_INLINE_MAX_SIZE`).
pub const MAX_INLINE: usize = 64 * 1024;

/// The longest count line (`*<n>\r\n` or `$<n>\r\n`) accepted.
const MAX_COUNT_LINE: usize = 32;

/// Why a request cannot be read: the connection answers with this text as
/// an error reply and closes, as Redis does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// `*<n>` is not a number, or exceeds `max_args`.
    InvalidMultibulkLength,
    /// `$<n>` is not a number, is negative, or exceeds the request cap.
    InvalidBulkLength,
    /// An array element is not a bulk string.
    ExpectedBulk(u8),
    /// A bulk string is not followed by CRLF.
    MissingCrlf,
    /// A count line runs on without a CRLF.
    TooBigCount,
    /// An inline line runs on past [`MAX_INLINE`] without a newline.
    TooBigInline,
    /// An inline line's quotes do not close.
    UnbalancedQuotes,
    /// The request as declared is larger than `max_request_bytes`.
    TooBigRequest(usize),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::InvalidMultibulkLength => {
                write!(f, "Protocol error: invalid multibulk length")
            }
            ParseError::InvalidBulkLength => write!(f, "Protocol error: invalid bulk length"),
            ParseError::ExpectedBulk(c) => {
                write!(
                    f,
                    "Protocol error: expected '$', got '{}'",
                    char::from(*c).escape_default()
                )
            }
            ParseError::MissingCrlf => {
                write!(f, "Protocol error: bulk string not followed by CRLF")
            }
            ParseError::TooBigCount => write!(f, "Protocol error: too big count string"),
            ParseError::TooBigInline => write!(f, "Protocol error: too big inline request"),
            ParseError::UnbalancedQuotes => {
                write!(f, "Protocol error: unbalanced quotes in request")
            }
            ParseError::TooBigRequest(cap) => {
                write!(
                    f,
                    "Protocol error: request larger than the server's {cap}-byte limit"
                )
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// One request: its arguments (the command name first). Empty for a blank
/// inline line or a `*0` array, which the server skips.
pub type Args = Vec<Vec<u8>>;

/// Parses one request from the start of `buf`: `Ok(Some((args, used)))`
/// when a whole request is there, `Ok(None)` when more bytes are needed.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(Args, usize)>, ParseError> {
    match buf.first() {
        None => Ok(None),
        Some(b'*') => parse_array(buf, limits),
        Some(_) => parse_inline(buf, limits),
    }
}

/// Reads a `<prefix><integer>\r\n` line at `buf[at..]`: the integer and the
/// index after the line, or `None` if the line is not complete.
fn count_line(buf: &[u8], at: usize, bad: ParseError) -> Result<Option<(i64, usize)>, ParseError> {
    let rest = &buf[at + 1..];
    let Some(nl) = rest
        .iter()
        .take(MAX_COUNT_LINE + 1)
        .position(|&b| b == b'\r')
    else {
        return if rest.len() > MAX_COUNT_LINE {
            Err(ParseError::TooBigCount)
        } else {
            Ok(None)
        };
    };
    if rest.len() < nl + 2 {
        return Ok(None);
    }
    if rest[nl + 1] != b'\n' {
        return Err(bad);
    }
    let n = parse_i64(&rest[..nl]).ok_or(bad)?;
    Ok(Some((n, at + 1 + nl + 2)))
}

/// A decimal integer with an optional leading `-`, nothing else.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.split_first() {
        Some((b'-', d)) => (true, d),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Leading zeros are allowed by Redis's string2ll only for "0" itself.
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?;
        v = if neg {
            v.checked_sub(i64::from(d - b'0'))?
        } else {
            v.checked_add(i64::from(d - b'0'))?
        };
    }
    if neg && v == 0 {
        return None;
    }
    Some(v)
}

fn parse_array(buf: &[u8], limits: &Limits) -> Result<Option<(Args, usize)>, ParseError> {
    let Some((count, mut at)) = count_line(buf, 0, ParseError::InvalidMultibulkLength)? else {
        return Ok(None);
    };
    if count <= 0 {
        // Redis ignores `*0` and `*-1` requests.
        return Ok(Some((Vec::new(), at)));
    }
    if count as u64 > limits.max_args as u64 {
        return Err(ParseError::InvalidMultibulkLength);
    }
    let count = count as usize;
    // First pass: check every header and that all payload is here, without
    // copying anything.
    let mut spans = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let Some(&c) = buf.get(at) else {
            return Ok(None);
        };
        if c != b'$' {
            return Err(ParseError::ExpectedBulk(c));
        }
        let Some((len, body)) = count_line(buf, at, ParseError::InvalidBulkLength)? else {
            return Ok(None);
        };
        if len < 0 {
            return Err(ParseError::InvalidBulkLength);
        }
        let len = len as u64;
        // The request as declared so far, with this argument's payload.
        if (body as u64).saturating_add(len).saturating_add(2) > limits.max_request_bytes as u64 {
            return Err(if len > limits.max_request_bytes as u64 {
                ParseError::InvalidBulkLength
            } else {
                ParseError::TooBigRequest(limits.max_request_bytes)
            });
        }
        let len = len as usize;
        let end = body + len;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ParseError::MissingCrlf);
        }
        spans.push((body, end));
        at = end + 2;
    }
    let args = spans.into_iter().map(|(s, e)| buf[s..e].to_vec()).collect();
    Ok(Some((args, at)))
}

fn parse_inline(buf: &[u8], limits: &Limits) -> Result<Option<(Args, usize)>, ParseError> {
    let cap = MAX_INLINE.min(limits.max_request_bytes);
    let Some(nl) = buf.iter().take(cap + 1).position(|&b| b == b'\n') else {
        return if buf.len() > cap {
            Err(ParseError::TooBigInline)
        } else {
            Ok(None)
        };
    };
    let mut line = &buf[..nl];
    if line.last() == Some(&b'\r') {
        line = &line[..line.len() - 1];
    }
    let args = split_args(line)?;
    if args.len() > limits.max_args {
        return Err(ParseError::InvalidMultibulkLength);
    }
    Ok(Some((args, nl + 1)))
}

/// Splits an inline line into words as Redis's `sdssplitargs` does:
/// whitespace separates; `"..."` takes `\n \r \t \b \a \\ \" \xHH`
/// escapes; `'...'` takes `\'`; a closing quote must be followed by a space
/// or the end of the line.
fn split_args(line: &[u8]) -> Result<Args, ParseError> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            return Ok(args);
        }
        let mut word = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            let c = line.get(i).copied();
            if in_dq {
                match c {
                    None => return Err(ParseError::UnbalancedQuotes),
                    Some(b'\\')
                        if i + 3 < line.len()
                            && line[i + 1] == b'x'
                            && hex(line[i + 2]).is_some()
                            && hex(line[i + 3]).is_some() =>
                    {
                        word.push(
                            hex(line[i + 2]).unwrap_or(0) * 16 + hex(line[i + 3]).unwrap_or(0),
                        );
                        i += 4;
                        continue;
                    }
                    Some(b'\\') if i + 1 < line.len() => {
                        word.push(match line[i + 1] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                        i += 2;
                        continue;
                    }
                    Some(b'"') => {
                        if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return Err(ParseError::UnbalancedQuotes);
                        }
                        i += 1;
                        break;
                    }
                    Some(b) => word.push(b),
                }
            } else if in_sq {
                match c {
                    None => return Err(ParseError::UnbalancedQuotes),
                    Some(b'\\') if line.get(i + 1) == Some(&b'\'') => {
                        word.push(b'\'');
                        i += 2;
                        continue;
                    }
                    Some(b'\'') => {
                        if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return Err(ParseError::UnbalancedQuotes);
                        }
                        i += 1;
                        break;
                    }
                    Some(b) => word.push(b),
                }
            } else {
                match c {
                    None => break,
                    Some(b) if b.is_ascii_whitespace() => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(b) => word.push(b),
                }
            }
            i += 1;
        }
        args.push(word);
    }
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(b: &[u8]) -> Result<Option<(Args, usize)>, ParseError> {
        parse(b, &Limits::default())
    }

    fn args(v: &[&str]) -> Args {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn a_whole_array_request_is_read_and_its_length_returned() {
        let req = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*1\r\n";
        let (a, used) = p(req).unwrap().unwrap();
        assert_eq!(a, args(&["SET", "k", "hello"]));
        assert_eq!(used, req.len() - 4);
    }

    #[test]
    fn every_prefix_of_a_request_asks_for_more() {
        let req = b"*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n";
        for cut in 0..req.len() {
            assert_eq!(p(&req[..cut]), Ok(None), "prefix of {cut} bytes");
        }
        assert!(p(req).unwrap().is_some());
    }

    #[test]
    fn a_huge_bulk_length_is_refused_before_its_payload_arrives() {
        assert_eq!(
            p(b"*1\r\n$1073741824\r\n"),
            Err(ParseError::InvalidBulkLength)
        );
        assert_eq!(
            p(b"*2\r\n$5\r\nhello\r\n$4194300\r\n"),
            Err(ParseError::TooBigRequest(4 << 20))
        );
    }

    #[test]
    fn malformed_headers_are_protocol_errors() {
        assert_eq!(p(b"*x\r\n"), Err(ParseError::InvalidMultibulkLength));
        assert_eq!(p(b"*99999999\r\n"), Err(ParseError::InvalidMultibulkLength));
        assert_eq!(p(b"*1\r\n:5\r\n"), Err(ParseError::ExpectedBulk(b':')));
        assert_eq!(p(b"*1\r\n$-3\r\n"), Err(ParseError::InvalidBulkLength));
        assert_eq!(p(b"*1\r\n$3\r\nabcd\r\n"), Err(ParseError::MissingCrlf));
        assert_eq!(p(b"*1\r\n$01\r\n"), Err(ParseError::InvalidBulkLength));
        assert_eq!(p(&[b'*'; 64]), Err(ParseError::TooBigCount));
        // A count line must end in CRLF: a bare LF waits for more, then fails.
        assert_eq!(p(b"*1\n"), Ok(None));
        assert_eq!(
            p(&[b"*1\n".as_slice(), &[b'x'; 40]].concat()),
            Err(ParseError::TooBigCount)
        );
    }

    #[test]
    fn empty_arrays_are_skipped() {
        assert_eq!(p(b"*0\r\n"), Ok(Some((Vec::new(), 4))));
        assert_eq!(p(b"*-1\r\n"), Ok(Some((Vec::new(), 5))));
    }

    #[test]
    fn inline_commands_split_like_redis() {
        assert_eq!(p(b"PING\r\n"), Ok(Some((args(&["PING"]), 6))));
        assert_eq!(p(b"set k  v\n"), Ok(Some((args(&["set", "k", "v"]), 9))));
        assert_eq!(
            p(b"set \"a b\" 'c\\'d' \"\\x41\\n\"\r\n")
                .unwrap()
                .unwrap()
                .0,
            vec![
                b"set".to_vec(),
                b"a b".to_vec(),
                b"c'd".to_vec(),
                b"A\n".to_vec()
            ]
        );
        assert_eq!(p(b"set \"ab\r\n"), Err(ParseError::UnbalancedQuotes));
        assert_eq!(p(b"set \"ab\"c\r\n"), Err(ParseError::UnbalancedQuotes));
        assert_eq!(p(b"   \r\n"), Ok(Some((Vec::new(), 5))));
        assert_eq!(p(b"PIN"), Ok(None));
        assert_eq!(
            p(&vec![b'a'; MAX_INLINE + 1]),
            Err(ParseError::TooBigInline)
        );
    }

    #[test]
    fn integers_parse_as_redis_string2ll_does() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b"1 ",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
