//! Signals sent to this test process, on whichever backend
//! `PERF_RUNTIME_IO` selects. Tests run in parallel in one process, so each
//! uses its own signal.

mod io_support;
mod support;

use io_support::*;
use perf_runtime::signal::unix::{signal, Signal, SignalKind};
use std::future::Future;
use std::io::ErrorKind;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// Sends `signum` to the calling thread. Once `pthread_kill` returns the
/// handler has run: a thread-directed signal that the thread does not block
/// is handled on the way out of the syscall. (A process-directed `kill`
/// lets the kernel pick a thread — on Linux the main thread first, here the
/// harness's, asleep — so the handler could run after `kill` returned, and
/// a listener made "after the signal" could still see it.)
fn raise(signum: i32) {
    // SAFETY: pthread_kill on the calling thread has no memory-safety
    // preconditions; every signal sent here has a perf_runtime handler
    // installed first.
    let r = unsafe { libc::pthread_kill(libc::pthread_self(), signum) };
    assert_eq!(
        r,
        0,
        "pthread_kill: {}",
        std::io::Error::from_raw_os_error(r)
    );
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(fut: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(Waker::noop()))
}

/// Whether `sig` has a delivery it has not returned yet, without waiting.
fn has_pending(sig: &mut Signal) -> bool {
    poll_once(pin!(sig.recv())).is_ready()
}

#[test]
fn two_listeners_both_see_the_signal() {
    support::within(|| {
        multi(2).block_on(async {
            let mut a = signal(SignalKind::user_defined1()).unwrap();
            let mut b = signal(SignalKind::user_defined1()).unwrap();
            raise(libc::SIGUSR1);
            assert_eq!(a.recv().await, Some(()));
            assert_eq!(b.recv().await, Some(()));
            // Each saw it once.
            assert!(!has_pending(&mut a));
            assert!(!has_pending(&mut b));
        })
    });
}

#[test]
fn waiting_tasks_on_two_runtimes_are_woken() {
    support::within(|| {
        let rt1 = multi(2);
        let rt2 = current();
        // Each listener is polled until it waits (its waker stored), then
        // the signal is sent: the pipe's readiness must wake all three, two
        // of them on the same runtime.
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = |tx: std::sync::mpsc::Sender<()>| async move {
            let mut s = signal(SignalKind::user_defined2()).unwrap();
            let mut first = true;
            std::future::poll_fn(|cx| {
                let r = s.poll_recv(cx);
                if std::mem::take(&mut first) {
                    assert!(r.is_pending(), "no SIGUSR2 was sent yet");
                    tx.send(()).unwrap();
                }
                r
            })
            .await
        };
        let h1 = rt1.spawn(waiter(tx.clone()));
        let h2 = rt1.spawn(waiter(tx.clone()));
        let t3 = std::thread::spawn(move || rt2.block_on(waiter(tx)));
        for _ in 0..3 {
            rx.recv().unwrap();
        }
        raise(libc::SIGUSR2);
        assert_eq!(rt1.block_on(h1).unwrap(), Some(()));
        assert_eq!(rt1.block_on(h2).unwrap(), Some(()));
        assert_eq!(t3.join().unwrap(), Some(()));
    });
}

#[test]
fn a_listener_created_after_the_signal_does_not_see_it() {
    support::within(|| {
        multi(1).block_on(async {
            let mut early = signal(SignalKind::window_change()).unwrap();
            raise(libc::SIGWINCH);
            let mut late = signal(SignalKind::window_change()).unwrap();
            assert!(
                !has_pending(&mut late),
                "the signal came before `late` existed"
            );
            assert_eq!(early.recv().await, Some(()));
            raise(libc::SIGWINCH);
            assert_eq!(late.recv().await, Some(()));
            assert_eq!(early.recv().await, Some(()));
        })
    });
}

#[test]
fn signals_between_two_receives_coalesce() {
    support::within(|| {
        multi(1).block_on(async {
            let mut s = signal(SignalKind::hangup()).unwrap();
            raise(libc::SIGHUP);
            raise(libc::SIGHUP);
            raise(libc::SIGHUP);
            assert_eq!(s.recv().await, Some(()));
            assert!(!has_pending(&mut s), "three deliveries, one wake-up");
            raise(libc::SIGHUP);
            assert_eq!(s.recv().await, Some(()));
        })
    });
}

#[test]
fn a_dropped_listener_does_not_disturb_the_others() {
    support::within(|| {
        multi(2).block_on(async {
            let mut keep = signal(SignalKind::alarm()).unwrap();
            for _ in 0..10 {
                let mut s = signal(SignalKind::alarm()).unwrap();
                // Leave a waiter entry behind, then drop the listener.
                assert!(!has_pending(&mut s));
                drop(s);
            }
            raise(libc::SIGALRM);
            assert_eq!(keep.recv().await, Some(()));
        })
    });
}

#[test]
fn ctrl_c_completes_on_sigint() {
    support::within(|| {
        multi(1).block_on(async {
            let mut fut = pin!(perf_runtime::signal::ctrl_c());
            // The first poll installs the listener.
            assert!(poll_once(fut.as_mut()).is_pending());
            raise(libc::SIGINT);
            fut.await.unwrap();
        })
    });
}

#[test]
fn forbidden_and_invalid_signals_are_errors() {
    support::within(|| {
        multi(1).block_on(async {
            for signum in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, 0, -3, 1000] {
                let err = signal(SignalKind::from_raw(signum)).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::InvalidInput, "{signum}: {err}");
                assert!(err.to_string().contains(&signum.to_string()), "{err}");
            }
        })
    });
}

#[test]
fn listening_outside_a_runtime_is_an_error_not_a_panic() {
    // SIGQUIT's action as the test process inherited it (SIG_DFL, or
    // SIG_IGN under a shell that started it in the background).
    let action = || {
        // SAFETY: a zeroed sigaction is a valid out-parameter.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        // SAFETY: a null new action only reads the current one into `old`.
        let r = unsafe { libc::sigaction(libc::SIGQUIT, std::ptr::null(), &mut old) };
        assert_eq!(r, 0);
        old.sa_sigaction
    };
    let before = action();
    let err = signal(SignalKind::quit()).unwrap_err();
    assert!(err.to_string().contains("runtime"), "{err}");
    // The failed call installed no handler: the action is as it was.
    assert_eq!(action(), before);
}
