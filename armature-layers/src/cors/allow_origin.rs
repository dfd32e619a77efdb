//! Which origins are allowed, and what `Access-Control-Allow-Origin` answers them with.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use http::header::{HeaderMap, HeaderValue, ORIGIN};
use http::request::Parts;
use http::Request;

use crate::head::with_head;

/// A user predicate over a (well-formed, non-`null`) origin and the request head.
pub(crate) type Predicate = Arc<dyn Fn(&str, &Parts) -> bool + Send + Sync + 'static>;

pub(crate) const WILDCARD: HeaderValue = HeaderValue::from_static("*");

/// The compiled origin rule.
#[derive(Clone)]
pub(crate) enum OriginPolicy {
    /// `Access-Control-Allow-Origin: *` on every response, whatever the request.
    Any,
    /// The request's origin is reflected when it passes one of these; otherwise no header.
    Reflect {
        /// Exact serialized origins, compared byte for byte.
        exact: OriginSet,
        /// Asked about well-formed origins not in `exact` (never about `null`).
        predicate: Option<Predicate>,
        /// Whether `Origin: null` is reflected.
        null: bool,
        /// Whether every well-formed origin is reflected.
        mirror: bool,
    },
}

impl OriginPolicy {
    /// Whether `Access-Control-Allow-Origin` depends on the request's `Origin`, so every
    /// response must carry `Vary: Origin`.
    pub(crate) fn varies(&self) -> bool {
        !matches!(self, OriginPolicy::Any)
    }

    /// The `Access-Control-Allow-Origin` value for a request with these headers (`None`: the
    /// origin is not allowed, or there is none), decided from the headers alone; or
    /// `Err(ask)` when the origin is up to the predicate, which sees the request head
    /// ([`Ask::answer`]). Borrowing the headers leaves the request where it is in the common
    /// cases (no move of the whole request in and out).
    #[inline]
    pub(crate) fn allowed(&self, headers: &HeaderMap) -> Result<Option<HeaderValue>, Ask<'_>> {
        let OriginPolicy::Reflect {
            exact,
            predicate,
            null,
            mirror,
        } = self
        else {
            return Ok(Some(WILDCARD));
        };
        let Some(origin) = single_origin(headers) else {
            return Ok(None);
        };
        let bytes = origin.as_bytes();
        if exact.contains(bytes) {
            return Ok(Some(origin.clone()));
        }
        if bytes == b"null" {
            return Ok(null.then(|| origin.clone()));
        }
        if check_serialized_origin(bytes).is_err() {
            return Ok(None);
        }
        match predicate {
            _ if *mirror => Ok(Some(origin.clone())),
            Some(predicate) => Err(Ask {
                origin: origin.clone(),
                predicate,
            }),
            None => Ok(None),
        }
    }
}

/// An origin the predicate decides on.
pub(crate) struct Ask<'a> {
    origin: HeaderValue,
    predicate: &'a Predicate,
}

impl Ask<'_> {
    /// Asks the predicate, showing it the request head as [`Parts`]; the request is handed
    /// back unchanged.
    pub(crate) fn answer<B>(self, req: Request<B>) -> (Request<B>, Option<HeaderValue>) {
        let Ask { origin, predicate } = self;
        // `check_serialized_origin` accepted it, so it is ASCII.
        let (req, allowed) = with_head(req, |parts| {
            std::str::from_utf8(origin.as_bytes()).is_ok_and(|o| predicate(o, parts))
        });
        (req, allowed.then_some(origin))
    }
}

impl fmt::Debug for OriginPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginPolicy::Any => f.write_str("Any"),
            OriginPolicy::Reflect {
                exact,
                predicate,
                null,
                mirror,
            } => f
                .debug_struct("Reflect")
                .field("exact", &exact)
                .field("predicate", &predicate.as_ref().map(|_| "<fn>"))
                .field("null", null)
                .field("mirror", mirror)
                .finish(),
        }
    }
}

/// The exactly allowed origins. A handful (the usual case) are compared in a loop, which beats
/// hashing; more go in a hash set. Either way it is a byte-for-byte comparison.
#[derive(Clone)]
pub(crate) enum OriginSet {
    Few(Vec<Box<[u8]>>),
    Many(HashSet<Box<[u8]>>),
}

impl OriginSet {
    const FEW: usize = 8;

    pub(crate) fn new(mut origins: Vec<Box<[u8]>>) -> Self {
        origins.sort();
        origins.dedup();
        if origins.len() <= Self::FEW {
            OriginSet::Few(origins)
        } else {
            OriginSet::Many(origins.into_iter().collect())
        }
    }

    #[inline]
    fn contains(&self, origin: &[u8]) -> bool {
        match self {
            OriginSet::Few(list) => list.iter().any(|o| **o == *origin),
            OriginSet::Many(set) => set.contains(origin),
        }
    }
}

impl fmt::Debug for OriginSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut origins: Vec<_> = match self {
            OriginSet::Few(list) => list.iter().map(|o| String::from_utf8_lossy(o)).collect(),
            OriginSet::Many(set) => set.iter().map(|o| String::from_utf8_lossy(o)).collect(),
        };
        origins.sort();
        f.debug_set().entries(origins).finish()
    }
}

