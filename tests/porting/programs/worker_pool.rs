// A worker pool as a tokio user writes it: requests over mpsc with oneshot
// replies, a JoinSet of workers, watch for configuration, broadcast for
// shutdown, timeouts, select! with refutable patterns, join!.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch, Mutex};
use tokio::task::JoinSet;
use tokio::time::timeout;

struct Job {
    n: u64,
    reply: oneshot::Sender<u64>,
}

async fn worker(
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    mut config: watch::Receiver<u64>,
    mut shutdown: broadcast::Receiver<()>,
) -> usize {
    let mut done = 0;
    loop {
        let job = {
            let mut rx = jobs.lock().await;
            tokio::select! {
                biased;
                _ = shutdown.recv() => None,
                job = rx.recv() => job,
            }
        };
        let Some(job) = job else { break };
        let factor = *config.borrow_and_update();
        let _ = job.reply.send(job.n * factor);
        done += 1;
    }
    done
}

async fn submit(tx: &mpsc::Sender<Job>, n: u64) -> u64 {
    let (reply, rx) = oneshot::channel();
    tx.send(Job { n, reply }).await.unwrap();
    rx.await.unwrap()
}

#[tokio::main(flavor = "current_thread")]
pub async fn run() -> Vec<String> {
    let mut out = Vec::new();
    let (job_tx, job_rx) = mpsc::channel(4);
    let (config_tx, config_rx) = watch::channel(2u64);
    let (shutdown_tx, _) = broadcast::channel(1);
    let jobs = Arc::new(Mutex::new(job_rx));

    let mut workers = JoinSet::new();
    for _ in 0..3 {
        workers.spawn(worker(
            jobs.clone(),
            config_rx.clone(),
            shutdown_tx.subscribe(),
        ));
    }

    let (a, b, c) = tokio::join!(submit(&job_tx, 1), submit(&job_tx, 2), submit(&job_tx, 3));
    out.push(format!("phase 1: {a} {b} {c}"));

    config_tx.send(10).unwrap();
    let mut phase2 = Vec::new();
    for n in 4..=6 {
        phase2.push(submit(&job_tx, n).await);
    }
    out.push(format!("phase 2: {phase2:?}"));

    let slow = timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
    out.push(format!("timeout elapsed: {}", slow.is_err()));

    shutdown_tx.send(()).unwrap();
    let mut total = 0;
    while let Some(res) = workers.join_next().await {
        total += res.unwrap();
    }
    out.push(format!("jobs done: {total}"));

    // The loop that spun under futures::select!: a closed config channel and
    // a drained job channel must end it through `else`.
    drop(config_tx);
    let (tx, mut rx) = mpsc::channel::<u64>(2);
    tx.send(7).await.unwrap();
    drop(tx);
    let mut config_rx = config_rx;
    config_rx.borrow_and_update(); // seen: only a new value would be a change
    let mut iterations = 0;
    loop {
        iterations += 1;
        tokio::select! {
            Ok(()) = config_rx.changed() => out.push("config changed".into()),
            Some(n) = rx.recv() => out.push(format!("late job {n}")),
            else => break,
        }
    }
    out.push(format!("drain loop iterations: {iterations}"));
    out
}
