use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::{ResponseFuture, TimeoutLayer};
use crate::body::is_grpc;
use crate::body::ResponseBody;

/// The service of [`TimeoutLayer`]: the inner service's answer, or the timeout's.
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    pub(super) inner: S,
    pub(super) layer: TimeoutLayer,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Timeout<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let sleep = tokio::time::sleep(self.layer.limit);
        let grpc = is_grpc(&req);
        ResponseFuture::new(self.inner.call(req), sleep, self.layer.status, grpc)
    }
}
