//! Shared benchmark code: the runtime abstraction, the workloads and the
//! statistics used by the `compare` binary and the criterion benches.

pub mod rt;
pub mod stats;
pub mod workloads;
