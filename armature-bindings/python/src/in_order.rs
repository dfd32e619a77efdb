//! Routes of one shape tried in the order they were declared, as Starlette tries them.
//!
//! Armature's router picks a route by the shape of its path (static segment > parameter >
//! catch-all), so `/items/{id:int}` and `/items/{name}` would be one path for it, a conflict.
//! Starlette tries its routes in order: `GET /items/7` is the first one's, `GET /items/abc`
//! does not fit `{id:int}` and falls through to `{name}`. Such routes are registered here as
//! one router path (the first route's) whose endpoint, per method, tries the routes of that
//! method in order (a `GET` route answering a `HEAD` too; a WebSocket handshake, the WebSocket
//! routes) and hands the request to the first whose convertors take it. A value that only a
//! route of another method takes is a `405` listing those methods (Starlette's partial match).
//! Values that no route of the group takes never get here: the group's router path is guarded
//! by its convertors (`RouterBuilder::route_if`), so the router goes on to a route of another
//! shape, or its `404`. Values that only a route of the other kind takes (a page's that only a
//! WebSocket route takes, or a handshake's that only HTTP routes take) are a `404` here. A
//! lone route with convertors is a group of one: this is where every convertor is checked.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use armature_router::{PathParams, Response, RouteError};
use http::header::ALLOW;
use http::{HeaderValue, Method, Request, StatusCode};
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;

use crate::convertors::Convertors;

/// The route of a group that answers, where its parameters are named otherwise than in the
/// pattern the router matched (the first route of the shape): `/items/{name}` matched as
/// `/items/{id}`. In the request's extensions, for `req.route`, `param()` and `path_params`.
#[derive(Clone, Debug)]
pub(crate) struct AnsweringRoute {
    path: Arc<str>,
    names: Arc<[String]>,
}

impl AnsweringRoute {
    /// The name of parameter number `at`.
    pub(crate) fn get(&self, at: usize) -> Option<&str> {
        self.names.get(at).map(String::as_str)
    }

    /// The route's path (`/items/{name}`).
    pub(crate) fn path(&self) -> &str {
        &self.path
    }
}

/// A path's shape (`/items/{}`, `/files/{*}`: its parameters unnamed) and its parameters'
/// names in order.
pub(crate) fn shape(path: &str) -> (String, Vec<String>) {
    let (mut shape, mut names) = (String::with_capacity(path.len()), Vec::new());
    for (at, segment) in path.split('/').enumerate() {
        if at > 0 {
            shape.push('/');
        }
        // `:name`, a whole segment, is `{name}` (the router takes both).
        if let Some(name) = segment.strip_prefix(':') {
            shape.push_str("{}");
            names.push(name.to_owned());
            continue;
        }
        let mut rest = segment;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}').map(|close| open + close) else {
                break;
            };
            let name = &rest[open + 1..close];
            shape.push_str(&rest[..open]);
            shape.push_str(if name.starts_with('*') { "{*}" } else { "{}" });
            names.push(name.trim_start_matches('*').to_owned());
            rest = &rest[close + 1..];
        }
        shape.push_str(rest);
    }
    (shape, names)
}

/// The groups of route ids (each in declaration order) that must be tried in order: routes
/// of one shape whose parameters are named differently, or of which one has convertors (a
/// route with convertors alone is a group of one, whose check this is), WebSocket routes among
/// them, as the method [`websocket`].
///
/// A route that an earlier one of its method always answers first (one whose convertors take
/// every value its own take, see [`Convertors::covers`]) could never be reached: that is an
/// error naming both, as the router's own duplicate routes are, where Starlette would ignore
/// the later one.
pub(crate) fn groups(
    routes: &[(Method, String)],
    convertors: &[Option<Convertors>],
) -> Result<Vec<Vec<usize>>, RouteError> {
    let mut by_shape: HashMap<String, Vec<usize>> = HashMap::new();
    let mut order = Vec::new();
    for (route, (_, path)) in routes.iter().enumerate() {
        let (key, _) = shape(path);
        let members = by_shape.entry(key).or_insert_with_key(|key| {
            order.push(key.clone());
            Vec::new()
        });
        members.push(route);
    }
    let checks = |route: usize| convertors.get(route).and_then(Option::as_ref);
    let mut groups = Vec::new();
    for members in order.into_iter().filter_map(|key| by_shape.remove(&key)) {
        let first = &routes[members[0]].1;
        let renamed = members.iter().any(|&r| routes[r].1 != *first);
        if !(renamed || members.iter().any(|&r| checks(r).is_some())) {
            continue;
        }
        for (at, &route) in members.iter().enumerate() {
            let (method, path) = &routes[route];
            let shadowing = members[..at].iter().find(|&&earlier| {
                routes[earlier].0 == *method && Convertors::covers(checks(earlier), checks(route))
            });
            if let Some(&earlier) = shadowing {
                return Err(RouteError::DuplicateMethod {
                    route: path.clone(),
                    existing: routes[earlier].1.clone(),
                    method: method.clone(),
                });
            }
        }
        groups.push(members);
    }
    Ok(groups)
}

