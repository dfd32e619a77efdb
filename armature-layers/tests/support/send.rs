//! One request through a service, for tests that call a layer directly.

use http::Request;
use tower::{Service, ServiceExt};

/// `req` through `svc` once it is ready; panics on a service error.
pub async fn send<S>(svc: &mut S, req: Request<()>) -> S::Response
where
    S: Service<Request<()>>,
    S::Error: std::fmt::Debug,
{
    svc.ready().await.unwrap().call(req).await.unwrap()
}
