//! Small building blocks shared by several modules.

pub(crate) mod atomic_waker;
pub(crate) mod stoppable;
