//! The policy file's format: the example deployed to Kubernetes parses to
//! the limits it states, every kind of mistake is an error naming the file,
//! line and key, and the sources layer defaults < container < file <
//! builder.

mod policy_support;
mod support;
use policy_support::*;
use support::{child_result, in_child_probe, run_child_probe};

use perf_runtime::container::K8sQos;
use perf_runtime::policy::{Burst, PolicyError, ResourceLimit, POLICY_ENV};
use perf_runtime::runtime::Builder;
use perf_runtime::task::Qos;
use std::path::Path;

fn err(text: &str) -> PolicyError {
    ResourceLimit::parse(text, "/etc/perf-runtime/policy.toml").unwrap_err()
}

#[test]
fn the_kubernetes_example_parses_to_what_it_states() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/kubernetes/policy.toml");
    let p = ResourceLimit::from_file(&path).unwrap();
    assert_eq!(p.cpu_millicores, Some(2000));
    assert_eq!(p.memory_mb, Some(1024));
    assert_eq!(p.max_workers, Some(2));
    assert_eq!(p.max_locks, Some(100_000));
    assert_eq!(p.max_tasks, Some(50_000));
    assert_eq!(p.qos, Some(K8sQos::Guaranteed));
    assert_eq!(p.numa_nodes, Some(vec![0]));
    assert_eq!(p.class(Qos::Critical).max_tasks, Some(20_000));
    assert_eq!(p.class(Qos::Normal).max_queue_depth, Some(4096));
    let batch = p.class(Qos::Batch);
    assert_eq!(batch.max_tasks, Some(256));
    assert_eq!(batch.max_queue_depth, Some(1024));
    assert_eq!(
        batch.burst,
        Some(Burst {
            credits: 64,
            refill_per_sec: 8
        })
    );
    assert_eq!(p.class(Qos::Critical).burst, None);
}

#[test]
fn an_empty_file_limits_nothing() {
    assert_eq!(
        ResourceLimit::parse("# nothing\n", "p.toml").unwrap(),
        ResourceLimit::default()
    );
}

#[test]
fn an_unknown_key_names_its_line_and_the_keys_that_exist() {
    let e = err("[limits]\nmax_tasks = 5\n\n[class.batch]\nmax_taks = 3\n");
    assert_eq!(e.path, Path::new("/etc/perf-runtime/policy.toml"));
    assert_eq!(e.line, Some(5));
    assert_eq!(e.field.as_deref(), Some("class.batch.max_taks"));
    assert!(e.message.contains("max_tasks, max_queue_depth"), "{e}");
    assert_eq!(
        e.to_string(),
        format!(
            "policy file /etc/perf-runtime/policy.toml, line 5, key `class.batch.max_taks`: {}",
            e.message
        )
    );

    let e = err("[class.bulk]\nmax_tasks = 3\n");
    assert_eq!((e.line, e.field.as_deref()), (Some(1), Some("class.bulk")));
    assert!(e.message.contains("critical, normal, batch"), "{e}");

    let e = err("[limit]\n");
    assert_eq!((e.line, e.field.as_deref()), (Some(1), Some("limit")));
}

#[test]
fn a_value_of_the_wrong_kind_names_its_line_and_key() {
    let e = err("[limits]\ncpu_millicores = 2000\nmemory_mb = \"1Gi\"\n");
    assert_eq!(
        (e.line, e.field.as_deref()),
        (Some(3), Some("limits.memory_mb"))
    );
    assert!(e.message.contains("whole number, found string"), "{e}");

    let e = err("[limits]\n\nmax_workers = -2\n");
    assert_eq!(
        (e.line, e.field.as_deref()),
        (Some(3), Some("limits.max_workers"))
    );
    assert!(e.message.contains("-2 is not a count"), "{e}");

    let e = err("[limits]\nqos = \"gold\"\n");
    assert_eq!((e.line, e.field.as_deref()), (Some(2), Some("limits.qos")));
    assert!(
        e.message.contains("guaranteed, burstable or besteffort"),
        "{e}"
    );

    let e = err("[limits]\nnuma_nodes = [0, \"one\"]\n");
    assert_eq!(
        (e.line, e.field.as_deref()),
        (Some(2), Some("limits.numa_nodes"))
    );

    let e = err("[limits]\nnuma_nodes = []\n");
    assert!(e.message.contains("leave the key out"), "{e}");

    let e = err("limits = 3\n");
    assert_eq!((e.line, e.field.as_deref()), (Some(1), Some("limits")));
    assert!(e.message.contains("expected a table"), "{e}");

    let e = err("[class.batch]\nburst_credits = 5000000000\nburst_refill_per_sec = 1\n");
    assert_eq!(e.field.as_deref(), Some("class.batch.burst_credits"));
}

