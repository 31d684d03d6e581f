// A server restarted in place, as a tokio user (and their tests) writes it:
// serve a connection, drop the listener, and the port is closed at once —
// a client connecting then is refused, and binding the same address again
// succeeds (SO_REUSEADDR, as tokio sets it for listeners) — then serve on
// the new listener.

use std::io::ErrorKind;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

/// One round trip: the client sends `word`, the server answers its length.
async fn round_trip(listener: &TcpListener, word: &str) -> String {
    let addr = listener.local_addr().unwrap();
    let (accepted, connected) = tokio::join!(listener.accept(), TcpStream::connect(addr));
    let (mut server, _) = accepted.unwrap();
    let mut client = connected.unwrap();
    client.write_all(word.as_bytes()).await.unwrap();
    client.shutdown().await.unwrap();
    let mut got = String::new();
    server.read_to_string(&mut got).await.unwrap();
    server
        .write_all(format!("{} bytes", got.len()).as_bytes())
        .await
        .unwrap();
    drop(server);
    let mut reply = String::new();
    client.read_to_string(&mut reply).await.unwrap();
    reply
}

#[tokio::main(flavor = "current_thread")]
pub async fn run() -> Vec<String> {
    let body = async {
        let mut out = Vec::new();
        let first = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = first.local_addr().unwrap();
        out.push(format!(
            "first listener: {}",
            round_trip(&first, "hello").await
        ));
        drop(first);

        match TcpStream::connect(addr).await {
            Err(e) => out.push(format!(
                "connect after drop refused: {}",
                e.kind() == ErrorKind::ConnectionRefused
            )),
            Ok(_) => out.push("connect after drop: connected".to_string()),
        }
        let second = match TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(e) => {
                out.push(format!("rebind the same address failed: {:?}", e.kind()));
                return out;
            }
        };
        out.push("rebound the same address".to_string());
        out.push(format!(
            "second listener: {}",
            round_trip(&second, "again!").await
        ));
        out
    };
    timeout(Duration::from_secs(20), body)
        .await
        .expect("listener_restart did not finish in 20 s")
}
