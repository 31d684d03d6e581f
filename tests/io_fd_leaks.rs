//! Descriptor accounting for cancelled I/O: alone in its own test binary
//! (one process, one test), because `/proc/self/fd` counts every thread's
//! descriptors and parallel tests would disturb the count.

mod io_support;
mod support;

use io_support::*;
use perf_runtime::io::AsyncReadExt;
use perf_runtime::net::{TcpListener, TcpStream};
use std::time::Duration;

#[test]
fn no_descriptor_leaks_after_cancelled_accepts_connects_and_reads() {
    support::within(|| {
        let before = open_fds();
        let rt = multi(2);
        rt.block_on(async {
            // The runtime's own descriptors (rings, eventfds) are open now.
            let running = open_fds();
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            for _ in 0..50 {
                // An accept with nothing to accept, cancelled.
                let r =
                    perf_runtime::time::timeout(Duration::from_millis(1), listener.accept()).await;
                assert!(r.is_err());
                // A read with nothing to read, cancelled; then both close.
                let mut c = TcpStream::connect(addr).await.unwrap();
                let (s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4];
                let r =
                    perf_runtime::time::timeout(Duration::from_millis(1), c.read(&mut buf)).await;
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
        drop(rt);
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}
