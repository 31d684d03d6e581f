//! `task_local!` and `task::LocalKey`: the value follows its task across
//! yields and workers, is not inherited by spawned tasks, nests, and is
//! readable from destructors inside the scope.

use perf_runtime::runtime::Builder;
use perf_runtime::sync::oneshot;
use perf_runtime::task::{self, JoinSet};

perf_runtime::task_local! {
    static REQUEST: u32;
    pub static USER: String;
}

#[test]
fn value_follows_the_task_across_yields_on_the_multi_thread_runtime() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let mut set = JoinSet::new();
        for i in 0..16u32 {
            set.spawn(REQUEST.scope(i, async move {
                for _ in 0..20 {
                    assert_eq!(REQUEST.get(), i);
                    task::yield_now().await; // may resume on the other worker
                }
                REQUEST.get()
            }));
        }
        let mut seen = set.join_all().await;
        seen.sort();
        assert_eq!(seen, (0..16).collect::<Vec<_>>());
    });
}

#[test]
fn spawned_tasks_do_not_inherit_the_value() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(REQUEST.scope(1, async {
        let child = perf_runtime::spawn(async { REQUEST.try_get().is_err() });
        assert!(child.await.unwrap());
        assert_eq!(REQUEST.get(), 1);
    }));
}

#[test]
fn scopes_nest_and_restore() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        USER.scope("outer".to_string(), async {
            USER.scope("inner".to_string(), async {
                task::yield_now().await;
                assert_eq!(USER.get(), "inner");
            })
            .await;
            assert_eq!(USER.with(|u| u.clone()), "outer");
            let len = USER.sync_scope("sync".into(), || USER.with(String::len));
            assert_eq!(len, 4);
            assert_eq!(USER.get(), "outer");
        })
        .await;
        assert!(USER.try_with(|_| ()).is_err());
    });
}

#[test]
fn scope_inside_select_and_join() {
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let (tx, rx) = oneshot::channel::<()>();
        let (a, b) = perf_runtime::join!(
            REQUEST.scope(1, async {
                rx.await.unwrap();
                REQUEST.get()
            }),
            REQUEST.scope(2, async {
                task::yield_now().await;
                tx.send(()).unwrap();
                REQUEST.get()
            }),
        );
        assert_eq!((a, b), (1, 2));
        let v = perf_runtime::select! {
            v = REQUEST.scope(3, async { REQUEST.get() }) => v,
            v = REQUEST.scope(4, async { REQUEST.get() }) => v,
        };
        assert!(v == 3 || v == 4);
    });
}

#[test]
#[should_panic(expected = "cannot access a task-local storage value without setting it first")]
fn get_outside_a_scope_panics() {
    REQUEST.get();
}

#[test]
fn aborted_scope_drops_its_future_inside_the_scope() {
    struct Check(oneshot::Sender<Result<u32, perf_runtime::task::AccessError>>);
    impl Drop for Check {
        fn drop(&mut self) {
            let (tx, _) = oneshot::channel();
            let tx = std::mem::replace(&mut self.0, tx);
            let _ = tx.send(REQUEST.try_get());
        }
    }
    let rt = Builder::new_current_thread().build().unwrap();
    rt.block_on(async {
        let (tx, rx) = oneshot::channel();
        let (started_tx, started_rx) = oneshot::channel();
        let h = perf_runtime::spawn(REQUEST.scope(11, async move {
            let _check = Check(tx);
            started_tx.send(()).unwrap();
            std::future::pending::<()>().await
        }));
        started_rx.await.unwrap();
        h.abort();
        assert!(h.await.unwrap_err().is_cancelled());
        assert_eq!(rx.await.unwrap(), Ok(11));
    });
}
