//! Build-time errors: what can go wrong while assembling a router.

use std::fmt;

use http::Method;

/// An error found while building a [`Router`](crate::Router): a malformed pattern or two routes
/// that cannot coexist.
///
/// Every variant names the route(s) involved, so the message says what to change.
///
/// ```
/// use armature_router::{get, Router, RouteError};
///
/// let err = Router::builder()
///     .route("/users/{id}", get(|_req: http::Request<()>| async { "by id" }))
///     .route("/users/:name", get(|_req: http::Request<()>| async { "by name" }))
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, RouteError::Conflict { .. }));
/// assert_eq!(
///     err.to_string(),
///     "route `/users/:name` conflicts with `/users/{id}`: both match the same paths"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// The pattern is not valid route syntax.
    MalformedPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two patterns match exactly the same paths (they differ only in parameter names).
    Conflict {
        /// The pattern being added.
        route: String,
        /// The pattern registered before it.
        existing: String,
    },
    /// The same method was registered twice for one pattern.
    DuplicateMethod {
        /// The pattern being added.
        route: String,
        /// The pattern registered before it.
        existing: String,
        /// The method registered twice.
        method: Method,
    },
    /// A `nest` prefix is not a plain path prefix.
    InvalidPrefix {
        /// The prefix as given.
        prefix: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::MalformedPattern { pattern, reason } => {
                write!(f, "invalid route `{pattern}`: {reason}")
            }
            RouteError::Conflict { route, existing } => write!(
                f,
                "route `{route}` conflicts with `{existing}`: both match the same paths"
            ),
            RouteError::DuplicateMethod {
                route,
                existing,
                method,
            } => write!(
                f,
                "{method} `{route}` is already registered (as `{existing}`)"
            ),
            RouteError::InvalidPrefix { prefix, reason } => {
                write!(f, "invalid nest prefix `{prefix}`: {reason}")
            }
        }
    }
}

impl std::error::Error for RouteError {}
