// A pub/sub fan-out: one publisher, subscribers that fall behind, lag
// reported, every subscriber sees the same tail.

use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::JoinSet;

#[tokio::main(flavor = "current_thread")]
pub async fn run() -> Vec<String> {
    let (tx, _) = broadcast::channel::<u32>(4);
    let mut subs = JoinSet::new();
    for id in 0..3 {
        let mut rx = tx.subscribe();
        subs.spawn(async move {
            let mut got = Vec::new();
            let mut lagged = 0;
            loop {
                match rx.recv().await {
                    Ok(v) => got.push(v),
                    Err(RecvError::Lagged(n)) => lagged += n,
                    Err(RecvError::Closed) => break,
                }
            }
            format!("subscriber {id}: lagged {lagged}, got {got:?}")
        });
    }
    // The subscribers have not run yet (current_thread, no yield): the ring
    // of 4 keeps only the last 4 of 10.
    for v in 0..10 {
        tx.send(v).unwrap();
    }
    drop(tx);
    let mut out = subs.join_all().await;
    out.sort();
    out
}
