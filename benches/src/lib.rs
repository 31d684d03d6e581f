//! Shared benchmark code: the runtime abstraction, the workloads and the
//! statistics used by the `compare` binary and the criterion benches.

pub mod container;
pub mod http;
pub mod io;
pub mod json;
pub mod qos;
pub mod rt;
pub mod spin;
pub mod stats;
pub mod sync;
pub mod timers;
pub mod workloads;
