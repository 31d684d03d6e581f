//! Commands: what each request does to the store and what it answers, with
//! Redis's replies and error texts. Nothing here awaits: the connection
//! (`server.rs`) carries out the few commands that must ([`Action`]).

use crate::store::{Condition, ExpireIf, IncrError, SetExpiry, Store};
use std::time::Duration;

/// A RESP2 reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Simple(&'static str),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Simple("OK")
    }

    fn err(msg: impl Into<String>) -> Reply {
        Reply::Error(msg.into())
    }

    fn bulk_or_nil(v: Option<Vec<u8>>) -> Reply {
        v.map_or(Reply::Nil, Reply::Bulk)
    }

    /// Appends the wire form to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(s) => {
                out.push(b'+');
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Reply::Error(s) => {
                out.push(b'-');
                // An error line cannot hold a newline.
                out.extend(
                    s.bytes()
                        .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
                );
                out.extend_from_slice(b"\r\n");
            }
            Reply::Int(n) => {
                out.push(b':');
                out.extend_from_slice(n.to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            Reply::Bulk(b) => encode_bulk(b, out),
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::Array(items) => {
                out.push(b'*');
                out.extend_from_slice(items.len().to_string().as_bytes());
                out.extend_from_slice(b"\r\n");
                for i in items {
                    i.encode(out);
                }
            }
        }
    }
}

