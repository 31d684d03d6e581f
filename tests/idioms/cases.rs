//! Everyday tokio patterns, written once against `crate::rt` (perf_runtime
//! in `idioms/perf.rs`, tokio in `idioms/tokio.rs`) and `crate::compat` (the
//! few things that differ: waiting until validation saw a wait slow, and the
//! final check that nothing was reported).
//!
//! Every body here is correct code: under `#[tokio::test]` it passes, so
//! under `#[perf_runtime::test]` (validation in `Panic` mode) any
//! validation report is a false one. "A report is a bug."

use crate::compat;
use crate::rt::sync::{broadcast, mpsc, oneshot, watch, Barrier, Mutex, Notify, RwLock, Semaphore};
use crate::rt::time::{sleep, timeout};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

/// Every idiom, for the test files to instantiate (`$m!(name, ...)`).
macro_rules! all_idioms {
    ($m:ident) => {
        $m!(
            oneshot_sender_dropped_to_cancel,
            timeout_gives_up_on_a_oneshot_and_the_late_send_fails,
            mpsc_receiver_dropped_with_messages_queued,
            unbounded_receiver_dropped_with_messages_queued,
            broadcast_shutdown_message_never_read,
            pool_shut_down_while_callers_wait_for_replies,
            consumer_waits_for_a_producer_sleeping_on_a_timer,
            notify_waited_while_the_notifier_sleeps,
            semaphore_waiter_behind_a_long_job,
            watch_receiver_waits_for_a_config_reload,
            request_response_over_mpsc_and_oneshot,
            actor_drops_the_reply_sender_on_error,
            graceful_shutdown_via_watch,
            graceful_shutdown_via_broadcast,
            select_stop_by_broadcast_then_join_holding_the_job_sender,
            select_stop_by_broadcast_then_join_set_holding_the_job_sender,
            select_stop_by_mpsc_then_join_holding_the_job_sender,
            worker_pool_sharing_one_receiver,
            race_a_reply_against_a_timeout,
            retry_with_backoff,
            rate_limit_with_a_semaphore,
            connection_pool_with_owned_permits,
            cache_behind_a_rwlock,
            senders_dropped_to_close_the_channel,
            long_lived_idle_consumer,
            notify_one_before_the_wait,
            barrier_for_startup,
            mutex_guard_released_before_await,
            oneshot_reply_dropped_by_an_abandoned_request,
            transfers_lock_the_lower_index_first,
            hand_over_hand_down_a_list,
            owned_guard_handed_to_another_task,
            job_queue_with_owned_permits_and_a_slow_job,
            consumer_fed_by_a_thread_outside_the_runtime,
        );
    };
}

/// A oneshot sender dropped unsent as a cancellation signal: the receiver
/// is woken with `Err` (tokio documents this use).
pub async fn oneshot_sender_dropped_to_cancel() {
    let (cancel, cancelled) = oneshot::channel::<()>();
    let worker = crate::rt::spawn(async move {
        // Waits until cancelled: the sender is dropped, never sent.
        cancelled.await.is_err()
    });
    crate::rt::task::yield_now().await;
    drop(cancel);
    assert!(worker.await.unwrap());
}

/// A timeout gives up on a oneshot reply; the worker's late send fails.
pub async fn timeout_gives_up_on_a_oneshot_and_the_late_send_fails() {
    let (reply, answer) = oneshot::channel::<u32>();
    let (go, gate) = oneshot::channel::<()>();
    let worker = crate::rt::spawn(async move {
        gate.await.unwrap();
        reply.send(7).is_err()
    });
    assert!(timeout(Duration::from_millis(10), answer).await.is_err());
    go.send(()).unwrap();
    assert!(
        worker.await.unwrap(),
        "the receiver is gone: the send fails"
    );
}

