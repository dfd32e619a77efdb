//! [`RateLimitBuilder`]: the configuration, checked by [`RateLimitBuilder::build`].

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use http::header::HeaderName;
use http::request::Parts;
use ipnet::IpNet;

use super::client_ip::{ClientIp, ForwardedHeader};
use super::gcra::Gcra;
use super::headers::Headers;
use super::key::{KeyFn, KeySource};
use super::layer::{Config, Forward};
use super::{MemoryStore, Quota, RateLimitError, RateLimitLayer, RateLimited, Store};

enum KeyChoice {
    ClientIp,
    Header(String),
    Func(KeyFn),
}

/// Configures a [`RateLimitLayer`]; start with [`RateLimitLayer::builder`].
///
/// Only the [`quota`](RateLimitBuilder::quota) is required. By default requests are keyed
/// by client IP (the connection's peer address, no proxies trusted), state is kept in a
/// [`MemoryStore`], and responses carry `RateLimit-Policy` and `RateLimit` for the policy
/// named `default`.
#[must_use]
pub struct RateLimitBuilder {
    quota: Option<Quota>,
    key: KeyChoice,
    trusted: Vec<String>,
    forwarded_header: ForwardedHeader,
    ipv6_prefix: u8,
    store: Option<Store>,
    name: String,
    ietf_headers: bool,
    x_headers: bool,
    forward: Option<Forward>,
}

impl RateLimitBuilder {
    pub(crate) fn new() -> Self {
        RateLimitBuilder {
            quota: None,
            key: KeyChoice::ClientIp,
            trusted: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            ipv6_prefix: 64,
            store: None,
            name: "default".to_owned(),
            ietf_headers: true,
            x_headers: false,
            forward: None,
        }
    }

    /// Admits per key at most this quota (see [`Quota`]).
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// Keys requests by client IP (the default): the `std::net::SocketAddr` that
    /// armature-server puts in the request's extensions, or behind
    /// [`trust_proxies`](RateLimitBuilder::trust_proxies) the forwarded address. Requests
    /// without a `SocketAddr` extension are not limited, and the first is logged at `warn`
    /// (under axum or tonic, use [`key_by`](RateLimitBuilder::key_by) with their
    /// connection-info types).
    pub fn key_by_client_ip(mut self) -> Self {
        self.key = KeyChoice::ClientIp;
        self
    }

    /// Trusts these proxies (IP addresses or CIDR networks, like `10.0.0.0/8` or `::1`) to
    /// append the client's address to the [`forwarded_header`](RateLimitBuilder::forwarded_header).
    ///
    /// Only when the peer is one of them is the header read, and then from the right: the
    /// client is the rightmost address that is *not* a trusted proxy. The leftmost entries
    /// are whatever the client sent and are never believed over a trusted hop's word.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use armature_layers::rate_limit::{Quota, RateLimitLayer};
    /// use http::{Request, Response, StatusCode};
    /// use tower::{service_fn, ServiceBuilder, ServiceExt};
    ///
    /// # tokio_test::block_on(async {
    /// let limit = RateLimitLayer::builder()
    ///     .quota(Quota::per_minute(1))
    ///     .trust_proxies(["10.0.0.0/8"])
    ///     .build()?;
    /// let app = ServiceBuilder::new().layer(limit).service(service_fn(|_req: Request<()>| async {
    ///     Ok::<_, std::convert::Infallible>(Response::new(String::new()))
    /// }));
    /// // Through the load balancer 10.0.0.2; the client claims to be a fresh 1.1.1.x each time.
    /// for spoof in ["1.1.1.1", "1.1.1.2"] {
    ///     let mut req = Request::get("/")
    ///         .header("x-forwarded-for", format!("{spoof}, 198.51.100.7"))
    ///         .body(())?;
    ///     req.extensions_mut().insert(SocketAddr::from(([10, 0, 0, 2], 40000)));
    ///     let res = app.clone().oneshot(req).await?;
    ///     let expected = if spoof == "1.1.1.1" { StatusCode::OK } else { StatusCode::TOO_MANY_REQUESTS };
    ///     assert_eq!(res.status(), expected, "keyed by 198.51.100.7, not by {spoof}");
    /// }
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn trust_proxies<I>(mut self, proxies: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.trusted
            .extend(proxies.into_iter().map(|p| p.as_ref().to_owned()));
        self
    }

    /// Which header the trusted proxies set (default `X-Forwarded-For`). Only one is read:
    /// a client could send the other, and your proxies would pass it on untouched.
    pub fn forwarded_header(mut self, header: ForwardedHeader) -> Self {
        self.forwarded_header = header;
        self
    }

