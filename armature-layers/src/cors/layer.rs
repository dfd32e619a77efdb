//! [`CorsLayer`]: the compiled configuration as a `tower::Layer`.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use super::policy::Policy;
use super::Cors;

/// Wraps services in [`Cors`]. Built by [`CorsBuilder::build`](super::CorsBuilder::build)
/// or [`Cors::permissive`]; cloning it is one reference-count increment.
#[derive(Clone)]
#[must_use]
pub struct CorsLayer {
    policy: Arc<Policy>,
}

impl CorsLayer {
    pub(crate) fn from_policy(policy: Policy) -> Self {
        CorsLayer {
            policy: Arc::new(policy),
        }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = Cors<S>;

    fn layer(&self, inner: S) -> Cors<S> {
        Cors::from_parts(inner, Arc::clone(&self.policy))
    }
}

impl fmt::Debug for CorsLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CorsLayer").field(&self.policy).finish()
    }
}
