use super::*;

#[test]
fn metrics_args() {
    let a = |v: &[&str]| addr_in(v.iter().map(|s| s.to_string()));
    assert_eq!(a(&["x"]), Ok(None));
    assert_eq!(a(&["--metrics", "1.2.3.4:5"]), Ok(Some("1.2.3.4:5".into())));
    assert_eq!(a(&["--metrics=:9"]), Ok(Some(":9".into())));
    assert!(a(&["--metrics"]).unwrap_err().contains("needs an address"));
    let st = |v: &[&str]| strip(v.iter().map(|s| s.to_string()));
    assert_eq!(
        st(&["--metrics", "x:1", "0.0.0.0:9", "--metrics=y"]),
        vec!["0.0.0.0:9"]
    );
}

#[test]
fn text_format_renames_counters_and_drops_openmetrics_lines() {
    let om = "# HELP x_seconds Some help.\n# TYPE x_seconds counter\n# UNIT x_seconds seconds\nx_seconds_total 3\n# HELP g A gauge.\n# TYPE g gauge\ng 1\n# EOF\n";
    assert_eq!(
        encode::openmetrics_to_text(om),
        "# HELP x_seconds_total Some help.\n# TYPE x_seconds_total counter\nx_seconds_total 3\n# HELP g A gauge.\n# TYPE g gauge\ng 1\n"
    );
}

#[test]
fn exposition_has_no_empty_label_sets_and_every_family_is_declared() {
    let rt = crate::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let s = rt.block_on(async {
        crate::spawn(async {}).await.unwrap();
        snapshot()
    });
    let text = render_prometheus(&s);
    assert!(!text.contains("{}"), "{text}");
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).unwrap();
        assert!(
            name.starts_with("perf_runtime_foreign_")
                || encode::FAMILIES
                    .iter()
                    .any(|f| encode::full_name(f) == name),
            "{name} is not in FAMILIES (the README table)"
        );
    }
    let om = render_openmetrics(&s);
    assert!(om.ends_with("# EOF\n"));
}

#[test]
fn classes_past_the_cap_are_summed_as_other() {
    let v: Vec<(String, u64)> = (0..40).map(|i| (format!("c{i:02}"), 100 - i)).collect();
    let b = snapshot::bound_classes(v);
    assert_eq!(b.len(), MAX_CLASSES + 1);
    assert_eq!(b[0], ("c00".to_owned(), 100));
    let rest: u64 = (MAX_CLASSES as u64..40).map(|i| 100 - i).sum();
    assert_eq!(b[MAX_CLASSES], (OTHER_CLASS.to_owned(), rest));
}

#[test]
fn accept_negotiation_and_request_heads() {
    let p = |h: &str| http::parse_head(h);
    let r =
        p("GET /metrics?x=1 HTTP/1.1\r\nAccept: application/openmetrics-text; version=1.0.0\r\n")
            .unwrap();
    assert_eq!(
        (r.method.as_str(), r.path.as_str(), r.openmetrics),
        ("GET", "/metrics", true)
    );
    assert!(
        !p("GET / HTTP/1.1\r\naccept: text/plain\r\n")
            .unwrap()
            .openmetrics
    );
    assert!(
        !p("GET / HTTP/1.1\r\nAccept: application/openmetrics-text;q=0\r\n")
            .unwrap()
            .openmetrics
    );
    // Prometheus 3.x's default Accept (scrape_protocols), and 2.x's.
    for accept in [
        "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    ] {
        let head = format!("GET /metrics HTTP/1.1\r\nAccept: {accept}\r\n");
        assert!(p(&head).unwrap().openmetrics, "{accept}");
    }
    assert!(p("GET / SPDY/3").is_none());
    assert!(p("garbage").is_none());
}

#[test]
fn cycle_edges_are_those_on_a_cycle() {
    let e = |a: &str, b: &str| (a.to_owned(), b.to_owned(), String::new());
    let edges = vec![
        e("a", "b"),
        e("b", "c"),
        e("c", "a"),
        e("c", "d"),
        e("d", "d"),
        e("x", "y"),
    ];
    let mut on: Vec<usize> = debug::cycle_edges(&edges).into_iter().collect();
    on.sort();
    assert_eq!(on, vec![0, 1, 2, 4]);
}

#[test]
fn histograms_export_never_optimistic() {
    use crate::scheduler::stats::{self, WorkerStats};
    let w = WorkerStats::new();
    // Tick 0 is sampled: the poll is timed.
    w.run_poll(crate::task::Qos::Batch, 0, || {
        std::thread::sleep(std::time::Duration::from_millis(3))
    });
    let h = stats::poll_time(&[&w], crate::task::Qos::Batch);
    assert_eq!(h.count(), 1);
    assert!(h.sum() >= std::time::Duration::from_millis(3));
    let encode::Value::Histogram { buckets, count, .. } = encode::latency(&h) else {
        unreachable!()
    };
    assert_eq!(count, 1);
    let below: u64 = buckets
        .iter()
        .filter(|(le, _)| *le < 0.003)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(below, 0, "a 3 ms poll counted under 3 ms: {buckets:?}");
    assert_eq!(buckets.iter().map(|(_, n)| n).sum::<u64>(), 1);
}

#[test]
fn channel_gauges_read_live_channels_and_unregister_on_drop() {
    use crate::sync::class_stats::channel_snapshot;
    use crate::sync::mpsc;
    let site = line!() + 1;
    let (tx, rx) = mpsc::unbounded_channel::<String>();
    let name = format!("unbounded_mpsc@tests.rs:{site}");
    let find = || channel_snapshot().into_iter().find(|c| c.name == name);
    tx.send("a".into()).unwrap();
    tx.send("b".into()).unwrap();
    // Read from another thread while the channel is alive.
    let c = std::thread::scope(|s| s.spawn(find).join().unwrap()).expect("registered");
    assert_eq!((c.channels, c.occupancy, c.capacity), (1, 2, 0));
    drop(tx);
    drop(rx);
    assert_eq!(find(), None, "unregistered with the channel");
}
