//! TCP behaviour, on whichever backend `PERF_RUNTIME_IO` selects.

mod io_support;
mod support;

use io_support::*;
use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
use perf_runtime::net::{TcpListener, TcpSocket, TcpStream};
use std::future::Future;
use std::io::ErrorKind;
use std::time::Duration;

#[test]
fn backend_is_the_forced_one() {
    let rt = multi(2);
    let got = rt.handle().io_backend().expect("io enabled");
    if let Some(want) = forced_backend() {
        assert_eq!(got, want);
    }
}

fn echo_roundtrips(rt: perf_runtime::runtime::Runtime) {
    rt.block_on(async {
        let (addr, server) = tcp_echo_server().await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.set_nodelay(true).unwrap();
        check_echo_roundtrips(&mut c).await;
        server.abort();
    });
}

#[test]
fn echo_small_messages_multi_thread() {
    support::within(|| echo_roundtrips(multi(2)));
}

#[test]
fn echo_small_messages_current_thread() {
    support::within(|| echo_roundtrips(current()));
}

#[test]
fn echo_large_transfer_with_half_close() {
    support::within(|| {
        multi(2).block_on(async {
            let (addr, server) = tcp_echo_server().await;
            let c = TcpStream::connect(addr).await.unwrap();
            let (r, w) = c.into_split();
            let (r, w) = check_large_echo_with_half_close(r, w).await;
            let _stream = r.reunite(w).unwrap();
            server.abort();
        })
    });
}

#[test]
fn connect_refused_is_an_error() {
    support::within(|| {
        multi(1).block_on(async {
            // Bind then drop: the port is (almost certainly) closed now.
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let err = TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
        })
    });
}

#[test]
fn bad_address_is_an_invalid_input_error() {
    support::within(|| {
        multi(1).block_on(async {
            // No port: not an address at all (std and tokio say InvalidInput).
            let err = TcpStream::connect("not an address").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
            let err = TcpListener::bind("127.0.0.1:99999").await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        })
    });
}

#[test]
fn accept_hundreds_of_connections() {
    support::within(|| {
        multi(2).block_on(async {
            let (addr, server) = tcp_echo_server().await;
            let mut tasks = Vec::new();
            for i in 0..300u32 {
                tasks.push(perf_runtime::spawn(async move {
                    let mut c = TcpStream::connect(addr).await.unwrap();
                    c.write_all(&i.to_le_bytes()).await.unwrap();
                    let mut b = [0u8; 4];
                    c.read_exact(&mut b).await.unwrap();
                    u32::from_le_bytes(b)
                }));
            }
            for (i, t) in tasks.into_iter().enumerate() {
                assert_eq!(t.await.unwrap(), i as u32);
            }
            server.abort();
        })
    });
}

#[test]
fn read_timeout_then_data_still_arrives() {
    support::within(|| {
        multi(2).block_on(async {
            let (mut c, mut s) = tcp_pair().await;
            let mut buf = [0u8; 4];
            // Nothing sent: the read times out, and being cancel-safe it
            // loses nothing that arrives later.
            let r = perf_runtime::time::timeout(Duration::from_millis(20), c.read(&mut buf)).await;
            assert!(r.is_err());
            s.write_all(b"late").await.unwrap();
            c.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"late");
        })
    });
}

#[test]
fn peer_reset_mid_read_is_an_error_not_a_panic() {
    support::within(|| {
        multi(2).block_on(async {
            let (mut c, s) = tcp_pair().await;
            let reader = perf_runtime::spawn(async move {
                let mut buf = [0u8; 16];
                let mut total = 0;
                loop {
                    match c.read(&mut buf).await {
                        Ok(0) => return Ok(total),
                        Ok(n) => total += n,
                        Err(e) => return Err(e),
                    }
                }
            });
            // SO_LINGER 0 then close: an RST, not a FIN.
            s.set_linger(Some(Duration::ZERO)).unwrap();
            drop(s);
            let err = reader.await.unwrap().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        })
    });
}

#[test]
fn half_open_socket_reads_eof_and_can_still_write() {
    support::within(|| {
        multi(2).block_on(async {
            let (mut c, mut s) = tcp_pair().await;
            c.shutdown().await.unwrap();
            let mut buf = [0u8; 8];
            assert_eq!(
                s.read(&mut buf).await.unwrap(),
                0,
                "EOF after the peer's FIN"
            );
            s.write_all(b"still").await.unwrap();
            let mut got = [0u8; 5];
            c.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"still");
        })
    });
}

