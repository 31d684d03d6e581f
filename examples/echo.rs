//! A TCP echo server, written as a tokio user writes one: a listener and a
//! task per connection.
//!
//! ```sh
//! cargo run --release --example echo                 # serves on 127.0.0.1:7878
//! cargo run --release --example echo -- 0.0.0.0:9000
//! cargo run --release --example echo -- --metrics 127.0.0.1:9464   # and /metrics
//! PERF_RUNTIME_IO=epoll cargo run --release --example echo   # force a backend
//! ```
//!
//! Try it with `nc 127.0.0.1 7878`. The porting diff from tokio is the crate
//! name: `tokio::` → `perf_runtime::`.

use perf_runtime::io::{AsyncReadExt, AsyncWriteExt};
use perf_runtime::net::TcpListener;

#[perf_runtime::main]
async fn main() -> std::io::Result<()> {
    let _metrics = perf_runtime::metrics::serve_from_args()?;
    if let Some(m) = &_metrics {
        println!("echo: metrics on http://{}/metrics", m.local_addr());
    }
    let addr = perf_runtime::metrics::args_without_metrics()
        .into_iter()
        .next()
        .unwrap_or_else(|| "127.0.0.1:7878".into());
    let listener = TcpListener::bind(&addr).await?;
    let backend = perf_runtime::runtime::Handle::current()
        .io_backend()
        .map_or_else(|| "none".into(), |b| b.to_string());
    println!("echo: listening on {} ({backend})", listener.local_addr()?);
    loop {
        let (mut socket, peer) = listener.accept().await?;
        perf_runtime::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                let n = match socket.read(&mut buf).await {
                    Ok(0) => return,
                    Ok(n) => n,
                    Err(e) => {
                        eprintln!("echo: {peer}: {e}");
                        return;
                    }
                };
                if let Err(e) = socket.write_all(&buf[..n]).await {
                    eprintln!("echo: {peer}: {e}");
                    return;
                }
            }
        });
    }
}
