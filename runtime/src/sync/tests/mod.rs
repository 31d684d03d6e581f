//! Unit and loom tests of the sync internals.
