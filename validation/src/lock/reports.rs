//! The wording of lock reports: what happened, both sides with their sites,
//! the scenario that hangs, and what to change.

use crate::class::{ClassData, LockKind, Nesting};
use crate::context::state::{HeldEntry, F_SHARED};
use crate::context::{ContextDesc, ContextId};
use crate::engine::Engine;
use crate::graph::EdgeInfo;
use crate::instance::InstEdge;
use crate::report::{Column, Event, Scenario, Side, Violation, ViolationKind};
use crate::site::Site;

fn site(e: &HeldEntry) -> Site {
    Site::from_location(e.site)
}

/// `lock(x)`, `read(x)` or `write(x)`.
fn op(class: &ClassData, entry: &HeldEntry, label: &str) -> String {
    let verb = match (class.kind, entry.flags & F_SHARED != 0) {
        (LockKind::RwLock, true) => "read",
        (LockKind::RwLock, false) => "write",
        (LockKind::Semaphore, _) => "acquire",
        _ => "lock",
    };
    format!("{verb}({label})")
}

pub(super) fn double_lock(
    e: &Engine,
    h: &HeldEntry,
    new: &HeldEntry,
    ctx: &ContextDesc,
) -> Violation {
    let class = e.classes.get(new.class());
    let l = class.label();
    Violation::new(
        ViolationKind::DoubleLock,
        format!(
            "{ctx} acquires {l} at {} while it already holds it (acquired at {}); \
             the lock is not reentrant, so it waits for itself forever",
            site(new),
            site(h)
        ),
    )
    .with_side(
        Side::new("acquires a lock it already holds", Some(ctx.clone()))
            .event(format!("acquired {l}"), Some(site(h)))
            .event(format!("acquires {l} again"), Some(site(new))),
    )
    .with_scenario(
        Scenario::new(ctx.to_string(), "")
            .step(Column::Left, op(&class, h, &l))
            .step(
                Column::Left,
                format!("{}  <- waits for itself", op(&class, new, &l)),
            )
            .outcome("DEADLOCK"),
    )
    .with_advice(format!(
        "drop the first guard of {l} before locking it again, or pass that guard to the code \
         that needs the data instead of locking twice"
    ))
}

pub(super) fn recursive_read(
    e: &Engine,
    h: &HeldEntry,
    new: &HeldEntry,
    ctx: &ContextDesc,
) -> Violation {
    let class = e.classes.get(new.class());
    let l = class.label();
    Violation::new(
        ViolationKind::RecursiveRead,
        format!(
            "{ctx} read-locks {l} at {} while holding a read lock on it from {}; a writer that \
             queues in between makes the second read wait behind it, and the writer waits for \
             the first read",
            site(new),
            site(h)
        ),
    )
    .with_side(
        Side::new("read-locks twice", Some(ctx.clone()))
            .event(format!("read-locked {l}"), Some(site(h)))
            .event(format!("read-locks {l} again"), Some(site(new))),
    )
    .with_scenario(
        Scenario::new(ctx.to_string(), "any writer")
            .step(Column::Left, format!("read({l})"))
            .step(
                Column::Right,
                format!("write({l})  <- queues behind the reader"),
            )
            .step(
                Column::Left,
                format!("read({l})  <- waits behind the writer"),
            )
            .outcome("DEADLOCK"),
    )
    .with_advice(format!(
        "take the read lock on {l} once and pass the guard down, or drop the first guard \
         before reading again"
    ))
}

