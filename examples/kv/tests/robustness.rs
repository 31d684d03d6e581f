//! The kv server against broken and hostile clients: each gets an error or
//! a closed connection, and the server keeps serving everyone else. Every
//! test runs the real binary (`kv --port 0`) and talks to it over loopback
//! with blocking std sockets; waits are for a condition the server reports
//! (its INFO counters), bounded, never a sleep that hopes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        Server::start_with(
            Command::new(env!("CARGO_BIN_EXE_kv"))
                .args(["--port", "0"])
                .args(args),
        )
    }

    fn start_with(cmd: &mut Command) -> Server {
        let mut child = cmd
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the kv binary");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .expect("kv prints its address");
        let port = line
            .split_whitespace()
            .nth(3)
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("kv said {line:?}"));
        Server { child, port }
    }

    fn connect(&self) -> Client {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to kv");
        // A safety net so a broken server fails the test instead of hanging it.
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Client {
            r: BufReader::new(s.try_clone().unwrap()),
            s,
        }
    }

    /// One INFO field, read by a fresh client; `None` if the server
    /// refused the client (it is at its client limit).
    fn try_info(&self, field: &str) -> Option<u64> {
        let mut c = self.connect();
        let text = c.cmd(&["INFO"]);
        if text == "-ERR max number of clients reached" {
            return None;
        }
        let v = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("INFO has no {field}: {text}"));
        Some(v)
    }

    fn info(&self, field: &str) -> u64 {
        self.try_info(field).expect("INFO was refused")
    }

    /// Waits (bounded) until INFO's `field` satisfies `ok`.
    fn wait_info(&self, field: &str, ok: impl Fn(u64) -> bool) -> u64 {
        let start = Instant::now();
        loop {
            let v = self.try_info(field);
            if let Some(v) = v.filter(|&v| ok(v)) {
                return v;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "INFO {field} stayed at {v:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Client {
    s: TcpStream,
    r: BufReader<TcpStream>,
}

impl Client {
    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("send to kv");
    }

    /// Sends a command as a RESP array and reads its reply.
    fn cmd(&mut self, args: &[&str]) -> String {
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        self.send(req.as_bytes());
        self.reply()
    }

    /// One reply: simple strings, errors and integers as their text, bulk
    /// strings as their payload, arrays as their items on lines.
    fn reply(&mut self) -> String {
        let mut line = String::new();
        self.r.read_line(&mut line).expect("a reply from kv");
        let line = line.trim_end_matches("\r\n");
        match line.split_at(1) {
            ("$", "-1") => "(nil)".into(),
            ("$", n) => {
                let mut b = vec![0; n.parse::<usize>().unwrap() + 2];
                self.r.read_exact(&mut b).unwrap();
                String::from_utf8_lossy(&b[..b.len() - 2]).into_owned()
            }
            ("*", n) => (0..n.parse::<usize>().unwrap())
                .map(|_| self.reply())
                .collect::<Vec<_>>()
                .join("\n"),
            ("-", e) => format!("-{e}"),
            (_, v) => v.to_owned(),
        }
    }

    /// True once the server has closed the connection (reads to EOF or a
    /// reset), after any replies it sent first.
    fn closed(&mut self) -> bool {
        let mut sink = Vec::new();
        match self.r.read_to_end(&mut sink) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

#[test]
fn malformed_requests_get_a_protocol_error_and_a_closed_connection() {
    let server = Server::start(&[]);
    let cases: &[(&[u8], &str)] = &[
        (b"*1\r\n$2\r\nabc\r\n", "bulk string not followed by CRLF"),
        (b"*x\r\n", "invalid multibulk length"),
        (b"*1\r\n:12\r\n", "expected '$'"),
        (b"*2\r\n$-5\r\n", "invalid bulk length"),
        (b"*\xff\xfe\r\n", "invalid multibulk length"),
        (b"SET \"unclosed\r\n", "unbalanced quotes"),
    ];
    for &(bytes, want) in cases {
        let mut c = server.connect();
        c.send(bytes);
        let r = c.reply();
        assert!(
            r.starts_with("-ERR Protocol error") && r.contains(want),
            "{bytes:?}: {r}"
        );
        assert!(c.closed(), "{bytes:?}: the connection stays open");
    }
    assert_eq!(server.connect().cmd(&["PING"]), "PONG");
    assert_eq!(server.info("protocol_errors"), cases.len() as u64);
}

#[test]
fn a_huge_bulk_length_is_refused_before_its_payload_is_sent() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    // 1 GiB declared; not one byte of it is sent: the answer comes at once.
    c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1073741824\r\n");
    let r = c.reply();
    assert!(r.contains("invalid bulk length"), "{r}");
    assert!(c.closed());
    // A request whose parts each fit but whose sum does not, likewise.
    let mut c = server.connect();
    c.send(b"*3\r\n$3\r\nSET\r\n$3000000\r\n");
    c.send(&vec![b'a'; 3_000_000]);
    c.send(b"\r\n$3000000\r\n");
    let r = c.reply();
    assert!(
        r.contains("request larger than the server's 4194304-byte limit"),
        "{r}"
    );
    assert!(c.closed());
}

#[test]
fn binary_garbage_as_an_inline_command_is_an_unknown_command_and_the_connection_goes_on() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    c.send(b"\x00\xff\x01garbage\x7f more\r\n");
    let r = c.reply();
    assert!(r.starts_with("-ERR unknown command"), "{r}");
    assert_eq!(c.cmd(&["PING"]), "PONG");
}

#[test]
fn a_client_that_disconnects_mid_command_is_forgotten() {
    let server = Server::start(&[]);
    for _ in 0..20 {
        let mut c = server.connect();
        c.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\nonly part of the value");
        c.s.shutdown(Shutdown::Both).unwrap();
    }
    // Only INFO's own client is left.
    server.wait_info("connected_clients", |n| n == 1);
    let mut c = server.connect();
    assert_eq!(
        c.cmd(&["GET", "k"]),
        "(nil)",
        "no half-received SET was applied"
    );
}

#[test]
fn a_request_that_trickles_in_slower_than_the_command_timeout_is_cut_off() {
    let server = Server::start(&["--command-timeout-ms", "300"]);
    let mut slow = server.connect();
    slow.send(b"*1\r\n$4\r\nPI");
    // Others are served while it dawdles.
    assert_eq!(server.connect().cmd(&["PING"]), "PONG");
    let r = slow.reply();
    assert!(r.contains("request not completed within 0.3s"), "{r}");
    assert!(slow.closed());
    assert_eq!(server.info("timed_out_connections"), 1);
    // An idle connection with nothing half-sent is not timed out.
    let mut idle = server.connect();
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(idle.cmd(&["PING"]), "PONG");
}

#[test]
fn a_client_that_never_reads_its_replies_is_disconnected_and_others_are_served() {
    let server = Server::start(&["--write-timeout-ms", "300"]);
    let mut setup = server.connect();
    let big = "x".repeat(1 << 20);
    assert_eq!(setup.cmd(&["SET", "big", &big]), "OK");
    let mut hog = server.connect();
    // 64 MiB of replies asked for, none read.
    let get = b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n".repeat(64);
    hog.send(&get);
    assert_eq!(server.connect().cmd(&["PING"]), "PONG");
    server.wait_info("timed_out_connections", |n| n == 1);
    server.wait_info("connected_clients", |n| n == 2); // INFO's and `setup`
    assert_eq!(setup.cmd(&["GET", "missing"]), "(nil)");
}

#[test]
fn connections_over_maxclients_are_refused_with_an_error() {
    let server = Server::start(&["--maxclients", "2"]);
    let mut a = server.connect();
    let mut b = server.connect();
    assert_eq!(a.cmd(&["PING"]), "PONG");
    assert_eq!(b.cmd(&["PING"]), "PONG");
    let mut c = server.connect();
    assert_eq!(c.reply(), "-ERR max number of clients reached");
    assert!(c.closed());
    drop(a);
    // The freed place is usable (INFO itself needs it).
    assert_eq!(server.wait_info("connected_clients", |n| n == 2), 2);
    assert_eq!(b.cmd(&["PING"]), "PONG");
}

#[test]
fn the_listener_survives_running_out_of_descriptors() {
    // 64 descriptors for the whole server process: a few go to the runtime
    // (epoll or rings, eventfds, the listener), the rest to clients.
    let server = Server::start_with(Command::new("sh").args([
        "-c",
        &format!("ulimit -n 64 && exec {} --port 0", env!("CARGO_BIN_EXE_kv")),
    ]));
    let mut clients: Vec<Client> = Vec::new();
    // The kernel completes every handshake (backlog); the server accepts
    // until EMFILE, then waits and retries.
    for _ in 0..100 {
        clients.push(server.connect());
    }
    let served_before = clients
        .iter_mut()
        .take(20)
        .map(|c| c.cmd(&["PING"]))
        .filter(|r| r == "PONG")
        .count();
    assert_eq!(served_before, 20, "the first clients are served");
    // The last ones are waiting in the backlog. Free the first 60.
    let mut late = clients.split_off(60);
    drop(clients);
    for c in late.iter_mut() {
        assert_eq!(
            c.cmd(&["PING"]),
            "PONG",
            "a client accepted once descriptors freed up"
        );
    }
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let mut server = Server::start(&[]);
    let mut c = server.connect();
    assert_eq!(c.cmd(&["SET", "k", "v"]), "OK");
    // SAFETY: kill(2) on our own child's pid.
    let rc = unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    // The connection is closed by the shutdown, and the process exits 0.
    assert!(c.closed());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn subscribers_receive_what_is_published_and_are_held_to_pubsub_commands() {
    let server = Server::start(&[]);
    let mut sub = server.connect();
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "news", "sport"]),
        "subscribe\nnews\n1"
    );
    assert_eq!(sub.reply(), "subscribe\nsport\n2");
    let mut publisher = server.connect();
    assert_eq!(publisher.cmd(&["PUBLISH", "news", "hello"]), "1");
    assert_eq!(publisher.cmd(&["PUBLISH", "weather", "rain"]), "0");
    assert_eq!(sub.reply(), "message\nnews\nhello");
    let r = sub.cmd(&["GET", "k"]);
    assert!(r.starts_with("-ERR Can't execute 'get'"), "{r}");
    assert_eq!(sub.cmd(&["PING"]), "pong\n");
    assert_eq!(sub.cmd(&["UNSUBSCRIBE", "news"]), "unsubscribe\nnews\n1");
    assert_eq!(publisher.cmd(&["PUBLISH", "news", "again"]), "0");
    assert_eq!(sub.cmd(&["UNSUBSCRIBE"]), "unsubscribe\nsport\n0");
    // Out of subscribed mode, ordinary commands work again.
    assert_eq!(sub.cmd(&["GET", "k"]), "(nil)");
    server.wait_info("pubsub_channels", |n| n == 0);
}
