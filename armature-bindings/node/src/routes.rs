//! The route table as JS registers it, checked against armature-router at every registration
//! (each new route against the table so far, so registering n routes costs O(n)) and compiled
//! into a `Router` when the app starts.

use std::future::ready;
use std::sync::Arc;

use armature_layers::files::StaticFiles;
use armature_router::{
    any, on, Handler, MethodRouter, Response, RouteError, Router, RouterBuilder,
};
use bytes::Bytes;
use http::{Method, Request};
use napi::bindgen_prelude::{Buffer, Either};
use napi::{Error, Result, Status};
use napi_derive::napi;

use crate::response::{self, error, error_with, ContentType, Static};

/// Which fallback of the router a JS handler answers.
pub(crate) enum Fallback {
    /// No route matches the path.
    NotFound,
    /// A route matches the path, not the method (`405`; the router adds `Allow`).
    MethodNotAllowed,
}

/// What a route answers with.
#[derive(Clone)]
pub(crate) enum Target {
    /// The JS handler with this index (in the JS-side handler table).
    Js(u32),
    /// A constant response, answered in Rust; `handler` is the JS handler that returns it,
    /// which answers instead when the app has JS middleware (which must see every request).
    Static { res: Arc<Static>, handler: u32 },
}

#[derive(Clone)]
enum Def {
    /// `method: None` is every method.
    Route {
        method: Option<Method>,
        path: String,
        target: Target,
    },
    Nest {
        prefix: String,
        defs: Vec<Def>,
        /// What answers the unmatched paths under `prefix` (the scope's not-found handler);
        /// `None`: the enclosing table's fallback does.
        fallback: Option<Target>,
    },
    /// The files of `root` under `prefix` (`app.static`).
    Files {
        prefix: String,
        root: String,
        index: bool,
    },
}

/// Routes of an app or a scope, in registration order.
#[napi]
#[derive(Default)]
pub struct NativeRoutes {
    defs: Vec<Def>,
    /// `defs` as armature-router checks them, with placeholder endpoints: a new route is
    /// tried against it alone. `None` after a refused route (the failed try consumed it);
    /// rebuilt from `defs` at the next registration.
    checked: Option<RouterBuilder<Bytes>>,
    /// What answers requests no route matches, if the app set it.
    fallback: Option<Target>,
    /// Else the default `404` (see [`not_found`]); the JS handler that writes the same answer
    /// when the app has JS middleware. `None`: armature-router's own `404` (a scope's table).
    default_fallback: Option<u32>,
}

fn invalid(message: String) -> Error {
    Error::new(Status::InvalidArg, message)
}

fn method(name: &str) -> Result<Option<Method>> {
    match name {
        "ALL" | "*" => Ok(None),
        _ if name.bytes().all(|b| b.is_ascii_uppercase()) && !name.is_empty() => {
            Method::from_bytes(name.as_bytes())
                .map(Some)
                .map_err(|_| invalid(format!("invalid method {name:?}")))
        }
        _ => Err(invalid(format!(
            "invalid method {name:?}: use an upper-case token like \"GET\""
        ))),
    }
}

#[napi]
impl NativeRoutes {
    /// An empty table.
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `method` on `path` to the JS handler `handler`. Throws on an invalid pattern, a
    /// conflict with an earlier route or a method registered twice.
    #[napi]
    pub fn add_js(&mut self, method_name: String, path: String, handler: u32) -> Result<()> {
        let method = method(&method_name)?;
        self.add(Def::Route {
            method,
            path,
            target: Target::Js(handler),
        })
    }

