//! Descriptor accounting for cancelled I/O: in its own test binary, with
//! its tests serialised by `ONE_AT_A_TIME`, because `/proc/self/fd` counts
//! every thread's descriptors and parallel tests would disturb the count.

mod io_support;
mod support;

use io_support::*;
use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
use perf_runtime::net::{
    TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream,
};
use perf_runtime::process::Command;
use perf_runtime::signal::unix::{signal, SignalKind};
use perf_runtime::time::timeout;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

/// Held by every test here: one counts descriptors at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `body` on a fresh two-worker runtime (one test at a time) and
/// checks that, once the runtime is gone, every descriptor it or `body`
/// opened is closed.
fn assert_no_leaks<F: std::future::Future<Output = ()>>(body: impl FnOnce() -> F + Send + 'static) {
    support::within(|| {
        let _serial = serial();
        let before = open_fds();
        let rt = multi(2);
        rt.block_on(body());
        drop(rt);
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn no_descriptor_leaks_after_cancelled_accepts_connects_and_reads() {
    assert_no_leaks(|| async {
        // The runtime's own descriptors (rings, eventfds) are open now.
        let running = open_fds();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for _ in 0..50 {
            // An accept with nothing to accept, cancelled.
            let r = perf_runtime::time::timeout(Duration::from_millis(1), listener.accept()).await;
            assert!(r.is_err());
            // A read with nothing to read, cancelled; then both close.
            let mut c = TcpStream::connect(addr).await.unwrap();
            let (s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            let r = perf_runtime::time::timeout(Duration::from_millis(1), c.read(&mut buf)).await;
            assert!(r.is_err());
            drop((c, s));
        }
        // Connects cancelled before they complete (to a listener that
        // never accepts).
        for _ in 0..50 {
            let fut = TcpStream::connect(addr);
            let r = perf_runtime::time::timeout(Duration::from_micros(1), fut).await;
            drop(r);
        }
        // Multishot accepts dropped with connections pending and while
        // waiting, and owned reads cancelled mid-flight.
        for _ in 0..20 {
            // A fresh listener each round: nothing left over from the
            // previous one.
            let l2 = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let a2 = l2.local_addr().unwrap();
            let _c = TcpStream::connect(a2).await.unwrap();
            let mut incoming = l2.accept_multi();
            let s = incoming.next().await.unwrap();
            // Pending when the multishot accept is dropped: the kernel
            // may have accepted it already; the driver closes it.
            let _c2 = TcpStream::connect(a2).await.unwrap();
            drop(incoming);
            let r = perf_runtime::time::timeout(
                Duration::from_millis(1),
                s.read_owned(Vec::with_capacity(64)),
            )
            .await;
            assert!(r.is_err(), "nothing was sent: the read must time out");
            drop((s, l2));
        }
        drop(listener);
        // While the runtime still runs: cancellations travel through the
        // rings' inboxes to the kernel and back, so give them a bounded
        // time to land, then every descriptor must be gone — not merely
        // released when the runtime shuts down.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while open_fds() != running && std::time::Instant::now() < deadline {
            perf_runtime::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(
            open_fds(),
            running,
            "descriptors leaked while the runtime runs"
        );
    });
}

#[test]
fn no_descriptor_leaks_from_udp_sockets_and_cancelled_receives() {
    assert_no_leaks(|| async {
        for _ in 0..50 {
            let (a, b) = udp_pair().await;
            let mut buf = [0u8; 8];
            let r = timeout(Duration::from_millis(1), b.recv_from(&mut buf)).await;
            assert!(r.is_err());
            let r = timeout(Duration::from_millis(1), b.peek_from(&mut buf)).await;
            assert!(r.is_err());
            a.send_to(b"x", b.local_addr().unwrap()).await.unwrap();
            // Through std and back.
            let b = UdpSocket::from_std(b.into_std().unwrap()).unwrap();
            b.recv_from(&mut buf).await.unwrap();
        }
    });
}

#[test]
fn no_descriptor_leaks_from_unix_sockets_and_cancelled_accepts_and_reads() {
    let dir = TempDir::new("fd-unix");
    assert_no_leaks(move || async move {
        let path = dir.path("l.sock");
        let listener = UnixListener::bind(&path).unwrap();
        for _ in 0..50 {
            let r = timeout(Duration::from_millis(1), listener.accept()).await;
            assert!(r.is_err());
            let mut c = UnixStream::connect(&path).await.unwrap();
            let (s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4];
            let r = timeout(Duration::from_millis(1), c.read(&mut buf)).await;
            assert!(r.is_err());
            let (r, w) = s.into_split();
            drop((c, r, w));
            // A failed connect closes its socket.
            UnixStream::connect(dir.path("missing.sock"))
                .await
                .unwrap_err();
            let (a, b) = UnixDatagram::pair().unwrap();
            let r = timeout(Duration::from_millis(1), a.recv(&mut buf)).await;
            assert!(r.is_err());
            drop((a, b));
        }
        drop(listener);
    });
}

#[test]
fn no_descriptor_leaks_from_signal_listeners() {
    support::within(|| {
        let _serial = serial();
        // The process-wide self-pipe (two descriptors) is created by the
        // first listener and lives as long as the process: count after it.
        multi(1).block_on(async { drop(signal(SignalKind::user_defined1()).unwrap()) });
        let before = open_fds();
        let rt = multi(2);
        rt.block_on(async {
            for _ in 0..50 {
                let mut s = signal(SignalKind::user_defined1()).unwrap();
                let r = timeout(Duration::from_millis(1), s.recv()).await;
                assert!(r.is_err());
            }
        });
        drop(rt);
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}

#[test]
fn no_descriptor_leaks_from_children_their_pipes_and_cancelled_waits() {
    assert_no_leaks(|| async {
        for _ in 0..20 {
            let mut cat = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut stdout = cat.stdout.take().unwrap();
            let mut buf = [0u8; 4];
            let r = timeout(Duration::from_millis(1), stdout.read(&mut buf)).await;
            assert!(r.is_err(), "cat has nothing to echo yet");
            cat.stdin.as_mut().unwrap().write_all(b"x").await.unwrap();
            stdout.read_exact(&mut buf[..1]).await.unwrap();
            cat.kill().await.unwrap();
            drop(stdout);
            // (`wait` closes stdin first, which ends `cat`: `sleep` for
            // a wait that must be cancelled.)
            let mut sleep = Command::new("sleep").arg("100").spawn().unwrap();
            let r = timeout(Duration::from_millis(1), sleep.wait()).await;
            assert!(r.is_err(), "sleep 100 cannot have exited");
            sleep.kill().await.unwrap();
            // Dropped before it was reaped, killed on drop.
            let child = Command::new("sleep")
                .arg("100")
                .kill_on_drop(true)
                .spawn()
                .unwrap();
            drop(child);
            Command::new("perf-runtime-no-such-program")
                .spawn()
                .unwrap_err();
        }
    });
}
