//! `compare io`: TCP echo served by perf_runtime (io_uring and epoll) and by
//! tokio, driven by one load generator, each in its own process.
//!
//! The server process runs one runtime with 1 worker, pinned to the first
//! allowed CPU; the load generator runs in another process pinned to the
//! second CPU (one thread multiplexing every connection, the same for every
//! row, so it favours neither runtime). Each connection sends a 1 KiB message and waits for the
//! echo before the next one (closed loop); the generator counts round
//! trips per second and records every round trip's latency. Rows alternate
//! the three servers, `rounds` times, and report medians over the rounds.

use crate::json::{number as json_num, string as json_str};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// Hidden subcommand: run an echo server.
pub const SERVER: &str = "__io-server";
/// Hidden subcommand: run the load generator.
pub const CLIENT: &str = "__io-client";

const MSG: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    PerfUring,
    /// io_uring with the owned-buffer API (`read_owned`/`write_all_owned`:
    /// `RECV`/`SEND` operations, no readiness round trip).
    PerfUringOwned,
    PerfEpoll,
    Tokio,
}

impl Server {
    /// The server runtime both benchmarks use on perf_runtime's side: one
    /// worker, this backend, validation off (tokio has none).
    pub(crate) fn perf_server_runtime(self) -> perf_runtime::runtime::Runtime {
        perf_runtime::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .io_driver(self.perf_driver())
            .validation(perf_runtime::validation::Mode::Off)
            .build()
            .expect("perf_runtime server runtime")
    }

    fn perf_driver(self) -> perf_runtime::runtime::IoDriver {
        match self {
            Server::PerfUring | Server::PerfUringOwned => perf_runtime::runtime::IoDriver::Uring,
            _ => perf_runtime::runtime::IoDriver::Epoll,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Server::PerfUring => "perf-uring",
            Server::PerfUringOwned => "perf-uring-owned",
            Server::PerfEpoll => "perf-epoll",
            Server::Tokio => "tokio",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Server> {
        [
            Server::PerfUring,
            Server::PerfUringOwned,
            Server::PerfEpoll,
            Server::Tokio,
        ]
        .into_iter()
        .find(|x| x.name() == s)
    }
}

fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is valid; sched_getaffinity fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above, for the calling process.
    unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&c| {
            // SAFETY: reading a bit of an initialised set, `c` in range.
            unsafe { libc::CPU_ISSET(c, &set) }
        })
        .collect()
}

pub(crate) fn pin_process(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is valid; CPU_SET and sched_setaffinity
    // take it by pointer.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The server subcommand: `__io-server <kind> <cpu>`; prints the port, then
/// serves until stdin closes.
pub fn server_main(args: &[String]) -> ExitCode {
    let (Some(kind), Some(cpu)) = (
        args.first().and_then(|s| Server::parse(s)),
        args.get(1).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: {SERVER} perf-uring|perf-uring-owned|perf-epoll|tokio CPU");
        return ExitCode::from(2);
    };
    pin_process(cpu);
    exit_when_stdin_closes();
    match kind {
        Server::PerfUring | Server::PerfUringOwned | Server::PerfEpoll => {
            let owned = kind == Server::PerfUringOwned;
            let rt = kind.perf_server_runtime();
            rt.block_on(async {
                let l = perf_runtime::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .unwrap();
                println!("{}", l.local_addr().unwrap().port());
                loop {
                    let (s, _) = l.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    if owned {
                        perf_runtime::spawn(echo_owned(s));
                    } else {
                        perf_runtime::spawn(echo(s));
                    }
                }
            })
        }
        Server::Tokio => {
            let rt = tokio_server_runtime();
            rt.block_on(async {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                println!("{}", l.local_addr().unwrap().port());
                loop {
                    let (s, _) = l.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    tokio::spawn(echo(s));
                }
            })
        }
    }
}

/// The server runtime on tokio's side: one worker, drivers on.
pub(crate) fn tokio_server_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("tokio server runtime")
}

