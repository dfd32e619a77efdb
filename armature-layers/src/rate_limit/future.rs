//! [`ResponseFuture`]: a refusal, the inner future plus headers, or first a Redis decision.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::gcra::Decision;
use super::headers::{add_refusal_headers, refusal};
use super::layer::Config;
use super::messages::{AMBIGUOUS_KEY_MESSAGE, REFUSAL_MESSAGE};
use super::RateLimited;
use crate::body::is_grpc;
use crate::body::ResponseBody;

type Check = Pin<Box<dyn Future<Output = Decision> + Send>>;

pin_project! {
    /// Response future of [`RateLimit`](super::RateLimit).
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        // The rare states are boxed, so the common one (an admitted request's inner future)
        // sets the size that outer layers wrap and move.
        Checking {
            check: Check,
            pending: Option<Box<(S, Request<ReqBody>)>>,
            config: Arc<Config>,
        },
        Inner {
            #[pin]
            future: S::Future,
            headers: Option<(Arc<Config>, Decision)>,
        },
        Refused {
            response: Option<Box<Response<()>>>,
        },
        // A refusal passed on to the inner service (`forward_refusals`).
        Forwarded {
            #[pin]
            future: S::Future,
            refusal: Option<Box<(Arc<Config>, Decision)>>,
        },
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn unlimited(future: S::Future) -> Self {
        let state = State::Inner {
            future,
            headers: None,
        };
        ResponseFuture { state }
    }

    pub(crate) fn admitted(future: S::Future, config: Arc<Config>, decision: Decision) -> Self {
        let state = State::Inner {
            future,
            headers: Some((config, decision)),
        };
        ResponseFuture { state }
    }

    pub(crate) fn refused(response: Response<()>) -> Self {
        let state = State::Refused {
            response: Some(Box::new(response)),
        };
        ResponseFuture { state }
    }

    /// The answer to a refused request: the layer's own, or with `forward_refusals` (not for
    /// gRPC) the inner service's, called with the request marked.
    pub(crate) fn refusing(
        service: &mut S,
        req: Request<ReqBody>,
        config: &Arc<Config>,
        decision: Decision,
    ) -> Self {
        ResponseFuture {
            state: State::refusing(service, req, config, decision),
        }
    }

    pub(crate) fn checking(
        check: Check,
        service: S,
        req: Request<ReqBody>,
        config: Arc<Config>,
    ) -> Self {
        let state = State::Checking {
            check,
            pending: Some(Box::new((service, req))),
            config,
        };
        ResponseFuture { state }
    }
}

impl<S, ReqBody> State<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn refusing(
        service: &mut S,
        mut req: Request<ReqBody>,
        config: &Arc<Config>,
        decision: Decision,
    ) -> Self {
        let grpc = is_grpc(&req);
        match &config.forward {
            Some(forward) if !grpc => {
                (forward.0)(req.extensions_mut(), RateLimited::of(&decision));
                State::Forwarded {
                    future: service.call(req),
                    refusal: Some(Box::new((Arc::clone(config), decision))),
                }
            }
            _ => State::Refused {
                response: Some(Box::new(refusal(grpc, &config.headers, &decision))),
            },
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Checking {
                    check,
                    pending,
                    config,
                } => {
                    let decision = ready!(check.as_mut().poll(cx));
                    let (mut service, req) = *pending.take().expect("polled after completion");
                    let next = if decision.allowed {
                        State::Inner {
                            future: service.call(req),
                            headers: Some((Arc::clone(config), decision)),
                        }
                    } else {
                        State::refusing(&mut service, req, config, decision)
                    };
                    state.set(next);
                }
                StateProj::Inner { future, headers } => {
                    let mut res = ready!(future.poll(cx))?;
                    if let Some((config, decision)) = headers.take() {
                        config.headers.apply(res.headers_mut(), &decision);
                    }
                    return Poll::Ready(Ok(res.map(ResponseBody::new)));
                }
                StateProj::Forwarded { future, refusal } => {
                    let mut res = ready!(future.poll(cx))?;
                    if let Some(refusal) = refusal.take() {
                        let (config, decision) = *refusal;
                        add_refusal_headers(&config.headers, &decision, res.headers_mut());
                        res.extensions_mut().insert(RateLimited::of(&decision));
                    }
                    return Poll::Ready(Ok(res.map(ResponseBody::new)));
                }
                StateProj::Refused { response } => {
                    let response = *response.take().expect("polled after completion");
                    // gRPC refusals are trailers-only (HTTP 200): no body.
                    let message = match response.status() {
                        StatusCode::TOO_MANY_REQUESTS => Some(REFUSAL_MESSAGE),
                        StatusCode::BAD_REQUEST => Some(AMBIGUOUS_KEY_MESSAGE),
                        _ => None,
                    };
                    return Poll::Ready(Ok(response.map(|()| ResponseBody::message(message))));
                }
            }
        }
    }
}

impl<S, ReqBody> fmt::Debug for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
