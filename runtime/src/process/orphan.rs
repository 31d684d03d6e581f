//! Children whose `Child` was dropped before they were reaped. A child that
//! exits stays a zombie until its parent waits for it, so perf_runtime
//! keeps them here and reaps them: as soon as they exit (a task watching
//! the exit, spawned on the runtime that spawned them) and, as a backstop
//! if that runtime is gone, at every later `spawn` and `wait`.

use super::child::ExitWatch;
use std::sync::{Mutex, MutexGuard};

static ORPHANS: Mutex<Vec<std::process::Child>> = Mutex::new(Vec::new());

fn orphans() -> MutexGuard<'static, Vec<std::process::Child>> {
    // The list stays consistent whatever panicked while holding it.
    ORPHANS.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reaps every orphan that has exited.
pub(super) fn reap() {
    let mut list = orphans();
    if !list.is_empty() {
        list.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
    }
}

fn is_orphan(pid: u32) -> bool {
    orphans().iter().any(|c| c.id() == pid)
}

/// Takes over `child` (not reaped yet) and reaps it once it exits.
pub(super) fn adopt(
    child: std::process::Child,
    watch: Option<ExitWatch>,
    handle: Option<&crate::runtime::Handle>,
) {
    let pid = child.id();
    orphans().push(child);
    let (Some(watch), Some(handle)) = (watch, handle) else {
        return;
    };
    // The task holds no `Child`: if the runtime shuts down first and drops
    // it, the orphan stays listed for the backstop.
    drop(handle.spawn(async move {
        let mut watch = watch;
        while is_orphan(pid) {
            if watch.exited().await.is_err() {
                return;
            }
            watch.clear();
            reap();
        }
    }));
}