/// One route of a group: what it takes, and its endpoint (its rate limit included).
pub(crate) struct Member<B> {
    /// Its route id: the order it was declared in.
    route: usize,
    convertors: Option<Convertors>,
    answering: Option<AnsweringRoute>,
    service: BoxCloneSyncService<Request<B>, Response, Infallible>,
}

impl<B> Member<B> {
    /// Route `route`, whose path is `path`, matched as `pattern` (the group's first route's).
    pub(crate) fn new(
        route: usize,
        path: &str,
        pattern: &str,
        convertors: Option<Convertors>,
        service: BoxCloneSyncService<Request<B>, Response, Infallible>,
    ) -> Self {
        let (names, matched) = (shape(path).1, shape(pattern).1);
        Member {
            route,
            convertors,
            answering: (names != matched).then(|| AnsweringRoute {
                path: path.into(),
                names: names.into(),
            }),
            service,
        }
    }

    fn takes(&self, req: &Request<B>) -> bool {
        match req.extensions().get::<PathParams>() {
            Some(params) => self.fits(params),
            None => self.convertors.is_none(),
        }
    }

    fn fits(&self, params: &PathParams) -> bool {
        self.convertors.as_ref().is_none_or(|c| c.fit(params))
    }
}

/// What the group's router path is guarded by: whether some route of the group takes the
/// values. `None` when a route without convertors takes them all.
pub(crate) fn guard<B: Send + 'static>(
    methods: &Methods<B>,
) -> Option<impl Fn(&PathParams) -> bool + Send + Sync + 'static> {
    if members(methods).any(|member| member.convertors.is_none()) {
        return None;
    }
    let methods = Arc::clone(methods);
    Some(move |params: &PathParams| members(&methods).any(|member| member.fits(params)))
}

/// Every route of a group, whatever its method.
fn members<B>(methods: &Methods<B>) -> impl Iterator<Item = &Member<B>> {
    methods.iter().flat_map(|(_, members)| members)
}

/// The method of a group's WebSocket routes (what the Python side names them): a handshake
/// is dispatched to them only.
pub(crate) fn websocket() -> Method {
    Method::from_bytes(crate::stack::WEBSOCKET.as_bytes()).unwrap_or(Method::GET)
}

/// The routes of a group by method, in the order their methods first appear.
pub(crate) type Methods<B> = Arc<[(Method, Vec<Member<B>>)]>;

