//! [`RateLimit`]: the service that decides, then answers or forwards.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::headers::ambiguous_key;
use super::key::{key_by, Keyed};
use super::layer::Config;
use super::{ResponseBody, ResponseFuture, Store};
use crate::body::is_grpc;

/// The service of [`RateLimitLayer`](super::RateLimitLayer).
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> RateLimit<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        RateLimit { inner, config }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RateLimit<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        // Found from the head's fields, the request is not moved; a key function sees it all.
        let mut req = req;
        let key = match config.key.key_of(req.headers(), req.extensions()) {
            Ok(key) => key,
            Err(f) => {
                let key;
                (req, key) = key_by(f, req);
                key
            }
        };
        let key = match key {
            Keyed::Key(key) => key,
            Keyed::Unlimited => {
                config.unkeyed();
                return ResponseFuture::unlimited(self.inner.call(req));
            }
            Keyed::Ambiguous => return ResponseFuture::refused(ambiguous_key(is_grpc(&req))),
        };
        match &config.store {
            Store::Memory(store) => {
                let decision = store.check(&config.gcra, &key);
                if decision.allowed {
                    ResponseFuture::admitted(self.inner.call(req), Arc::clone(config), decision)
                } else {
                    ResponseFuture::refusing(&mut self.inner, req, config, decision)
                }
            }
            Store::Redis(store) => {
                let check = store.clone().check(
                    config.gcra,
                    Arc::clone(config.headers.name()),
                    key.into_vec(),
                );
                // The service that was polled ready goes with the request; this one stays.
                let fresh = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, fresh);
                ResponseFuture::checking(Box::pin(check), ready, req, Arc::clone(config))
            }
        }
    }
}