#[test]
fn burst_credits_need_a_refill_rate_and_the_other_way_round() {
    let e = err("[class.batch]\nmax_tasks = 4\nburst_credits = 5\n");
    assert_eq!(e.line, Some(3));
    assert_eq!(e.field.as_deref(), Some("class.batch.burst_refill_per_sec"));
    let e = err("[class.normal]\nburst_refill_per_sec = 5\n");
    assert_eq!(e.field.as_deref(), Some("class.normal.burst_credits"));
}

#[test]
fn invalid_toml_names_its_line() {
    let e = err("[limits]\nmax_tasks = 5\nmax_locks = = 3\n");
    assert_eq!(e.line, Some(3));
    assert_eq!(e.field, None);
    assert!(e.message.starts_with("not valid TOML"), "{e}");
}

#[test]
fn a_missing_file_says_which() {
    let e = ResourceLimit::from_file("/nonexistent/policy.toml").unwrap_err();
    assert_eq!(e.line, None);
    assert!(
        e.to_string()
            .starts_with("policy file /nonexistent/policy.toml: cannot read it"),
        "{e}"
    );
}

#[test]
fn overlay_takes_each_field_from_the_upper_layer_when_it_sets_one() {
    let mut low = ResourceLimit::default();
    low.cpu_millicores = Some(1000);
    low.memory_mb = Some(64);
    low.class_mut(Qos::Batch).max_tasks = Some(10);
    low.class_mut(Qos::Batch).max_queue_depth = Some(7);
    let mut high = ResourceLimit::default();
    high.memory_mb = Some(128);
    high.class_mut(Qos::Batch).max_tasks = Some(20);
    let both = low.overlay(&high);
    assert_eq!(both.cpu_millicores, Some(1000));
    assert_eq!(both.memory_mb, Some(128));
    assert_eq!(both.class(Qos::Batch).max_tasks, Some(20));
    assert_eq!(both.class(Qos::Batch).max_queue_depth, Some(7));
    assert_eq!(low.overlay(&ResourceLimit::default()), low);
}

#[test]
fn sources_layer_defaults_then_container_then_file_then_builder() {
    let s = Scratch::new("layers");
    // 1.5 CPUs and 1 GiB found by detection.
    let root = s.container("150000 100000", 1 << 20, 1 << 30);
    let file = s.put(
        "policy.toml",
        "[limits]\nmemory_mb = 512\nmax_tasks = 100\n[class.batch]\nmax_tasks = 10\n",
    );
    let mut builder = ResourceLimit::default();
    builder.max_tasks = Some(200);
    let rt = Builder::new_current_thread()
        .container_root(&root)
        .policy_file(&file)
        .resource_limit(builder)
        .build()
        .unwrap();
    let p = rt.handle().policy().current();
    assert_eq!(p.cpu_millicores, Some(1500), "from the container");
    assert_eq!(p.memory_mb, Some(512), "the file over the container's 1024");
    assert_eq!(p.max_tasks, Some(200), "the builder over the file");
    assert_eq!(p.class(Qos::Batch).max_tasks, Some(10), "from the file");
    assert_eq!(p.max_workers, None, "the default: no limit");
    assert_eq!(rt.handle().policy().path(), Some(file.as_path()));
}

#[test]
fn a_bad_file_at_build_is_a_build_error_naming_line_and_key() {
    let s = Scratch::new("build");
    let file = s.put("policy.toml", "[limits]\nmax_tasks = \"many\"\n");
    let e = Builder::new_current_thread()
        .policy_file(&file)
        .build()
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(&format!("policy file {}", file.display())),
        "{text}"
    );
    assert!(text.contains("line 2, key `limits.max_tasks`"), "{text}");
}

#[test]
fn the_environment_variable_names_the_file_when_the_builder_does_not() {
    let s = Scratch::new("env");
    let file = s.put("p.toml", "[limits]\nmax_locks = 77\n");
    let out = run_child_probe("env_probe", &[(POLICY_ENV, Some(file.to_str().unwrap()))]);
    assert_eq!(out, "max_locks=Some(77)");
    let out = run_child_probe("env_probe", &[(POLICY_ENV, None)]);
    assert_eq!(out, "max_locks=None");
}

#[test]
#[ignore = "a probe run in a child process by the test above"]
fn env_probe() {
    if !in_child_probe() {
        return;
    }
    let rt = Builder::new_current_thread().build().unwrap();
    child_result(&format!(
        "max_locks={:?}",
        rt.handle().policy().current().max_locks
    ));
}
