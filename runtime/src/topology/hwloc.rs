//! Reading the topology through hwloc (cargo feature `hwloc`, system
//! libhwloc 2.x): the same [`Topology`] the sysfs reader makes, from a
//! second source, and on systems where hwloc knows more than sysfs says.
//!
//! Where the two sources model things differently, this reader follows the
//! sysfs reader's rules so both give the same answer on Linux:
//! - Allowed CPUs are the calling thread's binding (`sched_getaffinity`, as
//!   hwloc reads it) intersected with the online CPUs; disallowed CPUs stay
//!   in their nodes (`INCLUDE_DISALLOWED`).
//! - hwloc gives a CPU-less NUMA node (HBM, CXL memory) the CPU set of the
//!   CPUs near it; Linux lists no CPU for it. A CPU is given to the node with
//!   the lowest OS number among those that list it, which on Linux is the
//!   node whose cpulist holds it.
//! - Distances are the OS-provided latency matrix of the NUMA nodes; hwloc
//!   keeps none on a one-node machine, where the distance is 10 as in sysfs.

use hwlocality::cpu::binding::CpuBindingFlags;
use hwlocality::cpu::cpuset::CpuSet as HwCpuSet;
use hwlocality::object::attributes::ObjectAttributes;
use hwlocality::object::distance::DistancesKind;
use hwlocality::object::types::ObjectType;
use hwlocality::object::TopologyObject;
use hwlocality::topology::builder::BuildFlags;

use super::cache::{self, CpuCache};
use super::{default_distances, CpuSet, Node, NodeId, Parts, Topology, TopologyError};

impl Topology {
    /// Reads the topology of this machine through the system's libhwloc
    /// (cargo feature `hwloc`): NUMA nodes, their distances, last-level
    /// caches, and the CPUs the calling thread may use. On Linux the result
    /// matches [`detect`](Topology::detect)'s; see the module source for how
    /// differences between the two models are resolved.
    ///
    /// # Errors
    ///
    /// When hwloc fails to load or bind-query the topology, finds no NUMA
    /// node or no allowed CPU, reports a distance matrix that does not fit
    /// its nodes, or reports caches that contradict each other.
    pub fn from_hwloc() -> Result<Topology, TopologyError> {
        Ok(Topology::from_parts(read()?, false))
    }
}

fn fail(what: String) -> TopologyError {
    TopologyError::invalid_input(format!("hwloc: {what}"))
}

fn to_cpuset(set: &HwCpuSet) -> CpuSet {
    set.iter_set().map(usize::from).collect()
}

fn read() -> Result<Parts, TopologyError> {
    let hw = hwlocality::Topology::builder()
        .with_flags(BuildFlags::INCLUDE_DISALLOWED)
        .map_err(|e| fail(format!("cannot set the build flags: {e}")))?
        .build()
        .map_err(|e| fail(format!("cannot load the topology: {e}")))?;
    let binding = hw
        .cpu_binding(CpuBindingFlags::THREAD)
        .map_err(|e| fail(format!("cannot read the calling thread's CPU binding: {e}")))?;
    parts_of(&hw, &to_cpuset(&binding))
}

