//! `sync::watch`: latest-value semantics (sends coalesce), versions seen
//! per receiver, `send`/`send_replace`/`send_modify`/`send_if_modified`,
//! `borrow`/`borrow_and_update`/`has_changed`/`mark_*`, `wait_for`, close
//! from both ends, cancellation of `changed` (marks nothing seen), the
//! cooperative budget, and the auto traits.

mod sync_support;

use perf_runtime::sync::watch::{self, error::SendError, Receiver, Ref, Sender};
use std::sync::atomic::Ordering::SeqCst;
use sync_support::*;

#[test]
fn changed_completes_after_a_send_and_borrow_and_update_marks_it_seen() {
    let (tx, mut rx) = watch::channel(0);
    assert_eq!(*rx.borrow(), 0);
    let mut c = task(rx.changed());
    c.pending();
    tx.send(1).unwrap();
    assert!(c.is_woken());
    c.ready().unwrap();
    drop(c);
    // `changed` marked version 1 seen.
    assert!(!rx.has_changed().unwrap());
    tx.send(2).unwrap();
    assert!(rx.has_changed().unwrap());
    let r: Ref<'_, i32> = rx.borrow_and_update();
    assert!(r.has_changed());
    assert_eq!(*r, 2);
    drop(r);
    task(rx.changed()).pending();
}

#[test]
fn several_sends_coalesce_into_one_change_with_the_latest_value() {
    let (tx, mut rx) = watch::channel("a");
    tx.send("b").unwrap();
    tx.send("c").unwrap();
    task(rx.changed()).ready().unwrap();
    assert_eq!(*rx.borrow(), "c");
    task(rx.changed()).pending();
}

#[test]
fn send_variants() {
    let (tx, rx) = watch::channel(1);
    assert_eq!(tx.send_replace(2), 1);
    tx.send_modify(|v| *v += 10);
    assert_eq!(*tx.borrow(), 12);
    let mut rx = rx;
    rx.mark_unchanged();
    assert!(!tx.send_if_modified(|_| false));
    assert!(
        !rx.has_changed().unwrap(),
        "an unmodified send notifies nobody"
    );
    assert!(tx.send_if_modified(|v| {
        *v = 0;
        true
    }));
    assert!(rx.has_changed().unwrap());
    drop(rx);
    assert_eq!(tx.receiver_count(), 0);
    assert!(tx.is_closed());
    assert_eq!(
        tx.send(5),
        Err(SendError(5)),
        "no receiver: the value comes back"
    );
    assert_eq!(*tx.borrow(), 0);
    assert_eq!(
        tx.send_replace(6),
        0,
        "send_replace stores even with no receiver"
    );
}

#[test]
fn mark_changed_and_unchanged() {
    let (tx, mut rx) = watch::channel(0);
    rx.mark_changed();
    assert!(rx.has_changed().unwrap());
    assert!(rx.borrow().has_changed());
    task(rx.changed()).ready().unwrap();
    tx.send(1).unwrap();
    rx.mark_unchanged();
    task(rx.changed()).pending();
}

#[test]
fn subscribers_and_clones_track_their_own_versions() {
    let (tx, mut rx) = watch::channel(0);
    tx.send(1).unwrap();
    let mut sub = tx.subscribe();
    assert!(
        !sub.has_changed().unwrap(),
        "a new subscriber has seen the current value"
    );
    let mut clone = rx.clone();
    assert!(
        clone.has_changed().unwrap(),
        "a clone has seen what the original saw"
    );
    assert_eq!(tx.receiver_count(), 3);
    task(rx.changed()).ready().unwrap();
    assert!(clone.has_changed().unwrap());
    task(clone.changed()).ready().unwrap();
    task(sub.changed()).pending();
    assert!(sub.same_channel(&rx));
    let tx2 = tx.clone();
    assert_eq!(tx.sender_count(), 2);
    assert!(tx.same_channel(&tx2));
}

#[test]
fn dropping_every_sender_ends_changed_after_the_last_value() {
    let (tx, mut rx) = watch::channel(0);
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    drop(tx);
    let mut c = task(rx.changed());
    c.ready().unwrap();
    drop(c);
    let mut c = task(rx.changed());
    c.pending();
    drop(tx2);
    assert!(c.is_woken());
    assert!(c.ready().is_err());
    drop(c);
    assert!(rx.has_changed().is_err());
    assert_eq!(*rx.borrow(), 1, "the last value stays readable");
}

#[test]
fn sender_closed_completes_when_every_receiver_is_gone() {
    let (tx, rx) = watch::channel(());
    let rx2 = rx.clone();
    let mut closed = task(tx.closed());
    closed.pending();
    drop(rx);
    closed.pending();
    drop(rx2);
    assert!(closed.is_woken());
    closed.ready();
}

#[test]
fn wait_for_checks_the_current_value_then_waits() {
    let (tx, mut rx) = watch::channel(1);
    assert_eq!(*task(rx.wait_for(|v| *v == 1)).ready().unwrap(), 1);
    let mut w = task(rx.wait_for(|v| *v >= 3));
    w.pending();
    tx.send(2).unwrap();
    assert!(w.is_woken());
    w.pending();
    tx.send(3).unwrap();
    assert_eq!(*w.ready().unwrap(), 3);
    drop(w);
    let mut w = task(rx.wait_for(|v| *v == 100));
    w.pending();
    drop(tx);
    assert!(w.ready().is_err());
}

#[test]
fn a_cancelled_changed_marks_nothing_seen() {
    let (tx, mut rx) = watch::channel(0);
    {
        let mut c = task(rx.changed());
        c.pending();
        tx.send(1).unwrap();
        assert!(c.is_woken());
    } // dropped before it polled again
    assert!(rx.has_changed().unwrap());
    task(rx.changed()).ready().unwrap();
}

#[test]
fn a_fast_sender_and_a_slow_receiver_across_workers() {
    within(|| {
        let rt = multi_thread();
        rt.block_on(async {
            let (tx, mut rx) = watch::channel(0u32);
            let producer = perf_runtime::spawn(async move {
                for i in 1..=2000 {
                    tx.send(i).unwrap();
                    if i % 64 == 0 {
                        perf_runtime::task::yield_now().await;
                    }
                }
            });
            let mut last = 0;
            while rx.changed().await.is_ok() {
                let v = *rx.borrow_and_update();
                assert!(v >= last, "values never go back: {v} after {last}");
                last = v;
            }
            producer.await.unwrap();
            assert_eq!(last, 2000, "the final value is always seen");
        });
    });
}

#[test]
fn an_always_ready_changed_loop_yields_to_other_tasks() {
    assert_yields(|flag| async move {
        let (tx, mut rx) = watch::channel(0u64);
        let mut n = 0;
        while !flag.load(SeqCst) {
            tx.send(n).unwrap();
            rx.changed().await.unwrap();
            n += 1;
            assert!(n < YIELD_LIMIT, "changed() never yielded");
        }
    });
}

#[test]
fn auto_traits_match_tokio() {
    fn send_sync<T: Send + Sync>() {}
    fn error<E: std::error::Error + Send + Sync + 'static>() {}
    send_sync::<Sender<Vec<u8>>>();
    send_sync::<Receiver<Vec<u8>>>();
    error::<SendError<u8>>();
    error::<watch::error::RecvError>();
    fn send_future<F: std::future::Future + Send>(_: &F) {}
    let (tx, mut rx) = watch::channel(0u8);
    send_future(&rx.changed());
    send_future(&rx.wait_for(|_| true));
    send_future(&tx.closed());
    let d: Sender<u8> = Sender::default();
    assert!(d.is_closed());
}
