use std::cell::RefCell;
use std::time::Duration;

use super::*;

#[test]
fn rotation_visits_every_arm_once_starting_one_later_each_round() {
    let r: Vec<Vec<usize>> = (0..4).map(|round| rotation(round, 3).collect()).collect();
    assert_eq!(r, [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 1, 2]]);
    assert_eq!(rotation(5, 1).collect::<Vec<_>>(), [0]);
    assert_eq!(rotation(0, 0).count(), 0);
}

/// Two fake arms that log their calls and return the call number.
fn logged<'a>(log: &'a RefCell<Vec<&'static str>>) -> Vec<Arm<'a>> {
    ["a", "b"]
        .into_iter()
        .map(|name| Arm {
            name,
            sample: Box::new(move || {
                log.borrow_mut().push(name);
                Ok(log.borrow().len() as f64)
            }),
        })
        .collect()
}

#[test]
fn interleave_drops_warmup_and_alternates() {
    let log = RefCell::new(Vec::new());
    let mut arms = logged(&log);
    let out = interleave(&mut arms, 2, 3, Duration::from_secs(3600)).unwrap();
    assert_eq!(
        *log.borrow(),
        ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b"]
    );
    // Calls 1-4 were warm-up; a's measured calls are 5, 8, 9.
    assert_eq!(out, [vec![5.0, 8.0, 9.0], vec![6.0, 7.0, 10.0]]);
}

#[test]
fn interleave_stops_at_min_samples_once_past_budget() {
    let log = RefCell::new(Vec::new());
    let mut arms = logged(&log);
    let out = interleave(&mut arms, 1, 100, Duration::ZERO).unwrap();
    assert_eq!(out[0].len(), MIN_SAMPLES);
    assert_eq!(out[1].len(), MIN_SAMPLES);
    assert_eq!(log.borrow().len(), 2 * (1 + MIN_SAMPLES));
    // Fewer samples asked than MIN_SAMPLES: all of them, still.
    let out = interleave(&mut logged(&log), 0, 2, Duration::ZERO).unwrap();
    assert_eq!(out[0].len(), 2);
}

#[test]
fn interleave_names_the_failing_arm() {
    let mut calls = 0;
    let mut arms = [Arm {
        name: "perf",
        sample: Box::new(|| {
            calls += 1;
            if calls == 3 {
                Err("lost wake-up".to_owned())
            } else {
                Ok(1.0)
            }
        }),
    }];
    let err = interleave(&mut arms, 1, 5, Duration::from_secs(3600)).unwrap_err();
    assert_eq!(err, "perf: lost wake-up");
}

#[test]
fn per_op_divides_and_never_by_zero() {
    assert_eq!(per_op_ns(Duration::from_micros(2), 1_000), 2.0);
    assert_eq!(per_op_ns(Duration::from_nanos(7), 0), 7.0);
}

#[test]
fn bench_names_round_trip_and_ops_match_the_workloads() {
    for b in Bench::ALL {
        assert_eq!(Bench::from_name(b.name()), Some(b));
    }
    assert_eq!(Bench::from_name("mutex"), None);
    assert_eq!(Bench::MutexContended.ops(), 40_000);
    assert_eq!(Bench::Mpsc4.ops(), workloads::MESSAGES);
}

/// Three samples around `median`.
fn around(median: f64) -> Vec<f64> {
    vec![median - 1.0, median, median + 1.0]
}

#[test]
fn json_has_the_validation_fields_only_for_a_measured_pair() {
    let row = Row::new(Bench::MutexContended, &around(50.0), &around(100.0));
    let line = json_line(&row, Placement::Pinned);
    assert!(
        line.starts_with(
            "{\"bench\":\"mutex_contended\",\"perf_ns\":50.0000,\"tokio_ns\":100.0000,\
             \"ratio\":0.5000,\"paired_ratio\":0.5000,\"ops\":40000,\"samples\":3,"
        ),
        "{line}"
    );
    assert!(
        line.ends_with("\"tokio_p90_ns\":100.8000,\"pinned\":true}"),
        "{line}"
    );
    assert!(json_line(&row, Placement::Os).ends_with(",\"pinned\":false}"));
    assert!(!line.contains("off_ns"), "{line}");

    // Paired: round by round the report side is 5% slower, whatever the
    // level of that round.
    let off = [20.0, 40.0, 20.0];
    let report = [21.0, 42.0, 21.0];
    let pair = ValidationPair::new(&off, &report, false);
    let row = Row::new(Bench::MutexUncontended, &report, &around(30.0)).with_validation(pair);
    let line = json_line(&row, Placement::Pinned);
    assert!(
        line.ends_with(",\"off_ns\":20.0000,\"report_ns\":21.0000,\"overhead\":1.0500}"),
        "{line}"
    );
    let aa = json_line(
        &row.with_validation(ValidationPair { aa: true, ..pair }),
        Placement::Pinned,
    );
    assert!(
        aa.ends_with(",\"off_ns\":20.0000,\"off_again_ns\":21.0000,\"off_ratio\":1.0500}"),
        "{aa}"
    );
    assert!(!aa.contains("report_ns"), "{aa}");
}

#[test]
fn ratios_are_of_medians_and_of_pairs() {
    // Rounds where both sides are slow alike: the medians and the pairs
    // agree.
    let row = Row::new(Bench::Semaphore, &[30.0, 10.0, 10.0], &[30.0, 20.0, 20.0]);
    assert_eq!(row.ratio(), 0.5);
    assert_eq!(row.paired_ratio, 0.5);
    // A slow round on one side only shifts that side's median; the pairs
    // (0.5, 0.25, 1.0) keep their middle one.
    let row = Row::new(Bench::Semaphore, &[10.0, 10.0, 30.0], &[20.0, 40.0, 30.0]);
    assert_eq!(row.ratio(), 10.0 / 30.0);
    assert_eq!(row.paired_ratio, 0.5);
}

#[test]
fn table_rows_show_ratio_and_the_pair() {
    let row = Row::new(Bench::Semaphore, &around(30.0), &around(40.0));
    let line = table_row(&row);
    assert!(line.starts_with("semaphore"), "{line}");
    assert!(line.contains(" 0.750 "), "{line}");
    let pair = ValidationPair::new(&around(20.0), &around(22.0), false);
    let lines = table_row(&row.with_validation(pair));
    let second = lines.lines().nth(1).expect("a second line for the pair");
    assert!(second.contains("off 20.0"), "{second}");
    assert!(second.ends_with("report/off paired 1.100"), "{second}");
}

#[test]
fn the_missing_pair_is_explained_only_when_it_was_asked_for() {
    let un = Row::new(Bench::MutexUncontended, &around(20.0), &around(30.0));
    let other = Row::new(Bench::Semaphore, &around(20.0), &around(30.0));
    assert!(validation_note(&[un], false, false).is_some());
    assert!(validation_note(&[un], true, false).is_none());
    assert!(validation_note(&[un], false, true).is_none());
    assert!(validation_note(&[other], false, false).is_none());
}

fn smoke<R: SyncRt>() {
    let rt = R::build(crate::workloads::WORKERS).expect("build runtime");
    for b in Bench::ALL {
        let ns = sample(&rt, b).unwrap_or_else(|e| panic!("{} on {}: {e}", b.name(), R::NAME));
        assert!(ns > 0.0, "{}: {ns}", b.name());
    }
}

#[test]
fn every_bench_completes_and_checks_out_on_tokio() {
    smoke::<Tokio>();
}

#[test]
fn every_bench_completes_and_checks_out_on_perf() {
    smoke::<Perf>();
}
