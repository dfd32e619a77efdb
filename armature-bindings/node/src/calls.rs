//! The calls JS makes for every batch and every request: `take`, `respond` and `fail`.
//!
//! They are plain functions made from Rust closures that hold the app's [`Dispatcher`], not
//! methods of `NativeApp`: a class method pays, on every call, for napi-rs's lookup of `this`
//! and its borrow bookkeeping, which cost more than the work of `respond` itself. Arguments
//! are read positionally and as little as possible: the content type is a small number for
//! the common ones, and headers are read only when the response has any.

use std::sync::Arc;

use bytes::Bytes;
use napi::bindgen_prelude::{FromNapiValue, FunctionCallContext, Object, Unknown};
use napi::{Env, Error, Result, Status, ValueType};

use crate::dispatch::Dispatcher;
use crate::response::{ContentType, Reply};

/// `{ take, respond, fail }` for `dispatcher`'s app.
pub(crate) fn object<'env>(env: &'env Env, dispatcher: &Arc<Dispatcher>) -> Result<Object<'env>> {
    let mut calls = Object::new(env)?;

    let app = Arc::clone(dispatcher);
    // take(ids: Uint32Array): number
    calls.set(
        "take",
        env.create_function_from_closure::<(), u32, _>("take", move |ctx| {
            let into = ctx.get::<&mut [u32]>(0)?;
            // A batch never exceeds u32 (it is bounded by the ids JS offers).
            Ok(u32::try_from(app.take(into)).unwrap_or(u32::MAX))
        })?,
    )?;

    let app = Arc::clone(dispatcher);
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
            Ok(app.complete(id, reply))
        })?,
    )?;

    let app = Arc::clone(dispatcher);
    // fail(id, message): boolean
    calls.set(
        "fail",
        env.create_function_from_closure::<(), bool, _>(
            "fail",
            move |ctx: FunctionCallContext| {
                let id = ctx.get::<u32>(0)?;
                Ok(app.complete(id, Reply::Failed(ctx.get::<String>(1)?)))
            },
        )?,
    )?;

    Ok(calls)
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