/// The request's `Origin`, if it has exactly one. Two `Origin` fields are malformed (a
/// browser never sends them) and are treated as no allowed origin.
pub(crate) fn single_origin(headers: &HeaderMap) -> Option<&HeaderValue> {
    let mut all = headers.get_all(ORIGIN).iter();
    let first = all.next()?;
    all.next().is_none().then_some(first)
}

/// Checks that `origin` is a serialized tuple origin exactly as a browser writes it in the
/// `Origin` header (`scheme://host[:port]`, lowercase, no default port, no path), so that a
/// byte comparison with what browsers send can succeed.
pub(crate) fn check_serialized_origin(origin: &[u8]) -> Result<(), &'static str> {
    if origin == b"null" {
        return Err("`null` is the opaque origin; call allow_null_origin() to allow it");
    }
    let Some(sep) = origin.windows(3).position(|w| w == b"://") else {
        return Err("not of the form scheme://host[:port]");
    };
    let (scheme, rest) = (&origin[..sep], &origin[sep + 3..]);
    check_scheme(scheme)?;
    if let Some(&c) = rest
        .iter()
        .find(|c| matches!(c, b'/' | b'?' | b'#' | b'@' | b'\\'))
    {
        return Err(match c {
            b'/' | b'\\' => "an origin has no path, not even a trailing slash",
            b'@' => "an origin has no user info",
            _ => "an origin has no query or fragment",
        });
    }
    let (host, port) = split_host_port(rest)?;
    check_host(host)?;
    if let Some(port) = port {
        check_port(scheme, port)?;
    }
    Ok(())
}

fn check_scheme(scheme: &[u8]) -> Result<(), &'static str> {
    match scheme.first() {
        None => return Err("missing scheme"),
        Some(c) if !c.is_ascii_alphabetic() => return Err("the scheme must start with a letter"),
        _ => {}
    }
    if scheme.iter().any(u8::is_ascii_uppercase) {
        return Err("the scheme must be lowercase, as browsers send it");
    }
    if !scheme
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return Err("invalid character in the scheme");
    }
    Ok(())
}

/// Splits `host[:port]`, where the host may be a bracketed IPv6 address.
fn split_host_port(rest: &[u8]) -> Result<(&[u8], Option<&[u8]>), &'static str> {
    if rest.first() == Some(&b'[') {
        let Some(close) = rest.iter().position(|&c| c == b']') else {
            return Err("unterminated IPv6 address");
        };
        let (host, after) = (&rest[..=close], &rest[close + 1..]);
        return match after {
            [] => Ok((host, None)),
            [b':', port @ ..] => Ok((host, Some(port))),
            _ => Err("unexpected text after the IPv6 address"),
        };
    }
    Ok(match rest.iter().position(|&c| c == b':') {
        Some(colon) => (&rest[..colon], Some(&rest[colon + 1..])),
        None => (rest, None),
    })
}

fn check_host(host: &[u8]) -> Result<(), &'static str> {
    if host.is_empty() {
        return Err("missing host");
    }
    if let Some(inner) = host.strip_prefix(b"[").and_then(|h| h.strip_suffix(b"]")) {
        if inner.iter().any(u8::is_ascii_uppercase) {
            return Err("the IPv6 address must be lowercase, as browsers send it");
        }
        if inner.is_empty()
            || !inner
                .iter()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, b':' | b'.'))
        {
            return Err("invalid IPv6 address");
        }
        return Ok(());
    }
    if host.contains(&b'*') {
        return Err(
            "wildcard subdomains are not origins; use allow_origin_predicate for a pattern",
        );
    }
    if host.iter().any(u8::is_ascii_uppercase) {
        return Err("the host must be lowercase, as browsers send it");
    }
    if !host
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'_'))
    {
        return Err(
            "invalid character in the host (internationalized hosts are sent in punycode, xn--...)",
        );
    }
    Ok(())
}

fn check_port(scheme: &[u8], port: &[u8]) -> Result<(), &'static str> {
    if port.is_empty() || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
        return Err("the port must be 1 to 5 digits");
    }
    if port[0] == b'0' {
        return Err("the port must not start with 0, browsers send it without leading zeros");
    }
    let number: u32 = port.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'));
    if number > 65535 {
        return Err("the port must be at most 65535");
    }
    let default = match scheme {
        b"http" | b"ws" => Some(80),
        b"https" | b"wss" => Some(443),
        b"ftp" => Some(21),
        _ => None,
    };
    if default == Some(number) {
        return Err("browsers omit the scheme's default port; drop it");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_serialized_origin as check;

    #[test]
    fn accepts_what_browsers_send() {
        for ok in [
            "https://a.example",
            "http://127.0.0.1:8080",
            "http://[::1]:3000",
            "https://xn--bcher-kva.example",
            "chrome-extension://abcdefghijklmnop",
            "http://localhost:1",
            "https://a.example:65535",
        ] {
            assert_eq!(check(ok.as_bytes()), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_what_never_matches() {
        for bad in [
            "https://a.example/",
            "https://a.example/path",
            "https://A.example",
            "HTTPS://a.example",
            "https://a.example:443",
            "http://a.example:80",
            "https://a.example:0443",
            "https://a.example:65536",
            "https://a.example:",
            "https://*.a.example",
            "https://user@a.example",
            "https://a.example?x",
            "https://a.example#x",
            "a.example",
            "://a.example",
            "https://",
            "null",
            "*",
            "https://bücher.example",
            "http://[::1",
            "http://[::1]x",
            "http://[::G]",
        ] {
            assert!(check(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