#[test]
fn try_read_write_and_readiness() {
    support::within(|| {
        multi(2).block_on(async {
            let (c, s) = tcp_pair().await;
            let mut buf = [0u8; 8];
            assert_eq!(
                c.try_read(&mut buf).unwrap_err().kind(),
                ErrorKind::WouldBlock
            );
            s.writable().await.unwrap();
            assert_eq!(s.try_write(b"abc").unwrap(), 3);
            c.readable().await.unwrap();
            let mut peeked = [0u8; 3];
            assert_eq!(c.peek(&mut peeked).await.unwrap(), 3);
            assert_eq!(&peeked, b"abc");
            assert_eq!(c.try_read(&mut buf).unwrap(), 3);
            assert_eq!(&buf[..3], b"abc");
            assert_eq!(c.peer_addr().unwrap(), s.local_addr().unwrap());
            c.set_ttl(42).unwrap();
            assert_eq!(c.ttl().unwrap(), 42);
        })
    });
}

#[test]
fn tcp_socket_options_and_std_round_trip() {
    support::within(|| {
        multi(1).block_on(async {
            let sock = TcpSocket::new_v4().unwrap();
            sock.set_reuseaddr(true).unwrap();
            sock.set_reuseport(true).unwrap();
            sock.set_recv_buffer_size(64 * 1024).unwrap();
            assert!(sock.reuseaddr().unwrap() && sock.reuseport().unwrap());
            assert!(sock.recv_buffer_size().unwrap() >= 64 * 1024);
            sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
            let listener = sock.listen(16).unwrap();
            let addr = listener.local_addr().unwrap();
            let std_listener = listener.into_std().unwrap();
            let listener = TcpListener::from_std(std_listener).unwrap();
            let c = TcpSocket::new_v4().unwrap().connect(addr).await.unwrap();
            let (s, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, c.local_addr().unwrap());
            let std_stream = s.into_std().unwrap();
            let s = TcpStream::from_std(std_stream).unwrap();
            s.writable().await.unwrap();
        })
    });
}

