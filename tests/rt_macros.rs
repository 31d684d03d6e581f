//! Run-time behaviour of `#[perf_runtime::main]` and `#[perf_runtime::test]`:
//! which thread the body runs on, that the requested workers exist, and that
//! `return`, `?` and the function's attributes work as in a plain fn.
//! What the macros accept and reject is in `macros_trybuild.rs`.

mod support;
use support::*;

use std::error::Error;
use std::num::ParseIntError;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::{self, ThreadId};

#[perf_runtime::test]
async fn test_defaults_to_current_thread_tasks_run_on_the_test_thread() {
    // An `Rc` held across an `.await` also proves the body need not be `Send`,
    // which is what running it on the caller's thread allows.
    let body = Rc::new(thread::current().id());
    let task = perf_runtime::spawn(async { thread::current().id() })
        .await
        .expect("the task panicked");
    assert_eq!(task, *body, "a current_thread task ran on another thread");
    assert_eq!(thread::current().id(), *body, "the body moved threads");
}

#[perf_runtime::main(flavor = "current_thread")]
async fn threads_seen_by_current_thread_main() -> (ThreadId, ThreadId) {
    let body = thread::current().id();
    let task = perf_runtime::spawn(async { thread::current().id() })
        .await
        .expect("the task panicked");
    (body, task)
}

#[test]
fn current_thread_main_runs_on_the_calling_thread() {
    // Only a plain #[test] can look at the thread before the macro's code
    // runs, so the caller's identity comes from here.
    let caller = thread::current().id();
    let (body, task) = threads_seen_by_current_thread_main();
    assert_eq!(body, caller, "the body did not run on the calling thread");
    assert_eq!(task, caller, "a task did not run on the calling thread");
}

#[perf_runtime::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_threads_2_runs_two_blocked_tasks_at_once() {
    // Each task blocks its worker until the other task is blocked too: only
    // two workers running at the same time get both past `meet`.
    let rendezvous = Arc::new(Rendezvous::new());
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            let rendezvous = Arc::clone(&rendezvous);
            perf_runtime::spawn(async move { (rendezvous.meet(2), thread::current().id()) })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.expect("the task panicked"));
    }
    assert!(
        seen.iter().all(|(met, _)| *met),
        "the two tasks never ran at the same time: `worker_threads = 2` did not give two workers"
    );
    assert_ne!(seen[0].1, seen[1].1, "both tasks report the same thread");
}

#[perf_runtime::test]
async fn test_returning_result_uses_question_mark() -> Result<(), Box<dyn Error>> {
    // `??`: the join error, then the task's own error, both converted by `?`
    // into the test's error type as in a plain fn.
    let n: u32 = perf_runtime::spawn(async { "42".parse::<u32>() }).await??;
    assert_eq!(n, 42);
    Ok(())
}

#[perf_runtime::main(flavor = "current_thread")]
async fn parse_on_a_runtime(text: &'static str) -> Result<u32, ParseIntError> {
    let n = perf_runtime::spawn(async move { text.parse::<u32>() })
        .await
        .expect("the task panicked")?;
    Ok(n + 1)
}

#[test]
fn main_helper_returns_the_body_result_and_errors() {
    assert_eq!(parse_on_a_runtime("41"), Ok(42));
    assert!(parse_on_a_runtime("forty-one").is_err());
}

#[perf_runtime::test]
async fn return_leaves_the_body() {
    let done = perf_runtime::spawn(async { true })
        .await
        .expect("the task panicked");
    if done {
        return;
    }
    unreachable!("`return` in the body must leave the test");
}

#[perf_runtime::test]
#[should_panic(expected = "a panic in the body fails the test")]
async fn should_panic_is_kept() {
    panic!("a panic in the body fails the test");
}

#[perf_runtime::test(flavor = "multi_thread")]
#[should_panic(expected = "a panic on the multi-thread runtime fails the test")]
async fn should_panic_is_kept_on_multi_thread() {
    panic!("a panic on the multi-thread runtime fails the test");
}
