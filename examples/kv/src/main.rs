//! `kv`: the Redis-protocol server of this crate.
//!
//! ```text
//! cargo run --release -p kv -- --port 6379               # on perf_runtime
//! cargo run --release -p kv --features tokio-baseline    # the same server on tokio
//! redis-cli -p 6379 set greeting hello
//! ```
//!
//! Options: `--bind ADDR` (default 127.0.0.1), `--port N` (default 6379;
//! 0 picks a free port), `--maxclients N`, `--max-request-bytes N`,
//! `--command-timeout-ms N`, `--write-timeout-ms N`. The first line on
//! stdout is `kv listening on ADDR (RUNTIME)`. SIGTERM or ctrl-c stops it
//! gracefully.

use kv::rt;
use std::process::ExitCode;
use std::time::Duration;

fn usage(msg: &str) -> ExitCode {
    eprintln!(
        "kv: {msg}\nusage: kv [--bind ADDR] [--port N] [--maxclients N] [--max-request-bytes N] \
         [--command-timeout-ms N] [--write-timeout-ms N]"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut config = kv::Config::default();
    let mut bind = "127.0.0.1".to_owned();
    let mut port = 6379u16;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let Some(v) = args.next() else {
            return usage(&format!("`{a}` needs a value"));
        };
        let num = |what: &str| -> Result<u64, ExitCode> {
            v.parse::<u64>()
                .map_err(|_| usage(&format!("{what} takes a whole number, not `{v}`")))
        };
        let r = match a.as_str() {
            "--bind" => {
                bind = v.clone();
                Ok(())
            }
            "--port" => match v.parse() {
                Ok(p) => {
                    port = p;
                    Ok(())
                }
                Err(_) => Err(usage(&format!("--port takes 0..65535, not `{v}`"))),
            },
            "--maxclients" => num(&a).map(|n| config.max_clients = n as usize),
            "--max-request-bytes" => num(&a).map(|n| config.limits.max_request_bytes = n as usize),
            "--command-timeout-ms" => {
                num(&a).map(|n| config.command_timeout = Duration::from_millis(n))
            }
            "--write-timeout-ms" => {
                num(&a).map(|n| config.write_timeout = Duration::from_millis(n))
            }
            other => Err(usage(&format!("unknown option `{other}`"))),
        };
        if let Err(code) = r {
            return code;
        }
    }
    let result = rt::block_on(async move {
        let listener = rt::net::TcpListener::bind((bind.as_str(), port))
            .await
            .map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot listen on {bind}:{port}: {e}"))
            })?;
        println!("kv listening on {} ({})", listener.local_addr()?, rt::NAME);
        let mut term = rt::signal::unix::signal(rt::signal::unix::SignalKind::terminate())?;
        let stop = async move {
            rt::select! {
                _ = rt::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        };
        kv::serve(listener, config, stop).await
    });
    match result {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) | Err(e) => {
            eprintln!("kv: {e}");
            ExitCode::FAILURE
        }
    }
}