    /// Routes `method` on `path` to a constant response, answered without entering JS unless
    /// the app has JS middleware; then the JS handler `handler` (which returns it) answers.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn add_static(
        &mut self,
        method_name: String,
        path: String,
        status: u16,
        content_type: Option<String>,
        headers: Option<Vec<String>>,
        body: Option<Either<String, Buffer>>,
        handler: u32,
    ) -> Result<()> {
        let method = method(&method_name)?;
        let target = constant(&path, status, content_type, headers, body, handler)?;
        self.add(Def::Route {
            method,
            path,
            target,
        })
    }

    /// Answers requests no route matches with the binding's default `404` (Fastify's, with
    /// the message `Route GET:/nope not found`), written in Rust; through the JS handler
    /// `handler` (which writes the same) when the app has JS middleware.
    #[napi]
    pub fn fallback_default(&mut self, handler: u32) {
        self.fallback = None;
        self.default_fallback = Some(handler);
    }

    /// Answers requests no route matches with the JS handler `handler` instead of `404`; in a
    /// scope's table, those under the prefix it is mounted at (see `nest`).
    #[napi]
    pub fn fallback_js(&mut self, handler: u32) {
        self.fallback = Some(Target::Js(handler));
    }

    /// Answers requests no route matches with a constant response instead of `404` (through
    /// the JS handler `handler` when the app has JS middleware, as for a constant route).
    #[napi]
    pub fn fallback_static(
        &mut self,
        status: u16,
        content_type: Option<String>,
        headers: Option<Vec<String>>,
        body: Option<Either<String, Buffer>>,
        handler: u32,
    ) -> Result<()> {
        self.fallback = Some(constant(
            "the not-found handler",
            status,
            content_type,
            headers,
            body,
            handler,
        )?);
        Ok(())
    }

    /// Serves the files of the directory `root` under `prefix` (with `index`, a directory's
    /// `index.html` answers for it). Throws on a bad prefix or one a route has.
    #[napi]
    pub fn add_files(&mut self, prefix: String, root: String, index: bool) -> Result<()> {
        self.add(Def::Files {
            prefix,
            root,
            index,
        })
    }

    /// Mounts every route of `scope` under `prefix`. The scope's JS handlers join this
    /// table's handlers at `offset`: their indices shift by it. As Fastify's prefixes, the
    /// scope's `/` answers both `/api` and `/api/`. An empty prefix adds its routes as they are.
    /// The scope's not-found handler (`fallbackJs` / `fallbackStatic` on `scope`) answers
    /// the paths under `prefix/` that no route matches; a scope without a prefix cannot have
    /// one (its paths are its parent's).
    #[napi]
    pub fn nest(&mut self, prefix: String, scope: &NativeRoutes, offset: u32) -> Result<()> {
        let defs = shifted(&scope.defs, offset);
        let fallback = scope
            .fallback
            .as_ref()
            .map(|target| shifted_target(target, offset));
        if prefix.is_empty() {
            if fallback.is_some() {
                return Err(invalid(
                    "setNotFoundHandler: a scope without a prefix has no paths of its own; \
                     register its plugin with one ({ prefix: '/v1' })"
                        .into(),
                ));
            }
            // No prefix (a plugin registered without one): its routes join this table.
            for def in defs {
                self.add(def)?;
            }
            return Ok(());
        }
        let with_slash = format!("{prefix}/");
        let roots: Vec<Def> = defs
            .iter()
            .filter_map(|def| match def {
                Def::Route {
                    method,
                    path,
                    target,
                } if path == "/" && !prefix.ends_with('/') => Some(Def::Route {
                    method: method.clone(),
                    path: with_slash.clone(),
                    target: target.clone(),
                }),
                _ => None,
            })
            .collect();
        self.add(Def::Nest {
            prefix,
            defs,
            fallback,
        })?;
        for root in roots {
            self.add(root)?;
        }
        Ok(())
    }
}

impl NativeRoutes {
    /// Adds `def` if armature-router accepts it after the routes so far, so every error it
    /// knows (pattern syntax, conflicts naming both routes, duplicate methods, bad prefixes)
    /// throws here, at registration, rather than when the app starts.
    fn add(&mut self, def: Def) -> Result<()> {
        let so_far = match self.checked.take() {
            Some(checked) => checked,
            None => builder(&self.defs, &placeholder, &placeholder_fallback),
        };
        let checked = match &def {
            Def::Route {
                method,
                path,
                target,
            } => so_far.try_route(path, placeholder(method.as_ref(), target)),
            Def::Nest {
                prefix,
                defs,
                fallback,
            } => {
                let nested = builder(defs, &placeholder, &placeholder_fallback);
                let nested = match fallback {
                    Some(target) => placeholder_fallback(nested, target),
                    None => nested,
                };
                so_far.try_nest(prefix, nested)
            }
            Def::Files {
                prefix,
                root,
                index,
            } => so_far.try_nest_service(prefix, files(prefix, root, *index)?),
        }
        .map_err(route_error)?;
        self.checked = Some(checked);
        self.defs.push(def);
        Ok(())
    }

