//! The listener and the connections.
//!
//! One task per connection (Critical on perf_runtime), reading requests
//! into a buffer, running every whole request it holds (pipelining), then
//! writing all the replies at once. What a hostile or broken client gets:
//! - a malformed request: a `Protocol error` reply, then the connection
//!   closes (what Redis does);
//! - a request larger than [`Config::limits`] allows, judged from its
//!   headers before its payload arrives: the same;
//! - a request that starts arriving and does not finish within
//!   [`Config::command_timeout`] (a slowloris): an error, then close;
//! - a client that stops reading its replies: once a write makes no
//!   progress for [`Config::write_timeout`], the connection closes;
//! - more clients than [`Config::max_clients`]: an error and close at once;
//! - no descriptors left (`EMFILE`/`ENFILE`): the listener waits a moment
//!   and goes on accepting; connections already open keep being served.
//!
//! So each connection holds at most `max_request_bytes` of input (plus one
//! read) and `OUTPUT_FLUSH_BYTES` of replies (plus one reply) in memory.

use crate::cmd::{self, Action, Reply};
use crate::pubsub::{Hub, Message};
use crate::resp::{self, Limits};
use crate::rt::io::{AsyncReadExt, AsyncWriteExt};
use crate::rt::net::{TcpListener, TcpStream};
use crate::rt::sync::{broadcast, mpsc, watch, OwnedSemaphorePermit, Semaphore};
use crate::rt::task::{JoinHandle, JoinSet};
use crate::rt::time::{self, Instant};
use crate::store::Store;
use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

/// Replies are written once this many bytes are waiting, even in the middle
/// of a pipeline.
pub const OUTPUT_FLUSH_BYTES: usize = 64 * 1024;

/// Bytes asked of one read.
const READ_CHUNK: usize = 16 * 1024;

/// Keys the expiry sweep looks at per shard and pass.
const SWEEP_BUDGET: usize = 256;

/// The server's limits and timings.
#[derive(Clone, Debug)]
pub struct Config {
    /// Connections served at once; more are refused with an error.
    pub max_clients: usize,
    /// Request size and argument count caps.
    pub limits: Limits,
    /// How long a request may take to arrive once its first byte has.
    pub command_timeout: Duration,
    /// How long a write may make no progress before the connection closes.
    pub write_timeout: Duration,
    /// How long shutdown waits for connections to finish their requests.
    pub shutdown_grace: Duration,
    /// How often the expiry sweep runs.
    pub sweep_every: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_clients: 1024,
            limits: Limits::default(),
            command_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
            sweep_every: Duration::from_millis(100),
        }
    }
}

/// What every connection shares.
struct Shared {
    store: Store,
    hub: Hub,
    config: Config,
    started: std::time::Instant,
    clients: AtomicUsize,
    connections: AtomicU64,
    rejected: AtomicU64,
    commands: AtomicU64,
    protocol_errors: AtomicU64,
    timeouts: AtomicU64,
}

