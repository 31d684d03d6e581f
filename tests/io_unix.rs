//! Unix-domain sockets, on whichever backend `PERF_RUNTIME_IO` selects.

mod io_support;
mod support;

use io_support::*;
use perf_runtime::io::{AsyncReadExt, AsyncWriteExt, ReadBuf};
use perf_runtime::net::{UnixDatagram, UnixListener, UnixStream};
use std::future::poll_fn;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::time::Duration;

fn echo_roundtrips(rt: perf_runtime::runtime::Runtime, name: &str) {
    let dir = TempDir::new(name);
    rt.block_on(async {
        let path = dir.path("echo.sock");
        let server = unix_echo_server(&path);
        let mut c = UnixStream::connect(&path).await.unwrap();
        check_echo_roundtrips(&mut c).await;
        server.abort();
    });
}

#[test]
fn echo_small_messages_multi_thread() {
    support::within(|| echo_roundtrips(multi(2), "echo-mt"));
}

#[test]
fn echo_small_messages_current_thread() {
    support::within(|| echo_roundtrips(current(), "echo-ct"));
}

#[test]
fn echo_large_transfer_with_half_close() {
    support::within(|| {
        let dir = TempDir::new("large");
        multi(2).block_on(async {
            let path = dir.path("echo.sock");
            let server = unix_echo_server(&path);
            let c = UnixStream::connect(&path).await.unwrap();
            let (r, w) = c.into_split();
            let (r, w) = check_large_echo_with_half_close(r, w).await;
            let _stream = r.reunite(w).unwrap();
            server.abort();
        })
    });
}

#[test]
fn half_closed_stream_still_reads() {
    support::within(|| {
        multi(2).block_on(async {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            a.write_all(b"last words").await.unwrap();
            a.shutdown().await.unwrap();
            let mut got = String::new();
            b.read_to_string(&mut got).await.unwrap();
            assert_eq!(got, "last words");
            // Our write side is shut, the other direction still works.
            b.write_all(b"reply").await.unwrap();
            let mut buf = [0u8; 5];
            a.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"reply");
            let err = a.write_all(b"more").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{err}");
        })
    });
}

#[test]
fn pair_addresses_and_peer_credentials() {
    support::within(|| {
        let dir = TempDir::new("addrs");
        multi(1).block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            assert!(a.local_addr().unwrap().is_unnamed());
            assert!(b.peer_addr().unwrap().is_unnamed());
            let cred = a.peer_cred().unwrap();
            // SAFETY: getuid/getgid only read the process's ids.
            let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
            assert_eq!(cred.uid(), uid);
            assert_eq!(cred.gid(), gid);
            assert_eq!(cred.pid(), Some(std::process::id() as i32));

            let path = dir.path("named.sock");
            let listener = UnixListener::bind(&path).unwrap();
            assert_eq!(listener.local_addr().unwrap().as_pathname(), Some(&*path));
            let c = UnixStream::connect(&path).await.unwrap();
            let (s, peer) = listener.accept().await.unwrap();
            assert!(peer.is_unnamed(), "a connecting socket has no path");
            assert_eq!(c.peer_addr().unwrap().as_pathname(), Some(&*path));
            assert_eq!(s.local_addr().unwrap().as_pathname(), Some(&*path));
        })
    });
}

#[test]
fn connect_to_a_missing_path_is_not_found_and_names_it() {
    support::within(|| {
        let dir = TempDir::new("missing");
        multi(1).block_on(async {
            let path = dir.path("nobody-here.sock");
            let err = UnixStream::connect(&path).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
            assert!(
                err.to_string().contains("nobody-here.sock"),
                "the error names the path: {err}"
            );
        })
    });
}

#[test]
fn stale_socket_file_bind_and_connect_errors() {
    support::within(|| {
        let dir = TempDir::new("stale");
        multi(1).block_on(async {
            let path = dir.path("stale.sock");
            drop(UnixListener::bind(&path).unwrap());
            // The file outlives the listener: connecting is refused ...
            let err = UnixStream::connect(&path).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
            // ... and binding again needs the file removed first.
            let err = UnixListener::bind(&path).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
            assert!(err.to_string().contains("stale.sock"), "{err}");
            std::fs::remove_file(&path).unwrap();
            let _listener = UnixListener::bind(&path).unwrap();
        })
    });
}

#[test]
fn too_long_a_path_is_invalid_input() {
    support::within(|| {
        multi(1).block_on(async {
            let path = PathBuf::from(format!("/tmp/{}", "x".repeat(200)));
            let err = UnixStream::connect(&path).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        })
    });
}

#[test]
fn a_cancelled_accept_takes_no_connection() {
    support::within(|| {
        let dir = TempDir::new("cancel");
        multi(2).block_on(async {
            let path = dir.path("l.sock");
            let listener = UnixListener::bind(&path).unwrap();
            let r = perf_runtime::time::timeout(Duration::from_millis(5), listener.accept()).await;
            assert!(r.is_err(), "nobody connected, the accept must time out");
            let mut c = UnixStream::connect(&path).await.unwrap();
            let (mut s, _) = listener.accept().await.unwrap();
            c.write_all(b"x").await.unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"x");
        })
    });
}