/// A bounded receiver dropped with messages still queued after the test
/// read what it needed.
pub async fn mpsc_receiver_dropped_with_messages_queued() {
    let (tx, mut rx) = mpsc::channel::<u32>(8);
    for i in 0..5 {
        tx.send(i).await.unwrap();
    }
    assert_eq!(rx.recv().await, Some(0));
    drop(rx);
    assert!(tx.send(9).await.is_err());
}

/// The same with an unbounded channel.
pub async fn unbounded_receiver_dropped_with_messages_queued() {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    for i in 0..5 {
        tx.send(format!("event {i}")).unwrap();
    }
    assert_eq!(rx.recv().await.as_deref(), Some("event 0"));
    drop(rx);
    assert!(tx.send("late".into()).is_err());
}

/// A broadcast receiver that finishes without reading the shutdown
/// message.
pub async fn broadcast_shutdown_message_never_read() {
    let (shutdown, _) = broadcast::channel::<()>(4);
    let mut rx = shutdown.subscribe();
    let (done_tx, mut done_rx) = mpsc::channel::<u32>(1);
    let worker = crate::rt::spawn(async move {
        // Finishes its work on its own, never reading `rx`.
        done_tx.send(42).await.unwrap();
        let _ = rx.try_recv();
    });
    assert_eq!(done_rx.recv().await, Some(42));
    worker.await.unwrap();
    let _ = shutdown.send(());
    let late = shutdown.subscribe();
    let _ = shutdown.send(());
    drop(late);
}

/// A pool shut down (its job receiver dropped) while callers still wait on
/// their oneshot replies: each caller gets `Err`.
pub async fn pool_shut_down_while_callers_wait_for_replies() {
    struct Job {
        reply: oneshot::Sender<u32>,
    }
    let (jobs, mut queue) = mpsc::channel::<Job>(8);
    let mut callers = Vec::new();
    for _ in 0..3 {
        let jobs = jobs.clone();
        let (reply, answer) = oneshot::channel();
        jobs.send(Job { reply }).await.unwrap();
        callers.push(crate::rt::spawn(answer));
    }
    crate::rt::task::yield_now().await;
    // Shutdown: the pool takes one job, then drops the queue (and the
    // jobs, with their reply senders) without serving them.
    let first = queue.recv().await.unwrap();
    drop(queue);
    drop(first.reply);
    for c in callers {
        assert!(c.await.unwrap().is_err(), "the caller sees the shutdown");
    }
    assert!(jobs
        .send(Job {
            reply: oneshot::channel().0
        })
        .await
        .is_err());
}

/// A consumer waits longer than the stall threshold for a request that
/// then arrives from a producer sleeping on a timer.
pub async fn consumer_waits_for_a_producer_sleeping_on_a_timer() {
    let before = compat::slow_waits();
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    let producer = crate::rt::spawn(async move {
        compat::until_slow(before).await;
        tx.send(1).await.unwrap();
    });
    assert_eq!(rx.recv().await, Some(1));
    producer.await.unwrap();
}

/// A `Notify` waited on while the notifier sleeps.
pub async fn notify_waited_while_the_notifier_sleeps() {
    let before = compat::slow_waits();
    let notify = Arc::new(Notify::new());
    let n = notify.clone();
    let notifier = crate::rt::spawn(async move {
        compat::until_slow(before).await;
        n.notify_one();
    });
    notify.notified().await;
    notifier.await.unwrap();
}

/// A `Semaphore` waiter behind a long job that holds the only permit.
pub async fn semaphore_waiter_behind_a_long_job() {
    let before = compat::slow_waits();
    let sem = Arc::new(Semaphore::new(1));
    let s = sem.clone();
    let (started, running) = oneshot::channel::<()>();
    let job = crate::rt::spawn(async move {
        let _permit = s.acquire().await.unwrap();
        started.send(()).unwrap();
        compat::until_slow(before).await;
    });
    running.await.unwrap();
    let _permit = sem.acquire().await.unwrap();
    job.await.unwrap();
}