/// Two instances of one class taken in an order that inverts one seen
/// before: `edges` is the existing chain from `new`'s instance back to
/// `h`'s.
pub(super) fn instance_inversion(
    e: &Engine,
    h: &HeldEntry,
    new: &HeldEntry,
    edges: &[InstEdge],
    ctx: &ContextDesc,
) -> Violation {
    let class = e.classes.get(new.class());
    let l = class.label();
    let name = |c: ContextId| {
        e.waits
            .desc_of(c)
            .unwrap_or_else(|| ContextDesc::new(c, None))
    };
    let first = edges.first().map(|x| name(x.ctx));
    let first_s = first
        .as_ref()
        .map_or("another context".to_string(), |c| c.to_string());
    let mut v = Violation::new(
        ViolationKind::LockOrderInversion,
        format!(
            "{ctx} acquires one {l} lock (#2) at {} while holding another (#1, from {}), but \
             {first_s} took #2 before #1: the two instance orders form a cycle",
            site(new),
            site(h),
        ),
    )
    .with_side(
        Side::new("takes the new instance order", Some(ctx.clone()))
            .event(format!("holds {l} #1"), Some(site(h)))
            .event(format!("acquires {l} #2"), Some(site(new))),
    );
    let n = edges.len();
    for (i, edge) in edges.iter().enumerate() {
        // The chain runs #2 -> ... -> #1.
        let from = if i == 0 {
            "#2".to_string()
        } else {
            format!("#{}", i + 2)
        };
        let to = if i + 1 == n {
            "#1".to_string()
        } else {
            format!("#{}", i + 3)
        };
        v = v.with_side(
            Side::new(format!("took {l} {from} before {to}"), Some(name(edge.ctx)))
                .event(
                    format!("held {l} {from}"),
                    Some(Site::from_location(edge.outer_site)),
                )
                .event(
                    format!("acquired {l} {to}"),
                    Some(Site::from_location(edge.inner_site)),
                ),
        );
    }
    let mut key: Vec<Site> = edges
        .iter()
        .flat_map(|x| {
            [
                Site::from_location(x.outer_site),
                Site::from_location(x.inner_site),
            ]
        })
        .chain([site(h), site(new)])
        .collect();
    key.sort();
    key.dedup();
    v.with_scenario(
        Scenario::new(first_s, ctx.to_string())
            .step(Column::Left, format!("{} #2", op(&class, new, &l)))
            .step(Column::Right, format!("{} #1", op(&class, h, &l)))
            .step(
                Column::Right,
                format!("{} #2  <- waits", op(&class, new, &l)),
            )
            .step(Column::Left, format!("{} #1  <- waits", op(&class, h, &l)))
            .outcome("DEADLOCK"),
    )
    .with_advice(format!(
        "take {l} locks in one order everywhere (e.g. by index, id or address: lowest first), \
         or declare it (an explicit LockClass with .nested(Nesting::ByAddress) or \
         Nesting::ByKey) so every acquisition is checked against it"
    ))
    .with_key(("instance-order", key))
}

pub(super) fn nesting_order(
    e: &Engine,
    h: &HeldEntry,
    new: &HeldEntry,
    ctx: &ContextDesc,
) -> Violation {
    let class = e.classes.get(new.class());
    let l = class.label();
    let (by, held_pos, new_pos) = match class.nesting {
        Nesting::ByKey => ("key", format!("key {}", h.key), format!("key {}", new.key)),
        _ => (
            "address",
            format!("address {:#x}", h.instance),
            format!("address {:#x}", new.instance),
        ),
    };
    Violation::new(
        ViolationKind::HierarchyViolation,
        format!(
            "{ctx} acquires {l} ({new_pos}) at {} while holding {l} ({held_pos}) from {}; \
             {l} locks nest only in increasing {by} order",
            site(new),
            site(h)
        ),
    )
    .with_side(
        Side::new("nests out of the declared order", Some(ctx.clone()))
            .event(format!("holds {l} ({held_pos})"), Some(site(h)))
            .event(format!("acquires {l} ({new_pos})"), Some(site(new))),
    )
    .with_scenario(
        Scenario::new(ctx.to_string(), "a context keeping the order")
            .step(Column::Left, format!("lock({l} {held_pos})"))
            .step(Column::Right, format!("lock({l} {new_pos})"))
            .step(Column::Left, format!("lock({l} {new_pos})  <- waits"))
            .step(Column::Right, format!("lock({l} {held_pos})  <- waits"))
            .outcome("DEADLOCK"),
    )
    .with_advice(format!(
        "sort the {l} locks by {by} and take them in increasing order"
    ))
}

