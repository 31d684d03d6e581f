//! `sync::RwLock`: shared readers, exclusive writers, FIFO fairness with
//! writer preference (a queued writer blocks later readers), cancellation
//! of queued reads and writes, downgrade, owned and mapped guards, the
//! argument checks, the cooperative budget, and the auto traits.

mod sync_support;

use perf_runtime::sync::{
    OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock, RwLockMappedWriteGuard, RwLockReadGuard,
    RwLockWriteGuard,
};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use sync_support::*;

#[test]
fn readers_share_and_writers_exclude() {
    let l = RwLock::new(1);
    let r1 = l.try_read().unwrap();
    let r2 = l.try_read().unwrap();
    assert_eq!(*r1 + *r2, 2);
    assert!(l.try_write().is_err());
    drop((r1, r2));
    let mut w = l.try_write().unwrap();
    *w = 5;
    assert!(l.try_read().is_err());
    assert!(l.try_write().is_err());
    drop(w);
    assert_eq!(*l.try_read().unwrap(), 5);
}

#[test]
fn a_queued_writer_blocks_later_readers() {
    let l = RwLock::new(0);
    let r = l.try_read().unwrap();
    let mut w = task(l.write());
    w.pending();
    // Writer preference: a reader arriving after the writer must wait.
    assert!(l.try_read().is_err());
    let mut late_reader = task(l.read());
    late_reader.pending();
    drop(r);
    assert!(w.is_woken());
    assert!(!late_reader.is_woken());
    let mut g = w.ready();
    *g = 1;
    late_reader.pending();
    drop(g);
    assert!(late_reader.is_woken());
    assert_eq!(*late_reader.ready(), 1);
}

#[test]
fn readers_queued_behind_a_writer_are_admitted_together() {
    let l = RwLock::new(0);
    let w = l.try_write().unwrap();
    let mut readers: Vec<_> = (0..3).map(|_| task(l.read())).collect();
    let mut writer2 = task(l.write());
    for r in &mut readers {
        r.pending();
    }
    writer2.pending();
    drop(w);
    for r in &readers {
        assert!(r.is_woken(), "every queued reader is admitted at once");
    }
    assert!(!writer2.is_woken());
    let guards: Vec<_> = readers.iter_mut().map(|r| r.ready()).collect();
    writer2.pending();
    drop(guards);
    assert!(writer2.is_woken());
    drop(writer2.ready());
}

#[test]
fn a_cancelled_writer_lets_the_readers_behind_it_in() {
    let l = RwLock::new(0);
    let r = l.try_read().unwrap();
    let mut w = task(l.write());
    let mut r2 = task(l.read());
    w.pending();
    r2.pending();
    // The writer holds the permits freed so far (all but `r`'s); dropping
    // it must hand them on, or `r2` would wait for nothing.
    drop(w);
    assert!(r2.is_woken());
    let g2 = r2.ready();
    assert_eq!(*r + *g2, 0);
    drop((r, g2));
    assert!(l.try_write().is_ok());
}

#[test]
fn a_cancelled_reader_leaves_no_ghost_waiter() {
    let l = RwLock::new(0);
    let w = l.try_write().unwrap();
    let mut r = task(l.read());
    let mut w2 = task(l.write());
    r.pending();
    w2.pending();
    drop(r);
    drop(w);
    assert!(w2.is_woken());
    drop(w2.ready());
    assert!(l.try_write().is_ok());
}

#[test]
fn downgrade_keeps_writers_out_and_admits_readers() {
    let l = RwLock::new(1);
    let mut w = l.try_write().unwrap();
    *w = 2;
    let mut reader = task(l.read());
    reader.pending();
    let r = RwLockWriteGuard::downgrade(w);
    assert!(
        reader.is_woken(),
        "a queued reader joins the downgraded lock"
    );
    assert_eq!(*reader.ready() + *r, 4);
    assert!(l.try_write().is_err());
    drop(r);

    let l = Arc::new(RwLock::new(1));
    let w: OwnedRwLockWriteGuard<i32> = l.clone().try_write_owned().unwrap();
    let r: OwnedRwLockReadGuard<i32> = w.downgrade();
    assert!(l.try_read().is_ok());
    assert!(l.try_write().is_err());
    drop(r);
    assert!(l.try_write().is_ok());
}

