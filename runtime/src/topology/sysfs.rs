//! Reading a sysfs tree (any OS, so fixture trees test everywhere): online
//! CPUs, nodes and their CPUs, NUMA distances, and each CPU's caches.

use std::fs;
use std::io;
use std::path::Path;

use super::cache::{self, CpuCache};
use super::{CpuSet, Node, NodeId, Parts, TopologyError};

/// Reads the nodes under `root/sys/devices/system/node` (their CPUs limited
/// to the online ones of `root/sys/devices/system/cpu/online`, and their
/// distances), the last-level cache of each CPU, and limits `allowed` to
/// online CPUs.
pub(super) fn read(root: &Path, allowed: &CpuSet) -> Result<Parts, TopologyError> {
    let system = root.join("sys/devices/system");
    let online_path = system.join("cpu/online");
    let online = read_cpulist(&online_path)?;

    let node_dir = system.join("node");
    let entries = fs::read_dir(&node_dir).map_err(|e| TopologyError::io(&node_dir, e))?;
    let mut os_ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| TopologyError::io(&node_dir, e))?;
        // Skip `online`, `possible`, `has_cpu` and the like.
        let name = entry.file_name();
        let digits = name.to_str().and_then(|n| n.strip_prefix("node"));
        if let Some(digits) = digits.filter(|d| d.bytes().all(|b| b.is_ascii_digit())) {
            if let Ok(os_id) = digits.parse::<usize>() {
                os_ids.push(os_id);
            }
        }
    }
    if os_ids.is_empty() {
        let what = "no node<N> directory found".to_owned();
        return Err(TopologyError::invalid(&node_dir, what));
    }
    os_ids.sort_unstable();

    let mut nodes = Vec::with_capacity(os_ids.len());
    let mut seen = CpuSet::new();
    for (index, os_id) in os_ids.into_iter().enumerate() {
        let path = node_dir.join(format!("node{os_id}/cpulist"));
        let cpus = read_cpulist(&path)?.intersection(&online);
        let shared = cpus.intersection(&seen);
        if !shared.is_empty() {
            let what = format!("CPUs {shared} are listed by node{os_id} and by another node");
            return Err(TopologyError::invalid(&node_dir, what));
        }
        seen = seen.union(&cpus);
        nodes.push(Node {
            id: NodeId::new(index),
            os_id,
            cpus,
        });
    }

    let allowed_online = allowed.intersection(&online);
    if allowed_online.is_empty() {
        let what = format!("none of the allowed CPUs ({allowed}) is online ({online})");
        return Err(TopologyError::invalid(&online_path, what));
    }
    let homeless: CpuSet = allowed_online
        .iter()
        .filter(|&c| !seen.contains(c))
        .collect();
    if !homeless.is_empty() {
        let what = format!("online CPUs {homeless} are allowed but belong to no node");
        return Err(TopologyError::invalid(&node_dir, what));
    }
    let distances = read_distances(&node_dir, &nodes)?;
    let cpu_dir = system.join("cpu");
    let llcs = cache::group_by_llc(
        &nodes,
        |cpu| read_cpu_cache(&cpu_dir.join(format!("cpu{cpu}/cache"))),
        |cpu, what| TopologyError::invalid(&cpu_dir.join(format!("cpu{cpu}/cache")), what),
    )?;
    Ok(Parts {
        nodes,
        distances,
        llcs,
        allowed: allowed_online,
    })
}

/// The distance matrix from each `nodeN/distance` file (a row of numbers,
/// one per node in the kernel's node order). When no node has the file (a
/// kernel that predates it), the kernel's defaults: 10 to itself, 20 to any
/// other node.
fn read_distances(node_dir: &Path, nodes: &[Node]) -> Result<Vec<u32>, TopologyError> {
    let n = nodes.len();
    let mut matrix = Vec::with_capacity(n * n);
    let mut missing = None;
    for node in nodes {
        let path = node_dir.join(format!("node{}/distance", node.os_id));
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.get_or_insert((path, e));
                continue;
            }
            Err(e) => return Err(TopologyError::io(&path, e)),
        };
        let row_start = matrix.len();
        for word in text.split_whitespace() {
            match word.parse::<u32>() {
                Ok(d) if d > 0 => matrix.push(d),
                _ => {
                    let what =
                        format!("distance {word:?} in {text:?} is not a positive whole number");
                    return Err(TopologyError::invalid(&path, what));
                }
            }
        }
        let found = matrix.len() - row_start;
        if found != n {
            let what = format!(
                "{text:?} lists {found} distances, but there are {n} nodes; expected one \
                 distance per node"
            );
            return Err(TopologyError::invalid(&path, what));
        }
    }
    match missing {
        None => Ok(matrix),
        Some(_) if matrix.is_empty() => Ok(super::default_distances(n)),
        Some((path, e)) => Err(TopologyError::io(&path, e)),
    }
}

/// The highest-level data or unified cache under `cache_dir`
/// (`cpuN/cache`), from its `index*/{level,type,shared_cpu_list}` files, or
/// `None` if the directory is missing or lists no data cache (some virtual
/// machines and ARM boards report none).
fn read_cpu_cache(cache_dir: &Path) -> Result<Option<CpuCache>, TopologyError> {
    let entries = match fs::read_dir(cache_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TopologyError::io(cache_dir, e)),
    };
    let mut indexes = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| TopologyError::io(cache_dir, e))?;
        let name = entry.file_name();
        let digits = name.to_str().and_then(|n| n.strip_prefix("index"));
        if let Some(n) = digits.and_then(|d| d.parse::<usize>().ok()) {
            indexes.push(n);
        }
    }
    indexes.sort_unstable();
    let mut best: Option<(u8, usize)> = None;
    for index in indexes {
        let dir = cache_dir.join(format!("index{index}"));
        let type_path = dir.join("type");
        let kind = fs::read_to_string(&type_path).map_err(|e| TopologyError::io(&type_path, e))?;
        if kind.trim() == "Instruction" {
            continue;
        }
        let level_path = dir.join("level");
        let text =
            fs::read_to_string(&level_path).map_err(|e| TopologyError::io(&level_path, e))?;
        let level = text.trim().parse::<u8>().map_err(|_| {
            let what = format!("cache level {text:?} is not a small whole number");
            TopologyError::invalid(&level_path, what)
        })?;
        // The first index of the highest level wins.
        if best.is_none_or(|(best_level, _)| level > best_level) {
            best = Some((level, index));
        }
    }
    let Some((level, index)) = best else {
        return Ok(None);
    };
    let shared = read_cpulist(&cache_dir.join(format!("index{index}/shared_cpu_list")))?;
    Ok(Some(CpuCache { level, shared }))
}

fn read_cpulist(path: &Path) -> Result<CpuSet, TopologyError> {
    let text = fs::read_to_string(path).map_err(|e| TopologyError::io(path, e))?;
    CpuSet::parse_list(&text).map_err(|e| e.in_file(path))
}
