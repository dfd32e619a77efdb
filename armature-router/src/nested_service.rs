//! [`StripPrefix`]: the service [`RouterBuilder::nest_service`](crate::RouterBuilder::nest_service)
//! mounts, which hands requests on with the mount's prefix taken off their path, and
//! [`OriginalUri`], the request's target before that.

use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use http::uri::{PathAndQuery, Uri};
use http::Request;
use tower_service::Service;

use crate::builder::Mount;
use crate::PathParams;

/// The request's target as the client sent it, before a
/// [`nest_service`](crate::RouterBuilder::nest_service) mount took its prefix off: a request
/// extension the mounted service can read (the outermost mount's, when mounts nest), as axum's
/// `OriginalUri`. Only mounted services see it: a route's handler gets the path unchanged.
///
/// ```
/// use armature_router::{handler_fn, OriginalUri, Router};
/// use http::Request;
/// use tower::ServiceExt;
///
/// # tokio_test::block_on(async {
/// let files = handler_fn(|req: Request<()>| async move {
///     let OriginalUri(sent) = req.extensions().get::<OriginalUri>().unwrap();
///     format!("{} of {sent}", req.uri())
/// });
/// let router = Router::builder().nest_service("/static", files).build()?;
/// let res = router.oneshot(Request::get("/static/site.css?v=2").body(())?).await?;
/// let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
/// assert_eq!(body, "/site.css?v=2 of /static/site.css?v=2");
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalUri(pub Uri);

/// `inner`, called with the first `segments` segments of the request's path removed (the
/// query kept): `/static/css/site.css` under a one-segment prefix reaches it as
/// `/css/site.css`, and `/static` or `/static/` as `/`.
///
/// The segments are counted on the path as sent, so an escaped slash (`%2F`) stays inside
/// its segment and the rest keeps its percent-encoding for the inner service to decode.
#[derive(Debug, Clone)]
pub(crate) struct StripPrefix<S> {
    pub(crate) inner: S,
    /// How many segments the prefix has, and parameters (the service sees those, not the
    /// rest's): set as the routes are added, final once the router is built.
    pub(crate) mount: Mount,
}

impl<S, B> Service<Request<B>> for StripPrefix<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        let mount = self.mount.load(Ordering::Relaxed);
        let (segments, params) = (
            (mount >> 32) as usize,
            (mount & u64::from(u32::MAX)) as usize,
        );
        let rest = rest_of(req.uri().path(), segments);
        let path_and_query = match req.uri().query() {
            Some(query) => format!("{rest}?{query}"),
            None => rest.to_owned(),
        };
        let mut parts = req.uri().clone().into_parts();
        // The rest of a path that parsed is a path that parses; "/" if it somehow does not.
        parts.path_and_query = Some(
            PathAndQuery::try_from(path_and_query)
                .unwrap_or_else(|_| PathAndQuery::from_static("/")),
        );
        if let Ok(uri) = Uri::from_parts(parts) {
            let sent = std::mem::replace(req.uri_mut(), uri);
            if req.extensions().get::<OriginalUri>().is_none() {
                req.extensions_mut().insert(OriginalUri(sent));
            }
        }
        match req.extensions_mut().get_mut::<PathParams>() {
            Some(kept) if params > 0 => kept.truncate(params),
            Some(_) => drop(req.extensions_mut().remove::<PathParams>()),
            None => {}
        }
        self.inner.call(req)
    }
}

/// `path` without its first `segments` segments: from the slash that starts the next one,
/// or `/` when there is nothing after them.
fn rest_of(path: &str, segments: usize) -> &str {
    let mut slashes = path.match_indices('/').map(|(at, _)| at).skip(segments);
    match slashes.next() {
        Some(at) => &path[at..],
        None => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::rest_of;

    #[test]
    fn the_prefix_segments_are_taken_off_the_path_as_sent() {
        let cases = [
            ("/static/css/site.css", 1, "/css/site.css"),
            ("/static/", 1, "/"),
            ("/static", 1, "/"),
            ("/static/a%2Fb/c", 1, "/a%2Fb/c"),
            ("/users/7/files/x.txt", 3, "/x.txt"),
            ("/st%61tic/x", 1, "/x"),
            ("/static//x", 1, "//x"),
        ];
        for (path, segments, rest) in cases {
            assert_eq!(rest_of(path, segments), rest, "{path}");
        }
    }
}
