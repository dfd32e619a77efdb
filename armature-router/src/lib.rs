#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod body;
mod builder;
mod eager;
mod error;
mod handler;
mod json;
mod method_router;
mod nested_service;
mod observe;
mod params;
mod path;
mod pattern;
mod response;
mod router;
mod scan;
mod statics;
mod table;
mod tree;

pub use body::{Body, BoxError};
pub use builder::RouterBuilder;
pub use error::RouteError;
pub use handler::{
    handler_fn, EndpointFuture, EndpointService, Handler, HandlerFn, IntoResponseFuture,
};
pub use json::{Json, JsonRejection, DEFAULT_JSON_LIMIT, MAX_JSON_DEPTH};
pub use method_router::{
    any, delete, get, head, on, on_service, options, patch, post, put, trace, MethodRouter,
};
pub use nested_service::OriginalUri;
pub use observe::{observe, Observation, Observed, RouteKey};
pub use params::{MatchedRoute, PathParams, ReportMatchedRoute};
pub use response::{is_bodiless, ErrorAnswer, IntoResponse, Response};
pub use router::{RouteFuture, RouteMatch, Router};