pub(super) fn hierarchy(
    held_class: &ClassData,
    new_class: &ClassData,
    h: &HeldEntry,
    new: &HeldEntry,
    ctx: &ContextDesc,
) -> Violation {
    let (hl, nl) = (held_class.label(), new_class.label());
    let (hv, nv) = (
        held_class.level.map_or(0, |l| l.get()),
        new_class.level.map_or(0, |l| l.get()),
    );
    Violation::new(
        ViolationKind::HierarchyViolation,
        format!(
            "{ctx} acquires {nl} (level {nv}) at {} while holding {hl} (level {hv}) from {}; \
             levels must increase along a chain of locks",
            site(new),
            site(h)
        ),
    )
    .with_side(
        Side::new("acquires against the hierarchy", Some(ctx.clone()))
            .event(format!("holds {hl} (level {hv})"), Some(site(h)))
            .event(format!("acquires {nl} (level {nv})"), Some(site(new))),
    )
    .with_advice(format!(
        "acquire {nl} before {hl} (lower levels first), or release {hl} before acquiring {nl}; \
         if this order is the intended one, the levels are wrong"
    ))
    .with_key((held_class.id, new_class.id, site(h), site(new)))
}

/// `path` is the existing path `new -> ... -> held` (class ids), `edges` its
/// edges' first sightings.
pub(super) fn inversion(
    e: &Engine,
    h: &HeldEntry,
    new: &HeldEntry,
    path: &[u32],
    edges: &[EdgeInfo],
    ctx: &ContextDesc,
) -> Violation {
    let labels: Vec<String> = path.iter().map(|&c| e.classes.label(c)).collect();
    let nl = &labels[0];
    let hl = &labels[labels.len() - 1];
    let first = &edges[0];
    let mut v = Violation::new(
        ViolationKind::LockOrderInversion,
        format!(
            "{ctx} acquires {nl} at {} while holding {hl} (from {}), but {nl} was taken before {hl} \
             elsewhere (first by {}): the two orders form a cycle",
            site(new),
            site(h),
            first.ctx
        ),
    )
    .with_side(
        Side::new("takes the new order", Some(ctx.clone()))
            .event(format!("holds {hl}"), Some(site(h)))
            .event(format!("acquires {nl}"), Some(site(new))),
    );
    for (i, edge) in edges.iter().enumerate() {
        let (a, b) = (&labels[i], &labels[i + 1]);
        v = v.with_side(
            Side::new(format!("took {a} before {b}"), Some(edge.ctx.clone()))
                .event(format!("held {a}"), Some(edge.from_site))
                .event(format!("acquired {b}"), Some(edge.to_site)),
        );
    }
    let chain: Vec<Event> = edges
        .iter()
        .enumerate()
        .map(|(i, edge)| {
            Event::new(
                format!(
                    "{} -> {} (first seen in {})",
                    labels[i],
                    labels[i + 1],
                    edge.ctx
                ),
                Some(edge.to_site),
            )
        })
        .collect();
    let last = if labels.len() == 2 {
        format!("lock({hl})  <- waits")
    } else {
        format!("lock({}) ... lock({hl})  <- waits", labels[1])
    };
    let mut key: Vec<u32> = path.to_vec();
    key.sort_unstable();
    v.with_chain(chain)
        .with_scenario(
            Scenario::new(first.ctx.to_string(), ctx.to_string())
                .step(Column::Left, format!("lock({nl})"))
                .step(Column::Right, format!("lock({hl})"))
                .step(Column::Right, format!("lock({nl})  <- waits"))
                .step(Column::Left, last)
                .outcome("DEADLOCK"),
        )
        .with_advice(format!(
            "take {nl} and {hl} in one order everywhere — here {nl} before {hl}, as at {} — or \
             give both classes a Level so the order is enforced",
            first.to_site
        ))
        .with_key(key)
}