#[test]
fn try_read_write_and_std_round_trip() {
    support::within(|| {
        multi(1).block_on(async {
            let (a, b) = UnixStream::pair().unwrap();
            let mut buf = [0u8; 8];
            assert_eq!(
                b.try_read(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            a.writable().await.unwrap();
            assert_eq!(a.try_write(b"abc").unwrap(), 3);
            b.readable().await.unwrap();
            let mut v = Vec::new();
            let n = loop {
                match b.try_read_buf(&mut v) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => b.readable().await.unwrap(),
                    Err(e) => panic!("try_read_buf: {e}"),
                }
            };
            assert_eq!((n, &v[..]), (3, &b"abc"[..]));

            let std_a = a.into_std().unwrap();
            std_a.set_nonblocking(false).unwrap();
            let mut a = UnixStream::from_std(std_a).unwrap();
            a.write_all(b"again").await.unwrap();
            let mut b = b;
            let mut got = [0u8; 5];
            b.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"again");
        })
    });
}

#[test]
fn datagram_send_to_recv_from_between_paths() {
    support::within(|| {
        let dir = TempDir::new("dgram");
        multi(2).block_on(async {
            let pa = dir.path("a.sock");
            let pb = dir.path("b.sock");
            let a = UnixDatagram::bind(&pa).unwrap();
            let b = UnixDatagram::bind(&pb).unwrap();
            for i in 0..100u32 {
                let msg = i.to_le_bytes().repeat(1 + i as usize);
                a.send_to(&msg, &pb).await.unwrap();
                let mut buf = vec![0u8; 1024];
                let (n, from) = b.recv_from(&mut buf).await.unwrap();
                assert_eq!(&buf[..n], &msg[..], "datagram {i}");
                assert_eq!(from.as_pathname(), Some(&*pa));
                // The reply goes back to the sender's path.
                b.send_to(&buf[..n], from.as_pathname().unwrap())
                    .await
                    .unwrap();
                let (n2, from2) = a.recv_from(&mut buf).await.unwrap();
                assert_eq!((n2, from2.as_pathname()), (n, Some(&*pb)));
            }
            // An unbound socket can send, and is unnamed to the receiver.
            let u = UnixDatagram::unbound().unwrap();
            u.send_to(b"anon", &pb).await.unwrap();
            let mut buf = [0u8; 8];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"anon");
            assert!(from.is_unnamed());
            // Sending to a path where nothing is bound names the path.
            let missing = dir.path("missing.sock");
            let err = a.send_to(b"lost", &missing).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
            assert!(err.to_string().contains("missing.sock"), "{err}");
        })
    });
}

#[test]
fn datagram_pair_connect_peek_and_polls() {
    support::within(|| {
        let dir = TempDir::new("dgram-pair");
        multi(2).block_on(async {
            let (a, b) = UnixDatagram::pair().unwrap();
            let mut buf = [0u8; 16];
            assert_eq!(
                b.try_recv(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            // A receive started before the send is woken by it.
            let b = std::sync::Arc::new(b);
            let waiter = {
                let b = b.clone();
                perf_runtime::spawn(async move {
                    let mut buf = [0u8; 16];
                    let n = b.peek(&mut buf).await.unwrap();
                    buf[..n].to_vec()
                })
            };
            a.send(b"one").await.unwrap();
            assert_eq!(waiter.await.unwrap(), b"one");
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"one", "peek left the datagram queued");

            let n = poll_fn(|cx| a.poll_send(cx, b"two")).await.unwrap();
            assert_eq!(n, 3);
            let mut storage = [0u8; 8];
            let mut rb = ReadBuf::new(&mut storage);
            poll_fn(|cx| b.poll_recv(cx, &mut rb)).await.unwrap();
            assert_eq!(rb.filled(), b"two");

            // connect() on a bound socket: send() goes to that path.
            let pc = dir.path("c.sock");
            let c = UnixDatagram::bind(&pc).unwrap();
            let d = UnixDatagram::unbound().unwrap();
            d.connect(&pc).unwrap();
            assert_eq!(d.peer_addr().unwrap().as_pathname(), Some(&*pc));
            d.send(b"three").await.unwrap();
            let n = c.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"three");
            let err = d.connect(dir.path("nope.sock")).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        })
    });
}

#[test]
fn abstract_namespace_stream_and_datagram() {
    support::within(|| {
        multi(2).block_on(async {
            let name = format!("perf-io-unix-abstract-{}", std::process::id());
            let path = PathBuf::from(format!("\0{name}"));
            let listener = UnixListener::bind(&path).unwrap();
            assert_eq!(
                listener.local_addr().unwrap().as_abstract_name(),
                Some(name.as_bytes())
            );
            let mut c = UnixStream::connect(&path).await.unwrap();
            let (mut s, _) = listener.accept().await.unwrap();
            c.write_all(b"no file").await.unwrap();
            let mut buf = [0u8; 7];
            s.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"no file");
            // A second bind of the same name is taken, though no file exists.
            let err = UnixListener::bind(&path).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");

            let dpath = PathBuf::from(format!("\0{name}-dgram"));
            let d = UnixDatagram::bind(&dpath).unwrap();
            let u = UnixDatagram::unbound().unwrap();
            u.send_to(b"abstract", &dpath).await.unwrap();
            let n = d.recv(&mut [0u8; 16]).await.unwrap();
            assert_eq!(n, 8);
            u.connect(&dpath).unwrap();
            u.send(b"again").await.unwrap();
            let mut buf = [0u8; 16];
            let n = d.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"again");
        })
    });
}
