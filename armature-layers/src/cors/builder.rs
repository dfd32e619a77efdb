//! [`CorsBuilder`]: the configuration, checked and compiled by [`CorsBuilder::build`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::allow_origin::{check_serialized_origin, OriginPolicy, OriginSet, Predicate};
use super::policy::{Headers, Methods, Policy};
use super::{CorsError, CorsLayer};
use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::Method;

/// Configures a [`CorsLayer`]; start with [`Cors::builder`](super::Cors::builder).
///
/// Lists add up across calls (`allow_origins(a).allow_origins(b)` allows both), and so do
/// predicates (an origin passes if any predicate accepts it). Nothing is checked until
/// [`build`](CorsBuilder::build), which returns every mistake as a [`CorsError`].
///
/// With nothing configured, no cross-origin request is allowed: preflights are answered
/// without CORS headers and responses get none.
#[derive(Clone, Default)]
#[must_use]
pub struct CorsBuilder {
    origins: Vec<Vec<u8>>,
    predicates: Vec<Predicate>,
    any_origin: bool,
    mirror_origin: bool,
    null_origin: bool,
    methods: Vec<String>,
    any_method: bool,
    headers: Vec<String>,
    any_header: bool,
    mirror_headers: bool,
    expose: Vec<String>,
    expose_any: bool,
    credentials: bool,
    max_age: Option<Duration>,
}

impl CorsBuilder {
    /// Allows these origins, each a serialized origin exactly as browsers send it in
    /// `Origin`: `scheme://host[:port]`, lowercase, without the default port, without a
    /// path or trailing slash. Matching is byte for byte: `https://a.example` does not allow
    /// `https://a.example.evil.com`, `https://evil-a.example` or `http://a.example`.
    ///
    /// Takes `&str`, `String` or `HeaderValue` items.
    pub fn allow_origins<I>(mut self, origins: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        self.origins
            .extend(origins.into_iter().map(|o| o.as_ref().to_vec()));
        self
    }

    /// Allows the origins for which `predicate(origin, request_head)` returns `true`.
    ///
    /// Asked only about well-formed serialized origins that are not in
    /// [`allow_origins`](CorsBuilder::allow_origins), and never about `null`. A predicate
    /// runs on every cross-origin request, so keep it cheap and exact: compare whole
    /// hosts, e.g. `origin.strip_prefix("https://").is_some_and(|h| h == "a.example" ||
    /// h.ends_with(".a.example"))` — note the dot before the suffix.
    pub fn allow_origin_predicate<F>(mut self, predicate: F) -> Self
    where
        F: Fn(&str, &Parts) -> bool + Send + Sync + 'static,
    {
        self.predicates.push(Arc::new(predicate));
        self
    }

    /// Allows every origin with `Access-Control-Allow-Origin: *`, the same on every
    /// response (so no `Vary: Origin` is needed). Browsers honour `*` only on requests
    /// without credentials, so this is an error with
    /// [`allow_credentials(true)`](CorsBuilder::allow_credentials).
    pub fn allow_any_origin(mut self) -> Self {
        self.any_origin = true;
        self
    }

    /// Allows every well-formed origin by reflecting it (`null` only with
    /// [`allow_null_origin`](CorsBuilder::allow_null_origin)), with `Vary: Origin`. For
    /// clients that mishandle `*`; an error with credentials, where it would let every
    /// website act as the user.
    pub fn mirror_any_origin(mut self) -> Self {
        self.mirror_origin = true;
        self
    }

    /// Allows the opaque origin `null` (sandboxed iframes, `file:` and `data:` pages).
    /// Any website can produce it, so it is refused with credentials.
    pub fn allow_null_origin(mut self) -> Self {
        self.null_origin = true;
        self
    }

    /// Allows these methods in preflights (`Method`, `&str` or `String` items). `GET`,
    /// `HEAD` and `POST` need not be listed: they are CORS-safelisted, so browsers send
    /// them cross-origin without asking, and a preflight asking for them (because of a
    /// custom header) is judged on its headers. Comparison is exact, as in browsers:
    /// `fetch(url, { method: "patch" })` asks for `patch`, which `Method::PATCH` does not
    /// allow.
    pub fn allow_methods<I>(mut self, methods: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.methods
            .extend(methods.into_iter().map(|m| m.as_ref().to_owned()));
        self
    }

    /// Allows every method: `Access-Control-Allow-Methods: *`. An error with credentials.
    pub fn allow_any_method(mut self) -> Self {
        self.any_method = true;
        self
    }

    /// Allows these request headers in preflights (`HeaderName`, `&str` or `String`
    /// items; compared case-insensitively). CORS-safelisted headers (`accept`,
    /// `accept-language`, `content-language`, and `content-type` with a form or text
    /// value) need not be listed.
    pub fn allow_headers<I>(mut self, headers: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.headers
            .extend(headers.into_iter().map(|h| h.as_ref().to_owned()));
        self
    }

