//! `stream::wrappers`: each wrapper yields what its receiver would, ends
//! when its channel does, and reports broadcast lag as an item.

use perf_runtime::runtime::{Builder, Runtime};
use perf_runtime::stream::wrappers::errors::BroadcastStreamRecvError;
use perf_runtime::stream::wrappers::{
    BroadcastStream, IntervalStream, ReceiverStream, UnboundedReceiverStream, WatchStream,
};
use perf_runtime::stream::Stream;
use perf_runtime::sync::{broadcast, mpsc, watch};
use perf_runtime::time::{self, Duration};
use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

fn rt() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

/// Polls once: `Some(item)` if the stream was ready.
async fn poll_once<S: Stream + Unpin>(s: &mut S) -> Option<Option<S::Item>> {
    poll_fn(|cx| {
        Poll::Ready(match Pin::new(&mut *s).poll_next(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

fn assert_stream<S: Stream + Send + Unpin>(_: &S) {}

#[test]
fn receiver_stream_yields_in_order_then_ends() {
    rt().block_on(async {
        let (tx, rx) = mpsc::channel(2);
        let producer = perf_runtime::spawn(async move {
            for i in 0..5 {
                tx.send(i).await.unwrap();
            }
        });
        let mut s = ReceiverStream::new(rx);
        assert_stream(&s);
        let mut got = Vec::new();
        while let Some(v) = next(&mut s).await {
            got.push(v);
        }
        assert_eq!(got, [0, 1, 2, 3, 4]);
        producer.await.unwrap();
    });
}

#[test]
fn receiver_stream_close_drains_then_ends() {
    rt().block_on(async {
        let (tx, rx) = mpsc::channel(4);
        tx.send(1).await.unwrap();
        let mut s = ReceiverStream::from(rx);
        assert_eq!(poll_once(&mut s).await, Some(Some(1)));
        assert_eq!(poll_once(&mut s).await, None, "pending while senders live");
        tx.send(2).await.unwrap();
        s.close();
        assert!(tx.send(3).await.is_err(), "closed for senders");
        assert_eq!(next(&mut s).await, Some(2));
        assert_eq!(next(&mut s).await, None);
        let _rx: mpsc::Receiver<i32> = s.into_inner();
    });
}

#[test]
fn unbounded_receiver_stream() {
    rt().block_on(async {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut s = UnboundedReceiverStream::new(rx);
        assert_stream(&s);
        tx.send("a").unwrap();
        tx.send("b").unwrap();
        assert_eq!(next(&mut s).await, Some("a"));
        s.close();
        assert!(tx.send("c").is_err());
        assert_eq!(next(&mut s).await, Some("b"));
        assert_eq!(next(&mut s).await, None);
    });
}

#[test]
fn broadcast_stream_reports_lag_then_continues() {
    rt().block_on(async {
        let (tx, rx) = broadcast::channel(4);
        let mut s = BroadcastStream::new(rx);
        assert_stream(&s);
        tx.send(0).unwrap();
        assert_eq!(next(&mut s).await, Some(Ok(0)));
        for i in 1..=7 {
            tx.send(i).unwrap(); // ring of 4: 1, 2 and 3 are overwritten
        }
        assert_eq!(
            next(&mut s).await,
            Some(Err(BroadcastStreamRecvError::Lagged(3)))
        );
        for want in 4..=7 {
            assert_eq!(next(&mut s).await, Some(Ok(want)));
        }
        assert_eq!(
            poll_once(&mut s).await,
            None,
            "pending while the sender lives"
        );
        drop(tx);
        assert_eq!(next(&mut s).await, None);
        assert_eq!(next(&mut s).await, None, "stays ended");
    });
}

#[test]
fn broadcast_stream_wakes_on_send_from_another_task() {
    let rt = Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    rt.block_on(async {
        let (tx, rx) = broadcast::channel(8);
        let consumer = perf_runtime::spawn(async move {
            let mut s = BroadcastStream::from(rx);
            let mut got = Vec::new();
            while let Some(v) = next(&mut s).await {
                got.push(v.unwrap());
            }
            got
        });
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        drop(tx);
        assert_eq!(consumer.await.unwrap(), [0, 1, 2]);
    });
}

#[test]
fn watch_stream_yields_current_then_latest_changes() {
    rt().block_on(async {
        let (tx, rx) = watch::channel(1);
        let mut s = WatchStream::new(rx);
        assert_stream(&s);
        assert_eq!(next(&mut s).await, Some(1));
        assert_eq!(poll_once(&mut s).await, None, "no change yet");
        tx.send(2).unwrap();
        tx.send(3).unwrap();
        assert_eq!(
            next(&mut s).await,
            Some(3),
            "changes coalesce to the latest"
        );
        assert_eq!(poll_once(&mut s).await, None);
        drop(tx);
        assert_eq!(next(&mut s).await, None);
    });
}

#[test]
fn watch_stream_from_changes_skips_the_seen_value() {
    rt().block_on(async {
        let (tx, rx) = watch::channel("seen");
        let mut s = WatchStream::from_changes(rx);
        assert_eq!(poll_once(&mut s).await, None);
        tx.send("new").unwrap();
        assert_eq!(next(&mut s).await, Some("new"));
    });
}

#[test]
fn interval_stream_ticks_at_the_period() {
    let rt = Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let start = time::Instant::now();
        let mut s = IntervalStream::new(time::interval(Duration::from_secs(1)));
        assert_stream(&s);
        assert_eq!(s.size_hint(), (usize::MAX, None));
        let t0 = next(&mut s).await.unwrap();
        let t1 = next(&mut s).await.unwrap();
        let t2 = next(&mut s).await.unwrap();
        assert_eq!(t0, start);
        assert_eq!(t1 - t0, Duration::from_secs(1));
        assert_eq!(t2 - t1, Duration::from_secs(1));
        let _interval: &time::Interval = s.as_ref();
        let _ = s.into_inner();
    });
}

#[test]
fn wrapper_streams_work_in_select() {
    rt().block_on(async {
        let (tx, rx) = mpsc::unbounded_channel::<u8>();
        let mut s = UnboundedReceiverStream::new(rx);
        tx.send(5).unwrap();
        drop(tx);
        let mut got = Vec::new();
        loop {
            perf_runtime::select! {
                Some(v) = next(&mut s) => got.push(v),
                else => break,
            }
        }
        assert_eq!(got, [5]);
    });
}
