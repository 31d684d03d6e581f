//! Where workers run: [`Placement`] (the policy), [`Placement::plan`] (each
//! worker's node and CPUs, computed once when the runtime is built, so a
//! placement that cannot work fails there), and [`pin_current_thread`]
//! (what each worker calls first on its own thread).

use std::io;

use super::{os, CpuSet, NodeId, Topology, TopologyError};

/// How the runtime places its workers on CPUs.
///
/// Every policy spreads workers over nodes in proportion to their allowed
/// CPUs ([`Topology::assign_workers`]), except `Custom`, where the CPU sets
/// decide each worker's node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Placement {
    /// No pinning: the OS moves workers freely. Each worker still has a
    /// home node for the scheduler's bookkeeping. The default, and the only
    /// sensible choice on a made-up topology.
    #[default]
    Unpinned,
    /// Each worker pinned to one allowed CPU of its own: no two workers
    /// share a CPU, so there can be at most as many workers as allowed CPUs.
    /// Within a node, CPUs are taken round-robin over its last-level-cache
    /// groups (so workers get as much cache as possible), lowest CPU id
    /// first within a group.
    PinToCore,
    /// Each worker may run on any allowed CPU of its node, and the OS moves
    /// it within the node as load changes.
    PinToNode,
    /// Worker `i` may run on the CPUs of set `i`. One non-empty set of
    /// allowed CPUs per worker; sets may overlap. A worker's node is the one
    /// holding most of its CPUs (ties go to the lower id).
    Custom(Vec<CpuSet>),
}

/// Where one worker runs, from [`Placement::plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerPlacement {
    /// The worker's home node: its injector, and the first to steal from.
    pub node: NodeId,
    /// The CPUs to pin the worker to with [`pin_current_thread`], or `None`
    /// to leave it unpinned.
    pub cpus: Option<CpuSet>,
}

impl Placement {
    /// Each of `workers` workers' node and CPUs on `topology`, in worker
    /// order. For all policies but `Custom`, workers are grouped by node
    /// (node 0's first).
    ///
    /// # Errors
    ///
    /// [`is_placement`](TopologyError::is_placement) errors, naming the
    /// worker, the CPUs and the allowed set: `PinToCore` with more workers
    /// than allowed CPUs; `Custom` with a number of sets other than
    /// `workers`, an empty set, or a CPU this process may not use (one
    /// outside [`Topology::allowed_cpus`]).
    pub fn plan(
        &self,
        topology: &Topology,
        workers: usize,
    ) -> Result<Vec<WorkerPlacement>, TopologyError> {
        let unpinned = |node| WorkerPlacement { node, cpus: None };
        match self {
            Placement::Unpinned => Ok(topology
                .assign_workers(workers)
                .into_iter()
                .map(unpinned)
                .collect()),
            Placement::PinToNode => Ok(topology
                .assign_workers(workers)
                .into_iter()
                .map(|node| WorkerPlacement {
                    node,
                    cpus: Some(topology.allowed_cpus_of(node)),
                })
                .collect()),
            Placement::PinToCore => pin_to_core(topology, workers),
            Placement::Custom(sets) => custom(topology, sets, workers),
        }
    }
}

fn pin_to_core(topology: &Topology, workers: usize) -> Result<Vec<WorkerPlacement>, TopologyError> {
    let allowed = topology.allowed_cpus();
    if workers > allowed.len() {
        let n = allowed.len();
        return Err(TopologyError::placement(format!(
            "PinToCore gives each worker a CPU of its own, but there are {workers} workers and \
             only {n} allowed CPUs ({allowed}); use at most {n} workers, or PinToNode"
        )));
    }
    let nodes = topology.assign_workers(workers);
    let mut out = Vec::with_capacity(workers);
    // `nodes` is grouped by node: take each run at once.
    let mut rest = &nodes[..];
    while let Some(&node) = rest.first() {
        let count = rest.iter().take_while(|&&n| n == node).count();
        rest = &rest[count..];
        let cpus = spread_over_caches(topology, node, count);
        debug_assert_eq!(
            cpus.len(),
            count,
            "assign_workers gave {node} too many workers"
        );
        out.extend(cpus.into_iter().map(|cpu| WorkerPlacement {
            node,
            cpus: Some(CpuSet::from_iter([cpu])),
        }));
    }
    Ok(out)
}

