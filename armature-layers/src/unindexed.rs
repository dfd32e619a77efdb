//! Header values that name one response only, kept out of header compression tables.

use http::HeaderValue;

/// `value`, marked so that HTTP/2's HPACK encoder (the `h2` crate) writes it as a literal
/// "never indexed" rather than adding it to the connection's compression table: a request id
/// differs from response to response, so an entry for it would never be used again, only
/// evict entries that would be (and every later lookup of the same name would walk past the
/// stale ones). The mark is `HeaderValue::set_sensitive`, so the value's `Debug` shows
/// `Sensitive`; its bytes, and HTTP/1.1, are unchanged.
///
/// A rate limit's `RateLimit` field is left indexed: for a client well inside its quota it
/// repeats from response to response, and an indexed repeat is cheaper than a literal.
#[inline]
pub(crate) fn unindexed(mut value: HeaderValue) -> HeaderValue {
    value.set_sensitive(true);
    value
}
