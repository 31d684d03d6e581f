//! Detection corpus, communication deadlocks: channels nobody will send on,
//! receive from or close, and channel waits tied to a cancellation signal
//! or a deadline (Go's `context`: here a watch, a oneshot or
//! `time::timeout`).
//!
//! A module of the `validation_corpus` test (see `validation_corpus.rs`).
//! Each kernel is a module with a `buggy` and a `fixed` body, each creating
//! its own channels; `// @name` markers name the lines the reports must
//! cite.

use crate::corpus_support::{body, expect, Category, Kernel, Source, HANGS};
use perf_runtime::sync::{broadcast, mpsc, oneshot, watch, Mutex, Semaphore};
use perf_runtime::time::{timeout, Duration};
use perf_runtime::validation::ViolationKind::*;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

static SRC: Source = Source {
    file: file!(),
    text: include_str!("validation_corpus_channels.rs"),
};

/// The kernels of this file.
pub fn kernels() -> Vec<Kernel> {
    vec![
        Kernel {
            name: "chan_receiver_keeps_its_own_sender",
            category: Category::Channel,
            shape: "kubernetes#70277 (a channel that never closes)",
            src: &SRC,
            workers: 2,
            buggy: || body(results_own_sender::buggy()),
            fixed: || body(results_own_sender::fixed()),
            expect: vec![expect(Deadlock, &["agg_recv", "agg_own_send"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chan_shipper_sender_never_dropped",
            category: Category::Channel,
            shape: "grpc#862 / kubernetes#70277 (receiver waits for a close)",
            src: &SRC,
            workers: 2,
            buggy: || body(log_shipper::buggy()),
            fixed: || body(log_shipper::fixed()),
            expect: vec![expect(ChannelStall, &["ship_recv", "ship_chan"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chan_consumer_requeues_into_full_channel",
            category: Category::Channel,
            shape: "event loop sending to its own full queue",
            src: &SRC,
            workers: 2,
            buggy: || body(requeue_full::buggy()),
            fixed: || body(requeue_full::fixed()),
            expect: vec![expect(Deadlock, &["rq_requeue", "rq_recv"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chan_handshake_both_wait_to_receive",
            category: Category::Channel,
            shape: "etcd#6857 (each side waits for the other's message)",
            src: &SRC,
            workers: 2,
            buggy: || body(handshake::buggy()),
            fixed: || body(handshake::fixed()),
            expect: vec![expect(
                Deadlock,
                &[
                    "hs_client_bye",
                    "hs_server_recv",
                    "hs_client_send",
                    "hs_server_send",
                ],
            )],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chan_reply_sender_dropped_on_close",
            category: Category::Channel,
            shape: "grpc transport close: pending calls never answered",
            src: &SRC,
            workers: 1,
            buggy: || body(pending_on_close::buggy()),
            fixed: || body(pending_on_close::fixed()),
            expect: vec![expect(ChannelStall, &["poc_wait", "poc_chan"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chan_consumer_exits_with_queued_messages",
            category: Category::Channel,
            shape: "moby#33293 / kubernetes#5316 (consumer leaves early)",
            src: &SRC,
            workers: 2,
            buggy: || body(consumer_exits::buggy()),
            fixed: || body(consumer_exits::fixed()),
            expect: vec![expect(ChannelStall, &["ce_send", "ce_chan"])],
            // A wait for a JoinHandle closes the cycle: a deadlock once
            // joins are edges of the wait-for graph.
            allow: &[AllTasksBlocked, Deadlock],
            gap: None,
        },
        Kernel {
            name: "chan_reply_parked_in_deferred_queue",
            category: Category::Channel,
            shape: "moby#33293 (a reply that never comes)",
            src: &SRC,
            workers: 2,
            buggy: || body(deferred_reply::buggy()),
            fixed: || body(deferred_reply::fixed()),
            expect: vec![expect(ChannelStall, &["dr_wait", "dr_chan"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chan_broadcast_hub_keeps_sender",
            category: Category::Channel,
            shape: "publisher gone, hub keeps the sender",
            src: &SRC,
            workers: 2,
            buggy: || body(broadcast_hub::buggy()),
            fixed: || body(broadcast_hub::fixed()),
            expect: vec![expect(ChannelStall, &["bh_recv", "bh_chan"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "chan_watch_update_not_marked_changed",
            category: Category::Channel,
            shape: "config reload stored without notifying watchers",
            src: &SRC,
            workers: 2,
            buggy: || body(config_reload::buggy()),
            fixed: || body(config_reload::fixed()),
            expect: vec![expect(WaitStall, &["cr_changed"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "ctx_rows_never_closed",
            category: Category::ChannelContext,
            shape: "cockroach#13755",
            src: &SRC,
            workers: 2,
            buggy: || body(rows_not_closed::buggy()),
            fixed: || body(rows_not_closed::fixed()),
            expect: vec![expect(WaitStall, &["rows_await_done"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "ctx_timeout_abandons_the_handler",
            category: Category::ChannelContext,
            shape: "kubernetes#5316",
            src: &SRC,
            workers: 2,
            buggy: || body(abandoned_handler::buggy()),
            fixed: || body(abandoned_handler::fixed()),
            // The request keeps the receiver (unread) while awaiting the
            // handler, which waits for room in it: a wait-for cycle through
            // the join, found by the periodic scan; once every task is
            // blocked, the send is also reported as stuck.
            expect: vec![expect(Deadlock, &["ah_update", "ah_join"])],
            allow: &[AllTasksBlocked, ChannelStall],
            gap: None,
        },
        Kernel {
            name: "ctx_stopper_quiesces_after_join",
            category: Category::ChannelContext,
            shape: "cockroach#1055 / cockroach#10790",
            src: &SRC,
            workers: 2,
            buggy: || body(stopper::buggy()),
            fixed: || body(stopper::fixed()),
            expect: vec![expect(ChannelStall, &["st_quiesce", "st_chan"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "ctx_health_check_without_deadline",
            category: Category::ChannelContext,
            shape: "kubernetes#70277 (fixed by a deadline)",
            src: &SRC,
            workers: 2,
            buggy: || body(health_check::buggy()),
            fixed: || body(health_check::fixed()),
            expect: vec![expect(
                Deadlock,
                &["hc_wait_pong", "hc_peer_recv", "hc_ping", "hc_hello"],
            )],
            allow: HANGS,
            gap: None,
        },
    ]
}

/// kubernetes#70277-like: the aggregator drains the result channel until it
/// closes, but it holds (and has used) a sender itself, so the channel never
/// closes and it waits for itself.
mod results_own_sender {
    use super::*;

    enum Event {
        Started,
        Done(u32),
    }

    async fn aggregate(fixed: bool) -> usize {
        let (tx, mut rx) = mpsc::channel(8);
        tx.send(Event::Started).await.unwrap(); // @agg_own_send
        let mut workers = Vec::new();
        for id in 0..3 {
            let tx = tx.clone();
            workers.push(perf_runtime::spawn(async move {
                tx.send(Event::Done(id)).await.unwrap();
            }));
        }
        for w in workers {
            w.await.unwrap();
        }
        if fixed {
            drop(tx);
        }
        let mut done = 0;
        while let Some(ev) = rx.recv().await {
            // @agg_recv
            if let Event::Done(id) = ev {
                done += 1 + id as usize;
            }
        }
        done
    }

    pub async fn buggy() {
        aggregate(false).await;
    }

    pub async fn fixed() {
        assert_eq!(aggregate(true).await, 1 + 2 + 3);
    }
}

/// The log shipper drains its channel until every sender is gone; the
/// server hands clones to its handlers but keeps the original (never used)
/// and then awaits the shipper, which waits forever.
mod log_shipper {
    use super::*;

    pub async fn buggy() {
        let (tx, mut rx) = mpsc::unbounded_channel::<String>(); // @ship_chan
        let shipper = perf_runtime::spawn(async move {
            let mut shipped = 0;
            while let Some(_line) = rx.recv().await {
                // @ship_recv
                shipped += 1;
            }
            shipped
        });
        for req in 0..3 {
            let tx = tx.clone();
            perf_runtime::spawn(async move { tx.send(format!("GET /{req}")).unwrap() })
                .await
                .unwrap();
        }
        shipper.await.unwrap();
    }

    pub async fn fixed() {
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let shipper = perf_runtime::spawn(async move {
            let mut shipped = 0;
            while let Some(_line) = rx.recv().await {
                shipped += 1;
            }
            shipped
        });
        for req in 0..3 {
            let tx = tx.clone();
            perf_runtime::spawn(async move { tx.send(format!("GET /{req}")).unwrap() })
                .await
                .unwrap();
        }
        drop(tx);
        assert_eq!(shipper.await.unwrap(), 3);
    }
}

/// An event loop that, while handling a job, sends its follow-up jobs to
/// its own queue: with the queue full, it waits for the receiver — itself.
/// The fix keeps follow-ups in a local backlog.
mod requeue_full {
    use super::*;

    enum Job {
        Fetch(u32),
        Parse(u32, u32),
    }

    pub async fn buggy() {
        let (tx, mut rx) = mpsc::channel::<Job>(1);
        let producer = tx.clone();
        perf_runtime::spawn(async move { producer.send(Job::Fetch(1)).await.unwrap() })
            .await
            .unwrap();
        while let Some(job) = rx.recv().await {
            // @rq_recv
            match job {
                Job::Fetch(n) => {
                    for part in 0..2 {
                        tx.send(Job::Parse(n, part)).await.unwrap(); // @rq_requeue
                    }
                }
                Job::Parse(n, part) => assert!(n == 1 && part < 2),
            }
        }
    }

    pub async fn fixed() {
        let (tx, mut rx) = mpsc::channel::<Job>(1);
        let producer = tx.clone();
        drop(tx);
        perf_runtime::spawn(async move { producer.send(Job::Fetch(1)).await.unwrap() })
            .await
            .unwrap();
        let mut backlog = VecDeque::new();
        let mut parsed = 0;
        loop {
            let job = match backlog.pop_front() {
                Some(job) => job,
                None => match rx.recv().await {
                    Some(job) => job,
                    None => break,
                },
            };
            match job {
                Job::Fetch(n) => backlog.extend((0..2).map(|part| Job::Parse(n, part))),
                Job::Parse(n, part) => parsed += n + part,
            }
        }
        assert_eq!(parsed, 1 + 2);
    }
}

/// etcd#6857-like: after three pings the client waits for the server's
/// "bye", while the server says bye only once the client sends "close":
/// each waits to receive from the other.
mod handshake {
    use super::*;

    enum Msg {
        Ping(u32),
        Close,
    }

    enum Reply {
        Pong(u32),
        Bye,
    }

    async fn server(mut req: mpsc::Receiver<Msg>, resp: mpsc::Sender<Reply>) {
        while let Some(m) = req.recv().await {
            // @hs_server_recv
            match m {
                Msg::Ping(i) => resp.send(Reply::Pong(i)).await.unwrap(), // @hs_server_send
                Msg::Close => {
                    resp.send(Reply::Bye).await.unwrap();
                    break;
                }
            }
        }
    }

    async fn client(req: mpsc::Sender<Msg>, mut resp: mpsc::Receiver<Reply>, close: bool) {
        for i in 0..3 {
            req.send(Msg::Ping(i)).await.unwrap(); // @hs_client_send
            assert!(matches!(resp.recv().await, Some(Reply::Pong(p)) if p == i));
        }
        if close {
            req.send(Msg::Close).await.unwrap();
        }
        let bye = resp.recv().await; // @hs_client_bye
        assert!(matches!(bye, Some(Reply::Bye)));
    }

    async fn run(close: bool) {
        let (req_tx, req_rx) = mpsc::channel(1);
        let (resp_tx, resp_rx) = mpsc::channel(1);
        let s = perf_runtime::spawn(server(req_rx, resp_tx));
        let c = perf_runtime::spawn(client(req_tx, resp_rx, close));
        c.await.unwrap();
        s.await.unwrap();
    }

    pub async fn buggy() {
        run(false).await;
    }

    pub async fn fixed() {
        run(true).await;
    }
}

/// A client's pending calls wait on oneshot replies kept in a map; when the
/// connection's writer fails, it returns and forgets the pending calls:
/// their reply senders stay in the map, which the callers themselves keep
/// alive, so nobody will ever answer them. The fix answers each pending
/// call with the error. (Clearing the map — dropping the senders unsent —
/// would also be correct: the callers get `RecvError`, tokio's
/// cancellation.) One worker: the caller is already waiting when the
/// writer runs.
mod pending_on_close {
    use super::*;

    type Reply = Result<u32, &'static str>;
    type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>>;

    async fn call(pending: Pending, conn: mpsc::Sender<u64>, id: u64) -> Reply {
        let (tx, rx) = oneshot::channel(); // @poc_chan
        pending.lock().await.insert(id, tx);
        conn.send(id).await.map_err(|_| "connection closed")?;
        rx.await.unwrap_or(Err("call dropped")) // @poc_wait
    }

    async fn writer(pending: Pending, mut conn: mpsc::Receiver<u64>, fixed: bool) {
        if let Some(_id) = conn.recv().await {
            // Writing the request fails: the connection is gone.
            if fixed {
                for (_, reply) in pending.lock().await.drain() {
                    let _ = reply.send(Err("connection closed"));
                }
            }
        }
    }

    async fn run(fixed: bool) -> Reply {
        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let (conn_tx, conn_rx) = mpsc::channel(4);
        let w = perf_runtime::spawn(writer(pending.clone(), conn_rx, fixed));
        let reply = perf_runtime::spawn(call(pending, conn_tx, 1))
            .await
            .unwrap();
        w.await.unwrap();
        reply
    }

    pub async fn buggy() {
        run(false).await.ok();
    }

    pub async fn fixed() {
        assert_eq!(run(true).await, Err("connection closed"));
    }
}

/// moby#33293 / kubernetes#5316 (a consumer that leaves early): the
/// consumer stops reading at the first flush marker but keeps the receiver
/// while it waits for the producer to finish; the producer blocks on the
/// full channel forever. (Dropping the receiver instead would be correct:
/// the producer's send fails, and messages dropped with a receiver are an
/// idiom.) The fix reads until the channel closes.
mod consumer_exits {
    use super::*;

    async fn consume(rx: &mut mpsc::Receiver<u32>, fixed: bool) -> u32 {
        let mut sum = 0;
        while let Some(v) = rx.recv().await {
            if v == 0 {
                if !fixed {
                    break;
                }
                continue;
            }
            sum += v;
        }
        sum
    }

    async fn run(tx: mpsc::Sender<u32>, mut rx: mpsc::Receiver<u32>, fixed: bool) -> u32 {
        let producer = perf_runtime::spawn(async move {
            for v in [1, 2, 0, 3, 4, 5] {
                tx.send(v).await.unwrap(); // @ce_send
            }
        });
        let sum = consume(&mut rx, fixed).await;
        // Waits for the producer while still holding the receiver.
        producer.await.unwrap();
        sum
    }

    pub async fn buggy() {
        let (tx, rx) = mpsc::channel(1); // @ce_chan
        run(tx, rx, false).await;
    }

    pub async fn fixed() {
        let (tx, rx) = mpsc::channel(1);
        assert_eq!(run(tx, rx, true).await, 15);
    }
}

/// moby#33293-like (a reply that never comes): the server parks requests
/// for an unknown method in a "retry after reload" queue that is never
/// retried; the caller awaits a reply whose sender sits in that queue. The
/// fix answers unknown methods with an error.
mod deferred_reply {
    use super::*;

    struct Call {
        method: &'static str,
        reply: oneshot::Sender<Result<u32, &'static str>>,
    }

    async fn server(mut calls: mpsc::Receiver<Call>, fixed: bool) {
        let mut deferred = Vec::new();
        while let Some(call) = calls.recv().await {
            match call.method {
                "get" => {
                    let _ = call.reply.send(Ok(1));
                }
                _ if fixed => {
                    let _ = call.reply.send(Err("unknown method"));
                }
                _ => deferred.push(call),
            }
        }
    }

    pub async fn buggy() {
        let (calls, rx) = mpsc::channel(4);
        let s = perf_runtime::spawn(server(rx, false));
        let (reply, answer) = oneshot::channel(); // @dr_chan
        calls
            .send(Call {
                method: "put",
                reply,
            })
            .await
            .unwrap();
        let _ = answer.await; // @dr_wait
        drop(calls);
        s.await.unwrap();
    }

    pub async fn fixed() {
        let (calls, rx) = mpsc::channel(4);
        let s = perf_runtime::spawn(server(rx, true));
        let (reply, answer) = oneshot::channel();
        calls
            .send(Call {
                method: "put",
                reply,
            })
            .await
            .unwrap();
        assert_eq!(answer.await.unwrap(), Err("unknown method"));
        drop(calls);
        s.await.unwrap();
    }
}

/// The publisher task stops on a feed error, but the hub keeps its
/// broadcast sender for late subscribers, so subscribers wait forever
/// instead of seeing the channel closed. The fix closes the hub when the
/// publisher stops.
mod broadcast_hub {
    use super::*;

    struct Hub {
        tx: Mutex<Option<broadcast::Sender<u32>>>,
    }

    async fn publish(hub: &Hub, close_on_error: bool) {
        if let Some(tx) = &*hub.tx.lock().await {
            let _ = tx.send(1);
        }
        // The feed fails here.
        if close_on_error {
            hub.tx.lock().await.take();
        }
    }

    async fn subscriber(mut rx: broadcast::Receiver<u32>) -> u32 {
        let mut seen = 0;
        while rx.recv().await.is_ok() {
            // @bh_recv
            seen += 1;
        }
        seen
    }

    async fn run(tx: broadcast::Sender<u32>, rx: broadcast::Receiver<u32>, fixed: bool) {
        let hub = Arc::new(Hub {
            tx: Mutex::new(Some(tx)),
        });
        let sub = perf_runtime::spawn(subscriber(rx));
        // The hub outlives its publisher (the server keeps serving).
        let h = hub.clone();
        perf_runtime::spawn(async move { publish(&h, fixed).await })
            .await
            .unwrap();
        assert_eq!(sub.await.unwrap(), 1);
        drop(hub);
    }

    pub async fn buggy() {
        let (tx, rx) = broadcast::channel(4); // @bh_chan
        run(tx, rx, false).await;
    }

    pub async fn fixed() {
        let (tx, rx) = broadcast::channel(4);
        run(tx, rx, true).await;
    }
}

/// The config reloader stores the new config with `send_if_modified`, but
/// its closure returns whether the *old* config was the default (a
/// refactoring slip), so the change is stored without notifying; the
/// watcher waits for a change forever.
mod config_reload {
    use super::*;

    async fn watcher(mut rx: watch::Receiver<u32>) -> u32 {
        rx.changed().await.unwrap(); // @cr_changed
        *rx.borrow_and_update()
    }

    fn reload(tx: &watch::Sender<u32>, fixed: bool) {
        tx.send_if_modified(|version| {
            let was_default = *version == 0;
            *version = 2;
            if fixed {
                true
            } else {
                was_default
            }
        });
    }

    pub async fn buggy() {
        let (tx, rx) = watch::channel(1);
        let w = perf_runtime::spawn(watcher(rx));
        reload(&tx, false);
        w.await.unwrap();
    }

    pub async fn fixed() {
        let (tx, rx) = watch::channel(1);
        let w = perf_runtime::spawn(watcher(rx));
        reload(&tx, true);
        assert_eq!(w.await.unwrap(), 2);
    }
}

/// cockroach#13755: a query's rows hold a connection until the query's
/// context is cancelled (a task awaits the cancel to release it); the
/// caller reads the rows and never closes them, so the next query waits for
/// a connection forever and the release task waits for a cancel that never
/// comes.
mod rows_not_closed {
    use super::*;

    struct Rows {
        items: Vec<u32>,
        cancel: watch::Sender<bool>,
    }

    impl Rows {
        fn close(self) {
            let _ = self.cancel.send(true);
        }
    }

    async fn query(conns: &Arc<Semaphore>) -> Rows {
        let conn = conns.clone().acquire_owned().await.unwrap();
        let (cancel, mut done) = watch::channel(false);
        perf_runtime::spawn(async move {
            let _ = done.changed().await; // @rows_await_done
            drop(conn);
        });
        Rows {
            items: vec![1, 2, 3],
            cancel,
        }
    }

    async fn run(close: bool) -> u32 {
        let conns = Arc::new(Semaphore::new(1));
        let mut keep = Vec::new();
        let mut total = 0;
        for _ in 0..2 {
            let rows = query(&conns).await;
            total += rows.items.iter().sum::<u32>();
            if close {
                rows.close();
            } else {
                keep.push(rows);
            }
        }
        total
    }

    pub async fn buggy() {
        run(false).await;
    }

    pub async fn fixed() {
        assert_eq!(run(true).await, 12);
    }
}

/// kubernetes#5316: `finish_request` waits for the handler's first update
/// with a deadline; on timeout it returns, but the request (and its
/// receiver) stays registered, so when the backend answers late the handler
/// blocks forever sending its second update into the full channel. The fix
/// drops the request on timeout: the handler's send fails and it stops.
mod abandoned_handler {
    use super::*;

    struct Request {
        updates: mpsc::Receiver<u32>,
    }

    async fn handler(updates: mpsc::Sender<u32>, backend: oneshot::Receiver<u32>) {
        let answer = backend.await.unwrap_or(0);
        if updates.send(answer / 2).await.is_err() {
            return;
        }
        let _ = updates.send(answer).await; // @ah_update
    }

    async fn finish_request(req: &mut Request) -> Option<u32> {
        timeout(Duration::from_millis(20), req.updates.recv())
            .await
            .ok()
            .flatten()
    }

    async fn run(tx: mpsc::Sender<u32>, rx: mpsc::Receiver<u32>, fixed: bool) {
        let (answer, backend) = oneshot::channel();
        let h = perf_runtime::spawn(handler(tx, backend));
        let mut registry = Vec::new();
        let mut req = Request { updates: rx };
        assert_eq!(finish_request(&mut req).await, None);
        if fixed {
            drop(req);
        } else {
            registry.push(req);
        }
        let _ = answer.send(100);
        h.await.unwrap(); // @ah_join
    }

    pub async fn buggy() {
        let (tx, rx) = mpsc::channel(1); // @ah_chan
        run(tx, rx, false).await;
    }

    pub async fn fixed() {
        let (tx, rx) = mpsc::channel(1);
        run(tx, rx, true).await;
    }
}

/// cockroach#1055 / #10790: `stop` joins every task before it fires the
/// quiesce signal the tasks wait on to finish. The fix quiesces first.
mod stopper {
    use super::*;

    async fn worker(quiesce: oneshot::Receiver<()>, flushed: Arc<Mutex<u32>>) {
        *flushed.lock().await += 1;
        let _ = quiesce.await; // @st_quiesce
    }

    async fn run(fixed: bool, quiesce: oneshot::Sender<()>, rx: oneshot::Receiver<()>) {
        let flushed = Arc::new(Mutex::new(0));
        let task = perf_runtime::spawn(worker(rx, flushed.clone()));
        if fixed {
            let _ = quiesce.send(());
            task.await.unwrap();
        } else {
            task.await.unwrap();
            let _ = quiesce.send(());
        }
        assert_eq!(*flushed.lock().await, 1);
    }

    pub async fn buggy() {
        let (quiesce, rx) = oneshot::channel(); // @st_chan
        run(false, quiesce, rx).await;
    }

    pub async fn fixed() {
        let (quiesce, rx) = oneshot::channel();
        run(true, quiesce, rx).await;
    }
}

/// A health checker pings its peer and waits for the pong; the peer answers
/// pings in pairs, so after one ping each waits to receive from the other.
/// The fix bounds the wait with a deadline (Go's `context.WithTimeout`) and
/// closes the ping channel when it expires, which ends the peer. A wait
/// under `time::timeout` is bounded, so it is never reported as a deadlock.
mod health_check {
    use super::*;

    async fn peer(mut pings: mpsc::Receiver<u32>, pongs: mpsc::Sender<u32>) {
        pongs.send(0).await.unwrap(); // @hc_hello
        let mut batch = Vec::new();
        while let Some(p) = pings.recv().await {
            // @hc_peer_recv
            batch.push(p);
            if batch.len() == 2 {
                pongs.send(batch.iter().sum()).await.unwrap();
                batch.clear();
            }
        }
    }

    async fn check(pings: mpsc::Sender<u32>, mut pongs: mpsc::Receiver<u32>, deadline: bool) {
        assert_eq!(pongs.recv().await, Some(0));
        pings.send(1).await.unwrap(); // @hc_ping
        if deadline {
            let pong = timeout(Duration::from_millis(50), pongs.recv()).await;
            assert!(pong.is_err(), "the peer answers pings in pairs");
            drop(pings);
        } else {
            pongs.recv().await; // @hc_wait_pong
        }
    }

    async fn run(deadline: bool) {
        let (ping_tx, ping_rx) = mpsc::channel(4);
        let (pong_tx, pong_rx) = mpsc::channel(4);
        let p = perf_runtime::spawn(peer(ping_rx, pong_tx));
        check(ping_tx, pong_rx, deadline).await;
        p.await.unwrap();
    }

    pub async fn buggy() {
        run(false).await;
    }

    pub async fn fixed() {
        run(true).await;
    }
}
