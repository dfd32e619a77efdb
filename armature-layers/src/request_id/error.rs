//! The typed error of [`RequestIdLayer::header`](super::RequestIdLayer::header).

use std::fmt;

use http::header::HeaderName;

/// A request-id configuration that would corrupt the messages it labels.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestIdError {
    /// The header has a meaning of its own to HTTP (framing, hop-by-hop, `host`, the body's
    /// description, credentials and cookies, redirects and caching, origins and security
    /// policy, proxies' forwarding); the layer would overwrite it on every request and
    /// response.
    ReservedHeader {
        /// The header asked for.
        name: HeaderName,
    },
}

impl fmt::Display for RequestIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestIdError::ReservedHeader { name } => write!(
                f,
                "request id: `{name}` means something to HTTP itself and cannot carry an id; \\
                 use a header of its own, like `x-request-id` or `x-correlation-id`"
            ),
        }
    }
}

impl std::error::Error for RequestIdError {}
