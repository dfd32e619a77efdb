//! The integration tests of armature-server, as one binary: one link instead of one per file,
//! which keeps CI's disk and build time down. Tests that need a process of their own
//! (signals, malformed, http3_dev_cert) stay separate files in `tests/`.

#[path = "../common/mod.rs"]
mod common;

mod framing;
mod header_limits;
mod host;
mod http1;
mod http2;
mod http3;
mod http3_abuse;
mod http3_clients;
mod http3_malformed;
mod http3_ngtcp2;
mod peer;
mod runtime_modes;
mod service_errors;
mod shutdown;
mod slowloris;
mod tls;