/// One connection of the echo server, the same code on both runtimes (they
/// share tokio's I/O traits).
async fn echo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(mut s: S) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; MSG];
    loop {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if s.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One connection of the echo server written with perf_runtime's
/// owned-buffer API, the way an io_uring user writes it.
async fn echo_owned(s: perf_runtime::net::TcpStream) {
    let mut buf = Vec::with_capacity(MSG);
    loop {
        let (res, b) = s.read_owned(buf).await;
        let n = match res {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut b = b;
        b.truncate(n);
        let (res, mut b) = s.write_all_owned(b).await;
        if res.is_err() {
            return;
        }
        b.clear();
        buf = b;
    }
}

/// Exits the process when the parent closes our stdin.
pub(crate) fn exit_when_stdin_closes() {
    std::thread::spawn(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        std::process::exit(0);
    });
}

/// The client subcommand: `__io-client <port> <conns> <ms> <cpu> [<count>]`;
/// prints `<round trips per second> <p50 ns> <p99 ns>`. With `count`, each
/// connection makes exactly `count` round trips and `ms` is ignored (the
/// fixed-count mode of benches/io_instructions.sh, which differences the
/// server's instruction counts of two such runs).
pub fn client_main(args: &[String]) -> ExitCode {
    let nums: Vec<u64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let (port, conns, ms, cpu, count) = match nums[..] {
        [port, conns, ms, cpu] => (port, conns, ms, cpu, None),
        [port, conns, ms, cpu, count] => (port, conns, ms, cpu, Some(count)),
        _ => {
            eprintln!("usage: {CLIENT} PORT CONNS MS CPU [COUNT]");
            return ExitCode::from(2);
        }
    };
    pin_process(cpu as usize);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // One thread multiplexes every connection (a tokio current_thread
    // runtime, the same generator for every row): each connection runs a
    // closed loop of send 1 KiB, read the echo.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the load generator's runtime");
    let deadline = Duration::from_millis(ms);
    let start = Instant::now();
    let all_lat = rt.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tasks = Vec::new();
        for _ in 0..conns {
            tasks.push(tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr)
                    .await
                    .expect("connect to the server");
                s.set_nodelay(true).unwrap();
                let msg = vec![7u8; MSG];
                let mut back = vec![0u8; MSG];
                let mut lat = Vec::with_capacity(1 << 16);
                let more = |done: usize| match count {
                    Some(n) => (done as u64) < n,
                    None => start.elapsed() < deadline,
                };
                while more(lat.len()) {
                    let t = Instant::now();
                    s.write_all(&msg).await.unwrap();
                    s.read_exact(&mut back).await.unwrap();
                    lat.push(t.elapsed().as_nanos() as u64);
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let elapsed = start.elapsed();
    let mut all = all_lat;
    all.sort_unstable();
    let p = |q: f64| all[((all.len() as f64 - 1.0) * q) as usize];
    let rps = all.len() as f64 / elapsed.as_secs_f64();
    println!("{rps:.0} {} {}", p(0.5), p(0.99));
    ExitCode::SUCCESS
}

#[derive(Clone)]
struct RunResult {
    rps: f64,
    p50: f64,
    p99: f64,
}

fn start_server(exe: &std::path::Path, sub: &str, kind: Server, cpu: usize) -> (Child, u16) {
    let mut child = Command::new(exe)
        .args([sub, kind.name(), &cpu.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the server process");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .expect("the server's port");
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("server said {line:?}"));
    (child, port)
}

/// One HTTP round: the hyper server of `kind`, driven by wrk.
fn run_http_once(
    exe: &std::path::Path,
    kind: Server,
    conns: usize,
    ms: u64,
    cpus: &[usize],
) -> Result<RunResult, String> {
    let (mut server, port) = start_server(exe, crate::http::SERVER, kind, cpus[0]);
    let res = crate::http::wrk(port, conns, ms, cpus[1 % cpus.len()]);
    drop(server.stdin.take());
    let _ = server.wait();
    let (rps, p50, p99) = res?;
    Ok(RunResult { rps, p50, p99 })
}

fn run_once(
    exe: &std::path::Path,
    kind: Server,
    conns: usize,
    ms: u64,
    cpus: &[usize],
) -> RunResult {
    let (mut server, port) = start_server(exe, SERVER, kind, cpus[0]);
    let out = Command::new(exe)
        .args([
            CLIENT.to_string(),
            port.to_string(),
            conns.to_string(),
            ms.to_string(),
            cpus[1 % cpus.len()].to_string(),
        ])
        .output()
        .expect("run the load generator");
    drop(server.stdin.take());
    let _ = server.wait();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Vec<f64> = text
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    assert!(
        v.len() == 3,
        "the load generator said {text:?} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    RunResult {
        rps: v[0],
        p50: v[1],
        p99: v[2],
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// `compare io [--json] [--rounds N] [--ms N] [--conns LIST] [--no-http]`.
pub fn main(args: &[String]) -> ExitCode {
    let mut json = false;
    let mut http = true;
    let mut rounds = 3usize;
    let mut ms = 2000u64;
    let mut conns = vec![1usize, 16, 64];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json = true,
            "--no-http" => http = false,
            "--rounds" => {
                rounds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or(rounds)
            }
            "--ms" => {
                ms = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or(ms)
            }
            "--conns" => {
                conns = it
                    .next()
                    .map(|v| v.split(',').filter_map(|x| x.parse().ok()).collect())
                    .unwrap_or(conns)
            }
            other => {
                eprintln!("compare io: unknown argument `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    let exe = std::env::current_exe().expect("own path");
    let cpus = allowed_cpus();
    if !json {
        println!(
            "TCP echo, 1 KiB messages, closed loop; server: 1 worker pinned to CPU {}, load \
             generator pinned to CPU {}; {rounds} rounds of {ms} ms per row, medians",
            cpus[0],
            cpus[1 % cpus.len()]
        );
        println!(
            "{:<16} {:>12} {:>12} {:>8} {:>12} {:>12} {:>8}",
            "bench", "perf rps", "tokio rps", "ratio", "perf p99", "tokio p99", "ratio"
        );
    }
    let mut rows: Vec<(&str, usize)> = conns.iter().map(|&c| ("echo", c)).collect();
    if http {
        rows.push(("http", 64));
    }
    for (what, c) in rows {
        // The owned-buffer API is an echo-server choice; hyper reads
        // through the tokio traits.
        let kinds: &[(Server, &str)] = if what == "http" {
            &[(Server::PerfUring, "uring"), (Server::PerfEpoll, "epoll")]
        } else {
            &[
                (Server::PerfUring, "uring"),
                (Server::PerfUringOwned, "uring_owned"),
                (Server::PerfEpoll, "epoll"),
            ]
        };
        let mut res: Vec<Vec<RunResult>> = vec![Vec::new(); kinds.len() + 1];
        for _ in 0..rounds {
            let all = kinds.iter().map(|&(k, _)| k).chain([Server::Tokio]);
            for (i, kind) in all.enumerate() {
                let r = if what == "http" {
                    match run_http_once(&exe, kind, c, ms, &cpus) {
                        Ok(r) => r,
                        Err(e) => {
                            eprintln!("compare io: {e}");
                            return ExitCode::from(3);
                        }
                    }
                } else {
                    run_once(&exe, kind, c, ms, &cpus)
                };
                res[i].push(r);
            }
        }
        let t = kinds.len();
        let med = |i: usize, f: fn(&RunResult) -> f64| median(res[i].iter().map(f).collect());
        let tokio_rps = med(t, |r| r.rps);
        let tokio_p99 = med(t, |r| r.p99);
        for (i, &(_, tag)) in kinds.iter().enumerate() {
            let rps = med(i, |r| r.rps);
            let p99 = med(i, |r| r.p99);
            let bench = format!("{what}_{c}_{tag}");
            if json {
                println!(
                    "{{\"bench\":{},\"perf_rps\":{},\"tokio_rps\":{},\"ratio_rps\":{},\"perf_p50_ns\":{},\"tokio_p50_ns\":{},\"perf_p99_ns\":{},\"tokio_p99_ns\":{},\"ratio_p99\":{}}}",
                    json_str(&bench),
                    json_num(rps),
                    json_num(tokio_rps),
                    json_num(rps / tokio_rps),
                    json_num(med(i, |r| r.p50)),
                    json_num(med(t, |r| r.p50)),
                    json_num(p99),
                    json_num(tokio_p99),
                    json_num(p99 / tokio_p99)
                );
            } else {
                println!(
                    "{:<16} {:>12.0} {:>12.0} {:>7.3}x {:>10.1}us {:>10.1}us {:>7.3}x",
                    bench,
                    rps,
                    tokio_rps,
                    rps / tokio_rps,
                    p99 / 1e3,
                    tokio_p99 / 1e3,
                    p99 / tokio_p99
                );
            }
        }
    }
    ExitCode::SUCCESS
}
