//! `task::LocalSet`, `task::spawn_local`, `JoinSet::spawn_local`: `!Send`
//! futures run on the thread that drives the set — on current_thread, and
//! inside `block_on` of the multi-thread runtime — with tokio's join, abort,
//! panic and drop semantics.

mod support;
use support::within;

use perf_runtime::runtime::Builder;
use perf_runtime::sync::{mpsc, oneshot};
use perf_runtime::task::{self, JoinSet, LocalSet};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::thread;

#[test]
fn current_thread_block_on_runs_local_tasks_on_this_thread() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    let local = LocalSet::new();
    let me = thread::current().id();
    let counter = Rc::new(Cell::new(0));
    let c = counter.clone();
    let out = local.block_on(&rt, async move {
        let mut handles = Vec::new();
        for _ in 0..10 {
            let c = c.clone();
            handles.push(task::spawn_local(async move {
                task::yield_now().await;
                c.set(c.get() + 1);
                thread::current().id()
            }));
        }
        let mut threads = Vec::new();
        for h in handles {
            threads.push(h.await.unwrap());
        }
        threads
    });
    assert!(out.iter().all(|t| *t == me));
    assert_eq!(counter.get(), 10);
}

#[test]
fn multi_thread_block_on_runs_local_tasks_on_the_blocking_thread() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let local = LocalSet::new();
    let me = thread::current().id();
    local.block_on(&rt, async move {
        let (tx, mut rx) = mpsc::channel::<u32>(4);
        // A Send task on the workers feeds a !Send consumer on this thread.
        let producer = perf_runtime::spawn(async move {
            for i in 0..4 {
                tx.send(i).await.unwrap();
            }
        });
        let seen = Rc::new(RefCell::new(Vec::new()));
        let s = seen.clone();
        let consumer = task::spawn_local(async move {
            while let Some(v) = rx.recv().await {
                assert_eq!(thread::current().id(), me);
                s.borrow_mut().push(v);
            }
        });
        producer.await.unwrap();
        consumer.await.unwrap();
        assert_eq!(*seen.borrow(), [0, 1, 2, 3]);
    });
}

#[test]
fn awaiting_the_set_waits_for_every_task() {
    let rt = Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let local = LocalSet::new();
        let done = Rc::new(Cell::new(0));
        let (tx, rx) = oneshot::channel::<()>();
        let mut rx = Some(rx);
        for _ in 0..3 {
            let done = done.clone();
            let rx = rx.take();
            local.spawn_local(async move {
                if let Some(rx) = rx {
                    // A task spawned by a task: the set waits for it too.
                    let d = done.clone();
                    task::spawn_local(async move {
                        rx.await.unwrap();
                        d.set(d.get() + 1);
                    });
                }
                done.set(done.get() + 1);
            });
        }
        perf_runtime::spawn(async move { tx.send(()).unwrap() });
        local.await;
        assert_eq!(done.get(), 4);
    });
}

#[test]
fn run_until_returns_while_other_tasks_stay_queued() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let local = LocalSet::new();
        let (tx, rx) = oneshot::channel::<u8>();
        let waiting = local.spawn_local(async move { rx.await.unwrap() });
        local.run_until(async {}).await;
        assert!(!waiting.is_finished());
        tx.send(9).unwrap();
        assert_eq!(local.run_until(waiting).await.unwrap(), 9);
    });
}

#[test]
fn abort_panic_and_drop_of_local_tasks() {
    let rt = Builder::new_current_thread().build().unwrap();
    let local = LocalSet::new();
    let dropped = Rc::new(Cell::new(false));
    struct Flag(Rc<Cell<bool>>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }
    let flag = Flag(dropped.clone());
    local.block_on(&rt, async move {
        let stuck = task::spawn_local(async move {
            let _f = flag;
            std::future::pending::<()>().await
        });
        task::yield_now().await;
        stuck.abort();
        assert!(stuck.await.unwrap_err().is_cancelled());

        let boom = task::spawn_local(async { panic!("local panic") });
        let err = boom.await.unwrap_err();
        assert!(err.is_panic());
    });
    assert!(dropped.get(), "the aborted task's future was dropped");

    // Dropping the set drops what is still pending, on this thread.
    let pending_dropped = Rc::new(Cell::new(false));
    let flag = Flag(pending_dropped.clone());
    local.spawn_local(async move {
        let _f = flag;
        std::future::pending::<()>().await
    });
    drop(local);
    assert!(pending_dropped.get());
}

