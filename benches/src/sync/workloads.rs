//! The `sync` workloads, written once against [`SyncRt`].
//!
//! Each runs inside a task of the runtime under test (the "driver", spawned
//! by the runner) and returns the wall-clock time of its timed loop, or an
//! error if a primitive misbehaved (a lost message, a wrong count): a
//! workload checks its result, so a fast but broken primitive cannot post a
//! good figure. Every loop is bounded by a count; the runner bounds a sample
//! in time.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::api::SyncRt;
use crate::workloads::Countdown;

/// Lock/unlock pairs in the uncontended loop.
pub const UNCONTENDED_OPS: u64 = 20_000;
/// Tasks in the contended workloads (`mutex_contended`, `rwlock_read_heavy`,
/// `semaphore`), on the 2 workers.
pub const TASKS: u64 = 8;
/// Operations per task in the contended workloads.
pub const OPS_PER_TASK: u64 = 5_000;
/// In `rwlock_read_heavy`, one operation in this many is a write.
pub const WRITE_EVERY: u64 = 10;
/// Permits of the `semaphore` workload's semaphore.
pub const PERMITS: usize = 4;
/// Capacity of the bounded `mpsc` channel.
pub const CHANNEL_CAPACITY: usize = 256;
/// Messages per `mpsc` sample, split evenly between the producers.
pub const MESSAGES: u64 = 100_000;
/// Round trips per `oneshot_round_trip` sample.
pub const ROUND_TRIPS: u64 = 5_000;

/// `n` lock / add one / unlock in one task, nobody else touching the mutex,
/// with the cooperative budget off.
pub async fn mutex_uncontended<R: SyncRt>(n: u64) -> Result<Duration, String> {
    let m = R::mutex(0);
    let start = Instant::now();
    // Unconstrained: with the budget on, every 128th lock would yield, and
    // that trip through the scheduler (0.5-3 µs) would be a third to half
    // of the figure, and would dilute the validation overhead measured on
    // this loop.
    R::unconstrained(async {
        for _ in 0..n {
            R::mutex_bump(&m).await;
        }
    })
    .await;
    let elapsed = start.elapsed();
    expect("final counter", R::mutex_get(&m).await, n)?;
    Ok(elapsed)
}

/// Spawns `tasks` tasks, each running a future made by `task` (its whole
/// loop), and times from the first spawn until the last one is done. A task
/// whose future returns `false` fails the sample.
///
/// Each task future owns its handle on the shared primitive: cloning an
/// `Arc` per operation would add a second contended cache line (the
/// refcount sits next to the primitive) to what is measured.
async fn fan_out<R, F, Fut>(tasks: u64, mut task: F) -> Result<Duration, String>
where
    R: SyncRt,
    F: FnMut() -> Fut,
    Fut: Future<Output = bool> + Send + 'static,
{
    let n = usize::try_from(tasks).map_err(|_| format!("{tasks} tasks: too many"))?;
    let (cd, done) = Countdown::new(n);
    let failed = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    for _ in 0..tasks {
        let (fut, cd, failed) = (task(), cd.clone(), failed.clone());
        R::spawn(async move {
            if !fut.await {
                failed.store(true, Ordering::Relaxed);
            }
            cd.done();
        });
    }
    done.await
        .map_err(|_| "completion signal dropped (a task panicked?)".to_owned())?;
    let elapsed = start.elapsed();
    if failed.load(Ordering::Relaxed) {
        return Err("an operation failed (primitive closed?)".to_owned());
    }
    Ok(elapsed)
}

/// [`TASKS`] tasks × [`OPS_PER_TASK`] lock / add one / unlock on one mutex.
pub async fn mutex_contended<R: SyncRt>() -> Result<Duration, String> {
    let m = Arc::new(R::mutex(0));
    let elapsed = fan_out::<R, _, _>(TASKS, || {
        let m = m.clone();
        async move {
            for _ in 0..OPS_PER_TASK {
                R::mutex_bump(&m).await;
            }
            true
        }
    })
    .await?;
    expect(
        "final counter",
        R::mutex_get(&m).await,
        TASKS * OPS_PER_TASK,
    )?;
    Ok(elapsed)
}

/// Whether operation `i` of a `rwlock_read_heavy` task is a write: the last
/// of every [`WRITE_EVERY`].
pub fn is_write(i: u64) -> bool {
    i % WRITE_EVERY == WRITE_EVERY - 1
}

