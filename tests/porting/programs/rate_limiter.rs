// A concurrency limiter: at most 2 requests in flight, try_join! for
// dependent fetches that fail fast, Notify to release a held gate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

async fn fetch(key: &str) -> Result<usize, String> {
    tokio::task::yield_now().await;
    if key.is_empty() {
        Err("empty key".to_string())
    } else {
        Ok(key.len())
    }
}

#[tokio::main(flavor = "current_thread")]
pub async fn run() -> Vec<String> {
    let mut out = Vec::new();
    let limit = Arc::new(Semaphore::new(2));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_seen = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Notify::new());
    let mut set = JoinSet::new();
    for i in 0..6usize {
        let (limit, in_flight, max_seen) = (limit.clone(), in_flight.clone(), max_seen.clone());
        set.spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            max_seen.fetch_max(now, Ordering::SeqCst);
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            in_flight.fetch_sub(1, Ordering::SeqCst);
            i
        });
    }
    let mut finished = set.join_all().await;
    finished.sort();
    out.push(format!("finished: {finished:?}"));
    out.push(format!(
        "max in flight: {}",
        max_seen.load(Ordering::SeqCst)
    ));

    let both = tokio::try_join!(fetch("alpha"), fetch("be"));
    out.push(format!("try_join ok: {both:?}"));
    let failed = tokio::try_join!(
        fetch("alpha"),
        fetch(""),
        std::future::pending::<Result<usize, String>>()
    );
    out.push(format!("try_join err: {failed:?}"));

    let waiter = {
        let gate = gate.clone();
        tokio::spawn(async move {
            gate.notified().await;
            "released"
        })
    };
    gate.notify_one();
    out.push(format!("gate: {}", waiter.await.unwrap()));
    out
}
