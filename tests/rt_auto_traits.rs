//! Auto traits are part of the API: the runtime's types are `Send`, `Sync`
//! and `Unpin` exactly where tokio's are, so ported code keeps compiling.
//!
//! What must *not* be `Send` (`EnterGuard`: the runtime is current only on
//! the thread that entered it) would be a `compile_fail` doctest, which can
//! only live in the library. Here it is checked with autoref-based
//! specialisation instead: in a non-generic context, method lookup picks the
//! `Send` impl when the bound holds and falls back to the other one when it
//! does not, so the answer is a plain `bool` the test can assert on.

use perf_runtime::runtime::{
    Builder, EnterGuard, Handle, Runtime, RuntimeFlavor, RuntimeMetrics, TryCurrentError,
};
use perf_runtime::task::{AbortHandle, Id, JoinError, JoinHandle, JoinSet, Qos};
use std::marker::PhantomData;
use std::rc::Rc;

fn send_sync<T: Send + Sync>() {}
fn send_sync_unpin<T: Send + Sync + Unpin>() {}

/// A `Send` output type, as tokio's tests use for `JoinHandle<T>`.
type Out = Vec<u8>;

#[test]
fn runtime_types_are_send_sync_and_unpin() {
    send_sync_unpin::<Runtime>();
    send_sync_unpin::<Handle>();
    send_sync_unpin::<JoinHandle<Out>>();
    send_sync_unpin::<JoinHandle<()>>();
    send_sync_unpin::<AbortHandle>();
    send_sync_unpin::<JoinError>();
    send_sync_unpin::<JoinSet<Out>>();
    send_sync::<RuntimeMetrics>();
    send_sync::<TryCurrentError>();
    send_sync::<Builder>();
    send_sync::<perf_runtime::task::Builder<'static>>();
    send_sync::<Id>();
    send_sync::<Qos>();
    send_sync::<RuntimeFlavor>();
}

#[test]
fn join_error_is_a_std_error_usable_across_threads() {
    fn boxed_error<E: std::error::Error + Send + Sync + 'static>() {}
    boxed_error::<JoinError>();
    boxed_error::<TryCurrentError>();
    // `?` turns a JoinError into io::Error, as tokio's does.
    fn convert(e: JoinError) -> std::io::Error {
        e.into()
    }
    let _ = convert;
}

#[test]
fn spawned_futures_are_send_so_tasks_can_move_between_workers() {
    // The futures the runtime hands out are `Send` (JoinHandle) and can be
    // awaited from another runtime's task.
    fn send_future<F: std::future::Future + Send>(_: &F) {}
    let rt = perf_runtime::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let h = rt.spawn(async { 1 });
    send_future(&h);
    let mut set = JoinSet::<u8>::new();
    send_future(&set.join_next());
    drop(set);
    assert_eq!(rt.block_on(h).unwrap(), 1);
}

// ---- negative checks ---------------------------------------------------------

struct Probe<T: ?Sized>(PhantomData<T>);

trait IsSendYes {
    fn is_send(&self) -> bool {
        true
    }
}
impl<T: ?Sized + Send> IsSendYes for &Probe<T> {}

trait IsSendNo {
    fn is_send(&self) -> bool {
        false
    }
}
impl<T: ?Sized> IsSendNo for Probe<T> {}

macro_rules! is_send {
    ($t:ty) => {
        (&&Probe::<$t>(PhantomData)).is_send()
    };
}

#[test]
fn the_send_probe_tells_send_from_not_send() {
    // The probe itself, on types whose answer is known.
    assert!(is_send!(u8));
    assert!(is_send!(std::sync::Arc<u8>));
    assert!(!is_send!(Rc<u8>));
    assert!(!is_send!(*const u8));
}

#[test]
fn enter_guard_is_not_send() {
    // Dropping the guard on another thread would restore that thread's
    // context, not the one that entered.
    assert!(!is_send!(EnterGuard<'static>));
}

#[test]
fn join_handle_of_a_non_send_output_is_not_send() {
    assert!(!is_send!(JoinHandle<Rc<u8>>));
    assert!(!is_send!(JoinSet<Rc<u8>>));
    assert!(is_send!(JoinHandle<Out>));
}

#[test]
fn udp_unix_signal_and_process_types_are_send_sync_and_unpin() {
    use perf_runtime::net::{unix, UdpSocket, UnixDatagram, UnixListener, UnixStream};
    use perf_runtime::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
    use perf_runtime::signal::unix::{Signal, SignalKind};
    send_sync_unpin::<UdpSocket>();
    send_sync_unpin::<UnixStream>();
    send_sync_unpin::<UnixListener>();
    send_sync_unpin::<UnixDatagram>();
    send_sync_unpin::<unix::OwnedReadHalf>();
    send_sync_unpin::<unix::OwnedWriteHalf>();
    send_sync_unpin::<unix::ReadHalf<'static>>();
    send_sync_unpin::<unix::WriteHalf<'static>>();
    send_sync_unpin::<unix::ReuniteError>();
    send_sync_unpin::<unix::SocketAddr>();
    send_sync_unpin::<unix::UCred>();
    send_sync_unpin::<Signal>();
    send_sync_unpin::<SignalKind>();
    send_sync_unpin::<Command>();
    send_sync_unpin::<Child>();
    send_sync_unpin::<ChildStdin>();
    send_sync_unpin::<ChildStdout>();
    send_sync_unpin::<ChildStderr>();
}

/// The futures of the new I/O types are `Send`, so they can be spawned.
#[allow(dead_code)]
fn io_futures_are_send(
    udp: &perf_runtime::net::UdpSocket,
    stream: &perf_runtime::net::UnixStream,
    listener: &perf_runtime::net::UnixListener,
    dgram: &perf_runtime::net::UnixDatagram,
    sig: &mut perf_runtime::signal::unix::Signal,
    cmd: &mut perf_runtime::process::Command,
    child: perf_runtime::process::Child,
) {
    fn is_send<T: Send>(_: &T) {}
    let mut buf = [0u8; 4];
    is_send(&udp.recv_from(&mut buf));
    is_send(&udp.send_to(b"x", "127.0.0.1:1"));
    is_send(&perf_runtime::net::UnixStream::connect("/x"));
    is_send(&stream.readable());
    is_send(&listener.accept());
    is_send(&dgram.send_to(b"x", "/x"));
    is_send(&sig.recv());
    is_send(&perf_runtime::signal::ctrl_c());
    is_send(&cmd.output());
    is_send(&cmd.status());
    is_send(&child.wait_with_output());
}