/// Appends a bulk string.
pub fn encode_bulk(b: &[u8], out: &mut Vec<u8>) {
    out.push(b'$');
    out.extend_from_slice(b.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// What the connection does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this reply.
    Reply(Reply),
    /// Send this reply, then close (`QUIT`).
    ReplyAndClose(Reply),
    /// `SUBSCRIBE` these channels.
    Subscribe(Vec<Vec<u8>>),
    /// `UNSUBSCRIBE` these channels (all of them when empty).
    Unsubscribe(Vec<Vec<u8>>),
    /// `PUBLISH` a message to a channel.
    Publish(Vec<u8>, Vec<u8>),
    /// `KEYS pattern`: a scan of the whole keyspace, run as Batch work.
    Keys(Vec<u8>),
    /// `INFO`: the server's figures.
    Info,
}

fn wrong_args(cmd: &str) -> Action {
    Action::Reply(Reply::err(format!(
        "ERR wrong number of arguments for '{cmd}' command"
    )))
}

const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";

fn int_arg(a: &[u8]) -> Result<i64, Reply> {
    crate::resp::parse_i64(a).ok_or_else(|| Reply::err(NOT_INTEGER))
}

/// Commands a subscribed connection may still run (Redis's rule).
pub fn allowed_while_subscribed(name: &[u8]) -> bool {
    [
        &b"subscribe"[..],
        b"unsubscribe",
        b"psubscribe",
        b"punsubscribe",
        b"ping",
        b"quit",
        b"reset",
    ]
    .iter()
    .any(|c| name.eq_ignore_ascii_case(c))
}

/// Runs one request (`args` is not empty) against `store`.
pub fn execute(store: &Store, args: &[Vec<u8>]) -> Action {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let a = &args[1..];
    match name.as_str() {
        "ping" => match a {
            [] => Action::Reply(Reply::Simple("PONG")),
            [m] => Action::Reply(Reply::Bulk(m.clone())),
            _ => wrong_args("ping"),
        },
        "echo" => match a {
            [m] => Action::Reply(Reply::Bulk(m.clone())),
            _ => wrong_args("echo"),
        },
        "get" => match a {
            [k] => Action::Reply(Reply::bulk_or_nil(store.get(k))),
            _ => wrong_args("get"),
        },
        "set" => set(store, a),
        "del" if !a.is_empty() => Action::Reply(Reply::Int(store.del(a))),
        "exists" if !a.is_empty() => Action::Reply(Reply::Int(store.exists(a))),
        "incr" | "decr" => match a {
            [k] => incr(store, k, if name == "incr" { 1 } else { -1 }),
            _ => wrong_args(&name),
        },
        "incrby" | "decrby" => match a {
            [k, by] => match int_arg(by) {
                Ok(by) if name == "incrby" => incr(store, k, by),
                Ok(by) => match by.checked_neg() {
                    Some(by) => incr(store, k, by),
                    None => Action::Reply(Reply::err("ERR decrement would overflow")),
                },
                Err(e) => Action::Reply(e),
            },
            _ => wrong_args(&name),
        },
        "expire" | "pexpire" => match a {
            [k, ttl, opts @ ..] => expire(store, k, ttl, opts, name == "pexpire"),
            _ => wrong_args(&name),
        },
        "ttl" | "pttl" => match a {
            [k] => {
                let ms = store.pttl(k);
                Action::Reply(Reply::Int(if ms < 0 || name == "pttl" {
                    ms
                } else {
                    // Redis rounds to the nearest second.
                    (ms + 500) / 1000
                }))
            }
            _ => wrong_args(&name),
        },
        "mget" if !a.is_empty() => Action::Reply(Reply::Array(
            a.iter().map(|k| Reply::bulk_or_nil(store.get(k))).collect(),
        )),
        "mset" if !a.is_empty() && a.len().is_multiple_of(2) => {
            store.mset(a);
            Action::Reply(Reply::ok())
        }
        "dbsize" if a.is_empty() => Action::Reply(Reply::Int(store.len() as i64)),
        "flushall" | "flushdb" => match a {
            [] => {
                store.clear();
                Action::Reply(Reply::ok())
            }
            [m] if m.eq_ignore_ascii_case(b"sync") || m.eq_ignore_ascii_case(b"async") => {
                store.clear();
                Action::Reply(Reply::ok())
            }
            _ => Action::Reply(Reply::err(SYNTAX)),
        },
        "keys" => match a {
            [p] => Action::Keys(p.clone()),
            _ => wrong_args("keys"),
        },
        "publish" => match a {
            [ch, msg] => Action::Publish(ch.clone(), msg.clone()),
            _ => wrong_args("publish"),
        },
        "subscribe" if !a.is_empty() => Action::Subscribe(a.to_vec()),
        "unsubscribe" => Action::Unsubscribe(a.to_vec()),
        "info" => Action::Info,
        "select" => match a {
            [db] => match int_arg(db) {
                Ok(0) => Action::Reply(Reply::ok()),
                Ok(_) => Action::Reply(Reply::err("ERR DB index is out of range")),
                Err(e) => Action::Reply(e),
            },
            _ => wrong_args("select"),
        },
        // redis-benchmark asks for `CONFIG GET save` and `appendonly`: this
        // server keeps nothing on disk, and says so.
        "config" => match a {
            [sub, key] if sub.eq_ignore_ascii_case(b"get") => {
                let value: Option<&[u8]> = match key.to_ascii_lowercase().as_slice() {
                    b"save" => Some(b""),
                    b"appendonly" => Some(b"no"),
                    b"databases" => Some(b"1"),
                    _ => None,
                };
                Action::Reply(Reply::Array(match value {
                    Some(v) => vec![
                        Reply::Bulk(key.to_ascii_lowercase()),
                        Reply::Bulk(v.to_vec()),
                    ],
                    None => vec![],
                }))
            }
            _ => Action::Reply(Reply::err("ERR CONFIG supports only GET here")),
        },
        "quit" => Action::ReplyAndClose(Reply::ok()),
        "del" | "exists" | "mget" | "mset" | "subscribe" | "dbsize" => wrong_args(&name),
        _ => {
            let mut msg = format!(
                "ERR unknown command '{}', with args beginning with: ",
                truncate(&args[0])
            );
            for x in a {
                msg.push_str(&format!("'{}' ", truncate(x)));
            }
            Action::Reply(Reply::Error(msg))
        }
    }
}

fn truncate(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(128)]).into_owned()
}

