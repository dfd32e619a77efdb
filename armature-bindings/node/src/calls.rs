//! The calls JS makes for every batch and every request: `take`, the request's fields, and
//! `respond` or `fail`; `watch` when a handler asks for the request's abort signal.
//!
//! They are plain functions made from Rust closures that hold the app's [`Dispatcher`], not
//! methods of `NativeApp`: a class method pays, on every call, for napi-rs's lookup of `this`
//! and its borrow bookkeeping, which cost more than the work of `respond` itself. Arguments
//! are read positionally and as little as possible: the content type is a small number for
//! the common ones, and headers are read only when the response has any.
//!
//! The closures hold the dispatcher weakly. It holds the JS function it wakes, which holds
//! these calls: strong both ways, the cycle crossed from Rust to JS and back where no garbage
//! collector sees it, and every app ever compiled stayed in memory with its handlers. The
//! dispatcher lives as long as its `NativeApp` or a request of its servers.

use indexmap::IndexMap;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};

use armature_router::{MatchedRoute, PathParams};
use bytes::Bytes;
use http::{HeaderValue, Request};
use napi::bindgen_prelude::{Buffer, Either, FromNapiValue, FunctionCallContext, Object, Unknown};
use napi::{Env, Error, Result, Status, ValueType};

use crate::app::Refused;
use crate::dispatch::Dispatcher;
use crate::response::{latin1_text, ContentType, Reply};

/// `{ take, respond, fail, method, url, ... }` for `dispatcher`'s app.
pub(crate) fn object<'env>(env: &'env Env, dispatcher: &Arc<Dispatcher>) -> Result<Object<'env>> {
    let mut calls = Object::new(env)?;
    let dispatcher = &Arc::downgrade(dispatcher);
    readers(env, &mut calls, dispatcher)?;

    let app = Weak::clone(dispatcher);
    // take(ids: Uint32Array): number
    calls.set(
        "take",
        env.create_function_from_closure::<(), u32, _>("take", move |ctx| {
            let into = ctx.get::<&mut [u32]>(0)?;
            // A batch never exceeds u32 (it is bounded by the ids JS offers).
            Ok(u32::try_from(alive(&app)?.take(into)).unwrap_or(u32::MAX))
        })?,
    )?;

    let app = Weak::clone(dispatcher);
    // respond(id, status, contentType: number | string | null, body, headers?): boolean
    calls.set(
        "respond",
        env.create_function_from_closure::<(), bool, _>("respond", move |ctx| {
            let id = ctx.get::<u32>(0)?;
            let reply = Reply::Handler {
                status: ctx.get::<u32>(1)?,
                content: content_type(ctx.get::<Unknown>(2)?)?,
                body: body(ctx.get::<Unknown>(3)?)?,
                headers: if ctx.length() > 4 {
                    ctx.get::<Option<Vec<String>>>(4)?
                } else {
                    None
                },
            };
            // An app that is gone has no request waiting: `false`, as for one answered.
            Ok(app.upgrade().is_some_and(|app| app.complete(id, reply)))
        })?,
    )?;

    let app = Weak::clone(dispatcher);
    // fail(id, message, status?, headers?, code?, reason?): boolean; `status` (500 to 599, default 500) is
    // checked by JS; `headers` (the error's own, alternating names and values) go on the answer.
    calls.set(
        "fail",
        env.create_function_from_closure::<(), bool, _>(
            "fail",
            move |ctx: FunctionCallContext| {
                let id = ctx.get::<u32>(0)?;
                let message = ctx.get::<String>(1)?;
                let status = if ctx.length() > 2 {
                    ctx.get::<Option<u32>>(2)?
                } else {
                    None
                };
                let headers = if ctx.length() > 3 {
                    ctx.get::<Option<Vec<String>>>(3)?
                } else {
                    None
                };
                // code (the error's own) and reason (the status's phrase) go in the body.
                let optional = |at: usize| -> Result<Option<String>> {
                    if ctx.length() > at {
                        ctx.get::<Option<String>>(at)
                    } else {
                        Ok(None)
                    }
                };
                let reply = Reply::Failed {
                    message,
                    status,
                    headers,
                    code: optional(4)?,
                    reason: optional(5)?,
                };
                Ok(app.upgrade().is_some_and(|app| app.complete(id, reply)))
            },
        )?,
    )?;

    let app = Weak::clone(dispatcher);
    // watch(id): boolean; `false` when the request was already abandoned or answered.
    calls.set(
        "watch",
        env.create_function_from_closure::<(), bool, _>("watch", move |ctx| {
            let id = ctx.get::<u32>(0)?;
            Ok(app.upgrade().is_some_and(|app| app.watch(id)))
        })?,
    )?;

    Ok(calls)
}