    /// Keys IPv6 clients by this prefix length (default 64: one customer usually holds a
    /// whole /64, so per-address keys would let them rotate through 2^64 budgets). 128
    /// keys by full address.
    pub fn ipv6_prefix(mut self, prefix: u8) -> Self {
        self.ipv6_prefix = prefix;
        self
    }

    /// Keys requests by the value of this header, such as an API key. Requests without it
    /// are not limited (put an authentication layer in front, or key by a function that
    /// falls back to the client address). A request carrying it more than once is answered
    /// `400 Bad Request` (gRPC: `INVALID_ARGUMENT`): another layer, such as your
    /// authentication, might read a different one than the limiter, and a client could then
    /// pair its real key with a fresh one per request.
    pub fn key_by_header(mut self, name: impl AsRef<str>) -> Self {
        self.key = KeyChoice::Header(name.as_ref().to_owned());
        self
    }

    /// Keys requests by `f(request_head)`; `None` means "do not limit this request".
    ///
    /// ```
    /// use armature_layers::rate_limit::{Quota, RateLimitLayer};
    ///
    /// // Per tenant, from the first path segment.
    /// let limit = RateLimitLayer::builder()
    ///     .quota(Quota::per_second(100))
    ///     .key_by(|head| head.uri.path().split('/').nth(1).map(str::to_owned))
    ///     .build()?;
    /// # Ok::<_, armature_layers::rate_limit::RateLimitError>(())
    /// ```
    pub fn key_by<F>(mut self, f: F) -> Self
    where
        F: Fn(&Parts) -> Option<String> + Send + Sync + 'static,
    {
        self.key = KeyChoice::Func(Arc::new(f));
        self
    }

    /// Keeps the state in `store`: a [`MemoryStore`] (the default, a new one per layer) or a
    /// [`RedisStore`](super::RedisStore) shared across processes.
    pub fn store(mut self, store: impl Into<Store>) -> Self {
        self.store = Some(store.into());
        self
    }

