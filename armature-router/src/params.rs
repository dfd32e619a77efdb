//! Request extensions the router sets: the path parameters and the matched route template.

use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;

/// The percent-decoded path parameters of the matched route, in pattern order.
///
/// The router inserts it into the request's extensions before calling the route's service.
///
/// ```
/// use armature_router::{get, PathParams, Router};
/// use http::Request;
/// use tower::ServiceExt;
///
/// # tokio_test::block_on(async {
/// let router = Router::builder()
///     .route("/users/{id}/posts/:post", get(|req: Request<()>| async move {
///         let params = req.extensions().get::<PathParams>().unwrap();
///         format!("{} {}", &params["id"], params.get("post").unwrap())
///     }))
///     .build()?;
/// let res = router
///     .oneshot(Request::get("/users/caf%C3%A9/posts/7").body(())?)
///     .await?;
/// let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
/// assert_eq!(body, "café 7");
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct PathParams {
    names: Option<Arc<[Box<str>]>>,
    /// All decoded values back to back, as UTF-8; `ends[i]` is where value `i` stops. Up to
    /// 32 bytes of values live inline, so a typical match allocates nothing for them.
    values: SmallVec<[u8; 32]>,
    ends: SmallVec<[usize; 4]>,
}

impl PathParams {
    pub(crate) fn with_names(names: Arc<[Box<str>]>) -> Self {
        PathParams {
            names: Some(names),
            values: SmallVec::new(),
            ends: SmallVec::new(),
        }
    }

    /// Keeps the first `len` parameters.
    pub(crate) fn truncate(&mut self, len: usize) {
        if len < self.ends.len() {
            self.ends.truncate(len);
            self.values.truncate(self.ends.last().copied().unwrap_or(0));
        }
    }

    pub(crate) fn push(&mut self, value: &str) {
        self.values.extend_from_slice(value.as_bytes());
        self.ends.push(self.values.len());
    }

    /// The value of the parameter `name`, if the route has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The parameters as `(name, value)` pairs, in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let names = self.names.as_deref().unwrap_or(&[]);
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        names
            .iter()
            .zip(starts.zip(self.ends.iter().copied()))
            .map(|(name, (start, end))| (&**name, self.value(start, end)))
    }

    /// The value between two ends: whole `&str`s were pushed there, so it is UTF-8 (the
    /// fallback is never taken; it keeps the crate free of `unsafe`).
    fn value(&self, start: usize, end: usize) -> &str {
        std::str::from_utf8(&self.values[start..end]).unwrap_or_default()
    }

    /// How many parameters the route has.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the route has no parameters.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl std::ops::Index<&str> for PathParams {
    type Output = str;

    /// # Panics
    /// When the route has no parameter `name`; use [`PathParams::get`] to handle that case.
    fn index(&self, name: &str) -> &str {
        self.get(name)
            .unwrap_or_else(|| panic!("no path parameter named `{name}`"))
    }
}

impl fmt::Debug for PathParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The template of the route that matched, like `/users/{id}` (always in `{name}` syntax, with
/// any `nest` prefix included).
///
/// The router puts it in the request's extensions for the handler, unless built with
/// [`matched_route_extension(false)`](crate::RouterBuilder::matched_route_extension). Layers
/// *outside* the router (a logger, analytics) only see the response, so a request that carries
/// [`ReportMatchedRoute`] gets it in the response's extensions too, to label by route instead
/// of by raw path. Requests answered by the fallback carry none.
///
/// ```
/// use armature_router::{get, MatchedRoute, ReportMatchedRoute, Router};
/// use http::Request;
/// use tower::ServiceExt;
///
/// # tokio_test::block_on(async {
/// let router = Router::builder()
///     .route("/users/:id", get(|req: Request<()>| async move {
///         req.extensions().get::<MatchedRoute>().unwrap().to_string()
///     }))
///     .build()?;
///
/// let res = router.clone().oneshot(Request::get("/users/42").body(())?).await?;
/// assert!(res.extensions().get::<MatchedRoute>().is_none(), "not asked for");
///
/// let mut req = Request::get("/users/42").body(())?;
/// req.extensions_mut().insert(ReportMatchedRoute);
/// let res = router.oneshot(req).await?;
/// assert_eq!(res.extensions().get::<MatchedRoute>().unwrap().as_str(), "/users/{id}");
/// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MatchedRoute(Arc<str>);

/// A request extension asking the router to put the [`MatchedRoute`] in the response's
/// extensions as well, for a layer outside the router that labels requests by route.
///
/// Opt-in because a response's first extension costs three allocations, which a stack with
/// no such layer should not pay. A layer can learn the route without it, from the router
/// itself, with [`observe`](crate::observe) (armature-layers' logger and analytics do); one
/// that wants the extension inserts the marker before calling the inner service:
///
/// ```
/// use armature_router::ReportMatchedRoute;
/// # let mut req = http::Request::new(());
/// req.extensions_mut().insert(ReportMatchedRoute);
/// ```
///
/// The marker is left in the request, so every router on the way (say one nested as a
/// service in another) reports the route it matched; the innermost one is the last written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportMatchedRoute;

impl MatchedRoute {
    pub(crate) fn new(template: Arc<str>) -> Self {
        MatchedRoute(template)
    }

    /// The template as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MatchedRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for MatchedRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(values: &[&str]) -> PathParams {
        let names: Arc<[Box<str>]> = (0..values.len())
            .map(|i| format!("p{i}").into_boxed_str())
            .collect();
        let mut params = PathParams::with_names(names);
        for value in values {
            params.push(value);
        }
        params
    }

    #[test]
    fn values_inline_and_spilled_read_back_whole() {
        let long = "x".repeat(40);
        for values in [
            &["42"][..],
            &["café", "", "日本語"][..],
            &[long.as_str(), "é", "tail"][..],
        ] {
            let p = params(values);
            assert_eq!(p.len(), values.len());
            let read: Vec<&str> = p.iter().map(|(_, v)| v).collect();
            assert_eq!(read, values);
            assert_eq!(p.get("p0"), Some(values[0]));
        }
    }

    #[test]
    fn missing_names_are_none() {
        let p = params(&["1"]);
        assert_eq!(p.get("nope"), None);
        assert!(PathParams::default().is_empty());
        assert_eq!(PathParams::default().iter().count(), 0);
    }
}
