//! The `futures-io` feature: perf_runtime's sockets and files through the
//! `futures_io` traits alone (the tests crate builds the runtime with it).

mod io_support;
mod support;

use futures_io::{AsyncRead, AsyncWrite};
use io_support::multi;
use perf_runtime::fs::File;
use perf_runtime::net::{TcpListener, TcpStream};
use std::future::poll_fn;
use std::pin::Pin;

async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, mut data: &[u8]) {
    while !data.is_empty() {
        let n = poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, data))
            .await
            .unwrap();
        assert!(n > 0, "a write made no progress");
        data = &data[n..];
    }
}

async fn read_to_end<R: AsyncRead + Unpin>(r: &mut R) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, &mut buf))
            .await
            .unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

async fn close<W: AsyncWrite + Unpin>(w: &mut W) {
    poll_fn(|cx| Pin::new(&mut *w).poll_close(cx))
        .await
        .unwrap();
}

#[test]
fn tcp_stream_round_trip_through_futures_traits() {
    support::within(|| {
        multi(2).block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            // The server echoes upper-cased bytes until the client closes
            // its write side, then closes its own.
            let server = perf_runtime::spawn(async move {
                let (s, _) = listener.accept().await.unwrap();
                let (mut r, mut w) = s.into_split();
                let got = read_to_end(&mut r).await;
                write_all(&mut w, &got.to_ascii_uppercase()).await;
                close(&mut w).await;
                got.len()
            });
            let data: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
            let mut c = TcpStream::connect(addr).await.unwrap();
            let (mut r, mut w) = c.split();
            write_all(&mut w, &data).await;
            // poll_close is a shutdown: the server sees EOF.
            close(&mut w).await;
            let back = read_to_end(&mut r).await;
            assert_eq!(server.await.unwrap(), data.len());
            assert!(back == data.to_ascii_uppercase(), "the echo differs");
        })
    });
}

#[test]
fn file_round_trip_through_futures_traits() {
    let path = std::env::temp_dir().join(format!("perf_runtime_io_futures_{}", std::process::id()));
    let p = path.clone();
    support::within(move || {
        multi(2).block_on(async {
            let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
            let mut f = File::create(&p).await.unwrap();
            write_all(&mut f, &data).await;
            // poll_close waits for the buffered write, as flush does.
            close(&mut f).await;
            assert_eq!(std::fs::metadata(&p).unwrap().len(), data.len() as u64);
            let mut f = File::open(&p).await.unwrap();
            assert!(read_to_end(&mut f).await == data, "the file differs");
        })
    });
    let _ = std::fs::remove_file(&path);
}