    /// Compiles the table; `js` makes the endpoint of a JS route, `js_fallback` adds a JS
    /// fallback to the builder. With `middleware`, constant responses are answered by their
    /// JS handlers too, so that the app's JS middleware runs for every request. With
    /// `method_not_allowed`, that JS handler answers the `405`s (the router adds `Allow` to
    /// its answer when it is still a `405`).
    pub(crate) fn router(
        &self,
        js: &dyn Fn(Option<&Method>, u32) -> MethodRouter<Bytes>,
        js_fallback: &dyn Fn(RouterBuilder<Bytes>, Fallback, u32) -> RouterBuilder<Bytes>,
        middleware: bool,
        method_not_allowed: Option<u32>,
    ) -> Result<Router<Bytes>> {
        // A not-found handler (the app's, or a scope's under its prefix), as a route's target.
        let fallback = |builder: RouterBuilder<Bytes>, target: &Target| match target {
            Target::Js(handler) => js_fallback(builder, Fallback::NotFound, *handler),
            Target::Static { handler, .. } if middleware => {
                js_fallback(builder, Fallback::NotFound, *handler)
            }
            Target::Static { res, .. } => {
                let res = Arc::clone(res);
                builder.fallback(move |_req: Request<Bytes>| ready(res.response()))
            }
        };
        let builder = builder(
            &self.defs,
            &|method, target| match target {
                Target::Js(handler) => js(method, *handler),
                Target::Static { handler, .. } if middleware => js(method, *handler),
                Target::Static { res, .. } => {
                    let res = Arc::clone(res);
                    endpoint(method, move |_req: Request<Bytes>| ready(res.response()))
                }
            },
            &fallback,
        );
        let builder = match &self.fallback {
            None => match self.default_fallback {
                Some(handler) if middleware => js_fallback(builder, Fallback::NotFound, handler),
                Some(_) => builder.fallback(|req: Request<Bytes>| ready(not_found(&req))),
                None => builder,
            },
            Some(target) => fallback(builder, target),
        };
        // JSON, as every other error answer of the package: the `400` for a path that is not
        // valid percent-encoding too (the router adds `Allow` to the `405`).
        let builder = builder.error_answer(router_error);
        let builder = match method_not_allowed {
            Some(handler) => js_fallback(builder, Fallback::MethodNotAllowed, handler),
            // JS throws the same (`methodNotAllowed` in lib/index.js).
            None => builder.method_not_allowed_fallback(|req: Request<Bytes>| {
                let message = format!("{} is not allowed on {}", req.method(), url(&req));
                ready(error(http::StatusCode::METHOD_NOT_ALLOWED, &message))
            }),
        };
        builder.build().map_err(route_error)
    }
}

/// A route the router refused, as JS throws it. A method registered twice on one path (`ALL`
/// beside any other counts: as Fastify's `all`, it declares every method) says so in Fastify's
/// words (its FST_ERR_DUPLICATED_ROUTE), whichever registration came first.
fn route_error(err: RouteError) -> Error {
    match err {
        RouteError::DuplicateMethod { route, method, .. } => {
            let method = if method == "ANY" {
                "ALL"
            } else {
                method.as_str()
            };
            invalid(format!(
                "invalid route: Method '{method}' already declared for route '{route}'"
            ))
        }
        other => invalid(format!("invalid route: {other}")),
    }
}

/// The router's own error answers in the package's shape; its `400`s are a path that does
/// not decode, Fastify's `FST_ERR_BAD_URL`.
fn router_error(status: http::StatusCode, message: &'static str) -> Response {
    let code = (status == http::StatusCode::BAD_REQUEST).then_some("FST_ERR_BAD_URL");
    error_with(status, code, None, message)
}

/// The default answer to a path no route matches, Fastify's: `404` with the message
/// `Route GET:/nope not found` (JS writes the same, `notFound` in lib/index.js).
fn not_found<B>(req: &Request<B>) -> Response {
    let message = format!("Route {}:{} not found", req.method(), url(req));
    error(http::StatusCode::NOT_FOUND, &message)
}

/// The request target as JS's `req.url` gives it: the path and query.
fn url<B>(req: &Request<B>) -> &str {
    req.uri().path_and_query().map_or("/", |pq| pq.as_str())
}

/// A constant response for `what` (a path, or the fallback), returned by the JS `handler`.
fn constant(
    what: &str,
    status: u16,
    content_type: Option<String>,
    headers: Option<Vec<String>>,
    body: Option<Either<String, Buffer>>,
    handler: u32,
) -> Result<Target> {
    let body = response::body_bytes(body);
    // Built with its body, so that a `Content-Length` given is checked against it (and
    // dropped when right), as a JS handler's answer is.
    let res = response::build(
        status.into(),
        &ContentType::from(content_type),
        headers.as_deref(),
        body.clone(),
    )
    .map_err(|err| invalid(format!("static response for {what}: {err}")))?;
    let (parts, _) = res.into_parts();
    Ok(Target::Static {
        res: Arc::new(Static {
            status: parts.status,
            headers: parts.headers,
            body,
        }),
        handler,
    })
}

