//! Resource limits: the descriptor limit reached during accept. The child
//! lowers RLIMIT_NOFILE, fills the table, and checks that accept reports
//! EMFILE as an error (no panic, no hang) and serves again once a descriptor
//! is free — with `accept` and with `accept_multi`.

mod io_support;
mod support;

use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
use perf_runtime::net::{TcpListener, TcpStream};
use std::time::Duration;

fn fill_descriptor_table() -> Vec<std::fs::File> {
    let mut held = Vec::new();
    while let Ok(f) = std::fs::File::open("/dev/null") {
        held.push(f);
    }
    held
}

#[test]
#[ignore = "run in a child process by accept_survives_the_descriptor_limit"]
fn probe_emfile() {
    if !support::in_child_probe() {
        return;
    }
    let rt = io_support::multi(2);
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A client on a std socket made before the table is full.
        let client = std::net::TcpStream::connect(addr).unwrap();
        let cur = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
        let lim = libc::rlimit {
            rlim_cur: cur + 16,
            rlim_max: cur + 16,
        };
        // SAFETY: setrlimit with a valid rlimit.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
        let mut held = fill_descriptor_table();
        let err = listener.accept().await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        {
            let mut incoming = listener.accept_multi();
            let err = incoming.next().await.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
        }
        // Free descriptors: the same connection is accepted now.
        held.truncate(held.len().saturating_sub(8));
        let (mut s, _) = perf_runtime::time::timeout(Duration::from_secs(5), listener.accept())
            .await
            .expect("accept after descriptors were freed")
            .unwrap();
        let mut c = TcpStream::from_std(client).unwrap();
        c.write_all(b"ok").await.unwrap();
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ok");
        drop(held);
    });
    support::child_result("accepted after EMFILE");
}

#[test]
fn accept_survives_the_descriptor_limit() {
    let got = support::run_child_probe("probe_emfile", &[]);
    assert_eq!(got, "accepted after EMFILE");
}

#[test]
fn write_timeout_when_the_peer_never_reads() {
    support::within(|| {
        io_support::multi(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut c = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (mut s, _) = listener.accept().await.unwrap();
            // The peer never reads: the socket buffers fill and the write
            // waits until the timeout cancels it.
            let big = vec![0u8; 64 << 20];
            let r =
                perf_runtime::time::timeout(Duration::from_millis(200), c.write_all(&big)).await;
            assert!(r.is_err(), "64 MiB cannot fit in loopback socket buffers");
            // What was written before the timeout reaches the peer.
            let mut head = [1u8; 4096];
            s.read_exact(&mut head).await.unwrap();
            assert_eq!(head, [0u8; 4096]);
        })
    });
}
