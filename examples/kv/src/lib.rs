//! A Redis-protocol (RESP2) key-value server, written as a tokio user would
//! write it, running on perf_runtime — or, built with
//! `--features tokio-baseline`, on tokio from the same source (only
//! [`rt`] differs).
//!
//! Commands: `PING`, `ECHO`, `GET`, `SET` (`EX`/`PX`/`NX`/`XX`/`GET`/
//! `KEEPTTL`), `DEL`, `EXISTS`, `INCR`/`DECR`/`INCRBY`/`DECRBY`,
//! `EXPIRE`/`PEXPIRE` (`NX`/`XX`/`GT`/`LT`), `TTL`/`PTTL`, `MGET`, `MSET`,
//! `PUBLISH`, `SUBSCRIBE`/`UNSUBSCRIBE`, `KEYS`, `DBSIZE`, `FLUSHALL`,
//! `SELECT 0`, `INFO` (with the runtime's own figures), `CONFIG GET`
//! (answers an empty list, for redis-benchmark) and `QUIT`.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! kv::rt::block_on(async {
//!     let listener = kv::rt::net::TcpListener::bind("127.0.0.1:6379").await?;
//!     kv::serve(listener, kv::Config::default(), std::future::pending()).await
//! })?
//! # }
//! ```

pub mod cmd;
pub mod pubsub;
pub mod resp;
pub mod rt;
pub mod server;
pub mod store;

pub use server::{serve, Config};
