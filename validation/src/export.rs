//! Read-only views of the engine for exporters: the lock-order graph between
//! classes, the current wait-for graph, every context's current waits (for
//! `/debug/tasks` and `/debug/locks` of `perf_runtime::metrics`), and a
//! [`Violation`] drawn as Graphviz DOT.
//!
//! Each view is copied out under the engine's cold-path locks (the class
//! table, the lock-order graph, the wait registry) and never touches a lock's
//! or a channel's fast path.

use crate::context::{ContextDesc, ContextId};
use crate::engine;
use crate::report::Violation;
use crate::site::Site;
use crate::wait::graph::Target;
use std::fmt::Write as _;

/// One edge of the lock-order graph: some context acquired a lock of class
/// `to` while holding one of class `from`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderEdge {
    /// The class held, as reports name it.
    pub from: String,
    /// The class acquired while holding it.
    pub to: String,
    /// Where the held lock was acquired when the edge was first seen.
    pub from_site: Site,
    /// Where the second lock was acquired.
    pub to_site: Site,
}

/// Every edge of the lock-order graph, sorted by class names. The graph is
/// kept acyclic (an edge that would close a cycle is reported as a
/// violation instead), so the cycles are in [`crate::take_reports`]' output
/// and [`Violation::to_dot`].
pub fn lock_order_edges() -> Vec<OrderEdge> {
    let e = engine::get();
    let raw: Vec<(u32, u32, Site, Site)> = {
        let g = crate::loom::lock(&e.graph);
        g.edges()
            .map(|(&(a, b), info)| (a, b, info.from_site, info.to_site))
            .collect()
    };
    let mut out: Vec<OrderEdge> = raw
        .into_iter()
        .map(|(a, b, from_site, to_site)| OrderEdge {
            from: e.classes.label(a),
            to: e.classes.label(b),
            from_site,
            to_site,
        })
        .collect();
    out.sort_by(|x, y| (&x.from, &x.to).cmp(&(&y.from, &y.to)));
    out
}

/// A wait in progress: who waits, on what, where, and whom it waits for as
/// far as the engine knows now.
#[derive(Clone, Debug)]
pub struct CurrentWait {
    /// The waiting context (a task or a thread).
    pub waiter: ContextDesc,
    /// The resource, as reports name it (a lock class, or the kind and
    /// creation site of a channel or semaphore).
    pub resource: String,
    /// Where the wait started.
    pub site: Site,
    /// Contexts that can end the wait (lock holders, permit holders, the
    /// senders or receiver of a channel, a joined task); empty when unknown.
    pub waits_for: Vec<ContextDesc>,
}

/// Every wait the engine records now, in the wait-for graph and outside it
/// (the untracked lock wait of a context that holds nothing has no
/// `waits_for`).
pub fn current_waits() -> Vec<CurrentWait> {
    let e = engine::get();
    // The view resolves targets from its own copy; descriptions of targets
    // outside it come from the registry afterwards (no nested locking).
    let mut pending: Vec<(
        ContextDesc,
        crate::wait::graph::Resource,
        Site,
        Vec<ContextId>,
    )> = Vec::new();
    e.waits.with_full_view(|view| {
        for c in view.ctxs.values() {
            for key in &c.waits {
                let Some(rec) = view.waits.get(key) else {
                    continue;
                };
                let mut targets = Vec::new();
                match &rec.target {
                    Target::Holders { resource } | Target::Permits { resource, .. } => {
                        targets.extend(view.holders.get(resource).into_iter().flatten().copied());
                    }
                    Target::Senders(chan) => chan.for_each_claimant(|c| targets.push(c)),
                    Target::Receiver(chan) => targets.extend(chan.rx_owner()),
                    Target::Task(c) => targets.push(*c),
                    Target::Oneshot { .. } | Target::Nobody => {}
                }
                pending.push((c.desc.clone(), rec.resource.clone(), rec.site, targets));
            }
        }
    });
    let mut out: Vec<CurrentWait> = pending
        .into_iter()
        .map(|(waiter, res, site, targets)| CurrentWait {
            waiter,
            resource: res.label(e),
            site,
            waits_for: targets
                .into_iter()
                .map(|c| {
                    e.waits
                        .desc_of(c)
                        .unwrap_or_else(|| ContextDesc::new(c, None))
                })
                .collect(),
        })
        .collect();
    out.sort_by_key(|w| w.waiter.id());
    out
}

