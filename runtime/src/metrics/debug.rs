// `/debug/tasks` and `/debug/locks`: what tokio-console shows a tokio user,
// as a text table and a Graphviz graph, from the runtime's task list and the
// validation engine's graphs.

use crate::validation::{dot_quote, CurrentWait};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// One live task, as `/debug/tasks` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskInfo {
    /// The task's id.
    pub id: u64,
    /// Its name (`task::Builder::name`), if any.
    pub name: Option<String>,
    /// Its QoS class.
    pub qos: crate::task::Qos,
    /// `running` (in a poll now), `scheduled` (queued), or `idle` (waiting
    /// for a wake).
    pub state: &'static str,
    /// Where it was spawned (`file:line:column`).
    pub spawned_at: String,
    /// The wait it is parked in, as the validation engine knows it (a lock,
    /// semaphore, channel or join; `None` for a sleep, I/O, or an
    /// untracked future).
    pub waiting_on: Option<String>,
}

/// The live tasks of the runtime behind `handle`, by id.
///
/// Walks the task list shard by shard, holding each shard's lock (the lock a
/// spawn and a completion of a task of that shard take) only to copy a few
/// words per task; waits come from the validation engine's registry.
pub fn tasks(handle: &crate::runtime::Handle) -> Vec<TaskInfo> {
    let mut waits: HashMap<u64, Vec<CurrentWait>> = HashMap::new();
    for w in crate::validation::current_waits() {
        if let Some(id) = w.waiter.id().task_id() {
            waits.entry(id).or_default().push(w);
        }
    }
    let mut out = Vec::new();
    let each = |h: &crate::task::core::Header| {
        let st = h.state.load();
        out.push(TaskInfo {
            id: h.id.as_u64(),
            name: h.name().map(str::to_owned),
            qos: h.qos,
            state: if st.is_running() {
                "running"
            } else if st.is_notified() {
                "scheduled"
            } else {
                "idle"
            },
            spawned_at: h.spawned_at.to_string(),
            waiting_on: None,
        });
    };
    match &handle.inner {
        crate::scheduler::Handle::MultiThread(s) => s.owned.for_each(each),
        crate::scheduler::Handle::CurrentThread(s) => s.owned.for_each(each),
    }
    for t in &mut out {
        if let Some(ws) = waits.get(&t.id) {
            t.waiting_on = Some(ws.iter().map(describe_wait).collect::<Vec<_>>().join("; "));
        }
    }
    out.sort_by_key(|t| t.id);
    out
}

fn describe_wait(w: &CurrentWait) -> String {
    let mut s = format!("{} at {}", w.resource, w.site);
    if !w.waits_for.is_empty() {
        let who: Vec<String> = w.waits_for.iter().map(|c| c.to_string()).collect();
        let _ = write!(s, ", for {}", who.join(", "));
    }
    s
}

/// `/debug/tasks`: one line per live task.
pub(crate) fn tasks_text(handle: &crate::runtime::Handle) -> String {
    let tasks = tasks(handle);
    let mut s = format!("{} live tasks\n", tasks.len());
    let _ = writeln!(
        s,
        "{:>8}  {:<20}  {:<8}  {:<9}  {:<40}  waiting on",
        "id", "name", "class", "state", "spawned at"
    );
    for t in tasks {
        let _ = writeln!(
            s,
            "{:>8}  {:<20}  {:<8}  {:<9}  {:<40}  {}",
            t.id,
            t.name.as_deref().unwrap_or("-"),
            t.qos.as_str(),
            t.state,
            t.spawned_at,
            t.waiting_on.as_deref().unwrap_or("-")
        );
    }
    s
}

/// `/debug/locks`: the lock-order graph between classes and the current
/// wait-for graph, as one DOT digraph. Wait-for edges on a cycle (a
/// deadlock) are red.
pub fn locks_dot() -> String {
    let order = crate::validation::lock_order_edges();
    let waits = crate::validation::current_waits();
    let mut s =
        String::from("digraph perf_runtime_locks {\n  rankdir=LR;\n  node [fontname=monospace];\n");
    s.push_str("  subgraph cluster_order {\n    label=\"lock order: class held -> class acquired\";\n    node [shape=box];\n");
    for e in &order {
        let _ = writeln!(
            s,
            "    {} -> {} [tooltip={}];",
            dot_quote(&format!("class {}", e.from)),
            dot_quote(&format!("class {}", e.to)),
            dot_quote(&format!("{} then {}", e.from_site, e.to_site))
        );
    }
    s.push_str("  }\n");
    s.push_str("  subgraph cluster_waits {\n    label=\"wait-for now: waiter -> who can end the wait\";\n    node [shape=ellipse];\n");
    let edges: Vec<(String, String, String)> = waits
        .iter()
        .flat_map(|w| {
            w.waits_for.iter().map(move |t| {
                (
                    w.waiter.to_string(),
                    t.to_string(),
                    format!("{} at {}", w.resource, w.site),
                )
            })
        })
        .collect();
    let on_cycle = cycle_edges(&edges);
    for w in waits.iter().filter(|w| w.waits_for.is_empty()) {
        let _ = writeln!(
            s,
            "    {} [xlabel={}];",
            dot_quote(&w.waiter.to_string()),
            dot_quote(&format!("waits on {}", w.resource))
        );
    }
    for (i, (a, b, label)) in edges.iter().enumerate() {
        let style = if on_cycle.contains(&i) {
            ", color=red, fontcolor=red, penwidth=2"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "    {} -> {} [label={}{style}];",
            dot_quote(a),
            dot_quote(b),
            dot_quote(label)
        );
    }
    s.push_str("  }\n}\n");
    s
}

/// Indices of the edges that lie on a cycle: both ends in one strongly
/// connected component (Tarjan), or a self-loop.
pub(crate) fn cycle_edges(edges: &[(String, String, String)]) -> HashSet<usize> {
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (a, b, _) in edges {
        let n = ids.len();
        ids.entry(a).or_insert(n);
        let n = ids.len();
        ids.entry(b).or_insert(n);
    }
    let n = ids.len();
    let mut adj = vec![Vec::new(); n];
    for (a, b, _) in edges {
        adj[ids[a.as_str()]].push(ids[b.as_str()]);
    }
    let comp = scc(&adj);
    edges
        .iter()
        .enumerate()
        .filter(|(_, (a, b, _))| {
            let (x, y) = (ids[a.as_str()], ids[b.as_str()]);
            x == y || comp[x] == comp[y]
        })
        .map(|(i, _)| i)
        .collect()
}

/// Tarjan's strongly connected components, iteratively: the component
/// number of each node.
fn scc(adj: &[Vec<usize>]) -> Vec<usize> {
    let n = adj.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut comp = vec![usize::MAX; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut ncomp = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, next edge to look at)
        let mut call = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut ei)) = call.last_mut() {
            if let Some(&w) = adj[v].get(*ei) {
                *ei += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            call.pop();
            if let Some(&(parent, _)) = call.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp[w] = ncomp;
                    if w == v {
                        break;
                    }
                }
                ncomp += 1;
            }
        }
    }
    comp
}