/// `count` allowed CPUs of `node`: round-robin over its LLC groups, lowest
/// first within a group; returned in ascending order.
fn spread_over_caches(topology: &Topology, node: NodeId, count: usize) -> Vec<usize> {
    let allowed = topology.allowed_cpus();
    let groups: Vec<Vec<usize>> = topology
        .llc_groups_of(node)
        .iter()
        .map(|g| g.cpus().intersection(allowed).iter().collect())
        .collect();
    let mut picked = Vec::with_capacity(count);
    let mut round = 0;
    while picked.len() < count {
        let before = picked.len();
        for group in &groups {
            if let Some(&cpu) = group.get(round) {
                if picked.len() < count {
                    picked.push(cpu);
                }
            }
        }
        if picked.len() == before {
            break; // Fewer allowed CPUs than `count`: the caller checked.
        }
        round += 1;
    }
    picked.sort_unstable();
    picked
}

fn custom(
    topology: &Topology,
    sets: &[CpuSet],
    workers: usize,
) -> Result<Vec<WorkerPlacement>, TopologyError> {
    if sets.len() != workers {
        return Err(TopologyError::placement(format!(
            "Custom lists {} CPU sets but the runtime has {workers} workers; give one CPU set \
             per worker",
            sets.len()
        )));
    }
    let allowed = topology.allowed_cpus();
    let mut out = Vec::with_capacity(workers);
    for (worker, cpus) in sets.iter().enumerate() {
        if cpus.is_empty() {
            return Err(TopologyError::placement(format!(
                "the CPU set of worker {worker} in Custom is empty; give every worker at least \
                 one CPU"
            )));
        }
        let outside = cpus.difference(allowed);
        if !outside.is_empty() {
            return Err(TopologyError::placement(format!(
                "worker {worker} is given {}, which this process may not use (allowed CPUs: \
                 {allowed}); pick CPUs from Topology::allowed_cpus()",
                cpus_phrase(&outside)
            )));
        }
        let mut per_node = vec![0usize; topology.num_nodes()];
        for cpu in cpus {
            // Every allowed CPU belongs to a node (a `Topology` invariant).
            if let Some(node) = topology.node_of_cpu(cpu) {
                per_node[node.index()] += 1;
            }
        }
        // The first of the largest counts: ties go to the lower id.
        let (best, _) =
            per_node.iter().enumerate().fold(
                (0, 0),
                |(bi, bc), (i, &c)| if c > bc { (i, c) } else { (bi, bc) },
            );
        out.push(WorkerPlacement {
            node: NodeId::new(best),
            cpus: Some(cpus.clone()),
        });
    }
    Ok(out)
}

/// `"CPU 5"` or `"CPUs 5-7"`.
fn cpus_phrase(cpus: &CpuSet) -> String {
    if cpus.len() == 1 {
        format!("CPU {cpus}")
    } else {
        format!("CPUs {cpus}")
    }
}

/// Pins the calling thread to `cpus` with `sched_setaffinity(2)`: from
/// now on the OS runs it only there. A worker calls this first thing on its
/// own thread, with the CPUs from [`Placement::plan`].
///
/// A thread can only be narrowed: every CPU of `cpus` must be in the
/// thread's current affinity mask (which it inherits from the process, and
/// which reflects `taskset` and the cgroup cpuset). The kernel itself would
/// silently drop CPUs outside the cgroup's cpuset; this refuses instead.
///
/// # Errors
///
/// `InvalidInput` if `cpus` is empty or holds a CPU this thread may not
/// use (the message names those CPUs and the allowed set), and the thread's
/// mask is left as it was; the OS error if reading or setting the mask
/// fails; `Unsupported` outside Linux.
pub fn pin_current_thread(cpus: &CpuSet) -> io::Result<()> {
    if cpus.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot pin the thread to an empty CPU set; give at least one CPU",
        ));
    }
    let allowed = os::affinity()?;
    let outside = cpus.difference(&allowed);
    if !outside.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot pin the thread to CPUs {cpus}: {} not one this thread may use \
                 (allowed CPUs: {allowed}); pick CPUs from Topology::allowed_cpus()",
                if outside.len() == 1 {
                    format!("CPU {outside} is")
                } else {
                    format!("CPUs {outside} are")
                }
            ),
        ));
    }
    os::set_affinity(cpus).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot pin the thread to CPUs {cpus}: sched_setaffinity failed: {e}"),
        )
    })
}
