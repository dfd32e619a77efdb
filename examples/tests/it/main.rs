//! The integration tests of armature-examples, as one binary: one link instead of one per file,
//! which keeps CI's disk and build time down. Tests that need a process of their own
//! (interop) stay separate files in `tests/`.

mod stack;
mod websocket;
