// A graceful-shutdown coordinator: services run until a watch flips, finish
// their in-flight work, report through a JoinSet; the coordinator bounds the
// drain with a timeout and counts the tasks it had to abort.

use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::timeout;

async fn service(
    name: &'static str,
    mut work: mpsc::Receiver<u32>,
    mut stop: watch::Receiver<bool>,
) -> String {
    let mut handled = Vec::new();
    loop {
        tokio::select! {
            biased;
            Some(item) = work.recv() => handled.push(item),
            Ok(()) = stop.changed() => {
                if *stop.borrow() {
                    // Finish what is already queued, then leave.
                    while let Ok(item) = work.try_recv() {
                        handled.push(item);
                    }
                    break;
                }
            }
            else => break,
        }
    }
    format!("{name} handled {handled:?}")
}

#[tokio::main(flavor = "current_thread")]
pub async fn run() -> Vec<String> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut services = JoinSet::new();
    let mut inputs = Vec::new();
    for name in ["billing", "email", "search"] {
        let (tx, rx) = mpsc::channel(8);
        inputs.push(tx);
        services.spawn(service(name, rx, stop_rx.clone()));
    }
    for (i, tx) in inputs.iter().enumerate() {
        for item in 0..=(i as u32) {
            tx.send(item).await.unwrap();
        }
    }
    // A task that ignores shutdown: the coordinator must not wait forever.
    let stubborn = services.spawn(async {
        std::future::pending::<()>().await;
        unreachable!()
    });

    stop_tx.send(true).unwrap();
    let mut out = Vec::new();
    // The bound is a safety net, not a race: the three services finish as
    // soon as they run, so only a machine stalled for seconds reaches it
    // (at 50 ms, a loaded CI box did, and the output changed).
    let drained = timeout(Duration::from_secs(10), async {
        while out.len() < 3 {
            match services.join_next().await {
                Some(Ok(line)) => out.push(line),
                Some(Err(e)) => panic!("service failed: {e}"),
                None => break,
            }
        }
    })
    .await;
    out.sort();
    out.push(format!("drained in time: {}", drained.is_ok()));
    stubborn.abort();
    let mut aborted = 0;
    while let Some(res) = services.join_next().await {
        if res.unwrap_err().is_cancelled() {
            aborted += 1;
        }
    }
    out.push(format!("aborted: {aborted}"));
    out
}
