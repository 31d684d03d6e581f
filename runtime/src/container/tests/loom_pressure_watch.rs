//! Loom models of the pressure cell: a publish, or the publisher's drop,
//! racing a watch that is about to wait. Neither can be missed.

use crate::container::{PressureCell, PressureLevel};
use loom::future::block_on;
use loom::thread;

#[test]
fn loom_pressure_publish_races_changed() {
    loom::model(|| {
        let cell = PressureCell::new(PressureLevel::None);
        let mut w = cell.subscribe();
        let t = thread::spawn(move || {
            cell.publish(PressureLevel::Critical);
            cell
        });
        assert_eq!(block_on(w.changed()), Ok(PressureLevel::Critical));
        drop(t.join().unwrap());
        assert!(block_on(w.changed()).is_err());
    });
}

#[test]
fn loom_pressure_publisher_drop_ends_changed() {
    loom::model(|| {
        let cell = PressureCell::new(PressureLevel::None);
        let mut w = cell.subscribe();
        let t = thread::spawn(move || drop(cell));
        assert!(block_on(w.changed()).is_err());
        t.join().unwrap();
    });
}