    /// Names the policy in `RateLimit-Policy` / `RateLimit` (default `default`) and in Redis
    /// keys; give each per-route limit its own name.
    pub fn policy_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sends the IETF `RateLimit-Policy` and `RateLimit` fields on every answer (default
    /// `true`). Off, admitted responses pass through untouched (the cheapest setting) and
    /// refusals carry only `Retry-After`.
    ///
    /// ```
    /// use armature_layers::rate_limit::{Quota, RateLimitLayer};
    ///
    /// let quiet = RateLimitLayer::builder()
    ///     .quota(Quota::per_second(10))
    ///     .ratelimit_headers(false)
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn ratelimit_headers(mut self, enabled: bool) -> Self {
        self.ietf_headers = enabled;
        self
    }

    /// Also sends `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
    /// (seconds), for clients that predate the IETF fields.
    pub fn x_ratelimit_headers(mut self, enabled: bool) -> Self {
        self.x_headers = enabled;
        self
    }

    /// Passes a refused request on to the inner service instead of answering it, once `mark`
    /// has marked its extensions (given the [`RateLimited`] the refusal carries), so that the
    /// application answers the refusal itself: its error handler, in the shape of its other
    /// errors. Its answer gets the headers the layer's own `429` would have had that it did
    /// not set itself (`Retry-After`, `RateLimit-Policy`, `RateLimit`, `X-RateLimit-*`), and
    /// the [`RateLimited`] marker. gRPC calls, and a key header sent twice, are still answered
    /// by the layer. Admitted requests are not touched: no mark to look for, nothing added.
    ///
    /// Past this layer a forwarded request is no longer stopped: the inner service must find
    /// the mark and answer without doing the request's work, and another rate limit inside
    /// this one would count the request (route marked requests around it).
    ///
    /// ```
    /// use armature_layers::rate_limit::{Quota, RateLimitLayer, RateLimited};
    /// use http::{Request, Response, StatusCode};
    /// use tower::{service_fn, ServiceBuilder, ServiceExt};
    ///
    /// #[derive(Clone)]
    /// struct Refused(RateLimited);
    ///
    /// # tokio_test::block_on(async {
    /// let app = ServiceBuilder::new()
    ///     .layer(
    ///         RateLimitLayer::builder()
    ///             .quota(Quota::per_hour(1))
    ///             .key_by_header("x-api-key")
    ///             .forward_refusals(|ext, limited| { ext.insert(Refused(limited)); })
    ///             .build()?,
    ///     )
    ///     .service(service_fn(|req: Request<()>| async move {
    ///         let res = match req.extensions().get::<Refused>() {
    ///             Some(Refused(limited)) => Response::builder()
    ///                 .status(StatusCode::TOO_MANY_REQUESTS)
    ///                 .body(format!("slow down: {}s", limited.retry_after().as_secs_f64().ceil())),
    ///             None => Response::builder().body("hello".to_owned()),
    ///         };
    ///         Ok::<_, std::convert::Infallible>(res.unwrap())
    ///     }));
    /// let req = || Request::get("/").header("x-api-key", "k1").body(());
    /// assert_eq!(app.clone().oneshot(req()?).await?.status(), StatusCode::OK);
    /// let refused = app.clone().oneshot(req()?).await?;
    /// assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    /// assert_eq!(refused.headers()["retry-after"], "3600");
    /// assert!(refused.extensions().get::<RateLimited>().is_some());
    /// let body = http_body_util::BodyExt::collect(refused.into_body()).await?.to_bytes();
    /// assert_eq!(body, "slow down: 3600s");
    /// # Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    /// # }).unwrap();
    /// ```
    pub fn forward_refusals<F>(mut self, mark: F) -> Self
    where
        F: Fn(&mut http::Extensions, RateLimited) + Send + Sync + 'static,
    {
        self.forward = Some(Forward(Arc::new(mark)));
        self
    }

    /// Checks the configuration.
    ///
    /// # Errors
    ///
    /// A [`RateLimitError`] for a missing or zero quota or burst, a quota finer than one
    /// request per nanosecond or longer than 584 years of nanoseconds, an invalid trusted proxy
    /// or one that is every address (`0.0.0.0/0`, `::/0`),
    /// IPv6 prefix, header name or policy name, or trusted proxies without client-IP keys.
    pub fn build(self) -> Result<RateLimitLayer, RateLimitError> {
        let quota = self.quota.ok_or(RateLimitError::NoQuota)?;
        let gcra = Gcra::new(&quota)?;
        let valid_name = !self.name.is_empty()
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid_name {
            return Err(RateLimitError::InvalidPolicyName { name: self.name });
        }
        if !(1..=128).contains(&self.ipv6_prefix) {
            return Err(RateLimitError::InvalidIpv6Prefix {
                prefix: self.ipv6_prefix,
            });
        }
        let key = match self.key {
            KeyChoice::ClientIp => {
                let trusted = self
                    .trusted
                    .iter()
                    .map(|p| match parse_net(p) {
                        None => Err(RateLimitError::InvalidProxy { proxy: p.clone() }),
                        // Every hop trusted: the client's own leftmost entry would be used.
                        Some(net) if net.prefix_len() == 0 => {
                            Err(RateLimitError::TrustsEveryAddress { proxy: p.clone() })
                        }
                        Some(net) => Ok(net),
                    })
                    .collect::<Result<_, _>>()?;
                KeySource::ClientIp(ClientIp {
                    trusted,
                    header: self.forwarded_header,
                    ipv6_prefix: self.ipv6_prefix,
                })
            }
            _ if !self.trusted.is_empty() => return Err(RateLimitError::ProxiesWithoutClientIp),
            KeyChoice::Header(name) => KeySource::Header(
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| RateLimitError::InvalidHeaderName { name })?,
            ),
            KeyChoice::Func(f) => KeySource::Func(f),
        };
        let store = match self.store {
            Some(store) => store,
            None => Store::Memory(MemoryStore::new()),
        };
        let headers = Headers::new(self.name.into(), &gcra, self.ietf_headers, self.x_headers);
        Ok(RateLimitLayer::from_config(Config {
            gcra,
            key,
            store,
            headers,
            forward: self.forward,
            warned_no_peer: AtomicBool::new(false),
        }))
    }
}

/// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a /32 or /128).
fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| {
            let ip = s.parse::<std::net::IpAddr>().ok()?;
            IpNet::new(ip, if ip.is_ipv4() { 32 } else { 128 }).ok()
        })
        .map(|net| match net {
            // Written as IPv4-mapped IPv6, it still matches the canonical IPv4 peer.
            IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                Some(v4) if v6.prefix_len() >= 96 => {
                    IpNet::new(v4.into(), v6.prefix_len() - 96).unwrap_or(net)
                }
                _ => net,
            },
            net => net,
        })
}

impl fmt::Debug for RateLimitBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = match &self.key {
            KeyChoice::ClientIp => "client ip".to_owned(),
            KeyChoice::Header(h) => format!("header {h}"),
            KeyChoice::Func(_) => "function".to_owned(),
        };
        f.debug_struct("RateLimitBuilder")
            .field("quota", &self.quota)
            .field("key", &key)
            .field("trusted", &self.trusted)
            .field("forwarded_header", &self.forwarded_header)
            .field("ipv6_prefix", &self.ipv6_prefix)
            .field("store", &self.store)
            .field("name", &self.name)
            .field("ietf_headers", &self.ietf_headers)
            .field("x_headers", &self.x_headers)
            .finish()
    }
}