    /// Allows every request header: `Access-Control-Allow-Headers: *`. Browsers never let
    /// the wildcard cover `authorization`; list it with
    /// [`allow_headers`](CorsBuilder::allow_headers) as well if you need it. An error with
    /// credentials.
    pub fn allow_any_header(mut self) -> Self {
        self.any_header = true;
        self
    }

    /// Allows every request header by echoing `Access-Control-Request-Headers`
    /// (`authorization` included). Unlike `allow_any_header()`, it works with credentials
    /// (browsers read `*` literally there): the pages allowed are still only the origins
    /// listed, as with tower-http's `AllowHeaders::mirror_request`, Starlette's
    /// `allow_headers=["*"]` and @fastify/cors' default.
    pub fn mirror_request_headers(mut self) -> Self {
        self.mirror_headers = true;
        self
    }

    /// Lets the page read these response headers (beyond the CORS-safelisted
    /// `cache-control`, `content-language`, `content-length`, `content-type`, `expires`,
    /// `last-modified` and `pragma`).
    pub fn expose_headers<I>(mut self, headers: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.expose
            .extend(headers.into_iter().map(|h| h.as_ref().to_owned()));
        self
    }

    /// Lets the page read every response header: `Access-Control-Expose-Headers: *`. An
    /// error with credentials.
    pub fn expose_any_header(mut self) -> Self {
        self.expose_any = true;
        self
    }

    /// Whether requests with credentials (cookies, HTTP authentication, client
    /// certificates) may be read: sends `Access-Control-Allow-Credentials: true` to allowed
    /// origins. Requires explicit origins, methods and headers; every wildcard or mirror
    /// is then a [`CorsError`].
    pub fn allow_credentials(mut self, allow: bool) -> Self {
        self.credentials = allow;
        self
    }

    /// How long browsers may cache a successful preflight (`Access-Control-Max-Age`, in
    /// whole seconds). Browsers cap it (Chromium at 2 hours, Firefox at 24 hours). Without
    /// it, browsers use their default of 5 seconds.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Checks the configuration and precomputes every header value.
    ///
    /// # Errors
    ///
    /// A [`CorsError`] for a combination browsers would reject or that is unsafe (any
    /// wildcard or mirror with credentials, `null` with credentials), for an origin that is
    /// not a serialized origin, an invalid method or header name, a literal `*` in a list,
    /// or two settings that contradict each other.
    pub fn build(self) -> Result<CorsLayer, CorsError> {
        self.check_credentials()?;
        self.check_conflicts()?;
        let origin = self.origin_policy()?;
        let methods = if self.any_method {
            Methods::Any
        } else {
            let methods: Vec<Method> = dedup(parse_all(
                &self.methods,
                "allow_methods",
                "allow_any_method()",
                |m| {
                    Method::from_bytes(m.as_bytes()).map_err(|_| CorsError::InvalidMethod {
                        method: m.to_owned(),
                    })
                },
            )?);
            let value = join(methods.iter().map(Method::as_str));
            Methods::List(methods, value)
        };
        let header_names = dedup(parse_names(
            &self.headers,
            "allow_headers",
            "allow_any_header()",
        )?);
        let headers = if self.any_header {
            let value =
                join(std::iter::once("*").chain(header_names.iter().map(HeaderName::as_str)))
                    .expect("never empty");
            Headers::Any(header_names, value)
        } else if self.mirror_headers {
            Headers::Mirror
        } else {
            let value = join(header_names.iter().map(HeaderName::as_str));
            Headers::List(header_names, value)
        };
        let expose = if self.expose_any {
            Some(HeaderValue::from_static("*"))
        } else {
            let names = dedup(parse_names(
                &self.expose,
                "expose_headers",
                "expose_any_header()",
            )?);
            join(names.iter().map(HeaderName::as_str))
        };
        Ok(CorsLayer::from_policy(Policy {
            origin,
            credentials: self.credentials,
            methods,
            headers,
            expose,
            max_age: self.max_age.map(|d| HeaderValue::from(d.as_secs())),
        }))
    }

    fn check_credentials(&self) -> Result<(), CorsError> {
        if !self.credentials {
            return Ok(());
        }
        let rules = [
            (self.any_origin, CorsError::AnyOriginWithCredentials),
            (self.mirror_origin, CorsError::MirrorOriginWithCredentials),
            (self.null_origin, CorsError::NullOriginWithCredentials),
            (self.any_method, CorsError::AnyMethodWithCredentials),
            (self.any_header, CorsError::AnyHeaderWithCredentials),
            (self.expose_any, CorsError::AnyExposedHeaderWithCredentials),
        ];
        match rules.into_iter().find(|(set, _)| *set) {
            Some((_, err)) => Err(err),
            None => Ok(()),
        }
    }