fn set(store: &Store, a: &[Vec<u8>]) -> Action {
    let [k, v, opts @ ..] = a else {
        return wrong_args("set");
    };
    let mut cond = Condition::Always;
    let mut expiry = SetExpiry::None;
    let mut get = false;
    let mut i = 0;
    while i < opts.len() {
        let o = opts[i].to_ascii_uppercase();
        match o.as_slice() {
            b"NX" if cond == Condition::Always => cond = Condition::IfAbsent,
            b"XX" if cond == Condition::Always => cond = Condition::IfPresent,
            b"GET" => get = true,
            b"KEEPTTL" if expiry == SetExpiry::None => expiry = SetExpiry::Keep,
            b"EX" | b"PX" if expiry == SetExpiry::None && i + 1 < opts.len() => {
                let n = match int_arg(&opts[i + 1]) {
                    Ok(n) => n,
                    Err(e) => return Action::Reply(e),
                };
                let ms = if o == b"EX" {
                    n.checked_mul(1000)
                } else {
                    Some(n)
                };
                match ms {
                    Some(ms) if n > 0 => {
                        expiry = SetExpiry::After(Duration::from_millis(ms as u64))
                    }
                    _ => {
                        return Action::Reply(Reply::err(
                            "ERR invalid expire time in 'set' command",
                        ))
                    }
                }
                i += 1;
            }
            _ => return Action::Reply(Reply::err(SYNTAX)),
        }
        i += 1;
    }
    let (written, old) = store.set(k, v.clone(), cond, expiry, get);
    Action::Reply(match (get, written) {
        (true, _) => Reply::bulk_or_nil(old),
        (false, true) => Reply::ok(),
        (false, false) => Reply::Nil,
    })
}

fn incr(store: &Store, k: &[u8], by: i64) -> Action {
    Action::Reply(match store.incr_by(k, by) {
        Ok(n) => Reply::Int(n),
        Err(IncrError::NotAnInteger) => Reply::err(NOT_INTEGER),
        Err(IncrError::Overflow) => Reply::err("ERR increment or decrement would overflow"),
    })
}

