//! Detection corpus, condition variables and mixed deadlocks: a `Notify`
//! wait without its signal (Go's `sync.Cond`), a channel and a lock that
//! block each other, a channel and a barrier (Go's `WaitGroup`) that block
//! each other, and a barrier or a counting semaphore with the wrong count.
//!
//! A module of the `validation_corpus` test (see `validation_corpus.rs`).
//! Each kernel is a module with a `buggy` and a `fixed` body; locks are
//! created on lines of their own per body; `// @name` markers name the
//! lines the reports must cite.

use crate::corpus_support::{body, expect, Category, Kernel, Source, HANGS};
use perf_runtime::sync::{mpsc, oneshot, Barrier, Mutex, Notify, RwLock, Semaphore};
use perf_runtime::validation::ViolationKind::*;
use std::collections::VecDeque;
use std::pin::pin;
use std::sync::Arc;

static SRC: Source = Source {
    file: file!(),
    text: include_str!("validation_corpus_mixed.rs"),
};

/// The kernels of this file.
pub fn kernels() -> Vec<Kernel> {
    vec![
        Kernel {
            name: "cond_notify_waiters_before_wait",
            category: Category::CondVar,
            shape: "moby#30408 (a Wait without its Signal)",
            src: &SRC,
            workers: 2,
            buggy: || body(startup_signal::buggy()),
            fixed: || body(startup_signal::fixed()),
            expect: vec![expect(WaitStall, &["ss_wait"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "cond_push_front_without_signal",
            category: Category::CondVar,
            shape: "moby#30408 (a state change on a path that does not signal)",
            src: &SRC,
            workers: 2,
            buggy: || body(job_queue::buggy()),
            fixed: || body(job_queue::fixed()),
            expect: vec![expect(WaitStall, &["jq_notified"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "cond_guard_held_across_notified",
            category: Category::CondVar,
            shape: "sync.Cond ported to async: the guard is not released",
            src: &SRC,
            workers: 2,
            buggy: || body(flag_wait::buggy()),
            fixed: || body(flag_wait::fixed()),
            expect: vec![expect(WaitStall, &["fw_wait"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chanlock_send_to_full_channel_under_lock",
            category: Category::ChannelLock,
            shape: "grpc#1353 / kubernetes#10182",
            src: &SRC,
            workers: 2,
            buggy: || body(addr_updates::buggy()),
            fixed: || body(addr_updates::fixed()),
            expect: vec![expect(
                Deadlock,
                &["au_send", "au_teardown", "au_lock", "au_recv"],
            )],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chanlock_recv_under_lock_keepalive",
            category: Category::ChannelLock,
            shape: "grpc#1460",
            src: &SRC,
            workers: 2,
            buggy: || body(keepalive::buggy()),
            fixed: || body(keepalive::fixed()),
            expect: vec![expect(
                Deadlock,
                &["ka_wait", "ka_new_stream", "ka_lock", "ka_up"],
            )],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chanlock_stop_waits_for_ack_under_lock",
            category: Category::ChannelLock,
            shape: "cockroach#1055 / etcd#6873",
            src: &SRC,
            workers: 2,
            buggy: || body(stop_under_lock::buggy()),
            fixed: || body(stop_under_lock::fixed()),
            expect: vec![expect(
                Deadlock,
                &[
                    "su_wait_done",
                    "su_deregister",
                    "su_stop_lock",
                    "su_started",
                ],
            )],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chanlock_read_lock_across_recv",
            category: Category::ChannelLock,
            shape: "etcd#7443 (RwLock)",
            src: &SRC,
            workers: 2,
            buggy: || body(members_watch::buggy()),
            fixed: || body(members_watch::fixed()),
            expect: vec![expect(
                Deadlock,
                &["mw_wait", "mw_write", "mw_read", "mw_snapshot"],
            )],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chanwg_results_sent_before_barrier",
            category: Category::ChannelWaitGroup,
            shape: "cockroach#1055 (channel & WaitGroup)",
            src: &SRC,
            workers: 2,
            buggy: || body(results_then_barrier::buggy()),
            fixed: || body(results_then_barrier::fixed()),
            expect: vec![
                expect(ChannelStall, &["rb_send", "rb_chan"]),
                expect(WaitStall, &["rb_main_wait"]),
            ],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chanwg_result_awaited_before_barrier",
            category: Category::ChannelWaitGroup,
            shape: "syncthing#5795 (channel & WaitGroup)",
            src: &SRC,
            workers: 2,
            buggy: || body(barrier_then_results::buggy()),
            fixed: || body(barrier_then_results::fixed()),
            expect: vec![
                expect(ChannelStall, &["br_first", "br_chan"]),
                expect(WaitStall, &["br_worker_wait"]),
            ],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "wg_barrier_counts_a_party_that_never_waits",
            category: Category::WaitGroupMisuse,
            shape: "WaitGroup.Add(n + 1) with n Done",
            src: &SRC,
            workers: 2,
            buggy: || body(barrier_count::buggy()),
            fixed: || body(barrier_count::fixed()),
            expect: vec![expect(WaitStall, &["bc_wait"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "wg_barrier_wait_inside_the_loop",
            category: Category::WaitGroupMisuse,
            shape: "moby#25384",
            src: &SRC,
            workers: 2,
            buggy: || body(barrier_in_loop::buggy()),
            fixed: || body(barrier_in_loop::fixed()),
            expect: vec![expect(WaitStall, &["bl_main_wait"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "wg_semaphore_done_skipped_on_error",
            category: Category::WaitGroupMisuse,
            shape: "a Done missing on an error path",
            src: &SRC,
            workers: 2,
            buggy: || body(done_counter::buggy()),
            fixed: || body(done_counter::fixed()),
            expect: vec![expect(WaitStall, &["dc_wait"])],
            allow: HANGS,
            gap: None,
        },
    ]
}

/// moby#30408 (a `Wait` with no `Signal`): the server announces "started"
/// with `notify_waiters`, which only wakes tasks already waiting; a client
/// that starts waiting afterwards waits forever. `notify_one` stores a
/// permit for it.
mod startup_signal {
    use super::*;

    async fn client(started: Arc<Notify>) -> u32 {
        started.notified().await; // @ss_wait
        42
    }

    pub async fn buggy() {
        let started = Arc::new(Notify::new());
        let s = started.clone();
        perf_runtime::spawn(async move { s.notify_waiters() })
            .await
            .unwrap();
        perf_runtime::spawn(client(started)).await.unwrap();
    }

    pub async fn fixed() {
        let started = Arc::new(Notify::new());
        let s = started.clone();
        perf_runtime::spawn(async move { s.notify_one() })
            .await
            .unwrap();
        let started = async move {
            started.notified().await;
            42
        };
        assert_eq!(perf_runtime::spawn(started).await.unwrap(), 42);
    }
}

/// A job queue signals a `Notify` on `push` but not on `push_urgent`. The
/// worker tells the dispatcher when it goes idle (its `Notified` is enabled
/// first, so no signal is lost); the dispatcher then pushes an urgent job,
/// without a signal, and the idle worker never wakes.
mod job_queue {
    use super::*;

    struct Queue {
        jobs: Mutex<VecDeque<u32>>,
        ready: Notify,
    }

    async fn worker(q: Arc<Queue>, idle: oneshot::Sender<()>) -> u32 {
        let mut idle = Some(idle);
        loop {
            let mut ready = pin!(q.ready.notified()); // @jq_notified
            ready.as_mut().enable();
            if let Some(job) = q.jobs.lock().await.pop_front() {
                return job;
            }
            if let Some(idle) = idle.take() {
                let _ = idle.send(());
            }
            ready.await;
        }
    }

    async fn push_urgent(q: &Queue, job: u32, signal: bool) {
        q.jobs.lock().await.push_front(job);
        if signal {
            q.ready.notify_one();
        }
    }

    async fn run(q: Queue, signal: bool) -> u32 {
        let q = Arc::new(q);
        let (idle_tx, idle_rx) = oneshot::channel();
        let w = perf_runtime::spawn(worker(q.clone(), idle_tx));
        idle_rx.await.unwrap();
        push_urgent(&q, 7, signal).await;
        w.await.unwrap()
    }

    pub async fn buggy() {
        let jobs = Mutex::new(VecDeque::new());
        let ready = Notify::new();
        run(Queue { jobs, ready }, false).await;
    }

    pub async fn fixed() {
        let jobs = Mutex::new(VecDeque::new());
        let ready = Notify::new();
        assert_eq!(run(Queue { jobs, ready }, true).await, 7);
    }
}

/// A condition variable ported to async: the waiter keeps the state's guard
/// across `notified().await` (a condvar would release its mutex while
/// waiting; an async guard is not released), so the setter waits for the
/// lock and never signals. The fix checks under the lock and waits without
/// it.
mod flag_wait {
    use super::*;

    struct Shared {
        ready: Mutex<bool>,
        changed: Notify,
    }

    // The bug, which clippy sees too: nothing can change the flag while
    // this guard is held.
    #[allow(clippy::while_immutable_condition)]
    async fn wait_ready_buggy(s: &Shared, checked: oneshot::Sender<()>) {
        let ready = s.ready.lock().await;
        let _ = checked.send(());
        while !*ready {
            s.changed.notified().await; // @fw_wait
        }
    }

    async fn wait_ready_fixed(s: &Shared, checked: oneshot::Sender<()>) {
        let mut checked = Some(checked);
        loop {
            let changed = s.changed.notified();
            if *s.ready.lock().await {
                return;
            }
            if let Some(c) = checked.take() {
                let _ = c.send(());
            }
            changed.await;
        }
    }

    async fn set_ready(s: &Shared) {
        *s.ready.lock().await = true;
        s.changed.notify_one();
    }

    async fn run(s: Shared, fixed: bool) {
        let s = Arc::new(s);
        let (checked_tx, checked_rx) = oneshot::channel();
        let s2 = s.clone();
        let waiter = perf_runtime::spawn(async move {
            if fixed {
                wait_ready_fixed(&s2, checked_tx).await
            } else {
                wait_ready_buggy(&s2, checked_tx).await
            }
        });
        checked_rx.await.unwrap();
        set_ready(&s).await;
        waiter.await.unwrap();
    }

    pub async fn buggy() {
        let ready = Mutex::new(false);
        let changed = Notify::new();
        run(Shared { ready, changed }, false).await;
    }

    pub async fn fixed() {
        let ready = Mutex::new(false);
        let changed = Notify::new();
        run(Shared { ready, changed }, true).await;
    }
}

/// grpc#1353 / kubernetes#10182: the address watcher holds the balancer
/// lock while it sends each update; the lb watcher, which drains the update
/// channel, takes the balancer lock between updates to tear down removed
/// addresses. With the channel full, each waits for the other. The fix
/// sends after releasing the lock.
mod addr_updates {
    use super::*;

    async fn watch_updates_buggy(addrs: &Mutex<Vec<u32>>, tx: mpsc::Sender<Vec<u32>>) {
        let mut addrs = addrs.lock().await; // @au_lock
        for round in 1..=3 {
            addrs.push(round);
            tx.send(addrs.clone()).await.unwrap(); // @au_send
        }
    }

    async fn watch_updates_fixed(addrs: &Mutex<Vec<u32>>, tx: mpsc::Sender<Vec<u32>>) {
        for round in 1..=3 {
            let update = {
                let mut addrs = addrs.lock().await;
                addrs.push(round);
                addrs.clone()
            };
            tx.send(update).await.unwrap();
        }
    }

    async fn lb_watcher(addrs: &Mutex<Vec<u32>>, mut rx: mpsc::Receiver<Vec<u32>>) -> usize {
        let mut seen = 0;
        while let Some(update) = rx.recv().await {
            // @au_recv
            let mut current = addrs.lock().await; // @au_teardown
            current.retain(|a| update.contains(a) || *a > 3);
            seen += 1;
        }
        seen
    }

    async fn run(addrs: Mutex<Vec<u32>>, fixed: bool) {
        let addrs = Arc::new(addrs);
        let (tx, rx) = mpsc::channel(1);
        let a = addrs.clone();
        let watcher = perf_runtime::spawn(async move { lb_watcher(&a, rx).await });
        if fixed {
            watch_updates_fixed(&addrs, tx).await;
        } else {
            watch_updates_buggy(&addrs, tx).await;
        }
        assert_eq!(watcher.await.unwrap(), 3);
    }

    pub async fn buggy() {
        let addrs = Mutex::new(Vec::new());
        run(addrs, false).await;
    }

    pub async fn fixed() {
        let addrs = Mutex::new(Vec::new());
        run(addrs, true).await;
    }
}

/// grpc#1460: with no active stream, the keepalive task waits to be
/// awakened while holding the transport lock; opening a stream takes the
/// transport lock before it sends the awaken signal. The keepalive reports
/// going dormant so the stream opens right then. The fix reads the stream
/// count and releases the lock before waiting.
mod keepalive {
    use super::*;

    async fn keepalive(
        streams: &Mutex<u32>,
        mut awaken: mpsc::Receiver<()>,
        dormant: oneshot::Sender<()>,
        fixed: bool,
    ) {
        awaken.recv().await.unwrap(); // the connection is up
        if fixed {
            let idle = *streams.lock().await == 0;
            if idle {
                let _ = dormant.send(());
                awaken.recv().await;
            }
            return;
        }
        let active = streams.lock().await; // @ka_lock
        if *active == 0 {
            let _ = dormant.send(());
            awaken.recv().await; // @ka_wait
        }
    }

    async fn client(
        streams: &Mutex<u32>,
        awaken: mpsc::Sender<()>,
        dormant: oneshot::Receiver<()>,
    ) {
        awaken.send(()).await.unwrap(); // @ka_up
        dormant.await.unwrap();
        let mut active = streams.lock().await; // @ka_new_stream
        *active += 1;
        if *active == 1 {
            awaken.send(()).await.unwrap();
        }
    }

    async fn run(streams: Mutex<u32>, fixed: bool) {
        let streams = Arc::new(streams);
        let (awaken_tx, awaken_rx) = mpsc::channel(1);
        let (dormant_tx, dormant_rx) = oneshot::channel();
        let s = streams.clone();
        let k =
            perf_runtime::spawn(async move { keepalive(&s, awaken_rx, dormant_tx, fixed).await });
        let s = streams.clone();
        let c = perf_runtime::spawn(async move { client(&s, awaken_tx, dormant_rx).await });
        c.await.unwrap();
        k.await.unwrap();
    }

    pub async fn buggy() {
        let streams = Mutex::new(0);
        run(streams, false).await;
    }

    pub async fn fixed() {
        let streams = Mutex::new(0);
        run(streams, true).await;
    }
}

/// cockroach#1055 / etcd#6873: `stop` holds the registry lock while it
/// signals the worker and waits for its acknowledgement; the worker must
/// take the registry lock to deregister before it acknowledges. The fix
/// marks the registry and releases it before waiting.
mod stop_under_lock {
    use super::*;

    async fn worker(
        registry: &Mutex<u32>,
        mut stop: mpsc::Receiver<()>,
        done: mpsc::Sender<&'static str>,
    ) {
        done.send("started").await.unwrap(); // @su_started
        let _ = stop.recv().await;
        *registry.lock().await -= 1; // @su_deregister
        let _ = done.send("stopped").await;
    }

    async fn stop_buggy(
        registry: &Mutex<u32>,
        stop: mpsc::Sender<()>,
        done: &mut mpsc::Receiver<&'static str>,
    ) {
        let _workers = registry.lock().await; // @su_stop_lock
        stop.send(()).await.unwrap();
        done.recv().await; // @su_wait_done
    }

    async fn stop_fixed(
        registry: &Mutex<u32>,
        stop: mpsc::Sender<()>,
        done: &mut mpsc::Receiver<&'static str>,
    ) {
        let running = *registry.lock().await;
        assert_eq!(running, 1);
        stop.send(()).await.unwrap();
        assert_eq!(done.recv().await, Some("stopped"));
    }

    async fn run(registry: Mutex<u32>, fixed: bool) {
        let registry = Arc::new(registry);
        let (stop_tx, stop_rx) = mpsc::channel(1);
        let (done_tx, mut done_rx) = mpsc::channel(1);
        let r = registry.clone();
        let w = perf_runtime::spawn(async move { worker(&r, stop_rx, done_tx).await });
        assert_eq!(done_rx.recv().await, Some("started"));
        if fixed {
            stop_fixed(&registry, stop_tx, &mut done_rx).await;
        } else {
            stop_buggy(&registry, stop_tx, &mut done_rx).await;
        }
        w.await.unwrap();
        assert_eq!(*registry.lock().await, 0);
    }

    pub async fn buggy() {
        let registry = Mutex::new(1);
        run(registry, false).await;
    }

    pub async fn fixed() {
        let registry = Mutex::new(1);
        run(registry, true).await;
    }
}

/// etcd#7443 with an RwLock: the membership watcher holds a read lock on
/// the member list while it waits for the next membership event; the
/// updater write-locks the list before it publishes the event. The watcher
/// reports that it is watching so the update runs right then. The fix
/// copies what it needs and releases the read lock before waiting.
mod members_watch {
    use super::*;

    async fn watcher(
        members: &RwLock<Vec<u64>>,
        mut events: mpsc::Receiver<u64>,
        watching: oneshot::Sender<()>,
        fixed: bool,
    ) -> usize {
        events.recv().await.unwrap(); // the initial snapshot
        if fixed {
            let known = members.read().await.len();
            let _ = watching.send(());
            events.recv().await.unwrap();
            return known;
        }
        let view = members.read().await; // @mw_read
        let _ = watching.send(());
        events.recv().await.unwrap(); // @mw_wait
        view.len()
    }

    async fn updater(
        members: &RwLock<Vec<u64>>,
        events: mpsc::Sender<u64>,
        watching: oneshot::Receiver<()>,
    ) {
        events.send(0).await.unwrap(); // @mw_snapshot
        watching.await.unwrap();
        members.write().await.push(4); // @mw_write
        events.send(4).await.unwrap();
    }

    async fn run(members: RwLock<Vec<u64>>, fixed: bool) {
        let members = Arc::new(members);
        let (ev_tx, ev_rx) = mpsc::channel(1);
        let (watching_tx, watching_rx) = oneshot::channel();
        let m = members.clone();
        let w = perf_runtime::spawn(async move { watcher(&m, ev_rx, watching_tx, fixed).await });
        let m = members.clone();
        let u = perf_runtime::spawn(async move { updater(&m, ev_tx, watching_rx).await });
        u.await.unwrap();
        assert_eq!(w.await.unwrap(), 3);
    }

    pub async fn buggy() {
        let members = RwLock::new(vec![1, 2, 3]);
        run(members, false).await;
    }

    pub async fn fixed() {
        let members = RwLock::new(vec![1, 2, 3]);
        run(members, true).await;
    }
}

/// cockroach#1055-like (channel & WaitGroup): workers send their result
/// into a bounded channel, then wait at the barrier; the coordinator waits
/// at the barrier before it reads any result. With more workers than slots,
/// the extra workers block in `send` and never reach the barrier. The fix
/// gives the channel a slot per worker.
mod results_then_barrier {
    use super::*;

    async fn worker(id: u32, results: mpsc::Sender<u32>, all: Arc<Barrier>) {
        results.send(id * 10).await.unwrap(); // @rb_send
        all.wait().await;
    }

    async fn run(tx: mpsc::Sender<u32>, mut rx: mpsc::Receiver<u32>) -> u32 {
        let all = Arc::new(Barrier::new(4));
        for id in 1..=3 {
            perf_runtime::spawn(worker(id, tx.clone(), all.clone()));
        }
        drop(tx);
        all.wait().await; // @rb_main_wait
        let mut sum = 0;
        while let Some(r) = rx.recv().await {
            sum += r;
        }
        sum
    }

    pub async fn buggy() {
        let (tx, rx) = mpsc::channel(1); // @rb_chan
        run(tx, rx).await;
    }

    pub async fn fixed() {
        let (tx, rx) = mpsc::channel(3);
        assert_eq!(run(tx, rx).await, 60);
    }
}

/// Channel & WaitGroup the other way round: the workers wait at the
/// barrier, then send their results; the coordinator awaits the first
/// result before it reaches the barrier. The fix joins the barrier first.
mod barrier_then_results {
    use super::*;

    async fn worker(id: u32, all: Arc<Barrier>, result: oneshot::Sender<u32>) {
        all.wait().await; // @br_worker_wait
        let _ = result.send(id);
    }

    async fn run(first: (oneshot::Sender<u32>, oneshot::Receiver<u32>), barrier_first: bool) {
        let all = Arc::new(Barrier::new(3));
        let (tx2, rx2) = oneshot::channel();
        perf_runtime::spawn(worker(1, all.clone(), first.0));
        perf_runtime::spawn(worker(2, all.clone(), tx2));
        if barrier_first {
            all.wait().await;
            assert_eq!(first.1.await.unwrap() + rx2.await.unwrap(), 3);
        } else {
            let first = first.1.await.unwrap(); // @br_first
            all.wait().await;
            assert_eq!(first + rx2.await.unwrap(), 3);
        }
    }

    pub async fn buggy() {
        let first = oneshot::channel(); // @br_chan
        run(first, false).await;
    }

    pub async fn fixed() {
        let first = oneshot::channel();
        run(first, true).await;
    }
}

/// WaitGroup misuse: the barrier is sized for the shards plus the
/// coordinator (`Add(n + 1)`), but the coordinator joins the shard tasks
/// instead of waiting on the barrier, so the shards wait forever.
mod barrier_count {
    use super::*;

    async fn load(shards: usize, parties: usize) -> usize {
        let loaded = Arc::new(Barrier::new(parties));
        let mut tasks = Vec::new();
        for shard in 0..shards {
            let loaded = loaded.clone();
            tasks.push(perf_runtime::spawn(async move {
                loaded.wait().await; // @bc_wait
                shard
            }));
        }
        let mut sum = 0;
        for t in tasks {
            sum += t.await.unwrap();
        }
        sum
    }

    pub async fn buggy() {
        load(3, 3 + 1).await;
    }

    pub async fn fixed() {
        assert_eq!(load(3, 3).await, 3);
    }
}

/// moby#25384: the coordinator waits on the barrier inside the loop that
/// starts the plugins, so the first round has one plugin and the
/// coordinator of the `n + 1` parties. The fix waits after the loop.
mod barrier_in_loop {
    use super::*;

    async fn enable_all(plugins: Vec<&'static str>, wait_in_loop: bool) -> usize {
        let ready = Arc::new(Barrier::new(plugins.len() + 1));
        let n = plugins.len();
        for name in plugins {
            let plugin_ready = ready.clone();
            perf_runtime::spawn(async move {
                let _enabled = name.len();
                plugin_ready.wait().await;
            });
            if wait_in_loop {
                ready.wait().await; // @bl_main_wait
            }
        }
        if !wait_in_loop {
            ready.wait().await;
        }
        n
    }

    pub async fn buggy() {
        enable_all(vec!["authz", "volume", "network"], true).await;
    }

    pub async fn fixed() {
        assert_eq!(
            enable_all(vec!["authz", "volume", "network"], false).await,
            3
        );
    }
}

/// A semaphore used as a WaitGroup: each worker adds a permit when done and
/// the coordinator takes one permit per worker. One worker returns early on
/// an error, before signalling. The fix signals from a guard's `Drop`, so
/// every path counts.
mod done_counter {
    use super::*;

    struct Done(Arc<Semaphore>);

    impl Drop for Done {
        fn drop(&mut self) {
            self.0.add_permits(1);
        }
    }

    fn parse(shard: u32) -> Result<u32, String> {
        if shard == 2 {
            Err(format!("shard {shard}: bad header"))
        } else {
            Ok(shard)
        }
    }

    async fn worker_buggy(shard: u32, done: Arc<Semaphore>) -> Result<u32, String> {
        let v = parse(shard)?;
        done.add_permits(1);
        Ok(v)
    }

    async fn worker_fixed(shard: u32, done: Arc<Semaphore>) -> Result<u32, String> {
        let _done = Done(done);
        parse(shard)
    }

    pub async fn buggy() {
        let done = Arc::new(Semaphore::new(0));
        for shard in 1..=3 {
            perf_runtime::spawn(worker_buggy(shard, done.clone()));
        }
        let _all = done.acquire_many(3).await.unwrap(); // @dc_wait
    }

    pub async fn fixed() {
        let done = Arc::new(Semaphore::new(0));
        for shard in 1..=3 {
            perf_runtime::spawn(worker_fixed(shard, done.clone()));
        }
        let all = done.acquire_many(3).await.unwrap();
        assert_eq!(all.num_permits(), 3);
    }
}
