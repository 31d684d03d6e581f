//! Memory pressure levels.

use std::time::Duration;

use super::*;

fn psi(some10: f64, full10: f64) -> Psi {
    let line = |avg10| PsiLine {
        avg10,
        avg60: 0.0,
        avg300: 0.0,
        total: Duration::ZERO,
    };
    Psi {
        some: line(some10),
        full: Some(line(full10)),
    }
}

fn level(ws: u64, limit: Option<u64>, psi: Option<&Psi>) -> PressureLevel {
    memory_pressure_level(ws, limit, psi, &PressureThresholds::default())
}

#[test]
fn usage_thresholds_at_their_edges() {
    let limit = Some(1000);
    assert_eq!(level(0, limit, None), PressureLevel::None);
    assert_eq!(level(799, limit, None), PressureLevel::None);
    assert_eq!(level(800, limit, None), PressureLevel::Moderate);
    assert_eq!(level(949, limit, None), PressureLevel::Moderate);
    assert_eq!(level(950, limit, None), PressureLevel::Critical);
    assert_eq!(
        level(5000, limit, None),
        PressureLevel::Critical,
        "over the limit"
    );
}

#[test]
fn psi_thresholds_at_their_edges() {
    assert_eq!(level(0, None, Some(&psi(9.99, 0.0))), PressureLevel::None);
    assert_eq!(
        level(0, None, Some(&psi(10.0, 0.0))),
        PressureLevel::Moderate
    );
    assert_eq!(
        level(0, None, Some(&psi(50.0, 9.99))),
        PressureLevel::Moderate
    );
    assert_eq!(
        level(0, None, Some(&psi(50.0, 10.0))),
        PressureLevel::Critical
    );
    let no_full = Psi {
        full: None,
        ..psi(12.0, 0.0)
    };
    assert_eq!(level(0, None, Some(&no_full)), PressureLevel::Moderate);
}

#[test]
fn the_worse_signal_wins() {
    assert_eq!(
        level(960, Some(1000), Some(&psi(0.0, 0.0))),
        PressureLevel::Critical
    );
    assert_eq!(
        level(10, Some(1000), Some(&psi(0.0, 30.0))),
        PressureLevel::Critical
    );
    assert_eq!(
        level(850, Some(1000), Some(&psi(1.0, 0.0))),
        PressureLevel::Moderate
    );
}

#[test]
fn no_limit_or_zero_limit_leaves_psi_alone_to_decide() {
    assert_eq!(level(u64::MAX, None, None), PressureLevel::None);
    assert_eq!(level(u64::MAX, Some(0), None), PressureLevel::None);
    assert_eq!(
        level(u64::MAX, Some(0), Some(&psi(11.0, 0.0))),
        PressureLevel::Moderate
    );
}

#[test]
fn custom_thresholds() {
    let t = PressureThresholds {
        moderate_usage: 0.5,
        critical_usage: 0.6,
        ..PressureThresholds::DEFAULT
    };
    assert_eq!(
        memory_pressure_level(55, Some(100), None, &t),
        PressureLevel::Moderate
    );
    assert_eq!(
        memory_pressure_level(60, Some(100), None, &t),
        PressureLevel::Critical
    );
    assert!(PressureLevel::Critical > PressureLevel::Moderate);
    assert_eq!(PressureLevel::Moderate.to_string(), "moderate");
}
