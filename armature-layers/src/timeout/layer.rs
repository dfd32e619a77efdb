use std::time::Duration;

use http::StatusCode;
use tower_layer::Layer;

use super::Timeout;

/// Answers requests that take longer than a time limit. See the [module docs](super).
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    pub(super) limit: Duration,
    pub(super) status: StatusCode,
}

impl TimeoutLayer {
    /// Answers `503 Service Unavailable` to a request the inner service has not answered
    /// within `limit`, and drops the inner service's future.
    pub fn new(limit: Duration) -> Self {
        TimeoutLayer {
            limit,
            status: StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Answers with `status` instead of `503`, such as `504 Gateway Timeout` for a service
    /// that waits on another one. The message stays the same.
    ///
    /// ```
    /// use std::time::Duration;
    /// use armature_layers::timeout::TimeoutLayer;
    /// use http::StatusCode;
    ///
    /// let layer = TimeoutLayer::new(Duration::from_secs(30)).status(StatusCode::GATEWAY_TIMEOUT);
    /// # let _ = layer;
    /// ```
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            layer: *self,
        }
    }
}