/// What a group answers a request to its endpoint of `method`: the first route (in the order
/// they were declared) of that method that takes the request, a `GET` route answering a `HEAD`
/// too, as in Starlette; if none does, `not_allowed` (with `Allow`, while it is still a `405`
/// without one) when a route of another method would, else `not_found`.
pub(crate) async fn dispatch<B, N, NF, A, AF>(
    methods: Methods<B>,
    method: Method,
    mut req: Request<B>,
    not_found: N,
    not_allowed: A,
) -> Response
where
    B: Send + 'static,
    N: FnOnce(Request<B>) -> NF,
    NF: std::future::Future<Output = Response>,
    A: FnOnce(Request<B>) -> AF,
    AF: std::future::Future<Output = Response>,
{
    let answers = |m: &Method| *m == method || (method == Method::HEAD && *m == Method::GET);
    let chosen = methods
        .iter()
        .filter(|(m, _)| answers(m))
        .flat_map(|(_, members)| members)
        .filter(|member| member.takes(&req))
        .min_by_key(|member| member.route);
    if let Some(member) = chosen {
        if let Some(convertors) = &member.convertors {
            req.extensions_mut().insert(convertors.clone());
        }
        if let Some(answering) = &member.answering {
            req.extensions_mut().insert(answering.clone());
        }
        let Ok(res) = member.service.clone().oneshot(req).await;
        return res;
    }
    // A handshake no WebSocket route takes, as a page no HTTP route takes (the other kind of
    // route is not a method it could use), is a path none matches.
    let socket = |m: &Method| m.as_str() == crate::stack::WEBSOCKET;
    if socket(&method) {
        return not_found(req).await;
    }
    let mut allowed: Vec<&str> = Vec::new();
    for (m, members) in methods.iter().filter(|(m, _)| !answers(m) && !socket(m)) {
        if members.iter().any(|member| member.takes(&req)) {
            allowed.push(m.as_str());
        }
    }
    if allowed.contains(&Method::GET.as_str()) && !allowed.contains(&Method::HEAD.as_str()) {
        allowed.push(Method::HEAD.as_str());
    }
    if allowed.is_empty() {
        return not_found(req).await;
    }
    let allow = HeaderValue::from_str(&allowed.join(","));
    let mut res = not_allowed(req).await;
    // As the router's: `Allow` belongs to a `405` (not to what a handler made of it instead).
    if let (StatusCode::METHOD_NOT_ALLOWED, Ok(allow)) = (res.status(), allow) {
        res.headers_mut().entry(ALLOW).or_insert(allow);
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convertors::Convertor;

    #[test]
    fn a_shape_forgets_the_names_and_keeps_the_kind_of_each_parameter() {
        assert_eq!(
            shape("/items/{item_id}/parts/{*rest}"),
            (
                "/items/{}/parts/{*}".to_owned(),
                vec!["item_id".to_owned(), "rest".to_owned()]
            )
        );
        assert_eq!(shape("/static/a"), ("/static/a".to_owned(), vec![]));
        assert_eq!(shape("/a/{b"), ("/a/{b".to_owned(), vec![]));
        assert_eq!(
            shape("/a/:b/c"),
            ("/a/{}/c".to_owned(), vec!["b".to_owned()])
        );
        assert_eq!(shape("/"), ("/".to_owned(), vec![]));
    }

    #[test]
    fn only_routes_the_router_cannot_tell_apart_alone_are_grouped() {
        let routes: Vec<(Method, String)> = [
            (Method::GET, "/items/{id}"),
            (Method::GET, "/items/{name}"),
            (Method::GET, "/users/{id}"),
            (Method::POST, "/users/{id}"),
            (Method::GET, "/files/{*rest}"),
            (Method::GET, "/files/{id}"),
            (Method::GET, "/pages/{n}"),
            (Method::POST, "/pages/{n}"),
        ]
        .into_iter()
        .map(|(m, p)| (m, p.to_owned()))
        .collect();
        let int = Convertors::checking(vec![Convertor::Int]);
        let mut convertors = vec![None; routes.len()];
        convertors[0] = int.clone();
        convertors[6] = int.clone();
        assert_eq!(
            groups(&routes, &convertors),
            // `/items`: renamed; `/pages`: a convertor. `/users` (one name, no convertor) and
            // `/files` (a catch-all and a parameter: two shapes) stay the router's.
            Ok(vec![vec![0, 1], vec![6, 7]])
        );
        // A WebSocket route is one more method of its shape.
        let mut with_socket = routes.clone();
        with_socket.push((websocket(), "/users/{room}".to_owned()));
        assert_eq!(
            groups(&with_socket, &convertors),
            Ok(vec![vec![0, 1], vec![2, 3, 8], vec![6, 7]])
        );
        // A lone route with convertors is a group of one (its check is the group's).
        let mut lone = convertors.clone();
        lone[4] = int.clone();
        assert_eq!(
            groups(&routes, &lone),
            Ok(vec![vec![0, 1], vec![4], vec![6, 7]])
        );

        // A route that an earlier one of its method always answers first is never reached.
        let shadowed = |first: Option<Convertors>, second: Option<Convertors>| {
            let routes =
                [(Method::GET, "/a/{x}"), (Method::GET, "/a/{y}")].map(|(m, p)| (m, p.to_owned()));
            groups(&routes, &[first, second])
        };
        let error = RouteError::DuplicateMethod {
            route: "/a/{y}".to_owned(),
            existing: "/a/{x}".to_owned(),
            method: Method::GET,
        };
        assert_eq!(shadowed(None, None), Err(error.clone()));
        assert_eq!(shadowed(None, int.clone()), Err(error.clone()));
        assert_eq!(shadowed(int.clone(), int.clone()), Err(error.clone()));
        assert_eq!(shadowed(int.clone(), None), Ok(vec![vec![0, 1]]));
        // Every integer is a float: `{y:int}` after `{x:float}` is never reached; the other
        // way round, `1.5` reaches the second.
        let float = Convertors::checking(vec![Convertor::Float]);
        assert_eq!(shadowed(float.clone(), int.clone()), Err(error));
        assert_eq!(shadowed(int.clone(), float.clone()), Ok(vec![vec![0, 1]]));
        assert_eq!(
            shadowed(Convertors::checking(vec![Convertor::Uuid]), int),
            Ok(vec![vec![0, 1]])
        );
    }
}
