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
            drop(listener);
        });
        drop(rt);
        assert_eq!(open_fds(), before, "descriptors leaked");
    });
}
