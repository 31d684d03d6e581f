//! perf_validation: the detection engine behind perf_runtime's sync
//! primitives.
//!
//! It finds lock-order inversions before they deadlock, double locks and
//! recursive reads, hierarchy violations, actual wait-for deadlocks across
//! locks, semaphores and channels, waits nothing can end, and misused
//! atomics — for tasks (a guard held across `.await` stays
//! with its task) as well as threads, cheaply enough to leave on in
//! production. It knows nothing about tasks or I/O: a runtime installs a
//! [`ContextHook`] that says which task is running, and everything works
//! without one (every context is then a thread).
//!
//! # A report is a bug
//!
//! A violation is raised only when a reviewer would agree the program is
//! wrong; a detector that reports correct code gets switched off. Every kind
//! is held to it:
//!
//! - a lock order is reported when it can deadlock: classes taken in orders
//!   that form a cycle, or an explicit [`Level`] or [`Nesting`] broken;
//! - a wait is reported when it can never end: it closes a cycle of the
//!   wait-for graph (`Deadlock`), or every task of its runtime is blocked,
//!   with nothing runnable and no timer, I/O or blocking job pending, for
//!   the stall threshold (`ChannelStall`, `WaitStall`, `AllTasksBlocked`);
//! - **timing alone never makes a violation.** A wait that has lasted
//!   longer than the stall threshold without progress is a *slow wait*: an
//!   advisory `tracing` event (target `perf_validation::slow_wait`, level
//!   `INFO`, with the site and how long) counted by [`slow_waits`], never
//!   recorded for [`take_reports`], never a panic. A service idle for five
//!   seconds is not stuck;
//! - tokio idioms are never reported: dropping a receiver with messages
//!   queued, dropping a sender unsent to cancel (the oneshot receiver gets
//!   `RecvError`), a broadcast message nobody reads, a receiver that gave up
//!   under a timeout, an idle consumer.
//!
//! # Modes
//!
//! [`Mode::Off`] tracks nothing (each hook is one load). [`Mode::Report`],
//! the default, records each distinct violation once (see [`take_reports`]),
//! counts it ([`count`]) and logs it through `tracing::warn!` (target
//! `perf_validation`, with the JSON form in the `json` field).
//! [`Mode::Panic`] also panics with the report where it was detected — for
//! tests. The mode is process-wide ([`set_mode`]) with a per-thread override
//! ([`set_thread_mode`]) a runtime sets on its workers; `PERF_RUNTIME_VALIDATION=
//! off|report|panic` is read by [`Mode::from_env`], which perf_runtime
//! applies over its configuration and to the process-wide mode when it
//! builds a runtime.
//!
//! # A first report
//!
//! Two threads taking two locks in opposite orders is reported the first
//! time the second order is seen — here without any deadlock happening:
//!
//! ```
//! use perf_validation::{take_reports_matching, Access, LockKind, LockMeta, ViolationKind};
//!
//! let a = LockMeta::new(LockKind::Mutex);
//! let b = LockMeta::new(LockKind::Mutex);
//! {
//!     let _ga = a.acquire(Access::Exclusive);
//!     let _gb = b.acquire(Access::Exclusive); // a, then b
//! }
//! {
//!     let _gb = b.acquire(Access::Exclusive);
//!     let _ga = a.acquire(Access::Exclusive); // b, then a: reported now
//! }
//! let reports = take_reports_matching(|v| v.mentions(file!(), line!() - 2));
//! assert_eq!(reports.len(), 1);
//! assert_eq!(reports[0].kind(), ViolationKind::LockOrderInversion);
//! println!("{}", reports[0]);
//! ```
//!
//! # Reading a report
//!
//! A report's `Display` follows Linux lockdep:
//!
//! ```text
//! ======================================================================
//! WARNING: possible deadlock: lock-order inversion [LockOrderInversion]
//! ----------------------------------------------------------------------
//! thread "b" acquires `accounts` at src/bank.rs:31:9 while holding `ledger` (from
//! src/bank.rs:30:9), but `accounts` was taken before `ledger` elsewhere (first by
//! thread "a"): the two orders form a cycle
//!
//! thread "b" takes the new order:
//!   holds `ledger`, at src/bank.rs:30:9
//!   acquires `accounts`, at src/bank.rs:31:9
//!
//! thread "a" took `accounts` before `ledger`:
//!   held `accounts`, at src/bank.rs:20:9
//!   acquired `ledger`, at src/bank.rs:21:9
//!
//! the existing dependency chain it closes:
//!   -> `accounts` -> `ledger` (first seen in thread "a"), at src/bank.rs:21:9
//!
//! possible unsafe scenario:
//!
//!        thread "a"                  thread "b"
//!        ----------                  ----------
//!        lock(`accounts`)
//!                                    lock(`ledger`)
//!                                    lock(`accounts`)  <- waits
//!        lock(`ledger`)  <- waits
//!
//!  *** DEADLOCK ***
//!
//! fix: take `accounts` and `ledger` in one order everywhere — here `accounts`
//! before `ledger`, as at src/bank.rs:21:9 — or give both classes a Level so the
//! order is enforced
//! ======================================================================
//! ```
//!
//! The summary line says what happened; then each side — the context (task
//! name and id, or thread) and the sites of what it did; for an inversion,
//! the existing chain of orders the new acquisition closes into a cycle;
//! the interleaving that hangs, one column per side; and one line saying
//! what to change. [`Violation`] exposes the same parts ([`Violation::kind`],
//! [`Violation::sides`], [`Violation::sites`], [`Violation::advice`]) and
//! [`Violation::to_json`] writes them as one JSON object.
//!
//! # Lock classes
//!
//! Locks are ordered by *class*: by default the site that created the lock
//! (all locks created on one line are one class), or an explicit
//! [`LockClass`] declared as a static, optionally with a [`Level`] (levels
//! must increase along a chain of held locks) and a [`Nesting`] rule (lock
//! striping: instances of the class may nest in address or key order).
//!
//! Locks of one class that nest are ordered by *instance*: taking them in a
//! consistent order — lowest index first, hand-over-hand down a list — is
//! silent with no annotation, and a report comes only when two instances
//! are taken in both orders (or a longer ring of instances closes). The
//! instance graph keeps live instances only (a lock's drop removes its
//! node and edges): about 150 bytes per lock that nested, measured by
//! `cargo run --release -p perf-validation --example instance_memory`.
//! `Nesting` and `Level` remain as stricter declarations.
//!
//! # The fast path
//!
//! An acquisition that holds nothing else is a mode load, a context lookup
//! and a push. With locks held, the engine hashes the chain of held classes
//! plus the new class and looks the hash up in a per-thread cache of
//! validated chains (backed by a global set): a chain validated once is not
//! validated again, so steady-state cost is a few loads and a compare. Only
//! a new chain takes the cold path (double-lock, hierarchy and cycle checks
//! on the lock-order graph, with incremental cycle detection).
//!
//! A wait is recorded in its own context's state: its first wait outside
//! the wait-for graph in a lock-free slot, others under a lock only that
//! context normally takes. Only a wait that can be part of a cycle (its
//! context holds a lock or permits, or has a channel role) publishes what
//! its context holds and raises a hint, and a wait searches the graph only
//! when a hint says whom it waits for is waiting too. A lock wait by a
//! context that holds nothing records just a counter and flags on its held
//! entry, so a contended lock costs the engine a few nanoseconds.
//!
//! `cargo run --release -p perf-validation --example fastpath` measures the
//! inline cost. On the 2-core development machine (2026-11-27 09:06): an
//! acquire plus its release costs about 4.4 ns in a task holding nothing
//! else, 6.9 ns with a cached chain, 8.2–9.6 ns on a thread or through the
//! hook alone, 0.8 ns in `Off` mode, against 4.4 ns for an uncontended
//! `std::sync::Mutex` lock/unlock. A lock wait by a task holding nothing
//! adds about 8 ns, one while holding a lock about 90 ns; a oneshot with
//! one receive wait costs about 18 ns.
//!
//! Inside a task the held stack lives behind the task's [`TaskSlot`], which
//! the runtime names around each poll ([`swap_current_task`]); the
//! alternative — a sharded map from task id to state — costs about 11 ns
//! per lookup, two lookups per acquire/release.
//!
//! # For primitive authors
//!
//! A lock embeds a [`LockMeta`], calls [`LockMeta::acquire`] before trying
//! and keeps the [`Held`] token in its guard; a wait calls
//! [`LockMeta::wait`], keeps the [`Waiting`] guard until it ends, and calls
//! [`Held::acquired`] once the lock is obtained (the common wait, by a
//! context holding nothing else, is counted by the token's entry and its
//! guard is empty). A
//! channel embeds a [`ChannelMeta`]; each sender keeps a [`SenderClaim`].
//! `Notify`, `Barrier` and `watch` embed a [`WaitMeta`]. `time::timeout`
//! polls its future inside a [`timed_scope`].
//!
//! An async primitive's `lock()`, `recv()` or `notified()` is a
//! `#[track_caller]` function returning a future: it captures the user's
//! site when called, and the future, which acquires and waits only when
//! polled, passes that site to the `*_at` variants
//! ([`LockMeta::acquire_at`], [`LockMeta::wait_at`],
//! [`ChannelMeta::recv_wait_at`], [`WaitMeta::wait_at`], ...), since
//! `#[track_caller]` does not reach through `poll`.
//!
//! # For the runtime
//!
//! Install a [`ContextHook`] once ([`set_context_hook`]) that returns the
//! task being polled on the calling thread as a [`TaskRef`] (its id and the
//! [`TaskSlot`] kept in its header), set each worker's mode with
//! [`set_thread_mode`], call [`scan`] periodically from the watchdog (with
//! [`set_stall_threshold`] from the builder) for the slow-wait advisories,
//! and hand in [`report_long_poll`] and [`report_all_tasks_blocked`] (which
//! also reports each blocked task's waits as stuck). Those three run
//! on the runtime's threads, so they record and log but never panic; they
//! return their reports for the runtime to raise where the user's code
//! runs.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod atomic;
mod chain;
mod channel;
mod class;
mod context;
mod engine;
mod export;
mod fast_hash;
mod graph;
mod ingest;
mod instance;
mod lock;
pub(crate) mod loom;
mod mode;
mod report;
mod sink;
mod site;
mod wait;

