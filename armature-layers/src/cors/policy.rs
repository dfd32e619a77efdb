//! The compiled configuration: every header value computed once by `build()`, and the
//! per-request decisions, which are only lookups and comparisons.

use http::header::{
    HeaderMap, HeaderName, HeaderValue, ACCESS_CONTROL_ALLOW_CREDENTIALS,
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_HEADERS,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{Method, Request};

use super::allow_origin::OriginPolicy;
use super::vary;

const TRUE: HeaderValue = HeaderValue::from_static("true");

/// Which methods a preflight may ask for.
#[derive(Debug, Clone)]
pub(crate) enum Methods {
    /// `Access-Control-Allow-Methods: *` (only valid without credentials).
    Any,
    /// These, compared byte for byte with `Access-Control-Request-Method` (as browsers do),
    /// and their precomputed comma-separated value (`None` when the list is empty).
    List(Vec<Method>, Option<HeaderValue>),
}

/// Which request headers a preflight may ask for.
#[derive(Debug, Clone)]
pub(crate) enum Headers {
    /// `*`, plus listed names the wildcard does not cover (`authorization`), precomputed.
    Any(Vec<HeaderName>, HeaderValue),
    /// Echo `Access-Control-Request-Headers` (only valid without credentials).
    Mirror,
    /// These, and their precomputed comma-separated value (`None` when the list is empty).
    List(Vec<HeaderName>, Option<HeaderValue>),
}

/// Everything the layer needs per request.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) origin: OriginPolicy,
    pub(crate) credentials: bool,
    pub(crate) methods: Methods,
    pub(crate) headers: Headers,
    pub(crate) expose: Option<HeaderValue>,
    pub(crate) max_age: Option<HeaderValue>,
}

/// Whether the request is a CORS preflight (Fetch §4.8): `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`. Any other `OPTIONS` goes to the inner service.
pub(crate) fn is_preflight<B>(req: &Request<B>) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(ORIGIN)
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

impl Policy {
    /// The headers of the layer's own answer to a preflight, given the allowed
    /// `Access-Control-Allow-Origin` value (if the origin is allowed).
    pub(crate) fn preflight(
        &self,
        allow_origin: Option<HeaderValue>,
        req: &HeaderMap,
    ) -> Preflight {
        let mut answer = Preflight {
            allow_origin,
            ..Preflight::default()
        };
        if answer.allow_origin.is_none() {
            return answer;
        }
        answer.credentials = self.credentials;
        // Each allow header is left out when what it answers is refused, so the browser's
        // console names the culprit; `max-age` only comes with a full approval.
        let method_ok = req
            .get(ACCESS_CONTROL_REQUEST_METHOD)
            .is_some_and(|m| self.method_allowed(m.as_bytes()));
        if method_ok {
            answer.allow_methods = match &self.methods {
                Methods::Any => Some(HeaderValue::from_static("*")),
                Methods::List(_, value) => value.clone(),
            };
        }
        let headers_ok = match self.headers_allowed(req) {
            Some(allow_headers) => {
                answer.allow_headers = allow_headers;
                true
            }
            None => false,
        };
        if method_ok && headers_ok {
            answer.max_age = self.max_age.clone();
        }
        answer
    }

    /// Fetch's method check: `GET`, `HEAD` and `POST` are CORS-safelisted and always pass
    /// (browsers send them cross-origin without asking); others must be listed, byte for
    /// byte (a lowercase `patch` is not `PATCH`).
    fn method_allowed(&self, requested: &[u8]) -> bool {
        matches!(requested, b"GET" | b"HEAD" | b"POST")
            || match &self.methods {
                Methods::Any => true,
                Methods::List(methods, _) => {
                    methods.iter().any(|m| m.as_str().as_bytes() == requested)
                }
            }
    }

