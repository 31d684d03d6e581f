//! The Kubernetes QoS class of the pod this process runs in.
//!
//! The kubelet puts a pod's cgroup under a per-class parent and gives its
//! processes a class-specific `oom_score_adj`:
//!
//! | class      | cgroupfs driver             | systemd driver                          | `oom_score_adj` |
//! |------------|-----------------------------|-----------------------------------------|-----------------|
//! | Guaranteed | `/kubepods/pod<uid>`        | `/kubepods.slice/kubepods-pod<uid>.slice` | -997 (-998 in old kubelets) |
//! | Burstable  | `/kubepods/burstable/pod..` | `.../kubepods-burstable.slice/...`      | 3 to 999        |
//! | BestEffort | `/kubepods/besteffort/pod..`| `.../kubepods-besteffort.slice/...`     | 1000            |
//!
//! The path is the stronger evidence (the kubelet chose it; a process can
//! raise its own `oom_score_adj`), so it wins when both are known and they
//! disagree; the disagreement is recorded. With a cgroup namespace the path
//! is hidden (`/`), and the score alone decides.

use std::fmt;

/// A Kubernetes pod QoS class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum K8sQos {
    /// Every container has equal CPU and memory requests and limits.
    Guaranteed,
    /// Some request or limit is set, but not equal everywhere.
    Burstable,
    /// No request or limit at all: first to be evicted or OOM-killed.
    BestEffort,
}

impl K8sQos {
    /// The class's name as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            K8sQos::Guaranteed => "Guaranteed",
            K8sQos::Burstable => "Burstable",
            K8sQos::BestEffort => "BestEffort",
        }
    }

    /// The class an `oom_score_adj` value implies, or `None` for a value the
    /// kubelet never sets on pod processes (0 — the default for processes
    /// outside Kubernetes — and other values below 3).
    pub fn from_oom_score_adj(score: i32) -> Option<K8sQos> {
        match score {
            -998 | -997 => Some(K8sQos::Guaranteed),
            1000 => Some(K8sQos::BestEffort),
            3..=999 => Some(K8sQos::Burstable),
            _ => None,
        }
    }

    /// The class a cgroup path implies: `None` if no component mentions
    /// `kubepods`; otherwise BestEffort or Burstable if a component says so,
    /// else Guaranteed (those pods sit directly under `kubepods`).
    pub fn from_cgroup_path(path: &str) -> Option<K8sQos> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let k8s = parts.iter().position(|p| p.contains("kubepods"))?;
        let below = &parts[k8s..];
        if below.iter().any(|p| p.contains("besteffort")) {
            Some(K8sQos::BestEffort)
        } else if below.iter().any(|p| p.contains("burstable")) {
            Some(K8sQos::Burstable)
        } else {
            Some(K8sQos::Guaranteed)
        }
    }
}

impl fmt::Display for K8sQos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Decides the class from the cgroup paths this process can see (from
/// `/proc/self/cgroup` and the cgroup mounts' roots) and its
/// `oom_score_adj`; pushes onto `notes` what was inferred from what.
///
/// Outside Kubernetes the answer is `None`: a visible cgroup path without
/// `kubepods` means the process is not in a pod, whatever its score (a
/// desktop browser sets its renderers' score to 300). The score alone is
/// trusted only when every visible path is `/`, as inside a cgroup
/// namespace.
pub(super) fn classify(
    paths: &[&str],
    oom_score_adj: Option<i32>,
    notes: &mut Vec<String>,
) -> Option<K8sQos> {
    let by_path = paths.iter().find_map(|p| K8sQos::from_cgroup_path(p));
    let by_score = oom_score_adj.and_then(K8sQos::from_oom_score_adj);
    match (by_path, by_score) {
        (Some(path), Some(score)) if path != score => {
            notes.push(format!(
                "k8s QoS: the cgroup path says {path} but oom_score_adj {} says {score}; \
                 using the path",
                oom_score_adj.unwrap_or_default()
            ));
            Some(path)
        }
        (Some(path), _) => Some(path),
        (None, Some(score)) => {
            if paths.iter().all(|p| *p == "/") {
                notes.push(format!(
                    "k8s QoS: no kubepods cgroup path is visible (cgroup namespace); \
                     inferred {score} from oom_score_adj {} alone",
                    oom_score_adj.unwrap_or_default()
                ));
                Some(score)
            } else {
                None
            }
        }
        (None, None) => None,
    }
}
