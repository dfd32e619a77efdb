//! The integration tests of armature-layers, as one binary: one link instead of one per file,
//! which keeps CI's disk and build time down. Tests that need a process of their own
//! (analytics_alloc, files) stay separate files in `tests/`.

#[path = "../support/conn.rs"]
mod conn;
#[path = "../support/flood.rs"]
mod flood;
#[path = "../support/redis.rs"]
mod redis_server;
#[path = "../support/send.rs"]
mod send;
#[path = "../support/serve.rs"]
mod serve;

mod access_log;
mod analytics;
mod analytics_browser;
mod analytics_routes;
mod body_limit;
mod cors;
mod cors_browser;
mod delivered;
mod logger;
mod rate_limit;
mod rate_limit_redis;
mod request_id;
mod timeout;