    fn check_conflicts(&self) -> Result<(), CorsError> {
        let conflicts = [
            (
                self.any_origin && self.mirror_origin,
                "allow_any_origin()",
                "mirror_any_origin()",
            ),
            (
                self.any_origin && !self.origins.is_empty(),
                "allow_any_origin()",
                "allow_origins(...)",
            ),
            (
                self.any_origin && !self.predicates.is_empty(),
                "allow_any_origin()",
                "allow_origin_predicate(...)",
            ),
            (
                self.mirror_origin && !self.origins.is_empty(),
                "mirror_any_origin()",
                "allow_origins(...)",
            ),
            (
                self.mirror_origin && !self.predicates.is_empty(),
                "mirror_any_origin()",
                "allow_origin_predicate(...)",
            ),
            (
                self.any_method && !self.methods.is_empty(),
                "allow_any_method()",
                "allow_methods(...)",
            ),
            (
                self.mirror_headers && self.any_header,
                "mirror_request_headers()",
                "allow_any_header()",
            ),
            (
                self.mirror_headers && !self.headers.is_empty(),
                "mirror_request_headers()",
                "allow_headers(...)",
            ),
            (
                self.expose_any && !self.expose.is_empty(),
                "expose_any_header()",
                "expose_headers(...)",
            ),
        ];
        match conflicts.into_iter().find(|(hit, _, _)| *hit) {
            Some((_, first, second)) => Err(CorsError::Conflict { first, second }),
            None => Ok(()),
        }
    }

    fn origin_policy(&self) -> Result<OriginPolicy, CorsError> {
        if self.any_origin {
            return Ok(OriginPolicy::Any);
        }
        let mut exact = Vec::with_capacity(self.origins.len());
        for origin in &self.origins {
            if origin == b"*" {
                return Err(CorsError::WildcardInList {
                    list: "allow_origins",
                    use_instead: "allow_any_origin()",
                });
            }
            check_serialized_origin(origin).map_err(|reason| CorsError::InvalidOrigin {
                origin: String::from_utf8_lossy(origin).into_owned(),
                reason,
            })?;
            exact.push(origin.clone().into_boxed_slice());
        }
        let predicate: Option<Predicate> = match self.predicates.len() {
            0 => None,
            1 => Some(Arc::clone(&self.predicates[0])),
            _ => {
                let all = self.predicates.clone();
                Some(Arc::new(move |origin: &str, parts: &Parts| {
                    all.iter().any(|p| p(origin, parts))
                }))
            }
        };
        Ok(OriginPolicy::Reflect {
            exact: OriginSet::new(exact),
            predicate,
            null: self.null_origin,
            mirror: self.mirror_origin,
        })
    }
}

impl fmt::Debug for CorsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origins: Vec<_> = self
            .origins
            .iter()
            .map(|o| String::from_utf8_lossy(o))
            .collect();
        f.debug_struct("CorsBuilder")
            .field("origins", &origins)
            .field("predicates", &self.predicates.len())
            .field("any_origin", &self.any_origin)
            .field("mirror_origin", &self.mirror_origin)
            .field("null_origin", &self.null_origin)
            .field("methods", &self.methods)
            .field("any_method", &self.any_method)
            .field("headers", &self.headers)
            .field("any_header", &self.any_header)
            .field("mirror_headers", &self.mirror_headers)
            .field("expose", &self.expose)
            .field("expose_any", &self.expose_any)
            .field("credentials", &self.credentials)
            .field("max_age", &self.max_age)
            .finish()
    }
}

fn parse_all<T>(
    items: &[String],
    list: &'static str,
    use_instead: &'static str,
    parse: impl Fn(&str) -> Result<T, CorsError>,
) -> Result<Vec<T>, CorsError> {
    items
        .iter()
        .map(|item| {
            if item.trim() == "*" {
                Err(CorsError::WildcardInList { list, use_instead })
            } else {
                parse(item)
            }
        })
        .collect()
}

/// Header names, lowercased (browsers compare them case-insensitively anyway).
fn parse_names(
    items: &[String],
    list: &'static str,
    use_instead: &'static str,
) -> Result<Vec<HeaderName>, CorsError> {
    parse_all(items, list, use_instead, |name| {
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| CorsError::InvalidHeaderName {
            name: name.to_owned(),
        })
    })
}

fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut unique = Vec::with_capacity(items.len());
    for item in items {
        if !unique.contains(&item) {
            unique.push(item);
        }
    }
    unique
}

/// The items joined with `, `, or `None` when there are none.
fn join<'a>(mut items: impl Iterator<Item = &'a str>) -> Option<HeaderValue> {
    let first = items.next()?;
    let mut joined = first.to_owned();
    for item in items {
        joined.push_str(", ");
        joined.push_str(item);
    }
    Some(HeaderValue::from_str(&joined).expect("method and header names are valid header values"))
}