/// A `watch` receiver waiting for a config reload that comes late.
pub async fn watch_receiver_waits_for_a_config_reload() {
    let before = compat::slow_waits();
    let (config, mut rx) = watch::channel(String::from("v1"));
    let reloader = crate::rt::spawn(async move {
        compat::until_slow(before).await;
        config.send(String::from("v2")).unwrap();
        config
    });
    rx.changed().await.unwrap();
    assert_eq!(*rx.borrow_and_update(), "v2");
    drop(reloader.await.unwrap());
}

enum Command {
    Get {
        key: &'static str,
        reply: oneshot::Sender<Option<u32>>,
    },
    Set {
        key: &'static str,
        value: u32,
    },
}

/// An actor: requests over mpsc, each answered through a oneshot.
pub async fn request_response_over_mpsc_and_oneshot() {
    let (tx, mut rx) = mpsc::channel::<Command>(16);
    let actor = crate::rt::spawn(async move {
        let mut map = HashMap::new();
        while let Some(cmd) = rx.recv().await {
            match cmd {
                Command::Get { key, reply } => {
                    let _ = reply.send(map.get(key).copied());
                }
                Command::Set { key, value } => {
                    map.insert(key, value);
                }
            }
        }
        map.len()
    });
    tx.send(Command::Set { key: "a", value: 1 }).await.unwrap();
    let mut clients = Vec::new();
    for _ in 0..4 {
        let tx = tx.clone();
        clients.push(crate::rt::spawn(async move {
            let (reply, answer) = oneshot::channel();
            tx.send(Command::Get { key: "a", reply }).await.unwrap();
            answer.await.unwrap()
        }));
    }
    for c in clients {
        assert_eq!(c.await.unwrap(), Some(1));
    }
    drop(tx);
    assert_eq!(actor.await.unwrap(), 1);
}

/// An actor that fails a request by dropping its reply sender.
pub async fn actor_drops_the_reply_sender_on_error() {
    let (tx, mut rx) = mpsc::channel::<(u32, oneshot::Sender<u32>)>(4);
    let actor = crate::rt::spawn(async move {
        while let Some((n, reply)) = rx.recv().await {
            if n % 2 == 0 {
                let _ = reply.send(n / 2);
            }
            // Odd: an error, reported to the caller by dropping `reply`.
        }
    });
    for n in 0..6u32 {
        let (reply, answer) = oneshot::channel();
        tx.send((n, reply)).await.unwrap();
        assert_eq!(answer.await.ok(), (n % 2 == 0).then_some(n / 2));
    }
    drop(tx);
    actor.await.unwrap();
}

/// Graceful shutdown: workers serve until a `watch` flag flips; one
/// finished on its own before the flag changed and never looked at it.
pub async fn graceful_shutdown_via_watch() {
    let (stop, stopped) = watch::channel(false);
    let served = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for i in 0..3u32 {
        let mut stopped = stopped.clone();
        let served = served.clone();
        workers.push(crate::rt::spawn(async move {
            served.fetch_add(1, SeqCst);
            if i == 0 {
                return; // done early
            }
            while !*stopped.borrow_and_update() {
                if stopped.changed().await.is_err() {
                    return;
                }
            }
        }));
    }
    while served.load(SeqCst) < 3 {
        crate::rt::task::yield_now().await;
    }
    stop.send(true).unwrap();
    for w in workers {
        w.await.unwrap();
    }
}

/// Graceful shutdown: every worker selects between its work and a
/// broadcast shutdown message; some finish before it is sent.
pub async fn graceful_shutdown_via_broadcast() {
    let (shutdown, _) = broadcast::channel::<()>(1);
    let mut workers = Vec::new();
    for i in 0..4u32 {
        let mut stop = shutdown.subscribe();
        workers.push(crate::rt::spawn(async move {
            if i % 2 == 0 {
                return i; // done early: never reads the message
            }
            let _ = stop.recv().await;
            i
        }));
    }
    crate::rt::task::yield_now().await;
    let _ = shutdown.send(());
    let mut sum = 0;
    for w in workers {
        sum += w.await.unwrap();
    }
    assert_eq!(sum, 6);
}