#[test]
fn join_set_spawn_local() {
    let rt = Builder::new_current_thread().build().unwrap();
    LocalSet::new().block_on(&rt, async {
        let mut set = JoinSet::new();
        for i in 0..4u32 {
            let v = Rc::new(i);
            set.spawn_local(async move {
                task::yield_now().await;
                *v * 10
            });
        }
        let mut out = set.join_all().await;
        out.sort();
        assert_eq!(out, [0, 10, 20, 30]);
    });
}

#[test]
#[should_panic(expected = "`spawn_local` called from outside of a `task::LocalSet`")]
fn spawn_local_outside_a_set_panics() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        drop(task::spawn_local(async {}));
    });
}

#[test]
fn task_ids_and_task_locals_work_in_local_tasks() {
    perf_runtime::task_local! {
        static TAG: &'static str;
    }
    let rt = Builder::new_current_thread().build().unwrap();
    LocalSet::new().block_on(&rt, async {
        let h =
            task::spawn_local(TAG.scope("local", async { (task::try_id().is_some(), TAG.get()) }));
        let id = h.id();
        let (has_id, tag) = h.await.unwrap();
        assert!(has_id);
        assert_eq!(tag, "local");
        let inner = task::spawn_local(async { task::id() });
        let inner_id = inner.id();
        assert_eq!(inner.await.unwrap(), inner_id);
        assert_ne!(id, inner_id);
    });
}

#[test]
fn qos_classes_work_from_local_tasks() {
    use perf_runtime::task::Qos;
    let rt = Builder::new_current_thread().build().unwrap();
    LocalSet::new().block_on(&rt, async {
        let not_send = Rc::new("stays on this thread");
        let local = task::spawn_local(async move {
            let critical = perf_runtime::spawn_with(Qos::Critical, async { "critical" });
            let batch = task::Builder::new()
                .qos(Qos::Batch)
                .spawn(async { "batch" })
                .unwrap();
            (*not_send, critical.await.unwrap(), batch.await.unwrap())
        });
        assert_eq!(
            local.await.unwrap(),
            ("stays on this thread", "critical", "batch")
        );
    });
    let m = rt.metrics();
    assert_eq!(
        (m.qos_spawned(Qos::Critical), m.qos_spawned(Qos::Batch)),
        (1, 1)
    );
}

/// Two local tasks on one thread lock in opposite orders: the validation
/// context is each local task, so the wait that closes the cycle between
/// the two is reported as a deadlock, as between two spawned tasks.
#[test]
fn a_deadlock_between_two_local_tasks_is_reported() {
    within(|| {
        use perf_runtime::sync::{Barrier, Mutex};
        use perf_runtime::validation::{take_reports, Mode, ViolationKind};
        let rt = Builder::new_current_thread()
            .validation(Mode::Report)
            .build()
            .unwrap();
        let local = LocalSet::new();
        local.block_on(&rt, async {
            let (a, b) = (Rc::new(Mutex::new(())), Rc::new(Mutex::new(())));
            let both_hold = Rc::new(Barrier::new(2));
            let (a1, b1, bar) = (a.clone(), b.clone(), both_hold.clone());
            task::spawn_local(async move {
                let _ga = a1.lock().await;
                bar.wait().await;
                let _gb = b1.lock().await;
            });
            task::spawn_local(async move {
                let _gb = b.lock().await;
                both_hold.wait().await;
                let _ga = a.lock().await;
            });
            // The report is made when the second of the two waits starts, in a
            // poll of this thread; yield until it has been.
            let mut seen = Vec::new();
            while !seen
                .iter()
                .any(|v: &perf_runtime::validation::Violation| v.kind() == ViolationKind::Deadlock)
            {
                task::yield_now().await;
                seen.extend(take_reports());
            }
        });
        // Dropping the set cancels the two stuck lock futures.
        drop(local);
    });
}