#[test]
fn owned_and_mapped_guards() {
    let l = Arc::new(RwLock::new((1, String::from("a"))));
    let mut t = task(l.clone().write_owned());
    let mut w = t.ready();
    w.1.push('b');
    assert!(Arc::ptr_eq(OwnedRwLockWriteGuard::rwlock(&w), &l));
    drop(w);
    let mut t = task(l.clone().read_owned());
    let r = t.ready();
    assert_eq!(r.1, "ab");
    assert!(l.clone().try_read_owned().is_ok());
    assert!(l.clone().try_write_owned().is_err());
    drop(r);

    let l = RwLock::new((1, 2));
    let r = l.try_read().unwrap();
    let first: RwLockReadGuard<'_, i32> = RwLockReadGuard::map(r, |t| &t.0);
    assert_eq!(*first, 1);
    assert!(l.try_write().is_err());
    drop(first);
    let w = l.try_write().unwrap();
    let mut second: RwLockMappedWriteGuard<'_, i32> = RwLockWriteGuard::map(w, |t| &mut t.1);
    *second = 20;
    assert!(l.try_read().is_err());
    drop(second);
    assert_eq!(*l.try_read().unwrap(), (1, 20));
}

#[test]
fn max_readers_is_enforced_and_checked() {
    let l = RwLock::with_max_readers(0, 2);
    let a = l.try_read().unwrap();
    let _b = l.try_read().unwrap();
    assert!(l.try_read().is_err(), "a third reader exceeds max_readers");
    drop(a);
    assert!(l.try_read().is_ok());

    let err = std::panic::catch_unwind(|| RwLock::with_max_readers(0, 0))
        .expect_err("max_reads 0 must panic");
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .unwrap_or_else(|| err.downcast_ref::<String>().cloned().unwrap_or_default());
    assert!(
        msg.contains("max_reads"),
        "the panic names the argument: {msg}"
    );
    let err = std::panic::catch_unwind(|| RwLock::with_max_readers(0, u32::MAX))
        .expect_err("too many readers must panic");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("max_reads"),
        "the panic names the argument: {msg}"
    );
}

#[test]
fn get_mut_into_inner_and_debug() {
    let mut l = RwLock::new(3);
    *l.get_mut() += 1;
    assert_eq!(format!("{l:?}"), "RwLock { data: 4 }");
    let w = l.try_write().unwrap();
    assert_eq!(format!("{l:?}"), "RwLock { data: <locked> }");
    drop(w);
    assert_eq!(l.into_inner(), 4);
    static GLOBAL: RwLock<u8> = RwLock::const_new(9);
    assert_eq!(*GLOBAL.try_read().unwrap(), 9);
}

#[test]
fn concurrent_readers_and_writers_keep_the_invariant() {
    within(|| {
        let rt = multi_thread();
        rt.block_on(async {
            // Writers keep both fields equal; readers must never see them
            // differ.
            let l = Arc::new(RwLock::new((0u64, 0u64)));
            let mut tasks = Vec::new();
            for i in 0..6 {
                let l = l.clone();
                tasks.push(perf_runtime::spawn(async move {
                    for _ in 0..300 {
                        if i % 3 == 0 {
                            let mut g = l.write().await;
                            g.0 += 1;
                            perf_runtime::task::yield_now().await;
                            g.1 += 1;
                        } else {
                            let g = l.read().await;
                            assert_eq!(g.0, g.1, "a reader saw a half-done write");
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            assert_eq!(*l.read().await, (600, 600));
        });
    });
}

#[test]
fn blocking_read_and_write_panic_inside_a_runtime() {
    let l = Arc::new(RwLock::new(0));
    let l2 = l.clone();
    std::thread::spawn(move || {
        *l2.blocking_write() += 1;
        assert_eq!(*l2.blocking_read(), 1);
    })
    .join()
    .unwrap();
    let rt = current_thread();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(async { drop(l.blocking_read()) })
    }));
    assert!(r.is_err());
}

#[test]
fn an_always_ready_read_loop_yields_to_other_tasks() {
    assert_yields(|flag| async move {
        let l = RwLock::new(0u64);
        let mut n = 0;
        while !flag.load(SeqCst) {
            drop(l.read().await);
            n += 1;
            assert!(n < YIELD_LIMIT, "read() never yielded");
        }
    });
}

#[test]
fn auto_traits_match_tokio() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RwLock<u8>>();
    send_sync::<RwLockReadGuard<'static, u8>>();
    send_sync::<RwLockWriteGuard<'static, u8>>();
    send_sync::<RwLockMappedWriteGuard<'static, u8>>();
    send_sync::<OwnedRwLockReadGuard<u8>>();
    send_sync::<OwnedRwLockWriteGuard<u8>>();
    fn send_future<F: std::future::Future + Send>(_: &F) {}
    let l = RwLock::new(0);
    send_future(&l.read());
    send_future(&l.write());
}
