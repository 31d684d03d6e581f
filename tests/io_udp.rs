//! UDP behaviour, on whichever backend `PERF_RUNTIME_IO` selects.

mod io_support;
mod support;

use io_support::*;
use perf_runtime::io::{Interest, ReadBuf};
use perf_runtime::net::UdpSocket;
use std::future::poll_fn;
use std::io::ErrorKind;
use std::sync::Arc;
use std::time::Duration;

/// A server task echoes every datagram back to its sender until it gets
/// `b"stop"`; the client checks each reply, in order.
fn echo_roundtrips(rt: perf_runtime::runtime::Runtime) {
    rt.block_on(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let h = perf_runtime::spawn(async move {
            let mut buf = vec![0u8; 65536];
            let mut served = 0u32;
            loop {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                if &buf[..n] == b"stop" {
                    return served;
                }
                server.send_to(&buf[..n], from).await.unwrap();
                served += 1;
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut back = vec![0u8; 65536];
        for i in 0..200u32 {
            // Small and large datagrams alike (up to ~60 KiB, under the
            // loopback MTU's 64 KiB limit for one datagram).
            let len = if i % 10 == 9 { 60_000 } else { 4 + i as usize };
            let msg: Vec<u8> = (0..len).map(|j| (i as usize + j) as u8).collect();
            assert_eq!(client.send_to(&msg, server_addr).await.unwrap(), len);
            let (n, from) = client.recv_from(&mut back).await.unwrap();
            assert_eq!(from, server_addr);
            assert_eq!(&back[..n], &msg[..], "datagram {i} came back different");
        }
        client.send_to(b"stop", server_addr).await.unwrap();
        assert_eq!(h.await.unwrap(), 200);
    });
}

#[test]
fn echo_send_to_recv_from_multi_thread() {
    support::within(|| echo_roundtrips(multi(2)));
}

#[test]
fn echo_send_to_recv_from_current_thread() {
    support::within(|| echo_roundtrips(current()));
}

#[test]
fn connected_sockets_send_recv_and_filter_other_senders() {
    support::within(|| {
        multi(2).block_on(async {
            let (a, b) = udp_pair().await;
            let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            assert_eq!(
                a.peer_addr().unwrap_err().kind(),
                ErrorKind::NotConnected,
                "an unconnected socket has no peer"
            );
            a.connect(b.local_addr().unwrap()).await.unwrap();
            b.connect(a.local_addr().unwrap()).await.unwrap();
            assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());

            // The kernel drops datagrams to `b` from anyone but `a`.
            stranger
                .send_to(b"not for you", b.local_addr().unwrap())
                .await
                .unwrap();
            a.send(b"hello").await.unwrap();
            let mut buf = [0u8; 32];
            let n = b.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"hello");

            b.send(b"world").await.unwrap();
            let n = a.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"world");
        })
    });
}

#[test]
fn recv_truncates_to_the_buffer() {
    support::within(|| {
        multi(1).block_on(async {
            let (a, b) = udp_pair().await;
            a.send_to(b"0123456789", b.local_addr().unwrap())
                .await
                .unwrap();
            a.send_to(b"next", b.local_addr().unwrap()).await.unwrap();
            let mut small = [0u8; 4];
            let (n, _) = b.recv_from(&mut small).await.unwrap();
            assert_eq!((n, &small), (4, b"0123"));
            // The rest of the first datagram is gone, not read next.
            let (n, _) = b.recv_from(&mut small).await.unwrap();
            assert_eq!(&small[..n], b"next");
        })
    });
}

#[test]
fn peek_from_leaves_the_datagram_queued() {
    support::within(|| {
        multi(2).block_on(async {
            let (a, b) = udp_pair().await;
            let b = Arc::new(b);
            // The peek waits: nothing is queued when it starts.
            let peeker = {
                let b = b.clone();
                perf_runtime::spawn(async move {
                    let mut buf = [0u8; 16];
                    let (n, from) = b.peek_from(&mut buf).await.unwrap();
                    (buf[..n].to_vec(), from)
                })
            };
            a.send_to(b"peekaboo", b.local_addr().unwrap())
                .await
                .unwrap();
            let (peeked, from) = peeker.await.unwrap();
            assert_eq!(peeked, b"peekaboo");
            assert_eq!(from, a.local_addr().unwrap());
            assert_eq!(b.peek_sender().await.unwrap(), a.local_addr().unwrap());
            let mut buf = [0u8; 16];
            let (n, from2) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from2), (&b"peekaboo"[..], from));
            assert_eq!(
                b.try_recv_from(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock,
                "the peeked datagram was received exactly once"
            );
        })
    });
}

