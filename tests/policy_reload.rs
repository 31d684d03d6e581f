//! Hot reload of the policy file: a ConfigMap update (an atomic swap of
//! the `..data` symlink) is seen even when the new file has the old size and
//! modification time; a bad new file is rejected with its line and key and
//! the old policy stays; the runtime's watcher thread applies a swap.

mod policy_support;
use policy_support::*;

use perf_runtime::policy::{Policy, ResourceLimit};
use perf_runtime::runtime::Builder;
use perf_runtime::task::Qos;
use std::fs;
use std::time::Duration;

const V1: &str = "[class.batch]\nmax_tasks = 10\n";
// The same length as V1.
const V2: &str = "[class.batch]\nmax_tasks = 20\n";
const BAD: &str = "[class.batch]\nmax_tasks = -1\n";

fn batch_limit(p: &Policy) -> Option<usize> {
    p.current().class(Qos::Batch).max_tasks
}

#[test]
fn a_configmap_swap_is_seen_even_with_the_old_size_and_time() {
    let s = Scratch::new("swap");
    let mut cm = ConfigMapDir::new(s.root.join("cm"), V1);
    let policy = Policy::new(None, Some(cm.file()), ResourceLimit::default()).unwrap();
    assert_eq!(batch_limit(&policy), Some(10));
    assert_eq!(policy.reload(), Ok(false), "nothing changed yet");
    assert_eq!(policy.generation(), 0);

    let old_mtime = fs::metadata(cm.file()).unwrap().modified().unwrap();
    cm.swap(V2);
    fs::File::options()
        .write(true)
        .open(cm.file())
        .unwrap()
        .set_modified(old_mtime)
        .unwrap();
    assert_eq!(
        fs::metadata(cm.file()).unwrap().len(),
        V1.len() as u64,
        "the new version has the old size"
    );
    assert_eq!(policy.reload(), Ok(true));
    assert_eq!(batch_limit(&policy), Some(20));
    assert_eq!(policy.generation(), 1);
    assert_eq!(policy.reload(), Ok(false), "read once per version");

    // A new version with the same content: read, but nothing changes.
    cm.swap(V2);
    assert_eq!(policy.reload(), Ok(false));
    assert_eq!(policy.generation(), 2);
}

#[test]
fn a_bad_new_file_is_rejected_and_the_old_policy_stays() {
    let s = Scratch::new("bad");
    let mut cm = ConfigMapDir::new(s.root.join("cm"), V1);
    let policy = Policy::new(None, Some(cm.file()), ResourceLimit::default()).unwrap();

    cm.swap(BAD);
    let e = policy.reload().unwrap_err();
    assert_eq!(e.path, cm.file());
    assert_eq!(e.line, Some(2));
    assert_eq!(e.field.as_deref(), Some("class.batch.max_tasks"));
    assert_eq!(batch_limit(&policy), Some(10), "the old policy stays");
    assert_eq!(policy.last_error(), Some(e.clone()));
    assert_eq!(policy.generation(), 1);
    // Unchanged: not read again, still rejected.
    assert_eq!(policy.reload(), Err(e));
    assert_eq!(policy.generation(), 1);

    cm.swap(V2);
    assert_eq!(policy.reload(), Ok(true));
    assert_eq!(batch_limit(&policy), Some(20));
    assert_eq!(policy.last_error(), None);
}

#[test]
fn a_vanished_file_is_rejected_and_the_old_policy_stays() {
    let s = Scratch::new("gone");
    let file = s.put("policy.toml", V1);
    let policy = Policy::new(None, Some(file.clone()), ResourceLimit::default()).unwrap();
    fs::remove_file(&file).unwrap();
    let e = policy.reload().unwrap_err();
    assert!(e.message.starts_with("cannot read it"), "{e}");
    assert_eq!(batch_limit(&policy), Some(10));
    // Written again in place (a plain file, not a ConfigMap).
    fs::write(&file, V2).unwrap();
    assert_eq!(policy.reload(), Ok(true));
    assert_eq!(batch_limit(&policy), Some(20));
}

#[test]
fn the_builder_layer_stays_over_a_reloaded_file() {
    let s = Scratch::new("builder");
    let mut cm = ConfigMapDir::new(s.root.join("cm"), V1);
    let mut builder = ResourceLimit::default();
    builder.class_mut(Qos::Batch).max_tasks = Some(5);
    let policy = Policy::new(None, Some(cm.file()), builder).unwrap();
    assert_eq!(batch_limit(&policy), Some(5));
    cm.swap("[class.batch]\nmax_tasks = 30\nmax_queue_depth = 9\n");
    assert_eq!(policy.reload(), Ok(true), "max_queue_depth is new");
    assert_eq!(batch_limit(&policy), Some(5));
    assert_eq!(policy.current().class(Qos::Batch).max_queue_depth, Some(9));
}

#[test]
fn the_runtime_watcher_applies_a_swap_and_keeps_the_policy_on_a_bad_one() {
    let s = Scratch::new("watch");
    let mut cm = ConfigMapDir::new(s.root.join("cm"), V1);
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .policy_file(cm.file())
        .policy_reload_interval(Some(Duration::from_millis(5)))
        .build()
        .unwrap();
    let policy = rt.handle().policy().clone();
    assert_eq!(batch_limit(&policy), Some(10));

    // The generation moves only when the watcher has read the new version;
    // the wait bounds a broken watcher, it is not a timing assertion.
    cm.swap(BAD);
    let g = policy.wait_for_generation(0, Duration::from_secs(30));
    assert_eq!(g, 1, "the watcher read the bad version");
    assert!(policy.last_error().is_some());
    assert_eq!(batch_limit(&policy), Some(10));

    cm.swap(V2);
    let g = policy.wait_for_generation(1, Duration::from_secs(30));
    assert_eq!(g, 2, "the watcher read the good version");
    assert_eq!(batch_limit(&policy), Some(20));
    assert_eq!(policy.last_error(), None);
    drop(rt);
}
