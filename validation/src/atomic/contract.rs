//! Atomics with a declared ordering protocol.
//!
//! A `ContractAtomic*` is the `std` atomic plus the protocol it was declared
//! with and the declaration site. Every operation checks its ordering against
//! the protocol (a compare of two constants once inlined) and reports an
//! `OrderingContract` violation at the caller's site when it is weaker. The
//! operation itself still runs with the ordering given: the check reports,
//! it does not silently fix.

use crate::report::{Side, Violation, ViolationKind};
use crate::sink;
use crate::site::Site;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::Ordering::{self, *};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};

/// How an atomic is meant to be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The atomic publishes data: stores are `Release`, loads `Acquire`,
    /// read-modify-writes `AcqRel` (each or `SeqCst`); a failed
    /// compare-exchange is a load.
    Publish,
    /// A statistic or id counter that orders nothing: any ordering.
    Counter,
    /// Every operation is `SeqCst`.
    SeqCst,
}

impl Protocol {
    fn wants(self, op: Op) -> &'static str {
        match (self, op) {
            (Protocol::Counter, _) => "any ordering",
            (Protocol::SeqCst, _) => "SeqCst",
            (Protocol::Publish, Op::Load | Op::CasFailure) => "Acquire (or SeqCst)",
            (Protocol::Publish, Op::Store) => "Release (or SeqCst)",
            (Protocol::Publish, Op::Rmw) => "AcqRel (or SeqCst)",
        }
    }
}

/// The kind of access an operation makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Load,
    Store,
    Rmw,
    CasFailure,
}

#[inline(always)]
fn allowed(p: Protocol, op: Op, o: Ordering) -> bool {
    match p {
        Protocol::Counter => true,
        Protocol::SeqCst => o == SeqCst,
        Protocol::Publish => match op {
            Op::Load | Op::CasFailure => matches!(o, Acquire | SeqCst),
            Op::Store => matches!(o, Release | SeqCst),
            Op::Rmw => matches!(o, AcqRel | SeqCst),
        },
    }
}

#[cold]
#[inline(never)]
fn violation(
    type_name: &'static str,
    p: Protocol,
    op: Op,
    method: &'static str,
    o: Ordering,
    declared: &'static Location<'static>,
    used: &'static Location<'static>,
) {
    let (declared, used) = (Site::from_location(declared), Site::from_location(used));
    let what = if op == Op::CasFailure {
        format!("{method} (failure ordering)")
    } else {
        method.to_owned()
    };
    let wants = p.wants(op);
    let v = Violation::new(
        ViolationKind::OrderingContract,
        format!(
            "{what} with {o:?} at {used} on a {type_name} declared {p:?} at {declared}; the \
             protocol needs {wants} here"
        ),
    )
    .with_side(
        Side::new("uses a weaker ordering", crate::context::describe_current())
            .event(format!("{what}({o:?})"), Some(used)),
    )
    .with_side(
        Side::new("declared the protocol", None)
            .event(format!("{type_name} declared {p:?}"), Some(declared)),
    )
    .with_advice(format!(
        "use {wants} for this {what}, or declare the atomic Protocol::Counter if it publishes \
         nothing"
    ))
    .with_key(used);
    sink::submit(v);
}

