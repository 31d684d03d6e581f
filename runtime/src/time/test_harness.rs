//! Test harness: builds a runtime of the wanted flavour and enters it on this
//! thread without running it, so the tests drive its timer by hand
//! (`process`, `auto_advance`) through the `TimeHandle` it exposes.

use super::TimeHandle;
use crate::runtime::{context, Builder, Runtime};
use crate::scheduler::Handle;

/// A runtime's driver (current_thread if `pausable`, else multi_thread),
/// entered on this thread until the guard drops.
pub(super) fn driver(pausable: bool, start_paused: bool) -> (TimeHandle, Enter) {
    let rt = if pausable {
        Builder::new_current_thread()
            .start_paused(start_paused)
            .build()
    } else {
        Builder::new_multi_thread().worker_threads(1).build()
    }
    .expect("build a test runtime");
    let handle = {
        let _entered = rt.enter();
        context::current_handle().expect("entered runtime is current")
    };
    let mut g = Share(handle).enter();
    g.rt = Some(rt);
    let h = context::with_time(|h| h.cloned()).expect("entered runtime has a timer");
    (h, g)
}

/// Keeps the runtime entered on this thread (and, for the first thread,
/// alive).
pub(super) struct Enter {
    // Dropped first: leave the runtime before dropping it.
    _guard: context::SetCurrentGuard,
    handle: Handle,
    rt: Option<Runtime>,
}

impl Enter {
    /// Something another thread can enter the same runtime with.
    pub(super) fn share(&self) -> Share {
        Share(self.handle.clone())
    }
}

/// A runtime another thread can enter.
pub(super) struct Share(Handle);

impl Share {
    pub(super) fn enter(self) -> Enter {
        Enter {
            _guard: context::set_current(self.0.clone()),
            handle: self.0,
            rt: None,
        }
    }
}