/// The request's fields, each read under the dispatcher's lock while the request waits.
fn readers(env: &Env, calls: &mut Object, dispatcher: &Weak<Dispatcher>) -> Result<()> {
    let mut reader = |name: &str, read: fn(&FunctionCallContext, &Request<Bytes>) -> Result<_>| {
        let app = Weak::clone(dispatcher);
        let function =
            env.create_function_from_closure::<(), Option<Field>, _>(name, move |ctx| {
                let id = ctx.get::<u32>(0)?;
                let app = alive(&app)?;
                let state = app.state();
                let pending = state.pending.get(&id).ok_or_else(|| not_waiting(id))?;
                read(&ctx, &pending.req)
            })?;
        calls.set(name, function)
    };
    reader("method", |_, req| Ok(text(req.method().as_str())))?;
    reader("url", |_, req| {
        let uri = req.uri();
        Ok(text(
            uri.path_and_query().map_or(uri.path(), |pq| pq.as_str()),
        ))
    })?;
    reader("path", |_, req| Ok(text(req.uri().path())))?;
    reader("query", |_, req| {
        Ok(req.uri().query().map(|q| Either::A(q.to_owned())))
    })?;
    reader("param", |ctx, req| {
        let name = ctx.get::<String>(1)?;
        let params = req.extensions().get::<PathParams>();
        Ok(params
            .and_then(|p| p.get(&name))
            .map(|v| Either::A(v.to_owned())))
    })?;
    reader("params", |_, req| {
        let params = req.extensions().get::<PathParams>();
        let all = params.map_or_else(IndexMap::new, |p| {
            p.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        });
        Ok(Some(Either::B(all)))
    })?;
    // The client's IP address (the socket's peer; `inject`'s `remoteAddress`).
    reader("ip", |_, req| {
        let peer = req.extensions().get::<SocketAddr>();
        Ok(peer.map(|addr| Either::A(addr.ip().to_string())))
    })?;
    // The matched route's template in the router's form (`/users/{id}` for `/users/:id`).
    reader("route", |_, req| {
        let route = req.extensions().get::<MatchedRoute>();
        Ok(route.map(|r| Either::A(r.as_str().to_owned())))
    })?;
    // The message of the error a request refused before routing throws (a rate limit's `429`
    // says when to retry), for the JS handler that throws it.
    reader("refusal", |_, req| {
        let refused = req.extensions().get::<Refused>();
        Ok(refused.map(|refused| Either::A(refused.message().into_owned())))
    })?;
    reader("header", |ctx, req| {
        let name = ctx.get::<String>(1)?;
        let values = req.headers().get_all(name.as_str());
        Ok(join(&name, values.iter()).map(Either::A))
    })?;
    reader("headers", |_, req| {
        let headers = req.headers();
        let all = headers
            .keys()
            .filter_map(|k| {
                let joined = join(k.as_str(), headers.get_all(k).iter())?;
                Some((k.as_str().to_owned(), joined))
            })
            .collect();
        Ok(Some(Either::B(all)))
    })?;

    // The body is taken, not read: a Buffer over the bytes Rust received, handed over without
    // a copy when they are one Vec (a body collected from several chunks), copied once
    // otherwise. The JS `Request` caches it.
    let app = Weak::clone(dispatcher);
    let body = env.create_function_from_closure::<(), Buffer, _>("body", move |ctx| {
        let id = ctx.get::<u32>(0)?;
        let app = alive(&app)?;
        let mut state = app.state();
        let pending = state.pending.get_mut(&id).ok_or_else(|| not_waiting(id))?;
        Ok(Buffer::from(Vec::from(std::mem::take(
            pending.req.body_mut(),
        ))))
    })?;
    calls.set("body", body)
}

/// A request field as JS receives it: text, or an object of texts.
type Field = Either<String, IndexMap<String, String>>;

fn text(value: &str) -> Option<Field> {
    Some(Either::A(value.to_owned()))
}

/// The dispatcher, unless its app is gone (then no request of it waits).
fn alive(app: &Weak<Dispatcher>) -> Result<Arc<Dispatcher>> {
    app.upgrade()
        .ok_or_else(|| Error::new(Status::GenericFailure, "the app was dropped"))
}

fn not_waiting(id: u32) -> Error {
    Error::new(
        Status::GenericFailure,
        format!("request {id} was already answered (read request fields before responding)"),
    )
}

/// Repeated header values joined with `, `; `Cookie` fields with `; `, the cookie separator
/// (joined with commas they would read as one cookie's value). The server already joins the
/// `Cookie` fields of HTTP/2 and HTTP/3 requests (RFC 9113 section 8.2.3); this covers an
/// HTTP/1.1 client that sends several. Bytes are read as Latin-1, as Node's http reads them.
fn join<'a>(name: &str, mut values: impl Iterator<Item = &'a HeaderValue>) -> Option<String> {
    let first = latin1_text(values.next()?.as_bytes());
    let separator = if name.eq_ignore_ascii_case("cookie") {
        "; "
    } else {
        ", "
    };
    Some(values.fold(first, |mut all, v| {
        all.push_str(separator);
        all.push_str(&latin1_text(v.as_bytes()));
        all
    }))
}

fn content_type(value: Unknown) -> Result<ContentType> {
    match value.get_type()? {
        ValueType::Number => u32::from_unknown(value).map(ContentType::Known),
        ValueType::String => String::from_unknown(value).map(ContentType::Other),
        ValueType::Undefined | ValueType::Null => Ok(ContentType::Known(0)),
        _ => Err(invalid("a content type must be a string")),
    }
}

/// A string body is moved into the response; a Buffer or Uint8Array is copied once.
fn body(value: Unknown) -> Result<Bytes> {
    match value.get_type()? {
        ValueType::String => String::from_unknown(value).map(Bytes::from),
        ValueType::Undefined | ValueType::Null => Ok(Bytes::new()),
        ValueType::Object => <&[u8]>::from_unknown(value)
            .map(Bytes::copy_from_slice)
            .map_err(|_| invalid("a body must be a string, a Buffer or a Uint8Array")),
        _ => Err(invalid("a body must be a string, a Buffer or a Uint8Array")),
    }
}

fn invalid(message: &str) -> Error {
    Error::new(Status::InvalidArg, message.to_owned())
}
