//! examples/kv's RESP parser and command layer on arbitrary bytes: parsing
//! never panics and never claims more bytes than it was given; every
//! request it returns re-encodes to an array that parses back to the same
//! arguments; and running any request against a store never panics.
#![no_main]

use kv::resp::{parse, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Small caps, so the fuzzer reaches them.
    let limits = Limits {
        max_request_bytes: 512,
        max_args: 16,
    };
    let store = kv::store::Store::new();
    let mut at = 0;
    while at < data.len() {
        let Ok(Some((args, used))) = parse(&data[at..], &limits) else {
            break;
        };
        assert!(used > 0 && at + used <= data.len());
        at += used;
        if args.is_empty() {
            continue;
        }
        let mut wire = format!("*{}\r\n", args.len()).into_bytes();
        for a in &args {
            wire.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            wire.extend_from_slice(a);
            wire.extend_from_slice(b"\r\n");
        }
        let big = Limits {
            max_request_bytes: wire.len().max(MAX_INLINE_LINE),
            max_args: args.len(),
        };
        let (again, n) = parse(&wire, &big)
            .expect("a re-encoded request parses")
            .expect("a re-encoded request is whole");
        assert_eq!((again, n), (args.clone(), wire.len()));
        let _ = kv::cmd::execute(&store, &args);
    }
});

const MAX_INLINE_LINE: usize = kv::resp::MAX_INLINE;
