//! Python bindings of Armature: the Rust server, router and preset layers (request id →
//! logger → CORS → router) calling Python handlers.
//!
//! The shape (as in Granian): tokio threads own every socket and run the whole tower stack
//! without the GIL. A matched route pushes a job into a queue and wakes the Python thread
//! through a socket pair that its asyncio loop watches, once per batch; that thread drains the
//! queue, calls the handlers, steps `async def` handlers with `send(None)` (a Task is made
//! only if one really suspends) and turns the result into Rust bytes before handing the
//! batch's responses back (see `bridge`).
//! The GIL is therefore held only while Python code runs.

mod bridge;
mod convertors;
mod engine;
mod in_order;
mod json;
mod listener;
mod rate_limit;
mod request;
mod response;
mod stack;
mod step;
mod websocket;
mod ws_client;

use pyo3::prelude::*;

/// Rust's allocations only (Python keeps its own allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[pymodule]
fn _armature(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<engine::Engine>()?;
    m.add_class::<engine::Responder>()?;
    m.add_class::<engine::ServerHandle>()?;
    m.add_class::<listener::Listener>()?;
    m.add_class::<request::HttpRequest>()?;
    m.add_class::<request::RequestBody>()?;
    m.add_class::<request::Ready>()?;
    m.add_class::<response::HttpResponse>()?;
    m.add_class::<response::ChunkSender>()?;
    m.add_class::<websocket::Socket>()?;
    m.add_class::<ws_client::WebSocketClient>()?;
    m.add_function(wrap_pyfunction!(json::dumps, m)?)?;
    Ok(())
}