#[test]
fn reads_stay_ordered_while_busy_workers_move_the_reader() {
    // The reading task yields between 1-byte reads while four spinners keep
    // both workers busy, so it is stolen back and forth (not asserted: see
    // a_read_started_on_one_thread_completes_on_another for a deterministic
    // move); every byte must still arrive, in order.
    support::within(|| {
        multi(2).block_on(async {
            let (mut c, mut s) = tcp_pair().await;
            let reader = perf_runtime::spawn(async move {
                let mut got = Vec::new();
                let mut workers = std::collections::HashSet::new();
                let mut buf = [0u8; 1];
                while got.len() < 64 {
                    workers.insert(std::thread::current().id());
                    let n = s.read(&mut buf).await.unwrap();
                    got.extend_from_slice(&buf[..n]);
                    for _ in 0..3 {
                        perf_runtime::task::yield_now().await;
                    }
                }
                (got, workers.len())
            });
            // Busy tasks on every worker, so the reader is moved around.
            let spinners: Vec<_> = (0..4)
                .map(|_| {
                    perf_runtime::spawn(async {
                        for _ in 0..2000 {
                            perf_runtime::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for i in 0..64u8 {
                c.write_all(&[i]).await.unwrap();
                perf_runtime::time::sleep(Duration::from_micros(200)).await;
            }
            let (got, _threads) = reader.await.unwrap();
            assert_eq!(got, (0..64u8).collect::<Vec<_>>());
            for s in spinners {
                s.await.unwrap();
            }
        })
    });
}

#[test]
fn owned_buffer_echo_and_multishot_accept() {
    support::within(|| {
        multi(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = perf_runtime::spawn(async move {
                let mut incoming = listener.accept_multi();
                let mut conns = Vec::new();
                for _ in 0..8 {
                    let s = incoming.next().await.unwrap();
                    conns.push(perf_runtime::spawn(async move {
                        let mut buf = Vec::with_capacity(4096);
                        loop {
                            let (n, b) = s.read_owned(buf).await;
                            let n = n.unwrap();
                            if n == 0 {
                                return;
                            }
                            let (w, b) = s.write_all_owned(b).await;
                            w.unwrap();
                            buf = b;
                            buf.clear();
                        }
                    }));
                }
                for c in conns {
                    c.await.unwrap();
                }
            });
            let mut clients = Vec::new();
            for i in 0..8u8 {
                clients.push(perf_runtime::spawn(async move {
                    let mut c = TcpStream::connect(addr).await.unwrap();
                    let msg = vec![i; 3000];
                    for _ in 0..20 {
                        c.write_all(&msg).await.unwrap();
                        let mut back = vec![0u8; msg.len()];
                        c.read_exact(&mut back).await.unwrap();
                        assert_eq!(back, msg);
                    }
                }));
            }
            for c in clients {
                c.await.unwrap();
            }
            server.await.unwrap();
        })
    });
}

#[test]
fn owned_read_returns_the_buffer_on_error_and_on_eof() {
    support::within(|| {
        multi(2).block_on(async {
            let (c, s) = tcp_pair().await;
            drop(c);
            let mut buf = Vec::with_capacity(16);
            buf.extend_from_slice(b"kept");
            let (n, buf) = s.read_owned(buf).await;
            assert_eq!(n.unwrap(), 0, "EOF");
            assert_eq!(buf.capacity(), 16, "the same buffer comes back");
            // EOF stays EOF, with a boxed slice this time.
            let (n, b) = s.read_owned(vec![9u8; 8].into_boxed_slice()).await;
            assert_eq!(n.unwrap(), 0);
            assert_eq!(&*b, &[9u8; 8], "nothing was written into the buffer");
        })
    });
}

#[test]
fn a_reader_that_always_has_data_yields_to_other_tasks() {
    // The cooperative budget: a task reading a socket that never runs dry
    // still lets the other task on its (single) thread run, as in tokio.
    support::within(|| {
        current().block_on(async {
            let (mut c, mut s) = tcp_pair().await;
            c.write_all(&vec![1u8; 64 * 1024]).await.unwrap();
            let other_ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let flag = other_ran.clone();
            let other = perf_runtime::spawn(async move {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            // 1-byte reads: every one finds data already buffered.
            let mut byte = [0u8; 1];
            let mut reads_before_other = None;
            for i in 0..60_000 {
                s.read_exact(&mut byte).await.unwrap();
                if reads_before_other.is_none()
                    && other_ran.load(std::sync::atomic::Ordering::SeqCst)
                {
                    reads_before_other = Some(i);
                }
            }
            other.await.unwrap();
            let n = reads_before_other.expect("the other task never ran while data was ready");
            assert!(n <= 1024, "the other task waited for {n} reads");
        })
    });
}

#[test]
fn thousands_of_readers_woken_at_once_all_get_their_data() {
    // 1500 sockets ready at once: more than one epoll harvest holds (1024
    // events) and, on io_uring, more than one ring's completion queue
    // (1024 entries). Every reader must still get its byte.
    support::within(|| {
        let rt = perf_runtime::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .long_poll_threshold(None)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            const N: usize = 1500;
            let mut clients = Vec::with_capacity(N);
            let mut readers = Vec::with_capacity(N);
            let ready = std::sync::Arc::new(perf_runtime::sync::Barrier::new(N + 1));
            for _ in 0..N {
                clients.push(TcpStream::connect(addr).await.unwrap());
                let (mut s, _) = listener.accept().await.unwrap();
                let ready = ready.clone();
                readers.push(perf_runtime::spawn(async move {
                    let mut b = [0u8; 1];
                    // Wait (armed) before any byte is sent.
                    assert_eq!(
                        s.try_read(&mut b).unwrap_err().kind(),
                        ErrorKind::WouldBlock
                    );
                    let read = s.read_exact(&mut b);
                    let mut read = std::pin::pin!(read);
                    // Poll once so the read waits on its readiness, then
                    // join the barrier.
                    let first =
                        std::future::poll_fn(|cx| std::task::Poll::Ready(read.as_mut().poll(cx)))
                            .await;
                    ready.wait().await;
                    if first.is_pending() {
                        read.await.unwrap();
                    }
                    b[0]
                }));
            }
            ready.wait().await;
            // Hold the only worker while every byte is sent, so the
            // completions pile up in its ring instead of being reaped one
            // by one.
            let mut held = Vec::with_capacity(N);
            let (started_tx, started_rx) = std::sync::mpsc::channel();
            let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
            let blocker = perf_runtime::spawn(async move {
                started_tx.send(()).unwrap();
                release_rx.recv().unwrap();
            });
            started_rx.recv().unwrap();
            // Plain std writes: nothing here waits for the blocked worker.
            for c in clients {
                use std::io::Write;
                let mut c = c.into_std().unwrap();
                c.write_all(&[7]).unwrap();
                held.push(c);
            }
            release_tx.send(()).unwrap();
            blocker.await.unwrap();
            for r in readers {
                assert_eq!(r.await.unwrap(), 7);
            }
        })
    });
}

#[test]
fn a_read_started_on_one_thread_completes_on_another() {
    // Deterministic migration: the task starts a read (its poll armed on
    // this worker's ring, or registered with epoll), then calls
    // block_in_place, which hands the worker's core — and its ring — to a
    // new thread and leaves this thread outside the pool; the task's next
    // poll (after a yield) runs on a worker thread. Only then is the data
    // sent: the read that waits on the old thread's ring completes on the
    // task's new thread.
    support::within(|| {
        multi(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let mut c = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            let (mut s, _) = listener.accept().await.unwrap();
            let (moved_tx, moved_rx) = perf_runtime::sync::oneshot::channel();
            let reader = perf_runtime::spawn(async move {
                let started_on = std::thread::current().id();
                let mut buf = [0u8; 5];
                let mut read = std::pin::pin!(s.read_exact(&mut buf));
                let first =
                    std::future::poll_fn(|cx| std::task::Poll::Ready(read.as_mut().poll(cx))).await;
                assert!(first.is_pending(), "nothing was sent yet");
                // This thread stops being a worker here...
                perf_runtime::task::block_in_place(|| {});
                // ...so after this yield the task runs on another thread.
                perf_runtime::task::yield_now().await;
                let moved_to = std::thread::current().id();
                moved_tx.send(moved_to).unwrap();
                read.await.unwrap();
                (buf, started_on, moved_to, std::thread::current().id())
            });
            let moved_to = moved_rx.await.unwrap();
            c.write_all(b"moved").await.unwrap();
            let (buf, started_on, moved, finished_on) = reader.await.unwrap();
            assert_eq!(&buf, b"moved");
            assert_eq!(moved, moved_to);
            assert_ne!(
                started_on, moved,
                "the task did not leave the thread it started on"
            );
            assert_ne!(
                started_on, finished_on,
                "the read completed on the thread it started on"
            );
        })
    });
}

/// Polls `fut` once with a waker that does nothing (arms the resource's
/// readiness wait).
fn poll_once<F: Future>(fut: F) {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_pending(), "expected to wait");
}

/// Yields a few times: a worker's turns between polls hand the ring's
/// queued entries (the readiness poll just armed) to the kernel.
async fn submitted() {
    for _ in 0..4 {
        perf_runtime::task::yield_now().await;
    }
}

/// A socket that waited for readiness and is dropped on the thread that
/// runs its runtime is closed when the drop returns, as on epoll and in
/// tokio: a connect to the dropped listener is refused, its address binds
/// again, and the peer of a dropped stream reads EOF. (On io_uring the
/// readiness poll holds the socket open until the poll is cancelled.)
fn dropped_sockets_close_at_once(rt: perf_runtime::runtime::Runtime) {
    rt.block_on(async {
        perf_runtime::spawn(async {
            for _ in 0..20 {
                let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = l.local_addr().unwrap();
                poll_once(l.accept());
                submitted().await;
                drop(l);
                let err = loop {
                    match std::net::TcpStream::connect(addr) {
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        r => break r.expect_err("the dropped listener still accepts"),
                    }
                };
                assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
                let again = TcpListener::bind(addr).await.unwrap();

                let mut peer = std::net::TcpStream::connect(addr).unwrap();
                let (mut s, _) = again.accept().await.unwrap();
                let mut buf = [0u8; 8];
                poll_once(s.read(&mut buf));
                submitted().await;
                drop(s);
                peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                // (A blocking call on a worker can return EINTR: io_uring
                // runs completions as task work of this thread.)
                let n = loop {
                    match std::io::Read::read(&mut peer, &mut buf) {
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        r => break r.expect("the peer's read"),
                    }
                };
                assert_eq!(n, 0, "the peer sees EOF");
            }
        })
        .await
        .unwrap();
    });
}

#[test]
fn dropped_sockets_close_at_once_current_thread() {
    support::within(|| dropped_sockets_close_at_once(current()));
}

#[test]
fn dropped_sockets_close_at_once_on_a_worker() {
    support::within(|| dropped_sockets_close_at_once(multi(1)));
}

/// A socket whose poll a worker armed, dropped by a thread that runs no
/// core (here the `block_on` thread), is closed when the drop returns too.
#[test]
fn a_socket_dropped_outside_the_workers_closes_at_once() {
    support::within(|| {
        multi(2).block_on(async {
            for _ in 0..20 {
                let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = l.local_addr().unwrap();
                // A worker waits on it (its ring arms the poll), then hands
                // it back.
                let l = perf_runtime::spawn(async move {
                    poll_once(l.accept());
                    submitted().await;
                    l
                })
                .await
                .unwrap();
                drop(l);
                let err = std::net::TcpStream::connect(addr).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
                TcpListener::bind(addr).await.unwrap();
            }
        })
    });
}