/// `defs` with every JS handler index moved up by `offset`.
fn shifted(defs: &[Def], offset: u32) -> Vec<Def> {
    defs.iter()
        .map(|def| match def {
            Def::Route {
                method,
                path,
                target,
            } => Def::Route {
                method: method.clone(),
                path: path.clone(),
                target: shifted_target(target, offset),
            },
            Def::Nest {
                prefix,
                defs,
                fallback,
            } => Def::Nest {
                prefix: prefix.clone(),
                defs: shifted(defs, offset),
                fallback: fallback
                    .as_ref()
                    .map(|target| shifted_target(target, offset)),
            },
            Def::Files { .. } => def.clone(),
        })
        .collect()
}

/// `target` with its JS handler index moved up by `offset`.
fn shifted_target(target: &Target, offset: u32) -> Target {
    match target {
        Target::Js(handler) => Target::Js(handler + offset),
        Target::Static { res, handler } => Target::Static {
            res: Arc::clone(res),
            handler: handler + offset,
        },
    }
}

/// What `app.static` mounts: the files, their bodiless `405` in the package's error shape.
type Files = tower::util::MapResponse<StaticFiles, fn(Response) -> Response>;

/// armature-layers' `StaticFiles` (tower-http's `ServeDir`) for `app.static(prefix, root)`: a
/// missing file, or a symbolic link out of `root`, answers `404` in the package's error shape
/// (message `Not Found`), as does a method other than `GET` and `HEAD` (`405`, with `Allow`);
/// a directory redirect keeps the path as sent.
fn files(prefix: &str, root: &str, index: bool) -> Result<Files> {
    let files = StaticFiles::builder(root)
        .index_html(index)
        .mounted_at(prefix)
        .not_found(|| error(http::StatusCode::NOT_FOUND, "Not Found"))
        .build()
        .map_err(|err| invalid(format!("static({prefix:?}): {err}")))?;
    Ok(tower::util::MapResponse::new(
        files,
        json_405 as fn(Response) -> Response,
    ))
}

/// `ServeDir`'s `405` (no body) as `405 {"statusCode":405,...}`, its headers kept.
fn json_405(res: Response) -> Response {
    if res.status() != http::StatusCode::METHOD_NOT_ALLOWED {
        return res;
    }
    response::with_error_body(res, "Method Not Allowed")
}

/// The endpoint routes are checked with: it is never called.
fn placeholder(method: Option<&Method>, _: &Target) -> MethodRouter<Bytes> {
    endpoint(method, |_req: Request<Bytes>| ready(()))
}

/// The fallback a scope's not-found handler is checked with: it is never called.
fn placeholder_fallback(builder: RouterBuilder<Bytes>, _: &Target) -> RouterBuilder<Bytes> {
    builder.fallback(|_req: Request<Bytes>| ready(()))
}

/// A method router answering `method` (every method when `None`) with `handler`.
pub(crate) fn endpoint<H: Handler<Bytes>>(
    method: Option<&Method>,
    handler: H,
) -> MethodRouter<Bytes> {
    match method {
        Some(method) => on(method.clone(), handler),
        None => any(handler),
    }
}

/// The router of `defs`: `make` makes a route's endpoint, `fallback` sets a scope's not-found
/// handler on its nested builder.
fn builder(
    defs: &[Def],
    make: &dyn Fn(Option<&Method>, &Target) -> MethodRouter<Bytes>,
    fallback: &dyn Fn(RouterBuilder<Bytes>, &Target) -> RouterBuilder<Bytes>,
) -> RouterBuilder<Bytes> {
    // Eager: no user layer wraps this router (the preset's observe the route), and a
    // constant route's answer then drops its request before hyper reads the socket again.
    // A catch-all matches an empty rest, as Fastify's `/files/*` matches `/files/`.
    // `ALL` (an `any` endpoint) declares every method of its path, as Fastify's `all`: a
    // method beside it is one registered twice. A route that lacks the method gives way to
    // one of lower precedence that has it, as find-my-way keeps a tree per method (`GET
    // /users/me` reaches `GET /users/:id` beside `POST /users/me`).
    let router = Router::builder()
        .eager_handlers(true)
        .catch_all_matches_empty(true)
        .exclusive_any(true)
        .backtrack_on_method(true);
    defs.iter().fold(router, |b, def| match def {
        Def::Route {
            method,
            path,
            target,
        } => b.route(path, make(method.as_ref(), target)),
        Def::Nest {
            prefix,
            defs,
            fallback: None,
        } => b.nest(prefix, builder(defs, make, fallback)),
        Def::Nest {
            prefix,
            defs,
            fallback: Some(target),
        } => b.nest(prefix, fallback(builder(defs, make, fallback), target)),
        Def::Files {
            prefix,
            root,
            index,
        } => match files(prefix, root, *index) {
            Ok(files) => b.nest_service(prefix, files),
            // Checked when it was added; a directory removed since answers as missing.
            Err(_) => b,
        },
    })
}
