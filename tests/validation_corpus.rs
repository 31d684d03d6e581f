//! The detection corpus: small blocking bugs written as a tokio user would
//! write them, across the blocking-bug categories of the GoKer benchmark
//! (double locking, AB-BA, RWR, channel, channel & context, condition
//! variable, channel & lock, channel & WaitGroup, WaitGroup misuse) plus
//! async-specific ones, each with a fixed twin. Every bug must be reported
//! with the right kind and the right source lines, and no twin may be
//! reported at all; the summary prints the score (detected / kernels, false
//! reports / fixed twins).
//!
//! Run: `cargo test -p tests --test validation_corpus` (add names to run
//! some kernels only, e.g. `-- abba chanlock`). A custom harness (no
//! libtest): the kernels must run one at a time, and the score needs them
//! all. See `corpus_support` for how a kernel is run and judged.

mod corpus_support;

#[path = "validation_corpus_async.rs"]
mod async_kernels;
#[path = "validation_corpus_channels.rs"]
mod channels;
#[path = "validation_corpus_locks.rs"]
mod locks;
#[path = "validation_corpus_mixed.rs"]
mod mixed;

fn main() {
    let mut kernels = locks::kernels();
    kernels.extend(channels::kernels());
    kernels.extend(mixed::kernels());
    kernels.extend(async_kernels::kernels());
    corpus_support::main(kernels);
}