/// The parts of a loaded hwloc topology, with `binding` the CPUs the
/// calling thread may use. Separate from `read` so tests can feed it hwloc's
/// synthetic topologies.
pub(super) fn parts_of(
    hw: &hwlocality::Topology,
    binding: &CpuSet,
) -> Result<Parts, TopologyError> {
    let online = to_cpuset(&hw.cpuset());

    // Nodes by OS number; a CPU goes to the first node that lists it.
    let mut numa: Vec<(usize, &TopologyObject)> = hw
        .objects_with_type(ObjectType::NUMANode)
        .filter_map(|obj| Some((obj.os_index()?, obj)))
        .collect();
    numa.sort_by_key(|&(os_id, _)| os_id);
    if numa.is_empty() {
        return Err(fail("the topology has no NUMA node".to_owned()));
    }
    let mut nodes = Vec::with_capacity(numa.len());
    let mut seen = CpuSet::new();
    for (index, &(os_id, obj)) in numa.iter().enumerate() {
        let listed = obj.cpuset().map_or_else(CpuSet::new, |s| to_cpuset(&s));
        let cpus = listed.intersection(&online).difference(&seen);
        seen = seen.union(&cpus);
        nodes.push(Node {
            id: NodeId::new(index),
            os_id,
            cpus,
        });
    }

    let allowed = binding.intersection(&online);
    if allowed.is_empty() {
        return Err(fail(format!(
            "none of the CPUs this thread is bound to ({binding}) is online ({online})"
        )));
    }
    let homeless = allowed.difference(&seen);
    if !homeless.is_empty() {
        return Err(fail(format!(
            "online CPUs {homeless} are allowed but belong to no NUMA node"
        )));
    }

    let distances = read_distances(hw, &numa)?;

    // The highest-level data or unified cache above each PU.
    let pus: Vec<(usize, &TopologyObject)> = hw
        .objects_with_type(ObjectType::PU)
        .filter_map(|pu| Some((pu.os_index()?, pu)))
        .collect();
    let cache_of = |cpu: usize| -> Result<Option<CpuCache>, TopologyError> {
        let Some(&(_, pu)) = pus.iter().find(|&&(os, _)| os == cpu) else {
            return Ok(None);
        };
        let best = pu
            .ancestors()
            .filter(|obj| obj.object_type().is_cpu_data_cache())
            .filter_map(|obj| match obj.attributes() {
                Some(ObjectAttributes::Cache(attrs)) => Some((attrs.depth(), obj)),
                _ => None,
            })
            .max_by_key(|&(level, _)| level);
        Ok(best.map(|(level, obj)| CpuCache {
            level: u8::try_from(level).unwrap_or(u8::MAX),
            shared: obj
                .cpuset()
                .map_or_else(CpuSet::new, |s| to_cpuset(&s).intersection(&online)),
        }))
    };
    let llcs = cache::group_by_llc(&nodes, cache_of, |cpu, what| {
        fail(format!("caches of PU {cpu}: {what}"))
    })?;

    Ok(Parts {
        nodes,
        distances,
        llcs,
        allowed,
    })
}

/// The OS-provided latency matrix over all `numa` nodes, in their order, or
/// the kernel's defaults when hwloc has none.
fn read_distances(
    hw: &hwlocality::Topology,
    numa: &[(usize, &TopologyObject)],
) -> Result<Vec<u32>, TopologyError> {
    let n = numa.len();
    let kind = DistancesKind::FROM_OS | DistancesKind::MEANS_LATENCY;
    let matrices = hw
        .distances_with_type(Some(kind), ObjectType::NUMANode)
        .map_err(|e| fail(format!("cannot read NUMA distances: {e}")))?;
    for matrix in &matrices {
        // Our index of each of the matrix's objects.
        let index: Vec<Option<usize>> = matrix
            .objects()
            .map(|obj| {
                let os = obj?.os_index()?;
                numa.iter().position(|&(o, _)| o == os)
            })
            .collect();
        if index.len() != n || index.iter().any(Option::is_none) {
            continue;
        }
        let mut flat = vec![0; n * n];
        for ((from, to), d) in matrix.enumerate_distances() {
            let (Some(f), Some(t)) = (index[from], index[to]) else {
                continue;
            };
            flat[f * n + t] = u32::try_from(d).ok().filter(|&d| d > 0).ok_or_else(|| {
                fail(format!(
                    "NUMA distance {d} from node{} to node{} is not a positive 32-bit number",
                    numa[f].0, numa[t].0
                ))
            })?;
        }
        if flat.contains(&0) {
            return Err(fail("a NUMA distance matrix lists a node twice".to_owned()));
        }
        return Ok(flat);
    }
    if n > 1 && !matrices.is_empty() {
        return Err(fail(format!(
            "no NUMA distance matrix covers all {n} nodes"
        )));
    }
    Ok(default_distances(n))
}