    /// Fetch's header check over `Access-Control-Request-Headers`. `None` when a requested
    /// header is not allowed; otherwise the `Access-Control-Allow-Headers` value to send.
    fn headers_allowed(&self, req: &HeaderMap) -> Option<Option<HeaderValue>> {
        let requested = req.get_all(ACCESS_CONTROL_REQUEST_HEADERS);
        let listed = |names: &[HeaderName], token: &[u8]| {
            names
                .iter()
                .any(|n| n.as_str().as_bytes().eq_ignore_ascii_case(token))
        };
        let tokens = || {
            requested
                .iter()
                .flat_map(|v| v.as_bytes().split(|&b| b == b','))
                .map(<[u8]>::trim_ascii)
                .filter(|t| !t.is_empty())
        };
        match &self.headers {
            Headers::Mirror => Some(mirror(req)),
            // The wildcard never covers `authorization` (Fetch: a "CORS non-wildcard
            // request-header name"); it has to be listed.
            Headers::Any(names, value) => tokens()
                .all(|t| listed(names, t) || !t.eq_ignore_ascii_case(b"authorization"))
                .then(|| Some(value.clone())),
            Headers::List(names, value) => {
                tokens().all(|t| listed(names, t)).then(|| value.clone())
            }
        }
    }

    /// The CORS headers of an actual (non-preflight) response.
    pub(crate) fn actual(&self, allow_origin: Option<HeaderValue>) -> Actual {
        let allowed = allow_origin.is_some();
        Actual {
            allow_origin,
            credentials: allowed && self.credentials,
            expose: if allowed { self.expose.clone() } else { None },
            vary_origin: self.origin.varies(),
        }
    }
}

/// `Access-Control-Request-Headers` echoed (several fields joined), or nothing if absent.
fn mirror(req: &HeaderMap) -> Option<HeaderValue> {
    let mut fields = req.get_all(ACCESS_CONTROL_REQUEST_HEADERS).iter();
    let first = fields.next()?;
    let mut joined = first.as_bytes().to_vec();
    for more in fields {
        joined.extend_from_slice(b", ");
        joined.extend_from_slice(more.as_bytes());
    }
    HeaderValue::from_bytes(&joined).ok()
}

/// The layer's answer to a preflight. `allow_origin` is `None` for a disallowed origin (and
/// then so is everything else); `allow_methods` is `None` when the requested method is not
/// allowed, `allow_headers` when a requested header is not, and `max_age` unless both are:
/// the browser then blocks the actual request.
#[derive(Debug, Default)]
pub(crate) struct Preflight {
    allow_origin: Option<HeaderValue>,
    credentials: bool,
    allow_methods: Option<HeaderValue>,
    allow_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
}

impl Preflight {
    pub(crate) fn write(self, headers: &mut HeaderMap) {
        headers.insert(VARY, vary::PREFLIGHT);
        let pairs = [
            (ACCESS_CONTROL_ALLOW_ORIGIN, self.allow_origin),
            (
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                self.credentials.then_some(TRUE),
            ),
            (ACCESS_CONTROL_ALLOW_METHODS, self.allow_methods),
            (ACCESS_CONTROL_ALLOW_HEADERS, self.allow_headers),
            (ACCESS_CONTROL_MAX_AGE, self.max_age),
        ];
        for (name, value) in pairs {
            if let Some(value) = value {
                headers.insert(name, value);
            }
        }
    }
}

/// The CORS headers of an actual response. The layer owns them: whatever the inner service
/// set for `Access-Control-Allow-Origin`, `-Allow-Credentials` and `-Expose-Headers` is
/// replaced, or removed when the origin is not allowed.
#[derive(Debug)]
pub(crate) struct Actual {
    allow_origin: Option<HeaderValue>,
    credentials: bool,
    expose: Option<HeaderValue>,
    vary_origin: bool,
}

impl Actual {
    pub(crate) fn write(self, headers: &mut HeaderMap) {
        set(headers, ACCESS_CONTROL_ALLOW_ORIGIN, self.allow_origin);
        set(
            headers,
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            self.credentials.then_some(TRUE),
        );
        set(headers, ACCESS_CONTROL_EXPOSE_HEADERS, self.expose);
        if self.vary_origin {
            vary::ensure(headers, "origin", vary::ORIGIN);
        }
    }
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: Option<HeaderValue>) {
    match value {
        Some(value) => {
            headers.insert(name, value);
        }
        None => {
            headers.remove(name);
        }
    }
}