/// A pool of workers sharing one receiver behind a mutex.
pub async fn worker_pool_sharing_one_receiver() {
    let (tx, rx) = mpsc::channel::<u32>(4);
    let rx = Arc::new(Mutex::new(rx));
    let total = Arc::new(AtomicUsize::new(0));
    let mut pool = Vec::new();
    for _ in 0..3 {
        let rx = rx.clone();
        let total = total.clone();
        pool.push(crate::rt::spawn(async move {
            loop {
                let job = rx.lock().await.recv().await;
                match job {
                    Some(n) => {
                        total.fetch_add(n as usize, SeqCst);
                    }
                    None => return,
                }
            }
        }));
    }
    for n in 1..=10 {
        tx.send(n).await.unwrap();
    }
    drop(tx);
    for w in pool {
        w.await.unwrap();
    }
    assert_eq!(total.load(SeqCst), 55);
}

/// `select!`-style: a reply raced against a timeout; the slow reply is
/// abandoned, the fast one taken.
pub async fn race_a_reply_against_a_timeout() {
    let (slow_tx, slow_rx) = oneshot::channel::<u32>();
    assert!(timeout(Duration::from_millis(5), slow_rx).await.is_err());
    assert!(slow_tx.send(1).is_err());
    let (fast_tx, fast_rx) = oneshot::channel::<u32>();
    let responder = crate::rt::spawn(async move { fast_tx.send(2) });
    assert_eq!(timeout(Duration::from_secs(60), fast_rx).await, Ok(Ok(2)));
    responder.await.unwrap().unwrap();
}

/// Retries with exponential backoff until a flaky service answers.
pub async fn retry_with_backoff() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let (calls, mut service) = mpsc::channel::<oneshot::Sender<Result<u32, ()>>>(1);
    let a = attempts.clone();
    let server = crate::rt::spawn(async move {
        while let Some(reply) = service.recv().await {
            if a.fetch_add(1, SeqCst) < 2 {
                drop(reply); // fails: the caller sees an error
            } else {
                let _ = reply.send(Ok(5));
            }
        }
    });
    let mut backoff = Duration::from_millis(1);
    let value = loop {
        let (reply, answer) = oneshot::channel();
        calls.send(reply).await.unwrap();
        match answer.await {
            Ok(Ok(v)) => break v,
            _ => {
                sleep(backoff).await;
                backoff *= 2;
            }
        }
    };
    assert_eq!(value, 5);
    assert_eq!(attempts.load(SeqCst), 3);
    drop(calls);
    server.await.unwrap();
}

/// Rate limiting: at most two requests in flight.
pub async fn rate_limit_with_a_semaphore() {
    let limit = Arc::new(Semaphore::new(2));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut reqs = Vec::new();
    for _ in 0..8 {
        let (limit, in_flight, peak) = (limit.clone(), in_flight.clone(), peak.clone());
        reqs.push(crate::rt::spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let now = in_flight.fetch_add(1, SeqCst) + 1;
            peak.fetch_max(now, SeqCst);
            crate::rt::task::yield_now().await;
            in_flight.fetch_sub(1, SeqCst);
        }));
    }
    for r in reqs {
        r.await.unwrap();
    }
    assert!(peak.load(SeqCst) <= 2);
}

/// A connection pool: owned permits travel with the connection into the
/// task that uses it.
pub async fn connection_pool_with_owned_permits() {
    let pool = Arc::new(Semaphore::new(2));
    let conns = Arc::new(Mutex::new(vec![1u32, 2]));
    let mut users = Vec::new();
    for i in 0..6u32 {
        let permit = pool.clone().acquire_owned().await.unwrap();
        let conn = conns.lock().await.pop().unwrap();
        let conns = conns.clone();
        users.push(crate::rt::spawn(async move {
            crate::rt::task::yield_now().await;
            conns.lock().await.push(conn);
            drop(permit);
            i
        }));
    }
    let mut sum = 0;
    for u in users {
        sum += u.await.unwrap();
    }
    assert_eq!(sum, 15);
    assert_eq!(conns.lock().await.len(), 2);
}

