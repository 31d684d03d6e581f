// A framing proxy as a tokio user writes it: an in-process client talks over
// io::duplex to a proxy task that relays with copy_bidirectional to a backend
// on a Unix socket; frames are length-prefixed (write_u32/read_u32,
// read_exact); a BufWriter batches the client's writes; EOF travels through
// the proxy in both directions (shutdown on one side ends the relay and is
// seen on the other); io::copy, split, take and chain on in-memory readers.

use std::time::Duration;
use tokio::io::{self, AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{UnixListener, UnixStream};
use tokio::time::timeout;

/// Serves one connection: each frame comes back reversed, until EOF.
async fn backend(listener: UnixListener) -> usize {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut frames = 0;
    loop {
        let len = match stream.read_u32().await {
            Ok(len) => len as usize,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("backend read: {e}"),
        };
        let mut frame = vec![0u8; len];
        stream.read_exact(&mut frame).await.unwrap();
        frame.reverse();
        stream.write_u32(frame.len() as u32).await.unwrap();
        stream.write_all(&frame).await.unwrap();
        frames += 1;
    }
    frames
}

async fn read_frame<R: AsyncReadExt + Unpin>(reader: &mut R) -> String {
    let len = reader.read_u32().await.unwrap() as usize;
    let mut frame = vec![0u8; len];
    reader.read_exact(&mut frame).await.unwrap();
    String::from_utf8(frame).unwrap()
}

#[tokio::main(flavor = "current_thread")]
pub async fn run() -> Vec<String> {
    let body = async {
        let mut out = Vec::new();
        // Both runtimes' runs may share the process: one path per thread.
        let path = std::env::temp_dir().join(format!(
            "porting-unix-proxy-{}-{:?}.sock",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        out.push(format!(
            "listener bound at its path: {}",
            listener.local_addr().unwrap().as_pathname() == Some(path.as_path())
        ));
        let backend = tokio::spawn(backend(listener));

        let upstream = UnixStream::connect(&path).await.unwrap();
        let (client, mut proxy_side) = io::duplex(64);
        let proxy = tokio::spawn(async move {
            let mut upstream = upstream;
            io::copy_bidirectional(&mut proxy_side, &mut upstream)
                .await
                .unwrap()
        });

        let (mut client_read, client_write) = io::split(client);
        let mut client_write = BufWriter::new(client_write);
        for word in ["alpha", "beta", ""] {
            client_write.write_u32(word.len() as u32).await.unwrap();
            client_write.write_all(word.as_bytes()).await.unwrap();
        }
        client_write.flush().await.unwrap();
        let mut replies = Vec::new();
        for _ in 0..3 {
            replies.push(read_frame(&mut client_read).await);
        }
        out.push(format!("client got {replies:?}"));

        client_write.shutdown().await.unwrap();
        let mut rest = Vec::new();
        client_read.read_to_end(&mut rest).await.unwrap();
        out.push(format!(
            "after shutdown the client read {} bytes",
            rest.len()
        ));
        let (to_backend, to_client) = proxy.await.unwrap();
        out.push(format!(
            "proxy relayed {to_backend} bytes up, {to_client} down"
        ));
        out.push(format!("backend served {} frames", backend.await.unwrap()));
        std::fs::remove_file(&path).unwrap();

        // A stream pair, and the in-memory helpers.
        let (mut left, mut right) = UnixStream::pair().unwrap();
        left.write_all(b"over the pair").await.unwrap();
        drop(left);
        let mut got = String::new();
        right.read_to_string(&mut got).await.unwrap();
        out.push(format!("pair got {got:?}"));

        let mut sink = Vec::new();
        let copied = io::copy(&mut &b"copied bytes"[..], &mut sink)
            .await
            .unwrap();
        out.push(format!(
            "io::copy moved {copied} bytes: {:?}",
            String::from_utf8(sink).unwrap()
        ));
        let mut chained = String::new();
        (&b"head-"[..])
            .chain(&b"tail-and-more"[..])
            .take(9)
            .read_to_string(&mut chained)
            .await
            .unwrap();
        out.push(format!("chain then take(9): {chained:?}"));
        out
    };
    timeout(Duration::from_secs(20), body)
        .await
        .expect("unix_proxy did not finish in 20 s")
}
