//! [`RateLimitLayer`]: the cheap-to-clone, checked configuration.

use std::sync::Arc;

use tower_layer::Layer;

use super::gcra::Gcra;
use super::headers::Headers;
use super::key::KeySource;
use super::{RateLimit, RateLimitBuilder, Store};

#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) gcra: Gcra,
    pub(crate) key: KeySource,
    pub(crate) store: Store,
    pub(crate) headers: Headers,
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
