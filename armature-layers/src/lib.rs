//! Standalone tower layers for HTTP services: [`analytics`], [`cors`], [`logger`],
//! [`rate_limit`], [`request_id`] and [`timeout`]; with the `files` feature, `files`: a
//! directory served as a service.
//!
//! Each is a `tower::Layer` generic over request and response bodies, so the same value works
//! in an Armature router stack, an axum `Router::layer`, a tonic server and plain hyper.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analytics;
pub mod body;
pub mod cors;
#[cfg(feature = "files")]
pub mod files;
pub mod logger;
pub mod rate_limit;
pub mod request_id;
pub mod timeout;

mod frame;
mod head;
mod sync;
mod ticks;

/// Reads the route template another router put in a request's extensions, such as axum's
/// `MatchedPath`: how [`analytics`] and the [`logger`] label requests by route inside a router
/// that is not Armature's (`route_label` on either). Armature's own router tells them as it
/// matches, and wins.
///
/// ```
/// // axum: |ext| ext.get::<axum::extract::MatchedPath>().map(|m| m.as_str())
/// #[derive(Clone)]
/// struct Template(&'static str);
/// let label: armature_layers::RouteLabel = |ext| ext.get::<Template>().map(|t| t.0);
/// let mut ext = http::Extensions::new();
/// ext.insert(Template("/users/{id}"));
/// assert_eq!(label(&ext), Some("/users/{id}"));
/// ```
pub type RouteLabel = for<'a> fn(&'a http::Extensions) -> Option<&'a str>;
