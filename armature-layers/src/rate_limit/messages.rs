//! The short messages of the rate limit's refusals; their body is [`crate::body::ResponseBody`].

/// The message of a `429 Too Many Requests` (`text/plain`); `Retry-After` says when to retry.
pub(crate) const REFUSAL_MESSAGE: &str =
    "Too Many Requests: retry after the seconds in Retry-After\n";

/// The message of a `400 Bad Request` for a key header sent more than once.
pub(crate) const AMBIGUOUS_KEY_MESSAGE: &str =
    "Bad Request: the rate-limit key header appears more than once\n";