#[test]
fn try_calls_and_readiness() {
    support::within(|| {
        multi(2).block_on(async {
            let (a, b) = udp_pair().await;
            let mut buf = [0u8; 16];
            assert_eq!(
                b.try_recv_from(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            assert_eq!(
                b.try_peek_from(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            a.writable().await.unwrap();
            let to = b.local_addr().unwrap();
            // A fresh socket's send buffer has room; retry only on a stale
            // readiness report.
            loop {
                match a.try_send_to(b"one", to) {
                    Ok(n) => break assert_eq!(n, 3),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => a.writable().await.unwrap(),
                    Err(e) => panic!("try_send_to: {e}"),
                }
            }
            let r = b
                .ready(Interest::READABLE | Interest::WRITABLE)
                .await
                .unwrap();
            assert!(r.is_readable() || r.is_writable());
            b.readable().await.unwrap();
            let (n, from) = loop {
                match b.try_recv_from(&mut buf) {
                    Ok(v) => break v,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => b.readable().await.unwrap(),
                    Err(e) => panic!("try_recv_from: {e}"),
                }
            };
            assert_eq!((&buf[..n], from), (&b"one"[..], a.local_addr().unwrap()));

            // The connected variants.
            a.connect(to).await.unwrap();
            b.connect(a.local_addr().unwrap()).await.unwrap();
            loop {
                match a.try_send(b"two") {
                    Ok(n) => break assert_eq!(n, 3),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => a.writable().await.unwrap(),
                    Err(e) => panic!("try_send: {e}"),
                }
            }
            let mut v = Vec::new();
            let n = loop {
                match b.try_recv_buf(&mut v) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => b.readable().await.unwrap(),
                    Err(e) => panic!("try_recv_buf: {e}"),
                }
            };
            assert_eq!((n, &v[..]), (3, &b"two"[..]));
            assert_eq!(
                b.try_recv(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
        })
    });
}

#[test]
fn poll_send_and_poll_recv() {
    support::within(|| {
        multi(2).block_on(async {
            let (a, b) = connected_udp_pair().await;
            let n = poll_fn(|cx| a.poll_send(cx, b"polled")).await.unwrap();
            assert_eq!(n, 6);
            let mut storage = [0u8; 3];
            let mut prefix = ReadBuf::new(&mut storage);
            prefix.put_slice(b">>");
            // poll_recv appends into the unfilled part: one byte of room.
            poll_fn(|cx| b.poll_recv(cx, &mut prefix)).await.unwrap();
            assert_eq!(prefix.filled(), b">>p");

            let to = a.local_addr().unwrap();
            let n = poll_fn(|cx| b.poll_send_to(cx, b"back", to)).await.unwrap();
            assert_eq!(n, 4);
            let mut storage = [0u8; 8];
            let mut rb = ReadBuf::new(&mut storage);
            let from = poll_fn(|cx| a.poll_peek_from(cx, &mut rb)).await.unwrap();
            assert_eq!((rb.filled(), from), (&b"back"[..], b.local_addr().unwrap()));
            let mut rb = ReadBuf::new(&mut storage);
            let from = poll_fn(|cx| a.poll_recv_from(cx, &mut rb)).await.unwrap();
            assert_eq!((rb.filled(), from), (&b"back"[..], b.local_addr().unwrap()));
            poll_fn(|cx| a.poll_send_ready(cx)).await.unwrap();
        })
    });
}

#[test]
fn a_cancelled_recv_takes_no_datagram() {
    support::within(|| {
        multi(2).block_on(async {
            let (a, b) = udp_pair().await;
            let mut buf = [0u8; 16];
            let r =
                perf_runtime::time::timeout(Duration::from_millis(5), b.recv_from(&mut buf)).await;
            assert!(r.is_err(), "nothing was sent, the recv must time out");
            a.send_to(b"late", b.local_addr().unwrap()).await.unwrap();
            let (n, _) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"late");
        })
    });
}

#[test]
fn several_tasks_receive_from_one_shared_socket() {
    support::within(|| {
        multi(2).block_on(async {
            let (a, b) = udp_pair().await;
            let b = Arc::new(b);
            let mut receivers = Vec::new();
            for _ in 0..4 {
                let b = b.clone();
                receivers.push(perf_runtime::spawn(async move {
                    let mut buf = [0u8; 8];
                    let (n, _) = b.recv_from(&mut buf).await.unwrap();
                    u32::from_le_bytes(buf[..n].try_into().unwrap())
                }));
            }
            for i in 0..4u32 {
                a.send_to(&i.to_le_bytes(), b.local_addr().unwrap())
                    .await
                    .unwrap();
            }
            let mut got = Vec::new();
            for r in receivers {
                got.push(r.await.unwrap());
            }
            got.sort();
            assert_eq!(got, [0, 1, 2, 3], "each datagram went to exactly one task");
        })
    });
}

#[test]
fn connected_send_to_a_closed_port_reports_connection_refused() {
    support::within(|| {
        multi(1).block_on(async {
            // Bind then drop: nothing listens on this port any more.
            let closed = std::net::UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            s.connect(closed).await.unwrap();
            s.send(b"anyone?").await.unwrap();
            // Loopback answers with ICMP port unreachable, which a connected
            // socket reports on its next receive (woken by the error).
            let mut buf = [0u8; 8];
            let err = s.recv(&mut buf).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
            // The error is consumed; the socket keeps working.
            let live = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            s.connect(live.local_addr().unwrap()).await.unwrap();
            live.send_to(b"alive", s.local_addr().unwrap())
                .await
                .unwrap();
            let n = s.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"alive");
        })
    });
}

#[test]
fn options_and_std_round_trip() {
    support::within(|| {
        multi(1).block_on(async {
            let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            assert!(!s.broadcast().unwrap());
            s.set_broadcast(true).unwrap();
            assert!(s.broadcast().unwrap());
            s.set_ttl(17).unwrap();
            assert_eq!(s.ttl().unwrap(), 17);
            s.set_multicast_ttl_v4(3).unwrap();
            assert_eq!(s.multicast_ttl_v4().unwrap(), 3);
            assert!(s.take_error().unwrap().is_none());

            let addr = s.local_addr().unwrap();
            let std_sock = s.into_std().unwrap();
            assert_eq!(std_sock.local_addr().unwrap(), addr);
            // Still non-blocking after into_std, as in tokio.
            let mut buf = [0u8; 4];
            assert_eq!(
                std_sock.recv_from(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            // And back: a blocking std socket becomes usable again.
            std_sock.set_nonblocking(false).unwrap();
            let s = UdpSocket::from_std(std_sock).unwrap();
            let other = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            other.send_to(b"back", addr).await.unwrap();
            let (n, _) = s.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"back");
        })
    });
}

#[test]
fn bad_addresses_are_invalid_input_errors() {
    support::within(|| {
        multi(1).block_on(async {
            let err = UdpSocket::bind("127.0.0.1:99999").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
            // A taken port: the error keeps its kind and names the address.
            let taken = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = taken.local_addr().unwrap();
            let err = UdpSocket::bind(addr).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
            assert!(err.to_string().contains(&addr.to_string()), "{err}");
            let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let err = s.send_to(b"x", "not an address").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
            let err = s.connect("not an address").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
            // Unconnected: `send` has no destination.
            let err = s.send(b"x").await.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EDESTADDRREQ), "{err}");
        })
    });
}

#[test]
fn ipv6_loopback_round_trip() {
    support::within(|| {
        multi(1).block_on(async {
            // Skip (pass) where the host has no IPv6 loopback, as in some
            // containers.
            let Ok(a) = UdpSocket::bind("[::1]:0").await else {
                return;
            };
            let b = UdpSocket::bind("[::1]:0").await.unwrap();
            a.send_to(b"six", b.local_addr().unwrap()).await.unwrap();
            let mut buf = [0u8; 8];
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], from), (&b"six"[..], a.local_addr().unwrap()));
        })
    });
}
