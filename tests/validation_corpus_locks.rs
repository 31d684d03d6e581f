//! Detection corpus, resource deadlocks: double locking (and a permit taken
//! twice or never returned), AB-BA and longer cycles (including a lock and a
//! semaphore), and recursive read locks (RWR).
//!
//! A module of the `validation_corpus` test (see `validation_corpus.rs`).
//! Each kernel is a module with a `buggy` and a `fixed` body; the locks of
//! each body are created on lines of their own, so every body has its own
//! lock classes. `// @name` markers name the lines the reports must cite.

use crate::corpus_support::{body, expect, Category, Kernel, Source, HANGS};
use perf_runtime::sync::{Barrier, Mutex, RwLock, Semaphore};
use perf_runtime::task::yield_now;
use perf_runtime::validation::ViolationKind::*;
use perf_runtime::validation::{Level, LockClass, Nesting};
use std::collections::HashMap;
use std::sync::Arc;

static SRC: Source = Source {
    file: file!(),
    text: include_str!("validation_corpus_locks.rs"),
};

/// The kernels of this file.
pub fn kernels() -> Vec<Kernel> {
    vec![
        Kernel {
            name: "double_lock_renew_checkpoint",
            category: Category::DoubleLocking,
            shape: "etcd#10492",
            src: &SRC,
            workers: 2,
            buggy: || body(renew_checkpoint::buggy()),
            fixed: || body(renew_checkpoint::fixed()),
            expect: vec![expect(DoubleLock, &["renew_lock", "renew_relock"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "double_lock_guard_reassigned_in_loop",
            category: Category::DoubleLocking,
            shape: "cockroach#584",
            src: &SRC,
            workers: 2,
            buggy: || body(gossip_loop::buggy()),
            fixed: || body(gossip_loop::fixed()),
            expect: vec![expect(DoubleLock, &["gossip_lock", "gossip_relock"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "double_lock_rwlock_write_then_read",
            category: Category::DoubleLocking,
            shape: "kubernetes#62464 (setter calls getter)",
            src: &SRC,
            workers: 2,
            buggy: || body(cpuset_write_read::buggy()),
            fixed: || body(cpuset_write_read::fixed()),
            expect: vec![expect(DoubleLock, &["cpu_write", "cpu_read"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "double_lock_match_scrutinee_guard",
            category: Category::DoubleLocking,
            shape: "Rust: guard temporary in a match scrutinee",
            src: &SRC,
            workers: 2,
            buggy: || body(cache_match::buggy()),
            fixed: || body(cache_match::fixed()),
            expect: vec![expect(DoubleLock, &["cache_lookup", "cache_fill"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "double_lock_if_let_else_guard",
            category: Category::DoubleLocking,
            shape: "Rust 2021: guard temporary of `if let` lives through `else`",
            src: &SRC,
            workers: 2,
            buggy: || body(pool_if_let::buggy()),
            fixed: || body(pool_if_let::fixed()),
            expect: vec![expect(DoubleLock, &["pool_pop", "pool_count"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "double_lock_blocking_listener_callback",
            category: Category::DoubleLocking,
            shape: "grpc#795 (re-entry through a callback), thread code",
            src: &SRC,
            workers: 2,
            buggy: || body(listener_callback::buggy()),
            fixed: || body(listener_callback::fixed()),
            expect: vec![expect(DoubleLock, &["reg_emit", "reg_count"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "double_acquire_nested_permit",
            category: Category::DoubleLocking,
            shape: "semaphore used as a lock, taken again by its holder",
            src: &SRC,
            workers: 2,
            buggy: || body(nested_permit::buggy()),
            fixed: || body(nested_permit::fixed()),
            expect: vec![expect(Deadlock, &["np_outer", "np_inner"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "missing_release_forgotten_permit",
            category: Category::DoubleLocking,
            shape: "etcd#5509 (missing unlock on an error path)",
            src: &SRC,
            workers: 2,
            buggy: || body(leaked_permit::buggy()),
            fixed: || body(leaked_permit::fixed()),
            expect: vec![expect(WaitStall, &["lp_checkout"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "abba_coalesced_heartbeats",
            category: Category::AbBa,
            shape: "cockroach#10214",
            src: &SRC,
            workers: 2,
            buggy: || body(coalesced_heartbeats::buggy()),
            fixed: || body(coalesced_heartbeats::fixed()),
            expect: vec![expect(
                LockOrderInversion,
                &[
                    "hb_send_coalesced",
                    "hb_send_raft",
                    "hb_tick_raft",
                    "hb_tick_coalesce",
                ],
            )],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "abba_device_set_deadlocks",
            category: Category::AbBa,
            shape: "moby#4951",
            src: &SRC,
            workers: 2,
            buggy: || body(device_set::buggy()),
            fixed: || body(device_set::fixed()),
            expect: vec![
                expect(
                    LockOrderInversion,
                    &[
                        "dev_activate_global",
                        "dev_activate_info",
                        "dev_delete_info",
                        "dev_delete_global",
                    ],
                ),
                expect(Deadlock, &["dev_activate_info", "dev_delete_global"]),
            ],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "abba_three_lock_cycle",
            category: Category::AbBa,
            shape: "kubernetes#13135",
            src: &SRC,
            workers: 2,
            buggy: || body(cacher_cycle::buggy()),
            fixed: || body(cacher_cycle::fixed()),
            expect: vec![expect(
                LockOrderInversion,
                &[
                    "c3_start_cacher",
                    "c3_start_watch",
                    "c3_replace_watch",
                    "c3_replace_reflector",
                    "c3_resync_reflector",
                    "c3_resync_cacher",
                ],
            )],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "abba_four_stage_ring_deadlocks",
            category: Category::AbBa,
            shape: "dining philosophers: a ring of four stages",
            src: &SRC,
            workers: 2,
            buggy: || body(pipeline_ring::buggy()),
            fixed: || body(pipeline_ring::fixed()),
            expect: vec![
                expect(LockOrderInversion, &["ring_own", "ring_next"]),
                expect(Deadlock, &["ring_own", "ring_next"]),
            ],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "abba_rwlock_members_stats",
            category: Category::AbBa,
            shape: "etcd cluster members/stats (RwLock in the cycle)",
            src: &SRC,
            workers: 2,
            buggy: || body(cluster_members::buggy()),
            fixed: || body(cluster_members::fixed()),
            expect: vec![expect(
                LockOrderInversion,
                &[
                    "cm_record_members",
                    "cm_record_stats",
                    "cm_remove_stats",
                    "cm_remove_members",
                ],
            )],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "abba_transfer_between_two_accounts",
            category: Category::AbBa,
            shape: "two instances of one lock class (transfer a->b, b->a)",
            src: &SRC,
            workers: 2,
            buggy: || body(transfer::buggy()),
            fixed: || body(transfer::fixed()),
            expect: vec![expect(LockOrderInversion, &["tr_from", "tr_to"])],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "abba_against_declared_levels",
            category: Category::AbBa,
            shape: "a declared lock hierarchy, taken upside down",
            src: &SRC,
            workers: 2,
            buggy: || body(levels::buggy()),
            fixed: || body(levels::fixed()),
            expect: vec![expect(HierarchyViolation, &["lv_cache", "lv_db"])],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "abba_semaphore_and_lock_deadlock",
            category: Category::AbBa,
            shape: "connection pool (semaphore) vs cache lock",
            src: &SRC,
            workers: 2,
            buggy: || body(pool_and_cache::buggy()),
            fixed: || body(pool_and_cache::fixed()),
            expect: vec![expect(
                Deadlock,
                &[
                    "pc_query_conn",
                    "pc_query_cache",
                    "pc_inval_cache",
                    "pc_inval_conn",
                ],
            )],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "rwr_cpuset_or_default",
            category: Category::Rwr,
            shape: "kubernetes#62464",
            src: &SRC,
            workers: 2,
            buggy: || body(cpu_state_rwr::buggy()),
            fixed: || body(cpu_state_rwr::fixed()),
            expect: vec![expect(RecursiveRead, &["rwr_cpuset", "rwr_default"])],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "rwr_writer_queued_between_reads",
            category: Category::Rwr,
            shape: "kubernetes#62464 with the remover queued (hangs)",
            src: &SRC,
            workers: 1,
            buggy: || body(rwr_writer_queued::buggy()),
            fixed: || body(rwr_writer_queued::fixed()),
            expect: vec![expect(RecursiveRead, &["rwrq_first", "rwrq_second"])],
            allow: HANGS,
            gap: None,
        },
        Kernel {
            name: "abba_same_class_accounts_by_index",
            category: Category::AbBa,
            shape: "Vec<Mutex<Account>> built in a loop: transfers lock `from` first",
            src: &SRC,
            workers: 2,
            buggy: || body(ledger_by_index::buggy()),
            fixed: || body(ledger_by_index::fixed()),
            expect: vec![expect(LockOrderInversion, &["lbi_first", "lbi_second"])],
            allow: &[],
            gap: None,
        },
        Kernel {
            name: "abba_same_class_hand_over_hand_both_ways",
            category: Category::AbBa,
            shape: "a locked list walked hand-over-hand forward and backward",
            src: &SRC,
            workers: 2,
            buggy: || body(hand_over_hand::buggy()),
            fixed: || body(hand_over_hand::fixed()),
            expect: vec![expect(LockOrderInversion, &["hoh_next"])],
            allow: &[],
            gap: None,
        },
    ]
}

/// etcd#10492: `renew` holds the lease table and calls `checkpoint`, which
/// locks the table again.
mod renew_checkpoint {
    use super::*;

    pub struct Lessor {
        leases: Mutex<HashMap<u64, u64>>,
    }

    impl Lessor {
        async fn checkpoint(&self, id: u64, ttl: u64) {
            let mut leases = self.leases.lock().await; // @renew_relock
            leases.insert(id, ttl);
        }

        async fn renew_buggy(&self, id: u64) {
            let leases = self.leases.lock().await; // @renew_lock
            let ttl = leases.get(&id).copied().unwrap_or(60);
            self.checkpoint(id, ttl * 2).await;
        }

        async fn renew_fixed(&self, id: u64) {
            let ttl = self.leases.lock().await.get(&id).copied().unwrap_or(60);
            self.checkpoint(id, ttl * 2).await;
        }
    }

    pub async fn buggy() {
        let leases = Mutex::new(HashMap::from([(7, 30)]));
        Lessor { leases }.renew_buggy(7).await;
    }

    pub async fn fixed() {
        let leases = Mutex::new(HashMap::from([(7, 30)]));
        let lessor = Lessor { leases };
        lessor.renew_fixed(7).await;
        assert_eq!(lessor.leases.lock().await[&7], 60);
    }
}

/// cockroach#584: the gossip manager locks inside a loop and takes the lock
/// again before the previous guard is gone (`peers = lock()` drops the old
/// guard only after the new lock is taken).
mod gossip_loop {
    use super::*;

    pub struct Gossip {
        peers: Mutex<Vec<u32>>,
    }

    async fn manage_buggy(g: &Gossip) {
        let mut peers = g.peers.lock().await; // @gossip_lock
        while peers.len() < 3 {
            let next = peers.len() as u32 + 1;
            peers.push(next);
            peers = g.peers.lock().await; // @gossip_relock
        }
    }

    async fn manage_fixed(g: &Gossip) {
        let mut peers = g.peers.lock().await;
        while peers.len() < 3 {
            let next = peers.len() as u32 + 1;
            peers.push(next);
            drop(peers);
            yield_now().await;
            peers = g.peers.lock().await;
        }
    }

    pub async fn buggy() {
        let peers = Mutex::new(Vec::new());
        manage_buggy(&Gossip { peers }).await;
    }

    pub async fn fixed() {
        let peers = Mutex::new(Vec::new());
        let g = Gossip { peers };
        manage_fixed(&g).await;
        assert_eq!(*g.peers.lock().await, [1, 2, 3]);
    }
}

/// A setter holds the write lock and calls a getter that read-locks the
/// same state.
mod cpuset_write_read {
    use super::*;

    pub struct State {
        shared: RwLock<Vec<u32>>,
    }

    impl State {
        async fn shared_cpus(&self) -> Vec<u32> {
            self.shared.read().await.clone() // @cpu_read
        }

        async fn release_buggy(&self, cpus: &[u32]) -> usize {
            let mut shared = self.shared.write().await; // @cpu_write
            let before = self.shared_cpus().await.len();
            shared.extend_from_slice(cpus);
            before
        }

        async fn release_fixed(&self, cpus: &[u32]) -> usize {
            let mut shared = self.shared.write().await;
            let before = shared.len();
            shared.extend_from_slice(cpus);
            before
        }
    }

    pub async fn buggy() {
        let shared = RwLock::new(vec![0, 1]);
        State { shared }.release_buggy(&[2, 3]).await;
    }

    pub async fn fixed() {
        let shared = RwLock::new(vec![0, 1]);
        let s = State { shared };
        assert_eq!(s.release_fixed(&[2, 3]).await, 2);
        assert_eq!(s.shared_cpus().await, [0, 1, 2, 3]);
    }
}

/// A guard created in a `match` scrutinee lives until the end of the
/// `match`, so the miss arm, which locks the cache again to fill it, waits
/// for itself.
mod cache_match {
    use super::*;

    fn compute(key: &str) -> u64 {
        key.len() as u64
    }

    async fn get_buggy(cache: &Mutex<HashMap<String, u64>>, key: &str) -> u64 {
        match cache.lock().await.get(key).copied() {
            // @cache_lookup
            Some(v) => v,
            None => {
                let v = compute(key);
                cache.lock().await.insert(key.to_string(), v); // @cache_fill
                v
            }
        }
    }

    async fn get_fixed(cache: &Mutex<HashMap<String, u64>>, key: &str) -> u64 {
        let hit = cache.lock().await.get(key).copied();
        match hit {
            Some(v) => v,
            None => {
                let v = compute(key);
                cache.lock().await.insert(key.to_string(), v);
                v
            }
        }
    }

    pub async fn buggy() {
        let cache = Mutex::new(HashMap::new());
        get_buggy(&cache, "user:42").await;
    }

    pub async fn fixed() {
        let cache = Mutex::new(HashMap::new());
        assert_eq!(get_fixed(&cache, "user:42").await, 7);
        assert_eq!(get_fixed(&cache, "user:42").await, 7);
    }
}

/// Rust 2021: the guard in an `if let` scrutinee lives through the `else`
/// block, which locks the pool again to count its connections.
mod pool_if_let {
    use super::*;

    const MAX: usize = 4;

    async fn checkout_buggy(idle: &Mutex<Vec<u32>>) -> Option<u32> {
        if let Some(conn) = idle.lock().await.pop() {
            // @pool_pop
            Some(conn)
        } else {
            let open = idle.lock().await.len(); // @pool_count
            (open < MAX).then_some(99)
        }
    }

    async fn checkout_fixed(idle: &Mutex<Vec<u32>>) -> Option<u32> {
        let reused = idle.lock().await.pop();
        if let Some(conn) = reused {
            Some(conn)
        } else {
            let open = idle.lock().await.len();
            (open < MAX).then_some(99)
        }
    }

    pub async fn buggy() {
        let idle = Mutex::new(Vec::new());
        checkout_buggy(&idle).await;
    }

    pub async fn fixed() {
        let idle = Mutex::new(vec![1]);
        assert_eq!(checkout_fixed(&idle).await, Some(1));
        assert_eq!(checkout_fixed(&idle).await, Some(99));
    }
}

/// A registry calls its listeners while holding the listener list; a
/// listener asks the registry how many listeners it has, which locks the
/// list again. Thread code on `sync::blocking::Mutex`, run from
/// `spawn_blocking`.
mod listener_callback {
    use perf_runtime::sync::blocking;

    type Listener = Box<dyn Fn(&Registry) + Send>;

    pub struct Registry {
        listeners: blocking::Mutex<Vec<Listener>>,
    }

    impl Registry {
        fn listener_count(&self) -> usize {
            self.listeners.lock().len() // @reg_count
        }

        fn emit_buggy(&self) {
            let listeners = self.listeners.lock(); // @reg_emit
            for l in listeners.iter() {
                l(self);
            }
        }

        fn emit_fixed(&self) {
            let listeners = std::mem::take(&mut *self.listeners.lock());
            for l in &listeners {
                l(self);
            }
            self.listeners.lock().extend(listeners);
        }
    }

    fn log_count(r: &Registry) {
        let _ = r.listener_count();
    }

    pub async fn buggy() {
        let listeners = blocking::Mutex::new(vec![Box::new(log_count) as Listener]);
        let reg = Registry { listeners };
        perf_runtime::spawn_blocking(move || reg.emit_buggy())
            .await
            .unwrap();
    }

    pub async fn fixed() {
        let listeners = blocking::Mutex::new(vec![Box::new(log_count) as Listener]);
        let reg = Registry { listeners };
        let count = perf_runtime::spawn_blocking(move || {
            reg.emit_fixed();
            reg.listener_count()
        });
        assert_eq!(count.await.unwrap(), 1);
    }
}

/// A request handler holds a permit of a one-permit backend limiter and
/// calls a helper that takes a permit too: it waits for itself.
mod nested_permit {
    use super::*;

    async fn fetch(limiter: &Semaphore, key: u64) -> u64 {
        let _permit = limiter.acquire().await.unwrap(); // @np_inner
        key * 2
    }

    async fn handle_buggy(limiter: &Semaphore) -> u64 {
        let _permit = limiter.acquire().await.unwrap(); // @np_outer
        fetch(limiter, 21).await
    }

    async fn handle_fixed(limiter: &Semaphore) -> u64 {
        let key = {
            let _permit = limiter.acquire().await.unwrap();
            21
        };
        fetch(limiter, key).await
    }

    pub async fn buggy() {
        let limiter = Semaphore::new(1);
        handle_buggy(&limiter).await;
    }

    pub async fn fixed() {
        let limiter = Semaphore::new(1);
        assert_eq!(handle_fixed(&limiter).await, 42);
        assert_eq!(limiter.available_permits(), 1);
    }
}

/// etcd#5509 (a lock kept on an error path), with a pool: `checkout`
/// forgets its permit (the connection carries it) and `checkin` adds it
/// back; the error path drops the connection without `checkin`, so the pool
/// shrinks to nothing and the next checkout waits forever.
mod leaked_permit {
    use super::*;

    struct Conn(u32);

    async fn checkout(slots: &Semaphore) -> Conn {
        slots.acquire().await.unwrap().forget(); // @lp_checkout
        Conn(1)
    }

    fn checkin(slots: &Semaphore, _conn: Conn) {
        slots.add_permits(1);
    }

    async fn query_buggy(slots: &Semaphore, fail: bool) -> Result<u32, &'static str> {
        let conn = checkout(slots).await;
        if fail {
            return Err("syntax error");
        }
        let v = conn.0;
        checkin(slots, conn);
        Ok(v)
    }

    async fn query_fixed(slots: &Semaphore, fail: bool) -> Result<u32, &'static str> {
        let conn = checkout(slots).await;
        if fail {
            checkin(slots, conn);
            return Err("syntax error");
        }
        let v = conn.0;
        checkin(slots, conn);
        Ok(v)
    }

    pub async fn buggy() {
        let slots = Semaphore::new(1);
        assert!(query_buggy(&slots, true).await.is_err());
        let _ = query_buggy(&slots, false).await;
    }

    pub async fn fixed() {
        let slots = Semaphore::new(1);
        assert!(query_fixed(&slots, true).await.is_err());
        assert_eq!(query_fixed(&slots, false).await, Ok(1));
    }
}

/// cockroach#10214: `tick` holds the replica's raft lock and queues a
/// heartbeat under the store's coalesced lock; `send_queued_heartbeats`
/// holds the coalesced lock and takes raft locks to report unreachable
/// replicas. The two run one after the other here (no hang), which is
/// enough: the second order is reported when first seen.
mod coalesced_heartbeats {
    use super::*;

    pub struct Store {
        coalesced: Mutex<Vec<u64>>,
    }

    pub struct Replica {
        id: u64,
        raft: Mutex<u64>,
    }

    async fn tick(store: &Store, r: &Replica) {
        let mut raft = r.raft.lock().await; // @hb_tick_raft
        *raft += 1;
        store.coalesced.lock().await.push(r.id); // @hb_tick_coalesce
    }

    async fn send_queued_buggy(store: &Store, r: &Replica) {
        let queued = store.coalesced.lock().await; // @hb_send_coalesced
        if !queued.is_empty() {
            let mut raft = r.raft.lock().await; // @hb_send_raft
            *raft = 0;
        }
    }

    async fn send_queued_fixed(store: &Store, r: &Replica) {
        let queued = std::mem::take(&mut *store.coalesced.lock().await);
        if !queued.is_empty() {
            let mut raft = r.raft.lock().await;
            *raft = 0;
        }
    }

    async fn run(store: Store, replica: Replica, fixed: bool) {
        let (store, replica) = (Arc::new(store), Arc::new(replica));
        let (s, r) = (store.clone(), replica.clone());
        perf_runtime::spawn(async move { tick(&s, &r).await })
            .await
            .unwrap();
        perf_runtime::spawn(async move {
            if fixed {
                send_queued_fixed(&store, &replica).await;
            } else {
                send_queued_buggy(&store, &replica).await;
            }
        })
        .await
        .unwrap();
    }

    pub async fn buggy() {
        let coalesced = Mutex::new(Vec::new());
        let raft = Mutex::new(0);
        run(Store { coalesced }, Replica { id: 1, raft }, false).await;
    }

    pub async fn fixed() {
        let coalesced = Mutex::new(Vec::new());
        let raft = Mutex::new(0);
        run(Store { coalesced }, Replica { id: 1, raft }, true).await;
    }
}

/// moby#4951: `activate` takes the global devices lock, then the device's
/// own lock; `delete` takes the device lock, then the global one. The
/// barrier holds both paths after their first lock, forcing the
/// interleaving that deadlocks. The fix takes the global lock first on
/// both paths (the barrier then comes before the first lock: both are in
/// flight at once, without a cycle).
mod device_set {
    use super::*;

    struct Set {
        devices: Mutex<HashMap<u32, &'static str>>,
        info: Mutex<bool>,
        sync: Barrier,
    }

    async fn activate(s: &Set) {
        let mut devices = s.devices.lock().await; // @dev_activate_global
        s.sync.wait().await;
        let mut active = s.info.lock().await; // @dev_activate_info
        devices.insert(1, "thin-1");
        *active = true;
    }

    async fn delete_buggy(s: &Set) {
        let active = s.info.lock().await; // @dev_delete_info
        s.sync.wait().await;
        if !*active {
            s.devices.lock().await.remove(&1); // @dev_delete_global
        }
    }

    async fn activate_fixed(s: &Set) {
        s.sync.wait().await;
        let mut devices = s.devices.lock().await;
        let mut active = s.info.lock().await;
        devices.insert(1, "thin-1");
        *active = true;
    }

    async fn delete_fixed(s: &Set) {
        s.sync.wait().await;
        let mut devices = s.devices.lock().await;
        let active = s.info.lock().await;
        if !*active {
            devices.remove(&1);
        }
    }

    async fn run(set: Set, fixed: bool) {
        let set = Arc::new(set);
        let s = set.clone();
        let a = perf_runtime::spawn(async move {
            if fixed {
                activate_fixed(&s).await
            } else {
                activate(&s).await
            }
        });
        let d = perf_runtime::spawn(async move {
            if fixed {
                delete_fixed(&set).await
            } else {
                delete_buggy(&set).await
            }
        });
        a.await.unwrap();
        d.await.unwrap();
    }

    pub async fn buggy() {
        let devices = Mutex::new(HashMap::new());
        let info = Mutex::new(false);
        let sync = Barrier::new(2);
        run(
            Set {
                devices,
                info,
                sync,
            },
            false,
        )
        .await;
    }

    pub async fn fixed() {
        let devices = Mutex::new(HashMap::new());
        let info = Mutex::new(false);
        let sync = Barrier::new(2);
        run(
            Set {
                devices,
                info,
                sync,
            },
            true,
        )
        .await;
    }
}

/// kubernetes#13135, a three-lock cycle: starting the cacher takes the
/// cacher then the watch cache; a replace takes the watch cache then the
/// reflector; a resync takes the reflector then the cacher. Run one after
/// the other: the third order closes the cycle and is reported.
mod cacher_cycle {
    use super::*;

    struct Cacher {
        cacher: Mutex<u32>,
        watch_cache: Mutex<Vec<u64>>,
        reflector: Mutex<u64>,
    }

    async fn start_caching(c: &Cacher) {
        let mut started = c.cacher.lock().await; // @c3_start_cacher
        c.watch_cache.lock().await.clear(); // @c3_start_watch
        *started += 1;
    }

    async fn replace(c: &Cacher) {
        let mut events = c.watch_cache.lock().await; // @c3_replace_watch
        let version = *c.reflector.lock().await; // @c3_replace_reflector
        events.push(version);
    }

    async fn resync_buggy(c: &Cacher) {
        let mut version = c.reflector.lock().await; // @c3_resync_reflector
        *version += 1;
        let restarts = *c.cacher.lock().await; // @c3_resync_cacher
        *version += u64::from(restarts);
    }

    async fn resync_fixed(c: &Cacher) {
        let restarts = *c.cacher.lock().await;
        let mut version = c.reflector.lock().await;
        *version += 1 + u64::from(restarts);
    }

    async fn run(c: Cacher, fixed: bool) {
        let c = Arc::new(c);
        let c1 = c.clone();
        perf_runtime::spawn(async move { start_caching(&c1).await })
            .await
            .unwrap();
        let c2 = c.clone();
        perf_runtime::spawn(async move { replace(&c2).await })
            .await
            .unwrap();
        perf_runtime::spawn(async move {
            if fixed {
                resync_fixed(&c).await
            } else {
                resync_buggy(&c).await
            }
        })
        .await
        .unwrap();
    }

    pub async fn buggy() {
        let cacher = Mutex::new(0);
        let watch_cache = Mutex::new(Vec::new());
        let reflector = Mutex::new(0);
        let c = Cacher {
            cacher,
            watch_cache,
            reflector,
        };
        run(c, false).await;
    }

    pub async fn fixed() {
        let cacher = Mutex::new(0);
        let watch_cache = Mutex::new(Vec::new());
        let reflector = Mutex::new(0);
        let c = Cacher {
            cacher,
            watch_cache,
            reflector,
        };
        run(c, true).await;
    }
}

/// A ring of four pipeline stages; each flushes its queue into the next
/// stage's while holding its own. With all four flushing at once (the
/// barrier), each holds its own queue and waits for the next one: a
/// four-party cycle. The fix takes the two queues in stage order.
mod pipeline_ring {
    use super::*;

    type Queue = Arc<Mutex<Vec<u32>>>;

    async fn flush_buggy(own: Queue, next: Queue, all: Arc<Barrier>) {
        let mut mine = own.lock().await; // @ring_own
        all.wait().await;
        let mut theirs = next.lock().await; // @ring_next
        theirs.append(&mut mine);
    }

    async fn flush_fixed(own: (usize, Queue), next: (usize, Queue), all: Arc<Barrier>) {
        all.wait().await;
        let own_first = own.0 < next.0;
        let (first, second) = if own_first { (own, next) } else { (next, own) };
        let mut a = first.1.lock().await;
        let mut b = second.1.lock().await;
        if own_first {
            b.append(&mut a);
        } else {
            a.append(&mut b);
        }
    }

    async fn run(ring: [Queue; 4], fixed: bool) {
        let all = Arc::new(Barrier::new(4));
        let mut stages = Vec::new();
        for i in 0..4 {
            let (own, next) = (ring[i].clone(), ring[(i + 1) % 4].clone());
            let all = all.clone();
            stages.push(perf_runtime::spawn(async move {
                if fixed {
                    flush_fixed((i, own), ((i + 1) % 4, next), all).await
                } else {
                    flush_buggy(own, next, all).await
                }
            }));
        }
        for s in stages {
            s.await.unwrap();
        }
        let total: usize = {
            let mut n = 0;
            for q in &ring {
                n += q.lock().await.len();
            }
            n
        };
        assert_eq!(total, 4);
    }

    pub async fn buggy() {
        let parse = Arc::new(Mutex::new(vec![1]));
        let plan = Arc::new(Mutex::new(vec![2]));
        let exec = Arc::new(Mutex::new(vec![3]));
        let emit = Arc::new(Mutex::new(vec![4]));
        run([parse, plan, exec, emit], false).await;
    }

    pub async fn fixed() {
        let parse = Arc::new(Mutex::new(vec![1]));
        let plan = Arc::new(Mutex::new(vec![2]));
        let exec = Arc::new(Mutex::new(vec![3]));
        let emit = Arc::new(Mutex::new(vec![4]));
        run([parse, plan, exec, emit], true).await;
    }
}

/// An RwLock in the cycle: recording reads the member list, then updates
/// the stats; removing a member holds the stats and write-locks the member
/// list. Run one after the other: reported without hanging.
mod cluster_members {
    use super::*;

    struct Cluster {
        members: RwLock<Vec<u64>>,
        stats: Mutex<HashMap<u64, u64>>,
    }

    async fn record(c: &Cluster) {
        let members = c.members.read().await; // @cm_record_members
        let mut stats = c.stats.lock().await; // @cm_record_stats
        for m in members.iter() {
            *stats.entry(*m).or_default() += 1;
        }
    }

    async fn remove_buggy(c: &Cluster, id: u64) {
        let mut stats = c.stats.lock().await; // @cm_remove_stats
        stats.remove(&id);
        c.members.write().await.retain(|m| *m != id); // @cm_remove_members
    }

    async fn remove_fixed(c: &Cluster, id: u64) {
        c.members.write().await.retain(|m| *m != id);
        c.stats.lock().await.remove(&id);
    }

    async fn run(c: Cluster, fixed: bool) {
        let c = Arc::new(c);
        let c1 = c.clone();
        perf_runtime::spawn(async move { record(&c1).await })
            .await
            .unwrap();
        perf_runtime::spawn(async move {
            if fixed {
                remove_fixed(&c, 2).await
            } else {
                remove_buggy(&c, 2).await
            }
        })
        .await
        .unwrap();
    }

    pub async fn buggy() {
        let members = RwLock::new(vec![1, 2, 3]);
        let stats = Mutex::new(HashMap::new());
        run(Cluster { members, stats }, false).await;
    }

    pub async fn fixed() {
        let members = RwLock::new(vec![1, 2, 3]);
        let stats = Mutex::new(HashMap::new());
        run(Cluster { members, stats }, true).await;
    }
}

/// A one-connection pool (a semaphore) and a cache lock: a query takes a
/// connection, then the cache; an invalidation takes the cache, then a
/// connection. Held at once (the barrier), each waits for the other. The
/// fix releases the cache before taking a connection.
mod pool_and_cache {
    use super::*;

    struct Db {
        pool: Semaphore,
        cache: Mutex<HashMap<u32, u32>>,
        sync: Barrier,
    }

    async fn query(db: &Db) {
        let _conn = db.pool.acquire().await.unwrap(); // @pc_query_conn
        db.sync.wait().await;
        db.cache.lock().await.insert(1, 10); // @pc_query_cache
    }

    async fn invalidate_buggy(db: &Db) {
        let mut entries = db.cache.lock().await; // @pc_inval_cache
        db.sync.wait().await;
        let _conn = db.pool.acquire().await.unwrap(); // @pc_inval_conn
        entries.clear();
    }

    async fn query_fixed(db: &Db) {
        db.sync.wait().await;
        let _conn = db.pool.acquire().await.unwrap();
        db.cache.lock().await.insert(1, 10);
    }

    async fn invalidate_fixed(db: &Db) {
        db.sync.wait().await;
        db.cache.lock().await.clear();
        let _conn = db.pool.acquire().await.unwrap();
    }

    async fn run(db: Db, fixed: bool) {
        let db = Arc::new(db);
        let d = db.clone();
        let q = perf_runtime::spawn(async move {
            if fixed {
                query_fixed(&d).await
            } else {
                query(&d).await
            }
        });
        let i = perf_runtime::spawn(async move {
            if fixed {
                invalidate_fixed(&db).await
            } else {
                invalidate_buggy(&db).await
            }
        });
        q.await.unwrap();
        i.await.unwrap();
    }

    pub async fn buggy() {
        let pool = Semaphore::new(1);
        let cache = Mutex::new(HashMap::new());
        let sync = Barrier::new(2);
        run(Db { pool, cache, sync }, false).await;
    }

    pub async fn fixed() {
        let pool = Semaphore::new(1);
        let cache = Mutex::new(HashMap::new());
        let sync = Barrier::new(2);
        run(Db { pool, cache, sync }, true).await;
    }
}

/// kubernetes#62464: `cpuset_or_default` read-locks the state and, for a
/// container without its own set, calls `default_set`, which read-locks it
/// again. No writer queues here, so it completes; it is reported anyway.
mod cpu_state_rwr {
    use super::*;

    struct CpuState {
        sets: RwLock<HashMap<u32, Vec<u32>>>,
    }

    impl CpuState {
        async fn default_set(&self) -> Vec<u32> {
            let sets = self.sets.read().await; // @rwr_default
            sets.get(&0).cloned().unwrap_or_default()
        }

        async fn cpuset_or_default_buggy(&self, container: u32) -> Vec<u32> {
            let sets = self.sets.read().await; // @rwr_cpuset
            match sets.get(&container) {
                Some(s) => s.clone(),
                None => self.default_set().await,
            }
        }

        async fn cpuset_or_default_fixed(&self, container: u32) -> Vec<u32> {
            let own = self.sets.read().await.get(&container).cloned();
            match own {
                Some(s) => s,
                None => self.default_set().await,
            }
        }
    }

    pub async fn buggy() {
        let sets = RwLock::new(HashMap::from([(0, vec![0, 1])]));
        let state = CpuState { sets };
        assert_eq!(state.cpuset_or_default_buggy(5).await, [0, 1]);
    }

    pub async fn fixed() {
        let sets = RwLock::new(HashMap::from([(0, vec![0, 1])]));
        let state = CpuState { sets };
        assert_eq!(state.cpuset_or_default_fixed(5).await, [0, 1]);
    }
}

/// kubernetes#62464 as it hangs: `reconcile` holds a read lock and reads
/// again further down; `remove_container` queues for the write lock in
/// between (on one worker, `yield_now` lets it run and queue), so the
/// second read waits behind the writer, which waits for the first read.
mod rwr_writer_queued {
    use super::*;

    type State = Arc<RwLock<HashMap<u32, Vec<u32>>>>;

    async fn remove_container(state: State, id: u32) {
        state.write().await.remove(&id);
    }

    async fn reconcile_buggy(state: State) -> usize {
        let sets = state.read().await; // @rwrq_first
        let remover = perf_runtime::spawn(remove_container(state.clone(), 1));
        yield_now().await;
        let n = sets.len();
        let default = state.read().await.get(&0).map_or(0, Vec::len); // @rwrq_second
        drop(sets);
        remover.await.unwrap();
        n + default
    }

    async fn reconcile_fixed(state: State) -> usize {
        let n = state.read().await.len();
        let remover = perf_runtime::spawn(remove_container(state.clone(), 1));
        yield_now().await;
        let default = state.read().await.get(&0).map_or(0, Vec::len);
        remover.await.unwrap();
        n + default
    }

    pub async fn buggy() {
        let state = Arc::new(RwLock::new(HashMap::from([(0, vec![0]), (1, vec![1])])));
        reconcile_buggy(state).await;
    }

    pub async fn fixed() {
        let state = Arc::new(RwLock::new(HashMap::from([(0, vec![0]), (1, vec![1])])));
        assert_eq!(reconcile_fixed(state.clone()).await, 3);
        assert_eq!(state.read().await.len(), 1);
    }
}

/// Transfers lock the source account, then the destination: `a -> b` and
/// `b -> a` nest the two locks in opposite orders. The accounts are
/// instances of one class (created on one line), so the engine reports the
/// first nesting of two of them, whichever the order. The fix declares
/// how accounts nest (by id) and always locks the lower id first.
mod transfer {
    use super::*;

    struct Account {
        id: u64,
        balance: Mutex<i64>,
    }

    async fn transfer_buggy(from: &Account, to: &Account, amount: i64) {
        let mut src = from.balance.lock().await; // @tr_from
        let mut dst = to.balance.lock().await; // @tr_to
        *src -= amount;
        *dst += amount;
    }

    async fn transfer_fixed(from: &Account, to: &Account, amount: i64) {
        let (first, second) = if from.id < to.id {
            (from, to)
        } else {
            (to, from)
        };
        let mut a = first.balance.lock().await;
        let mut b = second.balance.lock().await;
        let (src, dst) = if from.id < to.id {
            (&mut *a, &mut *b)
        } else {
            (&mut *b, &mut *a)
        };
        *src -= amount;
        *dst += amount;
    }

    pub async fn buggy() {
        let accounts: Vec<Arc<Account>> = (1..=2)
            .map(|id| {
                let balance = Mutex::new(100);
                Arc::new(Account { id, balance })
            })
            .collect();
        let (a, b) = (accounts[0].clone(), accounts[1].clone());
        perf_runtime::spawn(async move { transfer_buggy(&a, &b, 10).await })
            .await
            .unwrap();
        let (a, b) = (accounts[0].clone(), accounts[1].clone());
        perf_runtime::spawn(async move { transfer_buggy(&b, &a, 5).await })
            .await
            .unwrap();
        assert_eq!(*accounts[0].balance.lock().await, 95);
    }

    static ACCOUNT: LockClass = LockClass::new("account").nested(Nesting::ByKey);

    pub async fn fixed() {
        let accounts: Vec<Arc<Account>> = (1..=2)
            .map(|id| {
                let balance = Mutex::with_class_and_key(100, &ACCOUNT, id);
                Arc::new(Account { id, balance })
            })
            .collect();
        let (a, b) = (accounts[0].clone(), accounts[1].clone());
        perf_runtime::spawn(async move { transfer_fixed(&a, &b, 10).await })
            .await
            .unwrap();
        let (a, b) = (accounts[0].clone(), accounts[1].clone());
        perf_runtime::spawn(async move { transfer_fixed(&b, &a, 5).await })
            .await
            .unwrap();
        assert_eq!(*accounts[0].balance.lock().await, 95);
    }
}

/// The locks declare their place in the hierarchy (the database below the
/// cache: levels must increase along a chain of held locks). A write-back
/// path holds the cache and takes the database: reported as soon as it
/// happens, before any other path takes the two in the declared order. The
/// fix takes the database first. Each body has its own classes, as
/// explicit classes are identified by their static.
mod levels {
    use super::*;

    static DB: LockClass = LockClass::new("db").with_level(Level::new(10));
    static CACHE: LockClass = LockClass::new("cache").with_level(Level::new(20));
    static DB_2: LockClass = LockClass::new("db").with_level(Level::new(10));
    static CACHE_2: LockClass = LockClass::new("cache").with_level(Level::new(20));

    struct Store {
        db: Mutex<Vec<(u32, u32)>>,
        cache: Mutex<Vec<(u32, u32)>>,
    }

    async fn write_back_buggy(s: &Store) {
        let mut dirty = s.cache.lock().await; // @lv_cache
        let mut rows = s.db.lock().await; // @lv_db
        rows.append(&mut dirty);
    }

    async fn write_back_fixed(s: &Store) {
        let mut rows = s.db.lock().await;
        let mut dirty = s.cache.lock().await;
        rows.append(&mut dirty);
    }

    pub async fn buggy() {
        let db = Mutex::with_class(Vec::new(), &DB);
        let cache = Mutex::with_class(vec![(1, 2)], &CACHE);
        write_back_buggy(&Store { db, cache }).await;
    }

    pub async fn fixed() {
        let db = Mutex::with_class(Vec::new(), &DB_2);
        let cache = Mutex::with_class(vec![(1, 2)], &CACHE_2);
        let s = Store { db, cache };
        write_back_fixed(&s).await;
        assert_eq!(s.db.lock().await.len(), 1);
    }
}

/// Accounts in a `Vec<Mutex<i64>>` built in a loop (one creation site, so
/// one lock class, no annotation): the buggy transfer locks `from` then
/// `to`, and two transfers in opposite directions invert the instance
/// order. The fix locks the lower index first — correct with no annotation,
/// so its twin must stay silent.
mod ledger_by_index {
    use super::*;

    async fn transfer(ledger: &[Mutex<i64>], from: usize, to: usize, fixed: bool) {
        let (first, second) = if fixed && to < from {
            (to, from)
        } else {
            (from, to)
        };
        let mut a = ledger[first].lock().await; // @lbi_first
        let mut b = ledger[second].lock().await; // @lbi_second
        let amount = 1;
        if first == from {
            *a -= amount;
            *b += amount;
        } else {
            *b -= amount;
            *a += amount;
        }
    }

    async fn run(fixed: bool) {
        let ledger: Arc<Vec<Mutex<i64>>> = Arc::new((0..4).map(|_| Mutex::new(100)).collect());
        for (from, to) in [(0, 1), (2, 3), (1, 2), (1, 0), (3, 1)] {
            let l = ledger.clone();
            perf_runtime::spawn(async move { transfer(&l, from, to, fixed).await })
                .await
                .unwrap();
        }
        let mut total = 0;
        for m in ledger.iter() {
            total += *m.lock().await;
        }
        assert_eq!(total, 400);
    }

    pub async fn buggy() {
        run(false).await;
    }

    pub async fn fixed() {
        run(true).await;
    }
}

/// A list of nodes behind one class of lock, walked hand-over-hand (take
/// the next node, then let go of the current one). Walking forward only is
/// correct; a second walker going backward inverts the instance order.
mod hand_over_hand {
    use super::*;

    async fn walk(nodes: &[Mutex<u32>], order: &[usize]) -> u32 {
        let mut held = nodes[order[0]].lock().await;
        let mut sum = *held;
        for &i in &order[1..] {
            let next = nodes[i].lock().await; // @hoh_next
            sum += *next;
            held = next;
        }
        drop(held);
        sum
    }

    async fn run(backward_too: bool) {
        let nodes: Arc<Vec<Mutex<u32>>> = Arc::new((0..8).map(Mutex::new).collect());
        let forward: Vec<usize> = (0..8).collect();
        let second: Vec<usize> = if backward_too {
            (0..8).rev().collect()
        } else {
            forward.clone()
        };
        for order in [forward, second] {
            let n = nodes.clone();
            let sum = perf_runtime::spawn(async move { walk(&n, &order).await })
                .await
                .unwrap();
            assert_eq!(sum, 28);
        }
    }

    pub async fn buggy() {
        run(true).await;
    }

    pub async fn fixed() {
        run(false).await;
    }
}
