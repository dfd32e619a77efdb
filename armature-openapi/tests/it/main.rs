//! The integration tests of armature-openapi, as one binary: one link instead of one per file,
//! which keeps CI's disk and build time down. Tests that need a process of their own
//! (none here) stay separate files in `tests/`.

#[path = "../common/mod.rs"]
mod common;

mod client;
mod docs;
mod docs_browser;
mod mock;
mod spec;
