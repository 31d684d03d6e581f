//! Helpers shared by the I/O behaviour tests (`io_*.rs`). The whole suite
//! runs once per backend: `.ci/run` sets `PERF_RUNTIME_IO=uring`, then
//! `PERF_RUNTIME_IO=epoll`; without the variable the runtime picks.
#![allow(dead_code)]

use perf_runtime::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use perf_runtime::net::{TcpListener, TcpStream, UdpSocket, UnixListener};
use perf_runtime::runtime::{Builder, IoBackend, Runtime};
use perf_runtime::task::JoinHandle;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// How many descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The backend `PERF_RUNTIME_IO` forces, if it forces one.
pub fn forced_backend() -> Option<IoBackend> {
    match std::env::var("PERF_RUNTIME_IO").ok()?.as_str() {
        "uring" => Some(IoBackend::Uring),
        "epoll" => Some(IoBackend::Epoll),
        _ => None,
    }
}

/// A multi-thread runtime with `workers` workers and I/O on.
pub fn multi(workers: usize) -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

/// A current-thread runtime with I/O on.
pub fn current() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

/// A connected TCP pair on loopback: the connecting end, then the
/// accepted one.
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// A TCP server on loopback that echoes each connection (through its
/// borrowed split halves) until the peer half-closes; its address and task.
pub async fn tcp_echo_server() -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let h = perf_runtime::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            perf_runtime::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = perf_runtime::io::copy(&mut r, &mut w).await;
            });
        }
    });
    (addr, h)
}

/// Accepts Unix connections on `path` and echoes each (through its
/// borrowed split halves) until its peer half-closes.
pub fn unix_echo_server(path: &Path) -> JoinHandle<()> {
    let listener = UnixListener::bind(path).unwrap();
    perf_runtime::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            perf_runtime::spawn(async move {
                let (mut r, mut w) = s.split();
                let _ = perf_runtime::io::copy(&mut r, &mut w).await;
            });
        }
    })
}

/// Two unconnected UDP sockets bound to loopback.
pub async fn udp_pair() -> (UdpSocket, UdpSocket) {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (a, b)
}

/// Two UDP sockets on loopback, each connected to the other.
pub async fn connected_udp_pair() -> (UdpSocket, UdpSocket) {
    let (a, b) = udp_pair().await;
    a.connect(b.local_addr().unwrap()).await.unwrap();
    b.connect(a.local_addr().unwrap()).await.unwrap();
    (a, b)
}

/// A fresh directory for one test's socket files, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// `perf-io-{name}-{pid}` under the system's temporary directory.
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("perf-io-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// `file` in the directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Sends 200 messages through `c` to an echo server and checks each comes
/// back whole.
pub async fn check_echo_roundtrips<S: AsyncRead + AsyncWrite + Unpin>(c: &mut S) {
    for i in 0..200u32 {
        let msg = i.to_le_bytes().repeat(64);
        c.write_all(&msg).await.unwrap();
        let mut back = vec![0u8; msg.len()];
        c.read_exact(&mut back).await.unwrap();
        assert_eq!(back, msg);
    }
}

/// Writes 8 MiB through `w` (from another task) to an echo server, then
/// half-closes: the server's copy sees end of stream and finishes, closing
/// its socket, so the read of everything echoed through `r` ends. Checks
/// the bytes and hands both halves back (to reunite them).
pub async fn check_large_echo_with_half_close<R, W>(mut r: R, mut w: W) -> (R, W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let data: Vec<u8> = (0..8 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let expect = data.clone();
    let writer = perf_runtime::spawn(async move {
        w.write_all(&data).await.unwrap();
        w.shutdown().await.unwrap();
        w
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).await.unwrap();
    assert_eq!(got.len(), expect.len());
    assert!(got == expect, "the echoed bytes differ");
    (r, writer.await.unwrap())
}
