//! TEMPORARY stub until the time module lands.
#![allow(missing_docs, dead_code)]
use std::time::Duration;
#[derive(Clone)]
pub(crate) struct TimeHandle;
impl TimeHandle {
    pub(crate) fn new(_p: bool, _s: bool) -> TimeHandle {
        TimeHandle
    }
    pub(crate) fn set_unpark(&self, _f: Box<dyn Fn() + Send + Sync>) {}
    pub(crate) fn is_due(&self) -> bool {
        false
    }
    pub(crate) fn process(&self) {}
    pub(crate) fn park_timeout(&self) -> Option<Duration> {
        None
    }
    pub(crate) fn auto_advance(&self) -> bool {
        false
    }
    pub(crate) fn shutdown(&self) {}
}
