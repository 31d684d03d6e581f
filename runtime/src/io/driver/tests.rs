//! Unit tests of the driver's pure parts (no syscalls), so they also run
//! under Miri (`.ci/miri.sh`): the operation slot's ownership hand-off, the
//! readiness protocol, the owned-buffer impls.

use super::op::{OpSlot, Produces};
use super::scheduled_io::{Direction, ScheduledIo};
use crate::io::ready::{Interest, Ready};
use crate::io::{IoBuf, IoBufMut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

fn flag_waker() -> (Arc<Flag>, Waker) {
    let f = Arc::new(Flag(AtomicBool::new(false)));
    (f.clone(), Waker::from(f))
}

struct CountDrop(Arc<AtomicUsize>);

impl Drop for CountDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

#[test]
fn a_completed_operation_wakes_its_waiter_once() {
    let slot = OpSlot::new(Produces::Nothing);
    let (flag, waker) = flag_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(slot.poll(&mut cx).is_pending());
    slot.complete(42, 0, false);
    assert!(flag.0.load(SeqCst));
    assert_eq!(slot.poll(&mut cx), Poll::Ready((42, 0)));
}

#[test]
fn abandoned_data_lives_until_the_completion() {
    let drops = Arc::new(AtomicUsize::new(0));
    let slot = OpSlot::new(Produces::Nothing);
    let in_flight = slot.abandon(Some(Box::new(CountDrop(drops.clone()))));
    assert!(in_flight, "not completed yet: the caller must cancel");
    assert_eq!(drops.load(SeqCst), 0, "the kernel may still use the data");
    slot.complete(-libc::ECANCELED, 0, false);
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn abandon_after_completion_needs_no_cancel() {
    let drops = Arc::new(AtomicUsize::new(0));
    let slot = OpSlot::new(Produces::Nothing);
    slot.complete(3, 0, false);
    assert!(!slot.abandon(Some(Box::new(CountDrop(drops.clone())))));
    assert_eq!(drops.load(SeqCst), 1);
}

#[test]
fn threaded_abandon_and_completion_drop_the_data_once() {
    for _ in 0..4 {
        let drops = Arc::new(AtomicUsize::new(0));
        let slot = Arc::new(OpSlot::new(Produces::Nothing));
        let s2 = slot.clone();
        let t = std::thread::spawn(move || s2.complete(1, 0, false));
        slot.abandon(Some(Box::new(CountDrop(drops.clone()))));
        t.join().unwrap();
        assert_eq!(drops.load(SeqCst), 1);
    }
}

#[test]
fn multishot_results_queue_until_the_end() {
    let slot = OpSlot::new_multi(Produces::Nothing);
    let (flag, waker) = flag_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(slot.poll_next(&mut cx).is_pending());
    slot.complete(5, 0, true);
    assert!(flag.0.load(SeqCst));
    slot.complete(6, 0, false);
    assert_eq!(slot.poll_next(&mut cx), Poll::Ready(Some(5)));
    assert_eq!(slot.poll_next(&mut cx), Poll::Ready(Some(6)));
    assert_eq!(slot.poll_next(&mut cx), Poll::Ready(None));
}

#[test]
fn readiness_wakes_the_matching_direction_only() {
    let sio = ScheduledIo::new(-1, Interest::READABLE | Interest::WRITABLE);
    let (rflag, rwaker) = flag_waker();
    let (wflag, wwaker) = flag_waker();
    assert!(sio
        .poll_ready(&mut Context::from_waker(&rwaker), Direction::Read)
        .is_pending());
    assert!(sio
        .poll_ready(&mut Context::from_waker(&wwaker), Direction::Write)
        .is_pending());
    sio.set_readiness(Ready::WRITABLE);
    assert!(wflag.0.load(SeqCst) && !rflag.0.load(SeqCst));
    sio.set_readiness(Ready::READ_CLOSED);
    assert!(rflag.0.load(SeqCst), "a closed read side wakes the reader");
    let ev = sio.ready_now(Direction::Read.mask()).unwrap();
    assert!(ev.ready.is_read_closed());
    sio.clear_readiness(ev);
    assert!(
        sio.ready_now(Direction::Read.mask())
            .unwrap()
            .ready
            .is_read_closed(),
        "closed stays closed"
    );
}

#[test]
fn a_stale_clear_keeps_newer_readiness() {
    let sio = ScheduledIo::new(-1, Interest::READABLE);
    sio.set_readiness(Ready::READABLE);
    let seen = sio.ready_now(Direction::Read.mask()).unwrap();
    sio.set_readiness(Ready::READABLE);
    sio.clear_readiness(seen);
    assert!(sio
        .ready_now(Direction::Read.mask())
        .unwrap()
        .ready
        .is_readable());
    let now = sio.ready_now(Direction::Read.mask()).unwrap();
    sio.clear_readiness(now);
    assert!(sio
        .ready_now(Direction::Read.mask())
        .unwrap()
        .ready
        .is_empty());
}

#[test]
fn shutdown_ends_every_wait_with_an_error() {
    let sio = ScheduledIo::new(-1, Interest::READABLE);
    let (flag, waker) = flag_waker();
    let mut cx = Context::from_waker(&waker);
    let mut id = 0;
    assert!(sio
        .poll_interest(&mut cx, Interest::READABLE, &mut id)
        .is_pending());
    sio.shutdown();
    assert!(flag.0.load(SeqCst));
    assert!(matches!(
        sio.poll_ready(&mut cx, Direction::Read),
        Poll::Ready(Err(_))
    ));
}

#[test]
fn vec_buffers_grow_their_length_to_what_was_read() {
    let mut v: Vec<u8> = Vec::with_capacity(8);
    assert_eq!((v.bytes_init(), v.bytes_total()), (0, 8));
    let p = v.stable_mut_ptr();
    // SAFETY: writes 3 bytes into the 8-byte allocation, then records them.
    unsafe {
        p.copy_from_nonoverlapping(b"abc".as_ptr(), 3);
        v.set_init(3);
    }
    assert_eq!(v, b"abc");
    // SAFETY: fewer bytes than already initialised: the length stays.
    unsafe { v.set_init(1) };
    assert_eq!(v.len(), 3);
    let b: Box<[u8]> = vec![1, 2].into_boxed_slice();
    assert_eq!((b.bytes_init(), b.bytes_total()), (2, 2));
}
