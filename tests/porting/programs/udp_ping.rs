// Datagrams as a tokio user writes them: a UDP responder on an ephemeral
// loopback port that answers until a broadcast shutdown (select!), a
// connected client (send/recv) and an unconnected one (send_to/recv_from),
// the edges a port meets (a short buffer truncates, peek leaves the
// datagram, try_recv on an empty socket would block), and a UnixDatagram
// pair. Loopback only, every wait bounded by timeout.

use std::io::ErrorKind;
use std::time::Duration;
use tokio::net::{UdpSocket, UnixDatagram};
use tokio::sync::broadcast;
use tokio::time::timeout;

/// Answers "ping N" with "pong N" until told to stop; returns how many it
/// answered.
async fn responder(socket: UdpSocket, mut stop: broadcast::Receiver<()>) -> usize {
    let mut buf = [0u8; 64];
    let mut answered = 0;
    loop {
        tokio::select! {
            _ = stop.recv() => break,
            res = socket.recv_from(&mut buf) => {
                let (n, peer) = res.unwrap();
                let text = std::str::from_utf8(&buf[..n]).unwrap();
                let reply = text.replace("ping", "pong");
                socket.send_to(reply.as_bytes(), peer).await.unwrap();
                answered += 1;
            }
        }
    }
    answered
}

#[tokio::main(flavor = "current_thread")]
pub async fn run() -> Vec<String> {
    let body = async {
        let mut out = Vec::new();
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let (stop_tx, stop_rx) = broadcast::channel(1);
        let responder = tokio::spawn(responder(server, stop_rx));

        // Connected: send/recv, the peer fixed by connect.
        let connected = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        connected.connect(server_addr).await.unwrap();
        out.push(format!(
            "peer is the responder: {}",
            connected.peer_addr().unwrap() == server_addr
        ));
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        for n in 0..3 {
            connected
                .send(format!("ping {n}").as_bytes())
                .await
                .unwrap();
            let len = connected.recv(&mut buf).await.unwrap();
            got.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
        out.push(format!("connected client got {got:?}"));

        // Unconnected: send_to/recv_from, the sender named on each datagram.
        let loose = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        loose.send_to(b"ping 9", server_addr).await.unwrap();
        let (len, from) = loose.recv_from(&mut buf).await.unwrap();
        out.push(format!(
            "unconnected client got {:?} from the responder: {}",
            String::from_utf8_lossy(&buf[..len]),
            from == server_addr
        ));

        stop_tx.send(()).unwrap();
        out.push(format!("responder answered {}", responder.await.unwrap()));

        // The edges: a short buffer, peek, an empty socket.
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b_addr = b.local_addr().unwrap();
        a.send_to(&[7u8; 100], b_addr).await.unwrap();
        a.send_to(b"second", b_addr).await.unwrap();
        let mut short = [0u8; 16];
        let len = b.recv(&mut short).await.unwrap();
        out.push(format!("100-byte datagram into 16 bytes: {len}"));
        let (len, from) = b.peek_from(&mut buf).await.unwrap();
        out.push(format!(
            "peeked {:?} from a: {}",
            String::from_utf8_lossy(&buf[..len]),
            from == a.local_addr().unwrap()
        ));
        let len = b.recv(&mut buf).await.unwrap();
        out.push(format!(
            "then received {:?}",
            String::from_utf8_lossy(&buf[..len])
        ));
        let empty = b.try_recv(&mut buf).unwrap_err();
        out.push(format!(
            "try_recv on an empty socket would block: {}",
            empty.kind() == ErrorKind::WouldBlock
        ));
        let waited = timeout(Duration::from_millis(20), b.recv(&mut buf)).await;
        out.push(format!(
            "recv with nothing sent timed out: {}",
            waited.is_err()
        ));

        // A Unix datagram pair: unnamed on both ends, messages kept whole.
        let (left, right) = UnixDatagram::pair().unwrap();
        out.push(format!(
            "unix pair unnamed: {}",
            left.local_addr().unwrap().is_unnamed()
        ));
        left.send(b"one").await.unwrap();
        left.send(b"two two").await.unwrap();
        let mut got = Vec::new();
        for _ in 0..2 {
            let len = right.recv(&mut buf).await.unwrap();
            got.push(String::from_utf8_lossy(&buf[..len]).into_owned());
        }
        out.push(format!("unix pair got {got:?}"));
        out
    };
    timeout(Duration::from_secs(20), body)
        .await
        .expect("udp_ping did not finish in 20 s")
}
