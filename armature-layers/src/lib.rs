//! Standalone tower layers for HTTP services: [`analytics`], [`cors`], [`logger`],
//! [`rate_limit`], [`request_id`] and [`timeout`].
//!
//! Each is a `tower::Layer` generic over request and response bodies, so the same value works
//! in an Armature router stack, an axum `Router::layer`, a tonic server and plain hyper.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analytics;
pub mod body;
pub mod cors;
pub mod logger;
pub mod rate_limit;
pub mod request_id;
pub mod timeout;

mod frame;
mod sync;
mod ticks;