/// [`TASKS`] tasks × [`OPS_PER_TASK`] operations on one `RwLock`: reads,
/// except one write (add one) in every [`WRITE_EVERY`].
pub async fn rwlock_read_heavy<R: SyncRt>() -> Result<Duration, String> {
    let l = Arc::new(R::rwlock(0));
    let elapsed = fan_out::<R, _, _>(TASKS, || {
        let l = l.clone();
        async move {
            for i in 0..OPS_PER_TASK {
                if is_write(i) {
                    R::rwlock_bump(&l).await;
                } else {
                    std::hint::black_box(R::rwlock_read(&l).await);
                }
            }
            true
        }
    })
    .await?;
    let writes = TASKS * (0..OPS_PER_TASK).filter(|&i| is_write(i)).count() as u64;
    expect("writes seen", R::rwlock_read(&l).await, writes)?;
    Ok(elapsed)
}

/// [`TASKS`] tasks × [`OPS_PER_TASK`] acquire / release of one permit of a
/// semaphore with [`PERMITS`] permits.
pub async fn semaphore<R: SyncRt>() -> Result<Duration, String> {
    let s = Arc::new(R::semaphore(PERMITS));
    let elapsed = fan_out::<R, _, _>(TASKS, || {
        let s = s.clone();
        async move {
            for _ in 0..OPS_PER_TASK {
                if !R::semaphore_cycle(&s).await {
                    return false;
                }
            }
            true
        }
    })
    .await?;
    expect(
        "permits returned",
        R::semaphore_available(&s) as u64,
        PERMITS as u64,
    )?;
    Ok(elapsed)
}

/// [`MESSAGES`] `u64`s through a bounded channel of [`CHANNEL_CAPACITY`],
/// sent by `producers` spawned tasks (an equal share each) and received by
/// the driver task. `producers` must divide [`MESSAGES`].
pub async fn mpsc_bounded<R: SyncRt>(producers: u64) -> Result<Duration, String> {
    if MESSAGES.checked_rem(producers) != Some(0) {
        return Err(format!(
            "{producers} producers do not divide {MESSAGES} messages"
        ));
    }
    let per_producer = MESSAGES / producers;
    let (tx, mut rx) = R::channel(CHANNEL_CAPACITY);
    let start = Instant::now();
    for p in 0..producers {
        let tx = tx.clone();
        R::spawn(async move {
            for i in 0..per_producer {
                if !R::send(&tx, p * per_producer + i).await {
                    return;
                }
            }
        });
    }
    drop(tx);
    let (mut received, mut sum) = (0u64, 0u64);
    while received < MESSAGES {
        match R::recv(&mut rx).await {
            Some(v) => {
                received += 1;
                sum = sum.wrapping_add(v);
            }
            None => break,
        }
    }
    let elapsed = start.elapsed();
    expect("messages received", received, MESSAGES)?;
    expect("sum of the messages", sum, MESSAGES * (MESSAGES - 1) / 2)?;
    Ok(elapsed)
}

/// One request of `oneshot_round_trip`: where to reply, and where the next
/// request will arrive (so the responder needs no other channel).
struct Ping<R: SyncRt> {
    reply: R::OnceTx<()>,
    next: R::OnceRx<Ping<R>>,
}

/// [`ROUND_TRIPS`] request/reply exchanges between the driver and a
/// responder task, every message on a fresh `oneshot`: per round trip two
/// channels are created, two values sent and two waits woken.
pub async fn oneshot_round_trip<R: SyncRt>() -> Result<Duration, String> {
    let (mut req_tx, first_rx) = R::oneshot::<Ping<R>>();
    R::spawn(async move {
        let mut req_rx = first_rx;
        // Ends when the driver drops its last request sender unsent.
        while let Some(ping) = R::oneshot_recv(req_rx).await {
            if !R::oneshot_send(ping.reply, ()) {
                return;
            }
            req_rx = ping.next;
        }
    });
    let start = Instant::now();
    for _ in 0..ROUND_TRIPS {
        let (reply, reply_rx) = R::oneshot();
        let (next_tx, next) = R::oneshot();
        if !R::oneshot_send(req_tx, Ping { reply, next }) {
            return Err("the responder task is gone".to_owned());
        }
        if R::oneshot_recv(reply_rx).await.is_none() {
            return Err("the responder dropped a reply unsent".to_owned());
        }
        req_tx = next_tx;
    }
    Ok(start.elapsed())
}

fn expect(what: &str, got: u64, want: u64) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{what}: got {got}, expected {want} (a primitive lost an update)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_write_in_every_ten() {
        let writes: Vec<u64> = (0..30).filter(|&i| is_write(i)).collect();
        assert_eq!(writes, [9, 19, 29]);
    }

    #[test]
    fn expect_names_the_mismatch() {
        assert!(expect("x", 3, 3).is_ok());
        let e = expect("final counter", 2, 3).unwrap_err();
        assert!(e.contains("final counter: got 2, expected 3"), "{e}");
    }
}
