//! The integration tests of armature-router, as one binary: one link instead of one per file,
//! which keeps CI's disk and build time down. Tests that need a process of their own
//! (alloc) stay separate files in `tests/`.

#[path = "../support/mod.rs"]
mod support;

mod backtrack_on_method;
mod conflicts;
mod decoding;
mod dispatch;
mod eager;
mod guards;
mod metadata;
mod nest_service;
mod observe;
mod precedence;
mod proptest;