fn expire(store: &Store, k: &[u8], ttl: &[u8], opts: &[Vec<u8>], millis: bool) -> Action {
    let n = match int_arg(ttl) {
        Ok(n) => n,
        Err(e) => return Action::Reply(e),
    };
    let mut cond = ExpireIf::Always;
    for o in opts {
        let c = match o.to_ascii_uppercase().as_slice() {
            b"NX" => ExpireIf::NoExpiry,
            b"XX" => ExpireIf::HasExpiry,
            b"GT" => ExpireIf::Later,
            b"LT" => ExpireIf::Sooner,
            _ => {
                return Action::Reply(Reply::err(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(o)
                )))
            }
        };
        if cond != ExpireIf::Always && cond != c {
            let msg = if matches!(
                (cond, c),
                (ExpireIf::Later, ExpireIf::Sooner) | (ExpireIf::Sooner, ExpireIf::Later)
            ) {
                "ERR GT and LT options at the same time are not compatible"
            } else {
                "ERR NX and XX, GT or LT options at the same time are not compatible"
            };
            return Action::Reply(Reply::err(msg));
        }
        cond = c;
    }
    let cmd = if millis { "pexpire" } else { "expire" };
    let Some(ms) = (if millis { Some(n) } else { n.checked_mul(1000) }) else {
        return Action::Reply(Reply::err(format!(
            "ERR invalid expire time in '{cmd}' command"
        )));
    };
    Action::Reply(Reply::Int(store.expire(k, ms, cond) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(store: &Store, line: &str) -> Action {
        let args: Vec<Vec<u8>> = line.split(' ').map(|s| s.as_bytes().to_vec()).collect();
        execute(store, &args)
    }

    fn reply(store: &Store, line: &str) -> Reply {
        match run(store, line) {
            Action::Reply(r) => r,
            other => panic!("{line}: {other:?}"),
        }
    }

    fn wire(r: &Reply) -> String {
        let mut v = Vec::new();
        r.encode(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn replies_encode_as_resp2() {
        assert_eq!(wire(&Reply::ok()), "+OK\r\n");
        assert_eq!(wire(&Reply::Int(-3)), ":-3\r\n");
        assert_eq!(wire(&Reply::Nil), "$-1\r\n");
        assert_eq!(wire(&Reply::Bulk(b"hi".to_vec())), "$2\r\nhi\r\n");
        assert_eq!(wire(&Reply::Error("ERR a\r\nb".into())), "-ERR a  b\r\n");
        assert_eq!(
            wire(&Reply::Array(vec![Reply::Nil, Reply::Bulk(b"x".to_vec())])),
            "*2\r\n$-1\r\n$1\r\nx\r\n"
        );
    }

    #[test]
    fn commands_answer_as_redis_does() {
        let s = Store::new();
        assert_eq!(reply(&s, "PING"), Reply::Simple("PONG"));
        assert_eq!(reply(&s, "set k v"), Reply::ok());
        assert_eq!(reply(&s, "GET k"), Reply::Bulk(b"v".to_vec()));
        assert_eq!(reply(&s, "set k w NX"), Reply::Nil);
        assert_eq!(reply(&s, "set k w XX GET"), Reply::Bulk(b"v".to_vec()));
        assert_eq!(
            reply(&s, "set k w EX 0"),
            Reply::err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(reply(&s, "set k w EX x"), Reply::err(NOT_INTEGER));
        assert_eq!(reply(&s, "set k w NX XX"), Reply::err(SYNTAX));
        assert_eq!(reply(&s, "set k w EX 10 PX 10"), Reply::err(SYNTAX));
        assert_eq!(
            reply(&s, "set k"),
            Reply::err("ERR wrong number of arguments for 'set' command")
        );
        assert_eq!(reply(&s, "incr k"), Reply::err(NOT_INTEGER));
        assert_eq!(reply(&s, "incr n"), Reply::Int(1));
        assert_eq!(reply(&s, "decrby n 5"), Reply::Int(-4));
        assert_eq!(reply(&s, "ttl n"), Reply::Int(-1));
        assert_eq!(reply(&s, "ttl none"), Reply::Int(-2));
        assert_eq!(reply(&s, "expire n 100"), Reply::Int(1));
        assert_eq!(reply(&s, "ttl n"), Reply::Int(100));
        assert_eq!(reply(&s, "expire n 100 NX"), Reply::Int(0));
        assert_eq!(
            reply(&s, "expire n 100 NX GT"),
            Reply::err("ERR NX and XX, GT or LT options at the same time are not compatible")
        );
        assert_eq!(
            reply(&s, "expire n 100 foo"),
            Reply::err("ERR Unsupported option foo")
        );
        assert_eq!(reply(&s, "mset a 1 b 2"), Reply::ok());
        assert_eq!(
            reply(&s, "mset a 1 b"),
            Reply::err("ERR wrong number of arguments for 'mset' command")
        );
        assert_eq!(
            reply(&s, "mget a zz b"),
            Reply::Array(vec![
                Reply::Bulk(b"1".to_vec()),
                Reply::Nil,
                Reply::Bulk(b"2".to_vec())
            ])
        );
        assert_eq!(reply(&s, "exists a a zz"), Reply::Int(2));
        assert_eq!(reply(&s, "del a zz"), Reply::Int(1));
        assert_eq!(
            reply(&s, "del"),
            Reply::err("ERR wrong number of arguments for 'del' command")
        );
        assert_eq!(
            reply(&s, "frob x y"),
            Reply::err("ERR unknown command 'frob', with args beginning with: 'x' 'y' ")
        );
    }

    #[test]
    fn commands_that_await_are_handed_to_the_connection() {
        let s = Store::new();
        assert_eq!(run(&s, "KEYS *"), Action::Keys(b"*".to_vec()));
        assert_eq!(
            run(&s, "subscribe a b"),
            Action::Subscribe(vec![b"a".to_vec(), b"b".to_vec()])
        );
        assert_eq!(
            run(&s, "publish a m"),
            Action::Publish(b"a".to_vec(), b"m".to_vec())
        );
        assert_eq!(run(&s, "quit"), Action::ReplyAndClose(Reply::ok()));
        assert!(allowed_while_subscribed(b"PING"));
        assert!(!allowed_while_subscribed(b"get"));
    }
}
