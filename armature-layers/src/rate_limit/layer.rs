//! [`RateLimitLayer`]: the cheap-to-clone, checked configuration.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use http::Extensions;

use tower_layer::Layer;

use super::gcra::Gcra;
use super::headers::Headers;
use super::key::KeySource;
use super::{RateLimit, RateLimitBuilder, RateLimited, Store};

/// Marks a refused request's extensions before it goes on to the inner service
/// ([`RateLimitBuilder::forward_refusals`]).
#[derive(Clone)]
pub(crate) struct Forward(pub(crate) Arc<Mark>);

/// What [`Forward`] calls.
pub(crate) type Mark = dyn Fn(&mut Extensions, RateLimited) + Send + Sync;

impl fmt::Debug for Forward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Forward(..)")
    }
}

#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) gcra: Gcra,
    pub(crate) key: KeySource,
    pub(crate) store: Store,
    pub(crate) headers: Headers,
    /// Refused requests go on to the inner service, marked by this (not gRPC calls).
    pub(crate) forward: Option<Forward>,
    /// Whether the "no peer address" warning was logged (once per layer).
    pub(crate) warned_no_peer: AtomicBool,
}

impl Config {
    /// A request had no key, so it is not limited. Keyed by a header or a function, that is
    /// by design (health checks, anonymous routes); keyed by client IP it means the server
    /// puts no `SocketAddr` in the extensions (axum, tonic), so *nothing* is limited: say so
    /// once.
    pub(crate) fn unkeyed(&self) {
        // A load first: no contended write on every unkeyed request after the first.
        if matches!(self.key, KeySource::ClientIp(_))
            && !self.warned_no_peer.load(Ordering::Relaxed)
            && !self.warned_no_peer.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                policy = %self.headers.name(),
                "rate limit: a request without a std::net::SocketAddr extension was not limited; \
                 keyed by client IP, no request is limited unless the server sets one \
                 (armature-server does; under axum or tonic, use key_by with their \
                 connection info)"
            );
        }
    }
}

/// Limits each key (client IP, API key, ...) to a [`Quota`](super::Quota). See the
/// [module docs](super).
///
/// Clones share the store: every service this layer wraps counts against the same budgets.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    config: Arc<Config>,
}

impl RateLimitLayer {
    /// Starts a configuration; only [`quota`](RateLimitBuilder::quota) is required.
    pub fn builder() -> RateLimitBuilder {
        RateLimitBuilder::new()
    }

    pub(crate) fn from_config(config: Config) -> Self {
        RateLimitLayer {
            config: Arc::new(config),
        }
    }

    /// The store this layer counts in (for metrics, or to inspect its size).
    pub fn store(&self) -> &Store {
        &self.config.store
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit::new(inner, Arc::clone(&self.config))
    }
}
