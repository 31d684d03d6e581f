//! Mode parsing, the environment variable, and the per-thread override.

use crate::{global_mode, mode, set_thread_mode, Mode, ENV_VAR};

#[test]
fn modes_parse_in_any_case_and_with_blanks() {
    assert_eq!("off".parse::<Mode>(), Ok(Mode::Off));
    assert_eq!(" Report\n".parse::<Mode>(), Ok(Mode::Report));
    assert_eq!("PANIC".parse::<Mode>(), Ok(Mode::Panic));
    for m in [Mode::Off, Mode::Report, Mode::Panic] {
        assert_eq!(m.to_string().parse::<Mode>(), Ok(m));
    }
}

#[test]
fn a_bad_mode_says_what_is_accepted() {
    let e = "loud".parse::<Mode>().unwrap_err();
    assert_eq!(e.value(), "loud");
    assert!(!e.is_from_env());
    let msg = e.to_string();
    assert!(
        msg.contains("\"loud\"") && msg.contains("off, report or panic"),
        "{msg}"
    );
}

#[test]
fn the_environment_variable_is_read_and_a_bad_value_names_it() {
    // The only test touching this variable.
    std::env::set_var(ENV_VAR, "panic");
    assert_eq!(Mode::from_env(), Ok(Some(Mode::Panic)));
    std::env::set_var(ENV_VAR, "sometimes");
    let e = Mode::from_env().unwrap_err();
    assert!(e.is_from_env());
    assert!(
        e.to_string()
            .starts_with("PERF_RUNTIME_VALIDATION=\"sometimes\""),
        "{e}"
    );
    std::env::remove_var(ENV_VAR);
    assert_eq!(Mode::from_env(), Ok(None));
}

#[test]
fn the_thread_override_wins_and_is_restored() {
    assert_eq!(global_mode(), Mode::Report, "the default");
    let prev = set_thread_mode(Some(Mode::Off));
    assert_eq!(prev, None);
    assert_eq!(mode(), Mode::Off);
    assert_eq!(set_thread_mode(None), Some(Mode::Off));
    assert_eq!(mode(), global_mode());
    let other = std::thread::spawn(|| {
        set_thread_mode(Some(Mode::Panic));
        mode()
    })
    .join()
    .unwrap();
    assert_eq!(other, Mode::Panic);
    assert_eq!(mode(), Mode::Report, "another thread's override is its own");
}
