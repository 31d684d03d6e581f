// A TCP line service as a tokio user writes it: a listener on an ephemeral
// loopback port, one task per connection in a JoinSet, lines read with
// BufReader::lines and answered with write_all, select! between the next
// line and a watch-signalled shutdown (an idle connection is told "bye"),
// clients that half-close with shutdown() or by dropping an owned write
// half, a read bounded by timeout, and a connect to a port not listening.
// On the multi-thread scheduler, two workers.

use std::io::ErrorKind;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::timeout;

/// Accepts until `stop` flips; returns (connections accepted, lines answered).
async fn serve(listener: TcpListener, mut stop: watch::Receiver<bool>) -> (usize, usize) {
    let mut conns = JoinSet::new();
    let mut accepted = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            res = listener.accept() => {
                let (stream, peer) = res.unwrap();
                assert!(peer.ip().is_loopback());
                accepted += 1;
                conns.spawn(connection(stream, stop.clone()));
            }
        }
    }
    drop(listener);
    let mut answered = 0;
    while let Some(res) = conns.join_next().await {
        answered += res.unwrap();
    }
    (accepted, answered)
}

/// Answers each line in upper case until the client half-closes or the
/// server stops; returns how many lines it answered.
async fn connection(stream: TcpStream, mut stop: watch::Receiver<bool>) -> usize {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut answered = 0;
    loop {
        tokio::select! {
            line = lines.next_line() => match line.unwrap() {
                Some(line) => {
                    let reply = format!("{}\n", line.to_uppercase());
                    write.write_all(reply.as_bytes()).await.unwrap();
                    answered += 1;
                }
                None => break,
            },
            _ = stop.changed() => {
                write.write_all(b"bye\n").await.unwrap();
                break;
            }
        }
    }
    answered
}

/// Sends `lines`, half-closes by dropping the owned write half (tokio shuts
/// the write direction down on drop), and reads replies until EOF.
async fn client(addr: std::net::SocketAddr, id: usize, lines: usize) -> String {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (read, mut write) = stream.into_split();
    for n in 0..lines {
        write
            .write_all(format!("client {id} line {n}\n").as_bytes())
            .await
            .unwrap();
    }
    drop(write);
    let mut replies = Vec::new();
    let mut reader = BufReader::new(read).lines();
    while let Some(line) = reader.next_line().await.unwrap() {
        replies.push(line);
    }
    replies.join(" | ")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
pub async fn run() -> Vec<String> {
    let body = async {
        let mut out = Vec::new();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        out.push(format!(
            "listening on loopback: {}",
            addr.ip().is_loopback()
        ));
        let (stop_tx, stop_rx) = watch::channel(false);
        let server = tokio::spawn(serve(listener, stop_rx));

        // One client that half-closes with AsyncWriteExt::shutdown.
        let mut first = TcpStream::connect(addr).await.unwrap();
        first.write_all(b"hello\nworld\n").await.unwrap();
        first.shutdown().await.unwrap();
        let mut all = String::new();
        first.read_to_string(&mut all).await.unwrap();
        out.push(format!("first client got {all:?}"));

        // Three at once, each on its own task.
        let mut clients = JoinSet::new();
        for id in 0..3 {
            clients.spawn(client(addr, id, 3));
        }
        let mut replies = clients.join_all().await;
        replies.sort();
        out.extend(replies);

        // An idle connection: a read with nothing to read times out, and
        // shutdown reaches it as "bye" then EOF.
        let idle = TcpStream::connect(addr).await.unwrap();
        let mut idle = BufReader::new(idle);
        idle.get_mut().write_all(b"ping\n").await.unwrap();
        let mut line = String::new();
        idle.read_line(&mut line).await.unwrap();
        out.push(format!("idle client got {line:?}"));
        line.clear();
        let waited = timeout(Duration::from_millis(20), idle.read_line(&mut line)).await;
        out.push(format!(
            "read with nothing sent timed out: {}",
            waited.is_err()
        ));

        stop_tx.send(true).unwrap();
        let mut rest = String::new();
        idle.read_to_string(&mut rest).await.unwrap();
        out.push(format!("idle client after shutdown got {rest:?}"));

        let (accepted, answered) = server.await.unwrap();
        out.push(format!(
            "server accepted {accepted}, answered {answered} lines"
        ));

        // A port that is bound but not listening refuses. (Not the closed
        // listener's port: another process may take it meanwhile.)
        let reserved = TcpSocket::new_v4().unwrap();
        reserved.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let refused = TcpStream::connect(reserved.local_addr().unwrap())
            .await
            .unwrap_err();
        out.push(format!(
            "connect to a port not listening refused: {}",
            refused.kind() == ErrorKind::ConnectionRefused
        ));
        out
    };
    timeout(Duration::from_secs(20), body)
        .await
        .expect("tcp_echo did not finish in 20 s")
}
