//! Showing a user function the request head while keeping the request.

use http::request::Parts;
use http::Request;

/// `f` of `req`'s head as [`Parts`] (what a user predicate or key function is given), and
/// `req` handed back unchanged.
pub(crate) fn with_head<B, T>(req: Request<B>, f: impl FnOnce(&Parts) -> T) -> (Request<B>, T) {
    let (parts, body) = req.into_parts();
    let out = f(&parts);
    (Request::from_parts(parts, body), out)
}
