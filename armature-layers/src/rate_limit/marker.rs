//! [`RateLimited`]: tells layers outside the limiter that it refused a request.

use std::time::Duration;

use super::gcra::Decision;

/// In the extensions of every response the limiter produced instead of calling the inner
/// service (429, or the gRPC `RESOURCE_EXHAUSTED` answer), and of the inner service's answer to
/// a refusal it [forwarded](super::RateLimitBuilder::forward_refusals), for outer layers such as
/// analytics.
///
/// ```
/// use armature_layers::rate_limit::{Quota, RateLimitLayer, RateLimited};
/// use http::{Request, Response};
/// use tower::{service_fn, ServiceBuilder, ServiceExt};
///
/// # tokio_test::block_on(async {
/// let app = ServiceBuilder::new()
///     .layer(RateLimitLayer::builder().quota(Quota::per_hour(1)).key_by_header("x-api-key").build()?)
///     .service(service_fn(|_req: Request<()>| async {
///         Ok::<_, std::convert::Infallible>(Response::new(String::new()))
///     }));
/// let req = || Request::get("/").header("x-api-key", "k1").body(());
/// let first = app.clone().oneshot(req()?).await?;
/// assert!(first.extensions().get::<RateLimited>().is_none());
/// let second = app.clone().oneshot(req()?).await?;
/// let marker = second.extensions().get::<RateLimited>().unwrap();
/// assert!(marker.retry_after() > std::time::Duration::from_secs(3590)); // the real clock moved
/// assert_eq!(second.headers()["retry-after"], "3600");
/// assert!(!marker.store_unavailable());
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimited {
    pub(crate) retry_after: Duration,
    pub(crate) store_unavailable: bool,
}

impl RateLimited {
    pub(crate) fn of(decision: &Decision) -> Self {
        RateLimited {
            retry_after: decision.retry_after,
            store_unavailable: decision.store_unavailable,
        }
    }

    /// How long until the key would be admitted again; when the store was unavailable
    /// ([`store_unavailable`](RateLimited::store_unavailable)), until it is asked again (the
    /// Redis store's retry interval, at least 1 s).
    pub fn retry_after(&self) -> Duration {
        self.retry_after
    }

    /// Whether the refusal came from the failure policy (Redis unreachable,
    /// [`FailurePolicy::Closed`](super::FailurePolicy::Closed)) rather than from the quota.
    pub fn store_unavailable(&self) -> bool {
        self.store_unavailable
    }
}