macro_rules! contract_common {
    ($name:ident, $atomic:ident, $t:ty) => {
        impl $name {
            /// An atomic holding `v`, used under `protocol`; the caller's
            /// site is recorded as the declaration.
            #[track_caller]
            pub const fn new(v: $t, protocol: Protocol) -> $name {
                $name {
                    v: $atomic::new(v),
                    protocol,
                    declared: Location::caller(),
                }
            }

            /// The declared protocol.
            pub fn protocol(&self) -> Protocol {
                self.protocol
            }

            /// Where the atomic was declared.
            pub fn declared_at(&self) -> Site {
                Site::from_location(self.declared)
            }

            #[track_caller]
            #[inline(always)]
            fn check(&self, op: Op, method: &'static str, o: Ordering) {
                if !allowed(self.protocol, op, o) {
                    violation(
                        stringify!($atomic),
                        self.protocol,
                        op,
                        method,
                        o,
                        self.declared,
                        Location::caller(),
                    );
                }
            }

            /// `load`, checked.
            #[track_caller]
            #[inline]
            pub fn load(&self, order: Ordering) -> $t {
                self.check(Op::Load, "load", order);
                self.v.load(order)
            }

            /// `store`, checked.
            #[track_caller]
            #[inline]
            pub fn store(&self, val: $t, order: Ordering) {
                self.check(Op::Store, "store", order);
                self.v.store(val, order)
            }

            /// `swap`, checked.
            #[track_caller]
            #[inline]
            pub fn swap(&self, val: $t, order: Ordering) -> $t {
                self.check(Op::Rmw, "swap", order);
                self.v.swap(val, order)
            }

            /// `compare_exchange`, checked (both orderings).
            #[track_caller]
            #[inline]
            pub fn compare_exchange(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                self.check(Op::Rmw, "compare_exchange", success);
                self.check(Op::CasFailure, "compare_exchange", failure);
                self.v.compare_exchange(current, new, success, failure)
            }

            /// `compare_exchange_weak`, checked (both orderings).
            #[track_caller]
            #[inline]
            pub fn compare_exchange_weak(
                &self,
                current: $t,
                new: $t,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$t, $t> {
                self.check(Op::Rmw, "compare_exchange_weak", success);
                self.check(Op::CasFailure, "compare_exchange_weak", failure);
                self.v.compare_exchange_weak(current, new, success, failure)
            }

            /// `fetch_and`, checked.
            #[track_caller]
            #[inline]
            pub fn fetch_and(&self, val: $t, order: Ordering) -> $t {
                self.check(Op::Rmw, "fetch_and", order);
                self.v.fetch_and(val, order)
            }

            /// `fetch_or`, checked.
            #[track_caller]
            #[inline]
            pub fn fetch_or(&self, val: $t, order: Ordering) -> $t {
                self.check(Op::Rmw, "fetch_or", order);
                self.v.fetch_or(val, order)
            }

            /// `fetch_xor`, checked.
            #[track_caller]
            #[inline]
            pub fn fetch_xor(&self, val: $t, order: Ordering) -> $t {
                self.check(Op::Rmw, "fetch_xor", order);
                self.v.fetch_xor(val, order)
            }

            /// The value, through exclusive access (no ordering involved).
            pub fn get_mut(&mut self) -> &mut $t {
                self.v.get_mut()
            }

            /// The value, consuming the atomic.
            pub fn into_inner(self) -> $t {
                self.v.into_inner()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("value", &self.v.load(Relaxed))
                    .field("protocol", &self.protocol)
                    .finish()
            }
        }
    };
}

macro_rules! contract_int {
    ($name:ident, $atomic:ident, $t:ty) => {
        #[doc = concat!("A `", stringify!($atomic), "` declared with a [`Protocol`]; every operation checks its ordering.")]
        pub struct $name {
            v: $atomic,
            protocol: Protocol,
            declared: &'static Location<'static>,
        }

        contract_common!($name, $atomic, $t);

        impl $name {
            /// `fetch_add`, checked.
            #[track_caller]
            #[inline]
            pub fn fetch_add(&self, val: $t, order: Ordering) -> $t {
                self.check(Op::Rmw, "fetch_add", order);
                self.v.fetch_add(val, order)
            }

            /// `fetch_sub`, checked.
            #[track_caller]
            #[inline]
            pub fn fetch_sub(&self, val: $t, order: Ordering) -> $t {
                self.check(Op::Rmw, "fetch_sub", order);
                self.v.fetch_sub(val, order)
            }

            /// `fetch_max`, checked.
            #[track_caller]
            #[inline]
            pub fn fetch_max(&self, val: $t, order: Ordering) -> $t {
                self.check(Op::Rmw, "fetch_max", order);
                self.v.fetch_max(val, order)
            }

            /// `fetch_min`, checked.
            #[track_caller]
            #[inline]
            pub fn fetch_min(&self, val: $t, order: Ordering) -> $t {
                self.check(Op::Rmw, "fetch_min", order);
                self.v.fetch_min(val, order)
            }
        }
    };
}

contract_int!(ContractAtomicU32, AtomicU32, u32);
contract_int!(ContractAtomicU64, AtomicU64, u64);
contract_int!(ContractAtomicUsize, AtomicUsize, usize);

/// An `AtomicBool` declared with a [`Protocol`]; every operation checks its
/// ordering.
pub struct ContractAtomicBool {
    v: AtomicBool,
    protocol: Protocol,
    declared: &'static Location<'static>,
}

contract_common!(ContractAtomicBool, AtomicBool, bool);