/// Waits in progress per resource, as reports name the resource (a lock
/// class, or a channel's or semaphore's kind and creation site), counted in
/// place: one pass over the registered contexts, one label per distinct
/// resource. What the metrics exposition reads at each scrape.
pub fn waits_by_resource() -> Vec<(String, u64)> {
    let e = engine::get();
    // Keyed by integers (a class id, or a kind and a creation site's file
    // address, line and column) with the engine's fast hasher: this runs
    // once per wait in progress at every scrape.
    let mut counts: crate::fast_hash::FastMap<
        (u32, usize, usize, u64),
        (crate::wait::graph::Resource, u64),
    > = Default::default();
    e.waits.for_each_record(|_, _, rec| {
        let r = &rec.resource;
        let key = if r.class != 0 {
            (r.class, 0, 0, 0)
        } else {
            let kind = kind_str(r.kind);
            (
                0,
                kind.as_ptr() as usize,
                r.created.file().as_ptr() as usize,
                (u64::from(r.created.line()) << 32) | u64::from(r.created.column()),
            )
        };
        counts.entry(key).or_insert_with(|| (r.clone(), 0)).1 += 1;
    });
    // Two keys may name one resource (a file name at two addresses): merge
    // by label.
    let mut out: Vec<(String, u64)> = counts.into_values().map(|(r, n)| (r.label(e), n)).collect();
    out.sort();
    out.dedup_by(|b, a| {
        let same = a.0 == b.0;
        if same {
            a.1 += b.1;
        }
        same
    });
    out
}

fn kind_str(k: crate::wait::graph::ResKind) -> &'static str {
    use crate::wait::graph::ResKind;
    match k {
        ResKind::Lock(k) => k.as_str(),
        ResKind::Recv(k) | ResKind::Send(k) => k.as_str(),
        ResKind::Other(k) => k.as_str(),
        ResKind::Join => "join",
    }
}

/// Edges of the lock-order graph (one lock, no walk).
pub fn lock_order_edge_count() -> usize {
    crate::loom::lock(&engine::get().graph).edge_count()
}

/// Tasks and threads the engine keeps state for (a counter read).
pub fn live_context_count() -> usize {
    crate::context::state::live_states()
}

/// Quotes `s` as a DOT string.
pub fn dot_quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for ch in s.chars() {
        match ch {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

impl Violation {
    /// The violation as a Graphviz DOT digraph: its dependency chain (the
    /// cycle of a lock-order inversion or a deadlock) as red edges closing
    /// back on the first step, and each side's steps as a cluster. Renders
    /// with `dot -Tsvg`.
    pub fn to_dot(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "digraph violation {{");
        let _ = writeln!(
            s,
            "  label={}; labelloc=t; node [shape=box, fontname=monospace];",
            dot_quote(&format!("{:?}: {}", self.kind(), self.summary()))
        );
        let step = |text: &str, site: Option<Site>| match site {
            Some(site) => format!("{text}\n{site}"),
            None => text.to_owned(),
        };
        let chain = self.dependency_chain();
        for (i, ev) in chain.iter().enumerate() {
            let _ = writeln!(
                s,
                "  c{i} [label={}, color=red];",
                dot_quote(&step(ev.text(), ev.site()))
            );
        }
        for i in 0..chain.len() {
            let next = (i + 1) % chain.len();
            if chain.len() > 1 {
                let _ = writeln!(s, "  c{i} -> c{next} [color=red, penwidth=2];");
            }
        }
        let sides = self.sides();
        let cyclic = match self.kind() {
            crate::ViolationKind::Deadlock => sides.len() > 1,
            crate::ViolationKind::LockOrderInversion => sides.len() == 2,
            _ => false,
        } && sides.iter().all(|side| !side.events().is_empty());
        let red = if cyclic {
            " [color=red, penwidth=2]"
        } else {
            ""
        };
        for (n, side) in sides.iter().enumerate() {
            let title = match side.context() {
                Some(c) => format!("{}: {c}", side.role()),
                None => side.role().to_owned(),
            };
            let _ = writeln!(s, "  subgraph cluster_{n} {{");
            let _ = writeln!(s, "    label={};", dot_quote(&title));
            for (i, ev) in side.events().iter().enumerate() {
                let _ = writeln!(
                    s,
                    "    s{n}_{i} [label={}];",
                    dot_quote(&step(ev.text(), ev.site()))
                );
                if i > 0 {
                    let _ = writeln!(s, "    s{n}_{} -> s{n}_{i}{red};", i - 1);
                }
            }
            let _ = writeln!(s, "  }}");
        }
        // The cycle through the sides: in a deadlock each side (a waiter)
        // waits for what the next one holds; in a two-sided inversion each
        // side's last lock is the one the other side took first. Red edges
        // from each side's last step to the next side's first close it
        // (the steps within a side are joined above, red too).
        if cyclic {
            for (n, side) in sides.iter().enumerate() {
                let next = (n + 1) % sides.len();
                let last = side.events().len() - 1;
                let _ = writeln!(
                    s,
                    "  s{n}_{last} -> s{next}_0 [color=red, penwidth=2, constraint=false];"
                );
            }
        }
        s.push_str("}\n");
        s
    }
}
