//! The tokio-io ecosystem unmodified on perf_runtime's sockets: tokio-util's
//! `Framed` with its `LinesCodec` and `LengthDelimitedCodec` over a
//! perf_runtime `TcpStream`, and tokio's `BufReader`/`copy` re-exported
//! under `perf_runtime::io`.

mod io_support;
mod support;

use futures_util::{SinkExt, StreamExt};
use io_support::*;
use tokio_util::codec::{Framed, LengthDelimitedCodec, LinesCodec};

#[test]
fn framed_lines_over_tcp() {
    support::within(|| {
        multi(2).block_on(async {
            let (c, s) = tcp_pair().await;
            let server = perf_runtime::spawn(async move {
                let mut framed = Framed::new(s, LinesCodec::new());
                while let Some(line) = framed.next().await {
                    let line = line.unwrap();
                    framed
                        .send(line.chars().rev().collect::<String>())
                        .await
                        .unwrap();
                }
            });
            let mut client = Framed::new(c, LinesCodec::new());
            for word in ["perf", "runtime", "framed"] {
                client.send(word).await.unwrap();
                let back = client.next().await.unwrap().unwrap();
                assert_eq!(back, word.chars().rev().collect::<String>());
            }
            drop(client);
            server.await.unwrap();
        })
    });
}

#[test]
fn length_delimited_frames_of_every_size() {
    support::within(|| {
        current().block_on(async {
            let (c, s) = tcp_pair().await;
            let server = perf_runtime::spawn(async move {
                let mut framed = Framed::new(s, LengthDelimitedCodec::new());
                while let Some(frame) = framed.next().await {
                    framed.send(frame.unwrap().freeze()).await.unwrap();
                }
            });
            let mut client = Framed::new(c, LengthDelimitedCodec::new());
            for size in [0usize, 1, 100, 65_536, 1 << 20] {
                let payload = bytes::Bytes::from(vec![(size % 251) as u8; size]);
                client.send(payload.clone()).await.unwrap();
                let back = client.next().await.unwrap().unwrap();
                assert_eq!(back.len(), size);
                assert!(back == payload);
            }
            drop(client);
            server.await.unwrap();
        })
    });
}