/// A cache behind a `RwLock`: many readers, a writer filling misses.
pub async fn cache_behind_a_rwlock() {
    let cache = Arc::new(RwLock::new(HashMap::<u32, u32>::new()));
    let mut readers = Vec::new();
    for k in 0..8u32 {
        let cache = cache.clone();
        readers.push(crate::rt::spawn(async move {
            if let Some(v) = cache.read().await.get(&(k % 4)) {
                return *v;
            }
            let mut w = cache.write().await;
            *w.entry(k % 4).or_insert(k % 4 * 10)
        }));
    }
    for (k, r) in readers.into_iter().enumerate() {
        assert_eq!(r.await.unwrap(), (k as u32 % 4) * 10);
    }
}

/// Producers finish and drop their senders; the consumer's loop ends at
/// `None`.
pub async fn senders_dropped_to_close_the_channel() {
    let (tx, mut rx) = mpsc::channel::<u32>(2);
    for p in 0..3u32 {
        let tx = tx.clone();
        crate::rt::spawn(async move {
            for i in 0..3 {
                tx.send(p * 10 + i).await.unwrap();
            }
        });
    }
    drop(tx);
    let mut n = 0;
    while rx.recv().await.is_some() {
        n += 1;
    }
    assert_eq!(n, 9);
}

/// A consumer that idles (its sender is held, unused, by a service that
/// sleeps between ticks) and is shut down by dropping the sender.
pub async fn long_lived_idle_consumer() {
    let before = compat::slow_waits();
    let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
    let consumer = crate::rt::spawn(async move {
        let mut seen = 0;
        while rx.recv().await.is_some() {
            seen += 1;
        }
        seen
    });
    compat::until_slow(before).await;
    drop(tx);
    assert_eq!(consumer.await.unwrap(), 0);
}

/// `notify_one` before anyone waits stores a permit for the next wait.
pub async fn notify_one_before_the_wait() {
    let notify = Arc::new(Notify::new());
    notify.notify_one();
    notify.notified().await;
    let n = notify.clone();
    let waiter = crate::rt::spawn(async move { n.notified().await });
    crate::rt::task::yield_now().await;
    notify.notify_one();
    waiter.await.unwrap();
}

/// A barrier lines up workers before they start.
pub async fn barrier_for_startup() {
    let barrier = Arc::new(Barrier::new(3));
    let mut ws = Vec::new();
    for _ in 0..2 {
        let b = barrier.clone();
        ws.push(crate::rt::spawn(async move { b.wait().await.is_leader() }));
    }
    let mut leaders = usize::from(barrier.wait().await.is_leader());
    for w in ws {
        leaders += usize::from(w.await.unwrap());
    }
    assert_eq!(leaders, 1);
}

