//! One request through a service, for tests that call a layer directly, and the layer most
//! of them call: limited per `x-api-key`.

use armature_layers::rate_limit::{Quota, RateLimitLayer, Store};
use http::Request;
use tower::{Service, ServiceExt};

/// A rate limit of `quota` per `x-api-key` value, counted in `store`.
pub fn keyed_layer(quota: Quota, store: impl Into<Store>) -> RateLimitLayer {
    RateLimitLayer::builder()
        .quota(quota)
        .key_by_header("x-api-key")
        .store(store)
        .build()
        .unwrap()
}

/// `req` through `svc` once it is ready; panics on a service error.
pub async fn send<S>(svc: &mut S, req: Request<()>) -> S::Response
where
    S: Service<Request<()>>,
    S::Error: std::fmt::Debug,
{
    svc.ready().await.unwrap().call(req).await.unwrap()
}
