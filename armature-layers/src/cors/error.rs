//! The typed error of [`CorsBuilder::build`](super::CorsBuilder::build).

use std::fmt;

/// A CORS configuration that browsers would reject, that is unsafe, or that contradicts itself.
///
/// Returned by [`CorsBuilder::build`](super::CorsBuilder::build), never a panic: a
/// configuration read from a file or the environment fails where the program can report it.
/// Each message says what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CorsError {
    /// `allow_any_origin()` with `allow_credentials(true)`: browsers refuse
    /// `Access-Control-Allow-Origin: *` on credentialed requests.
    AnyOriginWithCredentials,
    /// `mirror_any_origin()` with `allow_credentials(true)`: every website could read
    /// responses made with the user's cookies.
    MirrorOriginWithCredentials,
    /// `allow_null_origin()` with `allow_credentials(true)`: any website can get the `null`
    /// origin (a sandboxed iframe, a `data:` URL), so this is as open as mirroring any origin.
    NullOriginWithCredentials,
    /// `allow_any_method()` with `allow_credentials(true)`: browsers read
    /// `Access-Control-Allow-Methods: *` literally on credentialed requests.
    AnyMethodWithCredentials,
    /// `allow_any_header()` with `allow_credentials(true)`: browsers read
    /// `Access-Control-Allow-Headers: *` literally on credentialed requests.
    AnyHeaderWithCredentials,
    /// `expose_any_header()` with `allow_credentials(true)`: browsers read
    /// `Access-Control-Expose-Headers: *` literally on credentialed requests.
    AnyExposedHeaderWithCredentials,
    /// An entry of `allow_origins` is not a serialized origin as browsers send it in `Origin`.
    InvalidOrigin {
        /// The entry as given (lossily decoded if not UTF-8).
        origin: String,
        /// Why it can never match, and what to write instead.
        reason: &'static str,
    },
    /// An entry of `allow_methods` is not a method token.
    InvalidMethod {
        /// The entry as given.
        method: String,
    },
    /// An entry of `allow_headers` or `expose_headers` is not a header name.
    InvalidHeaderName {
        /// The entry as given.
        name: String,
    },
    /// A literal `*` in a list; the wildcard has a builder method of its own.
    WildcardInList {
        /// The list: `"allow_origins"`, `"allow_methods"`, `"allow_headers"` or
        /// `"expose_headers"`.
        list: &'static str,
        /// The method that means "any".
        use_instead: &'static str,
    },
    /// Two settings that contradict each other, such as `allow_any_origin()` together with
    /// `allow_origins(...)` (the list would be dead code).
    Conflict {
        /// The first setting.
        first: &'static str,
        /// The setting it conflicts with.
        second: &'static str,
    },
}

impl fmt::Display for CorsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_credentials = |f: &mut fmt::Formatter<'_>, what: &str, fix: &str| {
            write!(f, "invalid CORS configuration: {what} cannot be combined with allow_credentials(true); {fix}")
        };
        match self {
            CorsError::AnyOriginWithCredentials => with_credentials(
                f,
                "allow_any_origin()",
                "browsers reject `Access-Control-Allow-Origin: *` on credentialed requests; list the origins with allow_origins([...])",
            ),
            CorsError::MirrorOriginWithCredentials => with_credentials(
                f,
                "mirror_any_origin()",
                "it would let every website read responses made with the user's credentials; list the origins with allow_origins([...])",
            ),
            CorsError::NullOriginWithCredentials => with_credentials(
                f,
                "allow_null_origin()",
                "any website can send `Origin: null` from a sandboxed iframe, so it would read responses made with the user's credentials",
            ),
            CorsError::AnyMethodWithCredentials => with_credentials(
                f,
                "allow_any_method()",
                "browsers read `Access-Control-Allow-Methods: *` literally on credentialed requests; list the methods with allow_methods([...])",
            ),
            CorsError::AnyHeaderWithCredentials => with_credentials(
                f,
                "allow_any_header()",
                "browsers read `Access-Control-Allow-Headers: *` literally on credentialed requests; list the headers with allow_headers([...])",
            ),
            CorsError::AnyExposedHeaderWithCredentials => with_credentials(
                f,
                "expose_any_header()",
                "browsers read `Access-Control-Expose-Headers: *` literally on credentialed requests; list the headers with expose_headers([...])",
            ),
            CorsError::InvalidOrigin { origin, reason } => {
                write!(f, "invalid CORS origin {origin:?}: {reason}")
            }
            CorsError::InvalidMethod { method } => {
                write!(f, "invalid CORS method {method:?}: not an HTTP method token")
            }
            CorsError::InvalidHeaderName { name } => {
                write!(f, "invalid CORS header name {name:?}: not an HTTP header name")
            }
            CorsError::WildcardInList { list, use_instead } => {
                write!(f, "invalid CORS configuration: `*` passed to {list}; call {use_instead} instead")
            }
            CorsError::Conflict { first, second } => {
                write!(
                    f,
                    "conflicting CORS configuration: {first} and {second} cannot be combined; \
                     keep one ({first} already allows everything {second} would)"
                )
            }
        }
    }
}

impl std::error::Error for CorsError {}