/// Serves `listener` until `shutdown` completes; then stops accepting, lets
/// connections finish the requests they hold (up to
/// [`Config::shutdown_grace`]), and returns.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    if config.max_clients == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "kv: max_clients is 0: no client could ever connect; give at least 1",
        ));
    }
    let shared = Arc::new(Shared {
        store: Store::new(),
        hub: Hub::default(),
        started: std::time::Instant::now(),
        clients: AtomicUsize::new(0),
        connections: AtomicU64::new(0),
        rejected: AtomicU64::new(0),
        commands: AtomicU64::new(0),
        protocol_errors: AtomicU64::new(0),
        timeouts: AtomicU64::new(0),
        config,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(shared.config.max_clients));
    let sweeper = crate::rt::spawn_batch(sweep(shared.clone()));
    let mut conns = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut last_exhaustion_log: Option<Instant> = None;
    loop {
        while conns.try_join_next().is_some() {}
        crate::rt::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok((sock, _)) => {
                    shared.connections.fetch_add(1, Relaxed);
                    let _ = sock.set_nodelay(true);
                    match permits.clone().try_acquire_owned() {
                        Ok(permit) => crate::rt::spawn_critical_in(
                            &mut conns,
                            connection(sock, shared.clone(), stop_rx.clone(), permit),
                        ),
                        Err(_) => {
                            shared.rejected.fetch_add(1, Relaxed);
                            crate::rt::spawn_critical_in(&mut conns, refuse(sock));
                        }
                    }
                }
                Err(e) if out_of_resources(&e) => {
                    if last_exhaustion_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        eprintln!("kv: accept failed ({e}); retrying (raise `ulimit -n` or --maxclients lower)");
                        last_exhaustion_log = Some(Instant::now());
                    }
                    time::sleep(Duration::from_millis(50)).await;
                }
                // A connection reset before it was accepted, and the like:
                // nothing to do for it.
                Err(_) => {}
            },
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let grace = shared.config.shutdown_grace;
    let drained = time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
    sweeper.abort();
    Ok(())
}

fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Answers a connection over the client limit and closes it.
async fn refuse(mut sock: TcpStream) {
    let _ = time::timeout(
        Duration::from_secs(1),
        sock.write_all(b"-ERR max number of clients reached\r\n"),
    )
    .await;
}

async fn sweep(shared: Arc<Shared>) {
    let mut tick = time::interval(shared.config.sweep_every);
    loop {
        tick.tick().await;
        shared.store.sweep(SWEEP_BUDGET);
    }
}

/// What a subscription forwards to its connection.
enum Delivery {
    Message(Message),
    Lagged(u64),
}

async fn forward(mut rx: broadcast::Receiver<Message>, to: mpsc::Sender<Delivery>) {
    loop {
        let d = match rx.recv().await {
            Ok(m) => Delivery::Message(m),
            Err(broadcast::error::RecvError::Lagged(n)) => Delivery::Lagged(n),
            Err(broadcast::error::RecvError::Closed) => return,
        };
        let lagged = matches!(d, Delivery::Lagged(_));
        if to.send(d).await.is_err() || lagged {
            return;
        }
    }
}

/// A connection's subscriptions (channel → forwarder task). Each ends at
/// once in the hub when removed or dropped; the forwarder is aborted.
struct Subscriptions {
    shared: Arc<Shared>,
    forwarders: BTreeMap<Vec<u8>, JoinHandle<()>>,
}

impl Subscriptions {
    fn is_empty(&self) -> bool {
        self.forwarders.is_empty()
    }

    fn len(&self) -> usize {
        self.forwarders.len()
    }

    fn contains(&self, channel: &[u8]) -> bool {
        self.forwarders.contains_key(channel)
    }

    fn add(&mut self, channel: &[u8], deliver: &mpsc::Sender<Delivery>) {
        if !self.contains(channel) {
            let rx = self.shared.hub.subscribe(channel);
            let h = crate::rt::spawn_critical(forward(rx, deliver.clone()));
            self.forwarders.insert(channel.to_vec(), h);
        }
    }

    fn remove(&mut self, channel: &[u8]) {
        if let Some(h) = self.forwarders.remove(channel) {
            h.abort();
            self.shared.hub.unsubscribe(channel);
        }
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        for (channel, h) in std::mem::take(&mut self.forwarders) {
            h.abort();
            self.shared.hub.unsubscribe(&channel);
        }
    }
}

struct ClientGuard<'a>(&'a AtomicUsize);

impl Drop for ClientGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

fn bulk(b: &[u8]) -> Reply {
    Reply::Bulk(b.to_vec())
}