/// A guard taken, read, and dropped before the next `.await`.
pub async fn mutex_guard_released_before_await() {
    let state = Arc::new(Mutex::new(0u32));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let state = state.clone();
        tasks.push(crate::rt::spawn(async move {
            let v = {
                let mut g = state.lock().await;
                *g += 1;
                *g
            };
            crate::rt::task::yield_now().await;
            v
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(*state.lock().await, 4);
}

/// A request abandoned by its caller (its reply receiver dropped) while the
/// server still holds the reply sender; the server's late answer fails.
pub async fn oneshot_reply_dropped_by_an_abandoned_request() {
    let (tx, mut rx) = mpsc::channel::<oneshot::Sender<u32>>(1);
    let (reply, answer) = oneshot::channel();
    tx.send(reply).await.unwrap();
    drop(answer);
    let reply = rx.recv().await.unwrap();
    assert!(reply.is_closed());
    assert!(reply.send(1).is_err());
}

/// Accounts in a `Vec<Mutex<_>>` built in a loop (one lock class), each
/// transfer locking the lower index first: a consistent instance order.
pub async fn transfers_lock_the_lower_index_first() {
    let ledger: Arc<Vec<Mutex<i64>>> = Arc::new((0..5).map(|_| Mutex::new(100)).collect());
    let mut transfers = Vec::new();
    for (from, to) in [(0usize, 1usize), (3, 1), (4, 0), (2, 4), (1, 3), (0, 2)] {
        let ledger = ledger.clone();
        transfers.push(crate::rt::spawn(async move {
            let (lo, hi) = (from.min(to), from.max(to));
            let mut a = ledger[lo].lock().await;
            let mut b = ledger[hi].lock().await;
            let (src, dst) = if from == lo {
                (&mut *a, &mut *b)
            } else {
                (&mut *b, &mut *a)
            };
            *src -= 10;
            *dst += 10;
        }));
    }
    for t in transfers {
        t.await.unwrap();
    }
    let mut total = 0;
    for account in ledger.iter() {
        total += *account.lock().await;
    }
    assert_eq!(total, 500);
}

/// Walking a list of locked nodes hand-over-hand, always front to back,
/// from several tasks at once.
pub async fn hand_over_hand_down_a_list() {
    let nodes: Arc<Vec<Mutex<u32>>> = Arc::new((0..16).map(Mutex::new).collect());
    let mut walkers = Vec::new();
    for _ in 0..3 {
        let nodes = nodes.clone();
        walkers.push(crate::rt::spawn(async move {
            let mut held = nodes[0].lock().await;
            let mut sum = *held;
            for node in &nodes[1..] {
                let next = node.lock().await;
                sum += *next;
                held = next;
                crate::rt::task::yield_now().await;
            }
            drop(held);
            sum
        }));
    }
    for w in walkers {
        assert_eq!(w.await.unwrap(), 120);
    }
}

/// An owned guard taken by one task and handed to another, which works
/// under it while the first awaits it and then locks the mutex again.
pub async fn owned_guard_handed_to_another_task() {
    let state = Arc::new(Mutex::new(Vec::<u32>::new()));
    let guard = state.clone().lock_owned().await;
    let (handoff, mut inbox) = mpsc::channel(1);
    let worker = crate::rt::spawn(async move {
        let mut guard: crate::rt::sync::OwnedMutexGuard<Vec<u32>> = inbox.recv().await.unwrap();
        for i in 0..3 {
            guard.push(i);
            crate::rt::task::yield_now().await;
        }
    });
    handoff.send(guard).await.unwrap();
    worker.await.unwrap();
    assert_eq!(*state.lock().await, vec![0, 1, 2]);
}

/// How a coordinator waits for the worker of the `select_stop_*` idioms.
enum JoinBy {
    Handle,
    Set,
}

/// How the coordinator tells the worker of the `select_stop_*` idioms to
/// stop: the sender, and the worker's receiver.
enum StopBy {
    Broadcast(broadcast::Sender<()>, broadcast::Receiver<()>),
    Mpsc(mpsc::Sender<()>, mpsc::Receiver<()>),
}

/// A worker selects on a stop signal and a job channel; the coordinator
/// sends it a job (so it holds a used job sender), waits for the reply,
/// sends the stop and joins the worker while still holding the job sender.
/// The stop wakes the worker, whose job wait is over the moment it runs:
/// nothing is stuck.
async fn select_stop_then_join(stop_by: StopBy, join_by: JoinBy) {
    let (jobs, mut rx) = mpsc::channel::<oneshot::Sender<u32>>(4);
    let (stop_tx, mut stop_rx) = match stop_by {
        StopBy::Broadcast(tx, rx) => (Err(tx), Err(rx)),
        StopBy::Mpsc(tx, rx) => (Ok(tx), Ok(rx)),
    };
    let worker = async move {
        let mut done = 0u32;
        loop {
            let job = match &mut stop_rx {
                Err(stop) => crate::rt::select! {
                    biased;
                    _ = stop.recv() => None,
                    job = rx.recv() => job,
                },
                Ok(stop) => crate::rt::select! {
                    biased;
                    _ = stop.recv() => None,
                    job = rx.recv() => job,
                },
            };
            let Some(reply) = job else { return done };
            done += 1;
            let _ = reply.send(done);
        }
    };
    let (handle, mut set) = match join_by {
        JoinBy::Handle => (Some(crate::rt::spawn(worker)), None),
        JoinBy::Set => {
            let mut set = crate::rt::task::JoinSet::new();
            set.spawn(worker);
            (None, Some(set))
        }
    };
    let (reply, answer) = oneshot::channel();
    jobs.send(reply).await.unwrap();
    assert_eq!(answer.await.unwrap(), 1);
    // Let the worker get back into its `select!`.
    sleep(Duration::from_millis(10)).await;
    match &stop_tx {
        Err(tx) => {
            tx.send(()).unwrap();
        }
        Ok(tx) => tx.send(()).await.unwrap(),
    }
    // `jobs` is still held here.
    let done = match (handle, &mut set) {
        (Some(h), _) => h.await.unwrap(),
        (None, Some(set)) => set.join_next().await.unwrap().unwrap(),
        (None, None) => unreachable!(),
    };
    assert_eq!(done, 1);
    drop(jobs);
}

/// See [`select_stop_then_join`]: a broadcast stop, the `JoinHandle` awaited.
pub async fn select_stop_by_broadcast_then_join_holding_the_job_sender() {
    let (tx, rx) = broadcast::channel(1);
    select_stop_then_join(StopBy::Broadcast(tx, rx), JoinBy::Handle).await;
}

/// See [`select_stop_then_join`]: a broadcast stop, a `JoinSet` drained.
pub async fn select_stop_by_broadcast_then_join_set_holding_the_job_sender() {
    let (tx, rx) = broadcast::channel(1);
    select_stop_then_join(StopBy::Broadcast(tx, rx), JoinBy::Set).await;
}

/// See [`select_stop_then_join`]: an mpsc stop, the `JoinHandle` awaited.
pub async fn select_stop_by_mpsc_then_join_holding_the_job_sender() {
    let (tx, rx) = mpsc::channel(1);
    select_stop_then_join(StopBy::Mpsc(tx, rx), JoinBy::Handle).await;
}

/// A job queue bounded by a semaphore: the dispatcher takes an owned permit
/// per job and moves it into the job's task, so it waits for the next
/// permit while the jobs — not it — hold the ones it took. The first job is
/// slow (it ends only once the dispatcher's wait was seen slow).
pub async fn job_queue_with_owned_permits_and_a_slow_job() {
    let slots = Arc::new(Semaphore::new(2));
    let done = Arc::new(AtomicUsize::new(0));
    let before = compat::slow_waits();
    let mut jobs = Vec::new();
    for i in 0..5usize {
        let permit = slots.clone().acquire_owned().await.unwrap();
        let done = done.clone();
        jobs.push(crate::rt::spawn(async move {
            if i == 0 {
                compat::until_slow(before).await;
            } else {
                crate::rt::task::yield_now().await;
            }
            done.fetch_add(1, SeqCst);
            drop(permit);
        }));
    }
    for j in jobs {
        j.await.unwrap();
    }
    assert_eq!(done.load(SeqCst), 5);
    assert_eq!(slots.available_permits(), 2);
}

/// A consumer task fed by a plain thread (a sync API, a C callback):
/// between two messages every task of the runtime waits and no timer is
/// pending, yet the thread, which sent before, still holds its sender.
pub async fn consumer_fed_by_a_thread_outside_the_runtime() {
    let before = compat::slow_waits();
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    let feeder = std::thread::spawn(move || {
        tx.blocking_send(1).unwrap();
        compat::until_slow_blocking(before);
        tx.blocking_send(2).unwrap();
    });
    let consumer = crate::rt::spawn(async move {
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    assert_eq!(consumer.await.unwrap(), [1, 2]);
    feeder.join().unwrap();
}
