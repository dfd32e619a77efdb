//! Node.js bindings for Armature: the native half of the npm package `@armature/core`.
//!
//! The binding only translates. Routing (armature-router), the preset layers (request id →
//! logger → CORS → rate limits, from armature-layers) and serving (armature-server) run in Rust; JavaScript
//! runs only the user's handlers and `wrap(fn)` middleware.
//!
//! How a request reaches JavaScript without a Promise or a threadsafe function per request:
//! one weak threadsafe function is created per app (`app::NativeApp::new`); a route that
//! forwards to JS parks the request in a table (the `dispatch` module) and, after the runtime's current
//! turn, wakes JS unless a wake-up is already queued, so JS takes the ids of a whole batch with
//! one call. JS reads request fields lazily by id and answers with one synchronous call
//! (`respond(id, ...)`); these calls are closures over the dispatcher (the `calls` module). Routes with
//! a constant response never enter JS.

#![deny(clippy::all)]

mod app;
mod calls;
mod cors;
mod dispatch;
mod log;
mod rate_limit;
mod response;
mod routes;
