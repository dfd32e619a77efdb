//! When a handler's code runs: by default inside the future the router returns, so a layer
//! that scopes something to that future alone (a tokio task-local, a `tracing` span through
//! `Instrument`) covers the whole handler; with `eager_handlers(true)`, its code up to the
//! first `.await` runs in `Router::call`, before such a layer's scope begins.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use armature_router::{get, Router};
use http::{Request, Response};
use http_body_util::BodyExt;
use tower::{Service, ServiceExt};

tokio::task_local! {
    static USER: &'static str;
}

/// A layer written the common way: the inner call's future runs inside `USER.scope`.
#[derive(Clone)]
struct ScopeUser<S>(S);

impl<S> Service<Request<()>> for ScopeUser<S>
where
    S: Service<Request<()>, Response = Response<armature_router::Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<()>) -> Self::Future {
        Box::pin(USER.scope("alice", self.0.call(req)))
    }
}

/// What the handler read, on a router with `eager_handlers(eager)` (`None`: the default).
async fn who(eager: Option<bool>) -> String {
    let mut builder = Router::builder().route(
        "/who",
        get(|_req: Request<()>| async {
            // Read before any `.await`.
            USER.try_with(|user| user.to_string())
                .unwrap_or_else(|_| "nobody".to_owned())
        }),
    );
    if let Some(eager) = eager {
        builder = builder.eager_handlers(eager);
    }
    let router = builder.build().unwrap();
    let res = ScopeUser(router)
        .oneshot(Request::get("/who").body(()).unwrap())
        .await
        .unwrap();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[tokio::test]
async fn by_default_a_handler_runs_inside_the_future_a_layer_scopes() {
    assert_eq!(who(None).await, "alice");
    assert_eq!(who(Some(false)).await, "alice");
}

#[tokio::test]
async fn eager_handlers_run_their_first_step_in_call() {
    // Documented: the code before the first `.await` ran in `call`, outside the scope.
    assert_eq!(who(Some(true)).await, "nobody");
}