async fn connection(
    mut sock: TcpStream,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    shared.clients.fetch_add(1, Relaxed);
    let _client = ClientGuard(&shared.clients);
    let limits = shared.config.limits;
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::new();
    let mut subs = Subscriptions {
        shared: shared.clone(),
        forwarders: BTreeMap::new(),
    };
    let (deliver_tx, mut deliveries) = mpsc::channel::<Delivery>(1024);
    // When the request now in `input` began to arrive.
    let mut partial_since: Option<Instant> = None;
    loop {
        // Run every whole request already here.
        let mut used = 0;
        let mut close = false;
        while !close {
            match resp::parse(&input[used..], &limits) {
                Ok(Some((args, n))) => {
                    used += n;
                    if args.is_empty() {
                        continue;
                    }
                    shared.commands.fetch_add(1, Relaxed);
                    close = run(&args, &shared, &mut subs, &deliver_tx, &mut out).await;
                    if out.len() >= OUTPUT_FLUSH_BYTES && !flush(&mut sock, &mut out, &shared).await
                    {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    shared.protocol_errors.fetch_add(1, Relaxed);
                    Reply::Error(format!("ERR {e}")).encode(&mut out);
                    close = true;
                }
            }
        }
        input.drain(..used);
        if !flush(&mut sock, &mut out, &shared).await || close {
            return;
        }
        partial_since = match (input.is_empty(), partial_since) {
            (true, _) => None,
            (false, None) => Some(Instant::now()),
            (false, since) => since,
        };
        let deadline = partial_since.map(|t| t + shared.config.command_timeout);
        input.reserve(READ_CHUNK);
        crate::rt::select! {
            r = read_until(&mut sock, &mut input, deadline) => match r {
                Some(Ok(0)) | Some(Err(_)) => return,
                Some(Ok(_)) => {}
                None => {
                    shared.timeouts.fetch_add(1, Relaxed);
                    let secs = shared.config.command_timeout.as_secs_f64();
                    Reply::Error(format!("ERR request not completed within {secs}s")).encode(&mut out);
                    let _ = flush(&mut sock, &mut out, &shared).await;
                    return;
                }
            },
            Some(d) = deliveries.recv(), if !subs.is_empty() => {
                let mut next = Some(d);
                while let Some(d) = next {
                    match d {
                        // A message for a channel just unsubscribed from
                        // (its forwarder not yet dropped) is not delivered.
                        Delivery::Message(m) if !subs.contains(&m.0) => {}
                        Delivery::Message(m) => Reply::Array(vec![bulk(b"message"), bulk(&m.0), bulk(&m.1)]).encode(&mut out),
                        Delivery::Lagged(n) => {
                            Reply::Error(format!("ERR subscriber fell {n} messages behind; disconnected")).encode(&mut out);
                            let _ = flush(&mut sock, &mut out, &shared).await;
                            return;
                        }
                    }
                    next = if out.len() < OUTPUT_FLUSH_BYTES { deliveries.try_recv().ok() } else { None };
                }
            },
            _ = stop.changed() => return,
        }
    }
}

/// Reads more input; `None` if `deadline` passes first.
async fn read_until(
    sock: &mut TcpStream,
    input: &mut Vec<u8>,
    deadline: Option<Instant>,
) -> Option<io::Result<usize>> {
    match deadline {
        Some(d) => time::timeout_at(d, sock.read_buf(input)).await.ok(),
        None => Some(sock.read_buf(input).await),
    }
}

/// Writes the waiting replies; `false` if the connection must close.
async fn flush(sock: &mut TcpStream, out: &mut Vec<u8>, shared: &Shared) -> bool {
    if out.is_empty() {
        return true;
    }
    let mut written = 0;
    while written < out.len() {
        match time::timeout(shared.config.write_timeout, sock.write(&out[written..])).await {
            Ok(Ok(0)) | Ok(Err(_)) => return false,
            Ok(Ok(n)) => written += n,
            Err(_) => {
                // The client has not read for `write_timeout`.
                shared.timeouts.fetch_add(1, Relaxed);
                return false;
            }
        }
    }
    out.clear();
    if out.capacity() > 4 * OUTPUT_FLUSH_BYTES {
        out.shrink_to(OUTPUT_FLUSH_BYTES);
    }
    true
}

/// Runs one request; returns whether the connection closes after it.
async fn run(
    args: &[Vec<u8>],
    shared: &Arc<Shared>,
    subs: &mut Subscriptions,
    deliver: &mpsc::Sender<Delivery>,
    out: &mut Vec<u8>,
) -> bool {
    if !subs.is_empty() {
        if !cmd::allowed_while_subscribed(&args[0]) {
            let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
            Reply::Error(format!(
                "ERR Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
            ))
            .encode(out);
            return false;
        }
        if args[0].eq_ignore_ascii_case(b"ping") && args.len() <= 2 {
            let msg = args.get(1).cloned().unwrap_or_default();
            Reply::Array(vec![bulk(b"pong"), Reply::Bulk(msg)]).encode(out);
            return false;
        }
    }
    match cmd::execute(&shared.store, args) {
        Action::Reply(r) => r.encode(out),
        Action::ReplyAndClose(r) => {
            r.encode(out);
            return true;
        }
        Action::Publish(ch, msg) => Reply::Int(shared.hub.publish(&ch, msg)).encode(out),
        Action::Subscribe(channels) => {
            for ch in channels {
                subs.add(&ch, deliver);
                Reply::Array(vec![
                    bulk(b"subscribe"),
                    Reply::Bulk(ch),
                    Reply::Int(subs.len() as i64),
                ])
                .encode(out);
            }
        }
        Action::Unsubscribe(channels) => {
            let channels = if channels.is_empty() {
                subs.forwarders.keys().cloned().collect()
            } else {
                channels
            };
            if channels.is_empty() {
                Reply::Array(vec![bulk(b"unsubscribe"), Reply::Nil, Reply::Int(0)]).encode(out);
            }
            for ch in channels {
                subs.remove(&ch);
                Reply::Array(vec![
                    bulk(b"unsubscribe"),
                    Reply::Bulk(ch),
                    Reply::Int(subs.len() as i64),
                ])
                .encode(out);
            }
        }
        Action::Keys(pattern) => {
            let s = shared.clone();
            match crate::rt::spawn_batch(async move { s.store.keys(&pattern) }).await {
                Ok(keys) => Reply::Array(keys.into_iter().map(Reply::Bulk).collect()).encode(out),
                Err(e) => Reply::Error(format!("ERR KEYS failed: {e}")).encode(out),
            }
        }
        Action::Info => Reply::Bulk(info(shared).into_bytes()).encode(out),
    }
    false
}

fn info(shared: &Shared) -> String {
    let (keys, expires) = shared.store.counts();
    format!(
        "# Server\r\nredis_version:7.0.0\r\nkv_runtime:{}\r\nuptime_in_seconds:{}\r\n\r\n\
         # Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\n\r\n\
         # Stats\r\ntotal_connections_received:{}\r\nrejected_connections:{}\r\n\
         total_commands_processed:{}\r\nprotocol_errors:{}\r\ntimed_out_connections:{}\r\n\
         pubsub_channels:{}\r\n\r\n# Runtime\r\n{}\r\n# Keyspace\r\n{}",
        crate::rt::NAME,
        shared.started.elapsed().as_secs(),
        shared.clients.load(Relaxed),
        shared.config.max_clients,
        shared.connections.load(Relaxed),
        shared.rejected.load(Relaxed),
        shared.commands.load(Relaxed),
        shared.protocol_errors.load(Relaxed),
        shared.timeouts.load(Relaxed),
        shared.hub.len(),
        crate::rt::info(),
        if keys > 0 {
            format!("db0:keys={keys},expires={expires},avg_ttl=0\r\n")
        } else {
            String::new()
        },
    )
}