#[cfg(test)]
mod tests;

pub use atomic::{
    check_atomic_placement, checked_atomic_ref, ContractAtomicBool, ContractAtomicU32,
    ContractAtomicU64, ContractAtomicUsize, PlacementError, PlainAtomic, Protocol, CACHE_LINE,
};
pub use channel::{ChannelKind, ChannelMeta, SenderClaim};
pub use class::{Level, LockClass, LockKind, Nesting};
pub use context::{
    has_context_hook, set_context_hook, swap_current_task, timed_scope, ContextDesc, ContextHook,
    ContextId, TaskRef, TaskSlot, TimedScope,
};
pub use engine::{stats, EngineStats};
pub use export::{
    current_waits, dot_quote, live_context_count, lock_order_edge_count, lock_order_edges,
    waits_by_resource, CurrentWait, OrderEdge,
};
pub use ingest::{report_all_tasks_blocked, report_long_poll, BlockedTask};
pub use lock::{Access, Held, LockMeta};
pub use mode::{global_mode, mode, set_mode, set_thread_mode, Mode, ModeParseError, ENV_VAR};
pub use report::{Column, Event, Scenario, Side, Violation, ViolationKind};
pub use sink::{
    count, counts, take_reports, take_reports_matching, with_reports_deferred, DeferredReports,
};
pub use site::Site;
pub use wait::{
    join_wait_at, scan, set_stall_threshold, slow_waits, stall_threshold, SlowWait, WaitKind,
    WaitMeta, Waiting, DEFAULT_STALL_THRESHOLD,
};
