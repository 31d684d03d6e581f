//! Detection corpus, bugs that exist because of `async`: a guard held
//! across `.await` while the task waits for something that needs the lock,
//! and a thread lock (`sync::blocking::Mutex`) and a task lock
//! (`sync::Mutex`) taken in opposite orders.
//!
//! A module of the `validation_corpus` test (see `validation_corpus.rs`).
//! Each kernel is a module with a `buggy` and a `fixed` body; locks are
//! created on lines of their own per body; `// @name` markers name the
//! lines the reports must cite.

use crate::corpus_support::{body, expect, Category, Kernel, Source, HANGS};
use perf_runtime::sync::{blocking, mpsc, oneshot, Mutex};
use perf_runtime::validation::ViolationKind::*;
use std::collections::HashMap;
use std::sync::Arc;

static SRC: Source = Source {
    file: file!(),
    text: include_str!("validation_corpus_async.rs"),
};

/// The kernels of this file.
pub fn kernels() -> Vec<Kernel> {
    vec![
        Kernel {
            name: "async_guard_across_actor_reply",
            category: Category::Async,
            shape: "tokio actor: guard held across `reply.await`",
            src: &SRC,
            workers: 2,
            buggy: || body(actor_reply::buggy()),
            fixed: || body(actor_reply::fixed()),
            expect: vec![expect(ChannelStall, &["ar_wait", "ar_chan"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "async_guard_across_child_join",
            category: Category::Async,
            shape: "guard held across a JoinHandle whose task needs the lock",
            src: &SRC,
            workers: 2,
            buggy: || body(child_join::buggy()),
            fixed: || body(child_join::fixed()),
            // The join is an edge of the wait-for graph: the periodic scan
            // finds the cycle (the runtime may also see that nothing runs).
            expect: vec![expect(Deadlock, &["cj_child_lock", "cj_join"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "async_sync_mutex_order_inversion",
            category: Category::Async,
            shape: "thread mutex vs task mutex, opposite orders",
            src: &SRC,
            workers: 2,
            buggy: || body(metrics_config::buggy()),
            fixed: || body(metrics_config::fixed()),
            expect: vec![expect(
                LockOrderInversion,
                &[
                    "mc_reload_cfg",
                    "mc_reload_metrics",
                    "mc_export_metrics",
                    "mc_export_cfg",
                ],
            )],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "async_sync_mutex_deadlock",
            category: Category::Async,
            shape: "thread mutex vs task mutex, at the same time",
            src: &SRC,
            workers: 2,
            buggy: || body(metrics_config_live::buggy()),
            fixed: || body(metrics_config_live::fixed()),
            expect: vec![
                expect(
                    LockOrderInversion,
                    &[
                        "ml_task_cfg",
                        "ml_task_metrics",
                        "ml_thread_metrics",
                        "ml_thread_cfg",
                    ],
                ),
                expect(Deadlock, &["ml_task_metrics", "ml_thread_cfg"]),
            ],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "async_join_under_lock_with_a_bystander",
            category: Category::Async,
            shape: "guard held across a child's JoinHandle while another task keeps ticking",
            src: &SRC,
            workers: 2,
            buggy: || body(join_bystander::buggy()),
            fixed: || body(join_bystander::fixed()),
            expect: vec![expect(Deadlock, &["jb_child_lock", "jb_join"])],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "async_join_set_under_lock_with_a_bystander",
            category: Category::Async,
            shape: "guard held across JoinSet::join_next while the set's task needs the lock",
            src: &SRC,
            workers: 2,
            buggy: || body(join_set_bystander::buggy()),
            fixed: || body(join_set_bystander::fixed()),
            expect: vec![expect(Deadlock, &["js_child_lock", "js_parent_lock"])],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "async_spawn_blocking_job_needs_the_joiners_lock",
            category: Category::Async,
            shape: "a spawn_blocking job's blocking_lock on a lock its joiner holds",
            src: &SRC,
            workers: 2,
            buggy: || body(blocking_job::buggy()),
            fixed: || body(blocking_job::fixed()),
            expect: vec![expect(Deadlock, &["bj_blocking_lock", "bj_join"])],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "async_spawn_blocking_recv_awaits_its_joiner",
            category: Category::Async,
            shape: "a spawn_blocking job's blocking_recv on a channel only its joiner sends on",
            src: &SRC,
            workers: 2,
            buggy: || body(blocking_recv_job::buggy()),
            fixed: || body(blocking_recv_job::fixed()),
            expect: vec![expect(Deadlock, &["br_blocking_recv", "br_join"])],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "async_lock_owned_abba_with_a_bystander",
            category: Category::Async,
            shape: "two tasks take lock_owned guards of two mutexes in opposite orders",
            src: &SRC,
            workers: 2,
            buggy: || body(owned_abba::buggy()),
            fixed: || body(owned_abba::fixed()),
            expect: vec![expect(Deadlock, &["oa_second_a", "oa_second_b"])],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "async_owned_permits_abba_with_a_bystander",
            category: Category::Async,
            shape: "two tasks take owned permits of two semaphores in opposite orders",
            src: &SRC,
            workers: 2,
            buggy: || body(owned_permits_abba::buggy()),
            fixed: || body(owned_permits_abba::fixed()),
            expect: vec![expect(Deadlock, &["op_quota", "op_pool"])],
            allow: &[],
            gap: None,
        },
    ]
}

/// The tokio actor pattern gone wrong: a handler holds the session table's
/// guard across `reply.await`, and the actor answering the request must
/// lock the same table first. The fix releases the guard before asking.
mod actor_reply {
    use super::*;

    struct Lookup {
        user: u32,
        reply: oneshot::Sender<u64>,
    }

    type Sessions = Arc<Mutex<HashMap<u32, u64>>>;

    async fn actor(sessions: Sessions, mut inbox: mpsc::Receiver<Lookup>) {
        while let Some(req) = inbox.recv().await {
            let table = sessions.lock().await;
            let _ = req.reply.send(table.get(&req.user).copied().unwrap_or(0));
        }
    }

    async fn handle(sessions: Sessions, inbox: mpsc::Sender<Lookup>) -> u64 {
        let mut table = sessions.lock().await;
        table.insert(7, 1);
        let (reply, answer) = oneshot::channel(); // @ar_chan
        inbox.send(Lookup { user: 7, reply }).await.unwrap();
        let seen = answer.await.unwrap(); // @ar_wait
        table.insert(7, seen + 1);
        seen
    }

    async fn handle_fixed(sessions: Sessions, inbox: mpsc::Sender<Lookup>) -> u64 {
        sessions.lock().await.insert(7, 1);
        let (reply, answer) = oneshot::channel();
        inbox.send(Lookup { user: 7, reply }).await.unwrap();
        let seen = answer.await.unwrap();
        sessions.lock().await.insert(7, seen + 1);
        seen
    }

    pub async fn buggy() {
        let sessions = Arc::new(Mutex::new(HashMap::new()));
        let (inbox, rx) = mpsc::channel(8);
        let a = perf_runtime::spawn(actor(sessions.clone(), rx));
        handle(sessions, inbox).await;
        a.await.unwrap();
    }

    pub async fn fixed() {
        let sessions = Arc::new(Mutex::new(HashMap::new()));
        let (inbox, rx) = mpsc::channel(8);
        let a = perf_runtime::spawn(actor(sessions.clone(), rx));
        assert_eq!(handle_fixed(sessions.clone(), inbox).await, 1);
        a.await.unwrap();
        assert_eq!(sessions.lock().await[&7], 2);
    }
}

/// A parent task holds the cache guard while it awaits a child task that
/// needs the same cache. The child waits for the lock and the parent for
/// the child — through a `JoinHandle`, which neither the lock-order graph
/// nor the wait-for graph sees; the runtime does see that no task can run.
/// The fix releases the guard before joining.
mod child_join {
    use super::*;

    type Cache = Arc<Mutex<HashMap<u32, u32>>>;

    async fn warm(cache: Cache) {
        cache.lock().await.insert(1, 10); // @cj_child_lock
    }

    pub async fn buggy() {
        let cache: Cache = Arc::new(Mutex::new(HashMap::new()));
        let mut entries = cache.lock().await;
        let child = perf_runtime::spawn(warm(cache.clone()));
        child.await.unwrap(); // @cj_join
        entries.insert(2, 20);
    }

    pub async fn fixed() {
        let cache: Cache = Arc::new(Mutex::new(HashMap::new()));
        let mut entries = cache.lock().await;
        entries.insert(2, 20);
        drop(entries);
        let child = perf_runtime::spawn(warm(cache.clone()));
        child.await.unwrap();
        assert_eq!(cache.lock().await.len(), 2);
    }
}

/// The metrics registry is a thread mutex (sync callbacks touch it); the
/// config is a task mutex. Reloading the config (a task) updates the
/// metrics while holding the config; the exporter (a blocking thread)
/// holds the registry and reads the config with `blocking_lock`. Run one
/// after the other: the second order is reported without a hang. The fix
/// reads the config before taking the registry.
mod metrics_config {
    use super::*;

    async fn reload(cfg: &Mutex<u32>, metrics: &blocking::Mutex<Vec<u32>>) {
        let mut version = cfg.lock().await; // @mc_reload_cfg
        *version += 1;
        metrics.lock().push(*version); // @mc_reload_metrics
    }

    fn export_buggy(cfg: &Mutex<u32>, metrics: &blocking::Mutex<Vec<u32>>) -> usize {
        let samples = metrics.lock(); // @mc_export_metrics
        let version = *cfg.blocking_lock(); // @mc_export_cfg
        samples.len() + version as usize
    }

    fn export_fixed(cfg: &Mutex<u32>, metrics: &blocking::Mutex<Vec<u32>>) -> usize {
        let version = *cfg.blocking_lock();
        let samples = metrics.lock();
        samples.len() + version as usize
    }

    async fn run(cfg: Mutex<u32>, metrics: blocking::Mutex<Vec<u32>>, fixed: bool) -> usize {
        let (cfg, metrics) = (Arc::new(cfg), Arc::new(metrics));
        let (c, m) = (cfg.clone(), metrics.clone());
        perf_runtime::spawn(async move { reload(&c, &m).await })
            .await
            .unwrap();
        perf_runtime::spawn_blocking(move || {
            if fixed {
                export_fixed(&cfg, &metrics)
            } else {
                export_buggy(&cfg, &metrics)
            }
        })
        .await
        .unwrap()
    }

    pub async fn buggy() {
        let cfg = Mutex::new(0);
        let metrics = blocking::Mutex::new(Vec::new());
        assert_eq!(run(cfg, metrics, false).await, 2);
    }

    pub async fn fixed() {
        let cfg = Mutex::new(0);
        let metrics = blocking::Mutex::new(Vec::new());
        assert_eq!(run(cfg, metrics, true).await, 2);
    }
}

/// The same two locks in opposite orders, at the same time: the reload
/// task holds the config and blocks on the registry (a thread lock taken
/// inside a task); the exporter thread holds the registry and waits for
/// the config with `blocking_lock`. Each tells the other when it holds its
/// first lock, forcing the interleaving that deadlocks. The fix takes the
/// config first on both sides (the handshake then comes before it).
mod metrics_config_live {
    use super::*;

    struct Shared {
        cfg: Mutex<u32>,
        metrics: blocking::Mutex<Vec<u32>>,
    }

    async fn reload_buggy(
        s: &Shared,
        have_cfg: oneshot::Sender<()>,
        have_metrics: oneshot::Receiver<()>,
    ) {
        let version = s.cfg.lock().await; // @ml_task_cfg
        let _ = have_cfg.send(());
        let _ = have_metrics.await;
        s.metrics.lock().push(*version); // @ml_task_metrics
    }

    fn export_buggy(
        s: &Shared,
        have_metrics: oneshot::Sender<()>,
        have_cfg: oneshot::Receiver<()>,
    ) {
        let samples = s.metrics.lock(); // @ml_thread_metrics
        let _ = have_metrics.send(());
        let _ = have_cfg.blocking_recv();
        let version = *s.cfg.blocking_lock(); // @ml_thread_cfg
        let _ = (samples.len(), version);
    }

    async fn reload_fixed(s: &Shared, ready: oneshot::Sender<()>, go: oneshot::Receiver<()>) {
        let _ = ready.send(());
        let _ = go.await;
        let version = s.cfg.lock().await;
        s.metrics.lock().push(*version);
    }

    fn export_fixed(s: &Shared, ready: oneshot::Sender<()>, go: oneshot::Receiver<()>) {
        let _ = ready.send(());
        let _ = go.blocking_recv();
        let version = *s.cfg.blocking_lock();
        let samples = s.metrics.lock();
        let _ = (samples.len(), version);
    }

    async fn run(s: Shared, fixed: bool) {
        let s = Arc::new(s);
        let (task_tx, thread_rx) = oneshot::channel();
        let (thread_tx, task_rx) = oneshot::channel();
        let s2 = s.clone();
        let exporter = perf_runtime::spawn_blocking(move || {
            if fixed {
                export_fixed(&s2, thread_tx, thread_rx)
            } else {
                export_buggy(&s2, thread_tx, thread_rx)
            }
        });
        if fixed {
            reload_fixed(&s, task_tx, task_rx).await;
        } else {
            reload_buggy(&s, task_tx, task_rx).await;
        }
        exporter.await.unwrap();
    }

    pub async fn buggy() {
        let cfg = Mutex::new(1);
        let metrics = blocking::Mutex::new(Vec::new());
        run(Shared { cfg, metrics }, false).await;
    }

    pub async fn fixed() {
        let cfg = Mutex::new(1);
        let metrics = blocking::Mutex::new(Vec::new());
        run(Shared { cfg, metrics }, true).await;
    }
}

/// A task that ticks on a timer until told to stop: with it running, the
/// runtime always has a pending timer, so "all tasks blocked" never holds.
fn bystander() -> oneshot::Sender<()> {
    let (stop, mut stopped) = oneshot::channel::<()>();
    perf_runtime::spawn(async move {
        while stopped
            .try_recv()
            .is_err_and(|e| e == oneshot::error::TryRecvError::Empty)
        {
            perf_runtime::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    });
    stop
}

/// As `child_join`, with a bystander ticking meanwhile: the parent holds
/// the lock while it awaits the child, which needs the lock. Only the
/// wait-for graph (join edge + the child's lock wait) sees it.
mod join_bystander {
    use super::*;

    async fn child(state: Arc<Mutex<u32>>) {
        *state.lock().await += 1; // @jb_child_lock
    }

    pub async fn buggy() {
        let _ticking = bystander();
        let state = Arc::new(Mutex::new(0));
        let guard = state.lock().await;
        let c = perf_runtime::spawn(child(state.clone()));
        c.await.unwrap(); // @jb_join
        drop(guard);
    }

    pub async fn fixed() {
        let ticking = bystander();
        let state = Arc::new(Mutex::new(0));
        let guard = state.lock().await;
        let c = perf_runtime::spawn(child(state.clone()));
        drop(guard);
        c.await.unwrap();
        assert_eq!(*state.lock().await, 1);
        let _ = ticking.send(());
    }
}

/// As `join_bystander`, through a `JoinSet`: the parent holds the lock
/// while `join_next` waits for the set's one task, which needs the lock.
/// `join_next` waits for any task of the set, so it is stuck only once
/// every task of the set is. The fix releases the guard before joining.
mod join_set_bystander {
    use super::*;

    async fn run(fixed: bool) {
        let ticking = bystander();
        let state = Arc::new(Mutex::new(0));
        let mut set = perf_runtime::task::JoinSet::new();
        let guard = state.lock().await; // @js_parent_lock
        let s = state.clone();
        set.spawn(async move {
            *s.lock().await += 1; // @js_child_lock
        });
        if fixed {
            drop(guard);
            set.join_next().await.unwrap().unwrap();
        } else {
            set.join_next().await.unwrap().unwrap();
            drop(guard);
        }
        assert_eq!(*state.lock().await, 1);
        let _ = ticking.send(());
    }

    pub async fn buggy() {
        run(false).await;
    }

    pub async fn fixed() {
        run(true).await;
    }
}

/// A `spawn_blocking` job takes the lock with `blocking_lock` while the
/// task that spawned it holds the lock and awaits the job's handle; a
/// bystander keeps ticking. The fix releases the lock before joining.
mod blocking_job {
    use super::*;

    async fn run(fixed: bool) {
        let ticking = bystander();
        let state = Arc::new(Mutex::new(0u32));
        let guard = state.lock().await;
        let s = state.clone();
        let job = perf_runtime::spawn_blocking(move || {
            *s.blocking_lock() += 1; // @bj_blocking_lock
        });
        if fixed {
            drop(guard);
            job.await.unwrap();
        } else {
            job.await.unwrap(); // @bj_join
            drop(guard);
        }
        assert_eq!(*state.lock().await, 1);
        let _ = ticking.send(());
    }

    pub async fn buggy() {
        run(false).await;
    }

    pub async fn fixed() {
        run(true).await;
    }
}

/// ABBA with owned guards (`lock_owned`, as code that keeps guards in
/// structs or hands them to tasks does): each task holds one guard and
/// waits for the other's mutex, while a bystander keeps ticking. Owned
/// guards are attributed to the task that took them, so the periodic scan
/// sees the cycle (twice, before it reports). The fix takes both in one
/// order.
mod owned_abba {
    use super::*;

    async fn run(fixed: bool) {
        let ticking = bystander();
        let a = Arc::new(Mutex::new(0u32));
        let b = Arc::new(Mutex::new(0u32));
        let both = Arc::new(perf_runtime::sync::Barrier::new(2));
        let (a1, b1, both1) = (a.clone(), b.clone(), both.clone());
        let t1 = perf_runtime::spawn(async move {
            let mut ga = a1.lock_owned().await;
            both1.wait().await;
            let mut gb = b1.lock_owned().await; // @oa_second_b
            *ga += 1;
            *gb += 1;
        });
        let (a2, b2, both2) = (a.clone(), b.clone(), both.clone());
        let t2 = perf_runtime::spawn(async move {
            if fixed {
                let mut ga = a2.lock_owned().await;
                let mut gb = b2.lock_owned().await;
                *ga += 1;
                *gb += 1;
                return;
            }
            let mut gb = b2.lock_owned().await;
            both2.wait().await;
            let mut ga = a2.lock_owned().await; // @oa_second_a
            *ga += 1;
            *gb += 1;
        });
        if fixed {
            // Let t1 pass its barrier: t2 does not wait on it.
            both.wait().await;
        }
        t1.await.unwrap();
        t2.await.unwrap();
        assert_eq!((*a.lock().await, *b.lock().await), (2, 2));
        let _ = ticking.send(());
    }

    pub async fn buggy() {
        run(false).await;
    }

    pub async fn fixed() {
        run(true).await;
    }
}

/// ABBA with owned permits (`acquire_owned`, as a connection pool and a
/// quota handed to a worker): each task holds one semaphore's only permit
/// and waits for the other's, while a bystander keeps ticking. The fix
/// takes both in one order; in both bodies the permits are handed to a
/// worker task that releases them (a handoff raises nothing).
mod owned_permits_abba {
    use super::*;
    use perf_runtime::sync::{Barrier, OwnedSemaphorePermit, Semaphore};

    async fn hand_off(p: OwnedSemaphorePermit, q: OwnedSemaphorePermit) {
        perf_runtime::spawn(async move {
            assert_eq!(p.num_permits() + q.num_permits(), 2);
        })
        .await
        .unwrap();
    }

    async fn run(fixed: bool) {
        let ticking = bystander();
        let pool = Arc::new(Semaphore::new(1));
        let quota = Arc::new(Semaphore::new(1));
        let both = Arc::new(Barrier::new(2));
        let (pool1, quota1, both1) = (pool.clone(), quota.clone(), both.clone());
        let t1 = perf_runtime::spawn(async move {
            let p = pool1.acquire_owned().await.unwrap();
            both1.wait().await;
            let q = quota1.acquire_owned().await.unwrap(); // @op_quota
            hand_off(p, q).await;
        });
        let (pool2, quota2, both2) = (pool.clone(), quota.clone(), both.clone());
        let t2 = perf_runtime::spawn(async move {
            if fixed {
                let p = pool2.acquire_owned().await.unwrap();
                let q = quota2.acquire_owned().await.unwrap();
                hand_off(p, q).await;
                return;
            }
            let q = quota2.acquire_owned().await.unwrap();
            both2.wait().await;
            let p = pool2.acquire_owned().await.unwrap(); // @op_pool
            hand_off(p, q).await;
        });
        if fixed {
            // Let t1 pass its barrier: t2 does not wait on it.
            both.wait().await;
        }
        t1.await.unwrap();
        t2.await.unwrap();
        assert_eq!(
            (pool.available_permits(), quota.available_permits()),
            (1, 1)
        );
        let _ = ticking.send(());
    }

    pub async fn buggy() {
        run(false).await;
    }

    pub async fn fixed() {
        run(true).await;
    }
}

/// A `spawn_blocking` job reads a batch with `blocking_recv` from a channel
/// whose only sender is kept (and was used) by the task that awaits the
/// job's handle: the task sends the rest of the batch only after the join,
/// while a bystander keeps ticking. The fix sends the whole batch (and
/// drops the sender) before joining.
mod blocking_recv_job {
    use super::*;

    async fn run(fixed: bool) {
        let ticking = bystander();
        let (tx, mut rx) = mpsc::channel::<u32>(4);
        tx.send(1).await.unwrap();
        let job = perf_runtime::task::spawn_blocking(move || {
            // (`None` only once the buggy run's runtime is torn down.)
            let mut sum = 0;
            for _ in 0..2 {
                let Some(v) = rx.blocking_recv() else { break }; // @br_blocking_recv
                sum += v;
            }
            sum
        });
        if fixed {
            tx.send(2).await.unwrap();
            drop(tx);
            assert_eq!(job.await.unwrap(), 3);
        } else {
            let sum = job.await.unwrap(); // @br_join
            tx.send(2).await.unwrap();
            assert_eq!(sum, 3);
        }
        let _ = ticking.send(());
    }

    pub async fn buggy() {
        run(false).await;
    }

    pub async fn fixed() {
        run(true).await;
    }
}
