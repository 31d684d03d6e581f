//! The kinds of violation, one per class of bug the engine finds.

use std::fmt;

/// What kind of bug a [`Violation`](crate::Violation) reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ViolationKind {
    /// Two (or more) lock classes were taken in orders that form a cycle: a
    /// potential deadlock, reported the first time the cycle-closing order
    /// is seen, whether or not it deadlocked.
    LockOrderInversion,
    /// A lock was acquired at a level not above a level already held, or
    /// two instances of a nesting class were taken out of their declared
    /// order.
    HierarchyViolation,
    /// A task or thread acquired a non-reentrant lock it already holds.
    DoubleLock,
    /// A read lock was taken again by its holder: it deadlocks as soon as a
    /// writer queues between the two reads.
    RecursiveRead,
    /// An actual wait-for cycle: every party waits for another.
    Deadlock,
    /// The runtime has no runnable task, no pending timer or I/O, and
    /// blocked tasks.
    AllTasksBlocked,
    /// A wait to send on a full channel, or to receive with live senders,
    /// that nothing can end: every task of the runtime is blocked (no
    /// runnable task, timer, I/O or blocking job) for the stall threshold.
    /// A wait that is only long is never this: it is a slow-wait advisory
    /// (see [`scan`](crate::scan)).
    ChannelStall,
    /// Tasks a runtime ends with (at the end of a `#[perf_runtime::test]`)
    /// parked in channel or sync waits that can never complete: nothing
    /// runs or is pending, and only those parked tasks could end the waits
    /// ([`report_leaked_tasks`](crate::report_leaked_tasks)). Never raised
    /// for dropping a channel end: a receiver dropped with messages queued,
    /// a sender dropped unsent (to cancel), unread broadcast values are
    /// idioms.
    ChannelLeak,
    /// A wait on a `Notify`, `Barrier`, `Semaphore` or `watch` that nothing
    /// can end: every task of the runtime is blocked for the stall
    /// threshold. A wait that is only long is a slow-wait advisory, never
    /// this.
    WaitStall,
    /// A task poll ran too long without yielding (from the runtime's
    /// watchdog).
    LongPoll,
    /// An atomic placed in raw memory is not aligned to its size.
    MisalignedAtomic,
    /// An atomic placed in raw memory straddles a cache line.
    SplitLockAtomic,
    /// An atomic operation used an ordering weaker than the atomic's
    /// declared protocol.
    OrderingContract,
}

impl ViolationKind {
    /// Every kind, in declaration order.
    pub const ALL: [ViolationKind; 13] = [
        ViolationKind::LockOrderInversion,
        ViolationKind::HierarchyViolation,
        ViolationKind::DoubleLock,
        ViolationKind::RecursiveRead,
        ViolationKind::Deadlock,
        ViolationKind::AllTasksBlocked,
        ViolationKind::ChannelStall,
        ViolationKind::ChannelLeak,
        ViolationKind::WaitStall,
        ViolationKind::LongPoll,
        ViolationKind::MisalignedAtomic,
        ViolationKind::SplitLockAtomic,
        ViolationKind::OrderingContract,
    ];

    /// The kind's name, as in the source (`"LockOrderInversion"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ViolationKind::LockOrderInversion => "LockOrderInversion",
            ViolationKind::HierarchyViolation => "HierarchyViolation",
            ViolationKind::DoubleLock => "DoubleLock",
            ViolationKind::RecursiveRead => "RecursiveRead",
            ViolationKind::Deadlock => "Deadlock",
            ViolationKind::AllTasksBlocked => "AllTasksBlocked",
            ViolationKind::ChannelStall => "ChannelStall",
            ViolationKind::ChannelLeak => "ChannelLeak",
            ViolationKind::WaitStall => "WaitStall",
            ViolationKind::LongPoll => "LongPoll",
            ViolationKind::MisalignedAtomic => "MisalignedAtomic",
            ViolationKind::SplitLockAtomic => "SplitLockAtomic",
            ViolationKind::OrderingContract => "OrderingContract",
        }
    }

    /// The headline of a report of this kind.
    pub const fn title(self) -> &'static str {
        match self {
            ViolationKind::LockOrderInversion => "possible deadlock: lock-order inversion",
            ViolationKind::HierarchyViolation => "lock hierarchy violated",
            ViolationKind::DoubleLock => "deadlock: lock acquired again by its holder",
            ViolationKind::RecursiveRead => {
                "possible deadlock: read lock taken again by its holder"
            }
            ViolationKind::Deadlock => "deadlock: wait-for cycle",
            ViolationKind::AllTasksBlocked => "all tasks are blocked",
            ViolationKind::ChannelStall => "channel wait can never end",
            ViolationKind::ChannelLeak => "task leaked in a channel wait",
            ViolationKind::WaitStall => "wait can never end",
            ViolationKind::LongPoll => "task poll blocked its worker",
            ViolationKind::MisalignedAtomic => "misaligned atomic",
            ViolationKind::SplitLockAtomic => "split-lock atomic (straddles a cache line)",
            ViolationKind::OrderingContract => "atomic ordering weaker than its protocol",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
