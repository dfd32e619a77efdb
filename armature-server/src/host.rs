//! The `Host` header rules of RFC 9112 §3.2, which hyper leaves to servers.
//!
//! > A server MUST respond with a 400 (Bad Request) status code to any
//! > HTTP/1.1 request message that lacks a Host header field and to any
//! > request message that contains more than one Host header field line or
//! > a Host header field with an invalid field value.
//!
//! [`HostCheck`] sits between hyper and the user's service: a request that
//! breaks these rules is answered with a short `400` and `Connection: close`
//! and never reaches the user's service. HTTP/1.0 requests may omit `Host`.
//! An HTTP/1 request target in absolute form wins over `Host` (RFC 9112 §3.2.2): its authority
//! must be a valid host, and the service sees it as `Host`.
//! HTTP/2 requests carry the authority in `:authority`; a `Host` header beside it is
//! optional, and refused when repeated, invalid or disagreeing with it (RFC 9113 §8.3.1; the
//! scheme's default port, written or not, names the same host).
//! An HTTP/2 request's `Cookie` fields are joined into one here too (see [`crate::cookie`]).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::task::{ready, Context, Poll, Waker};

use bytes::Bytes;
use http::header::{ALT_SVC, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use http_body_util::{Either, Full};
use pin_project_lite::pin_project;
use tower::util::Oneshot;
use tower::ServiceExt;

use crate::body::BodyError;
use crate::bounds::BoxError;
use crate::head_timeout::{Counts, Finished, Tracked};

/// The body of a [`HostCheck`] response: the inner service's, or the check's own `400`, with
/// the request's guard for the header-read timeout.
pub(crate) type HostBody<B> = Tracked<Either<B, Full<Bytes>>>;

/// A hyper service that enforces the `Host` rules, then calls `inner`.
#[derive(Debug, Clone)]
pub(crate) struct HostCheck<S> {
    inner: S,
    /// Whether [`for_peer`](Self::for_peer) stores the address at all.
    peer_addr: bool,
    peer: Option<SocketAddr>,
    /// `Alt-Svc` added to every response (when the service set none itself), the check's own
    /// refusals included: how clients learn of the HTTP/3 endpoint.
    alt_svc: Option<HeaderValue>,
    /// The HTTP/1 connection's request counts, for its header-read timeout.
    counts: Option<Arc<Counts>>,
}

impl<S> HostCheck<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self {
            inner,
            peer_addr: true,
            peer: None,
            alt_svc: None,
            counts: None,
        }
    }

    pub(crate) fn alt_svc(mut self, value: Option<HeaderValue>) -> Self {
        self.alt_svc = value;
        self
    }

    /// Whether requests get the peer's address (`Server::peer_addr_extension`).
    pub(crate) fn peer_addr(mut self, enabled: bool) -> Self {
        self.peer_addr = enabled;
        self
    }

    /// Counts this connection's requests in `counts` (see [`head_timeout`](crate::head_timeout)).
    pub(crate) fn counting(mut self, counts: Arc<Counts>) -> Self {
        self.counts = Some(counts);
        self
    }

    /// Every request of this connection will carry `peer` as a `SocketAddr` extension,
    /// unless that was turned off.
    pub(crate) fn for_peer(mut self, peer: SocketAddr) -> Self {
        if self.peer_addr {
            self.peer = Some(peer);
        }
        self
    }
}

impl<S, ReqBody, ResBody> hyper::service::Service<Request<ReqBody>> for HostCheck<S>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    ReqBody: http_body::Body,
    ResBody: http_body::Body,
{
    type Response = Response<HostBody<ResBody>>;
    type Error = BoxError;
    type Future = HostCheckFuture<S, ReqBody>;

    fn call(&self, mut req: Request<ReqBody>) -> Self::Future {
        if let Some(peer) = self.peer {
            req.extensions_mut().insert(peer);
        }
        if req.version() == Version::HTTP_2 {
            crate::cookie::merge_cookie_fields(req.headers_mut());
        }
        let finished = self.counts.as_ref().map(Counts::started);
        let head = req.method() == Method::HEAD;
        let kind = match check(&req) {
            Ok(()) => {
                target_host_wins(&mut req);
                let mut inner = self.inner.clone();
                // A service that is ready at once (a router, a stack of layers without
                // back-pressure) is called here, so the request is not parked in a `Oneshot`
                // and moved again on its first poll. One that is not ready, or failed, goes
                // through `Oneshot`, which polls it again with the connection's waker.
                let ready = inner.poll_ready(&mut Context::from_waker(Waker::noop()));
                let alt_svc = self.alt_svc.clone();
                match ready {
                    Poll::Ready(Ok(())) => Kind::Called {
                        fut: inner.call(req),
                        alt_svc,
                    },
                    Poll::Ready(Err(err)) => {
                        Kind::reject(failed(err.into(), head), alt_svc, finished.as_ref())
                    }
                    Poll::Pending => Kind::Inner {
                        fut: Box::pin(inner.oneshot(req)),
                        alt_svc,
                    },
                }
            }
            Err((status, reason)) => {
                tracing::debug!(reason, uri = %req.uri(), "rejecting request");
                let res = refused(status, reason, head);
                Kind::reject(res, self.alt_svc.clone(), finished.as_ref())
            }
        };
        HostCheckFuture {
            kind,
            finished,
            head,
        }
    }
}

pin_project! {
    /// The response future of [`HostCheck`].
    pub(crate) struct HostCheckFuture<S, ReqBody>
    where
        S: tower::Service<Request<ReqBody>>,
    {
        #[pin]
        kind: Kind<S, ReqBody>,
        // Rides in the response body, so the request counts as finished when hyper is done
        // with that body.
        finished: Option<Finished>,
        // A HEAD request: its answer goes out without a body.
        head: bool,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S, ReqBody>
    where
        S: tower::Service<Request<ReqBody>>,
    {
        // `alt_svc` for the answer (see `finish`), whoever gives it.
        Called { #[pin] fut: S::Future, alt_svc: Option<HeaderValue> },
        // The rare cases are boxed: hyper moves this future (and an inline `Oneshot` holds a
        // whole request) on every call.
        Inner { fut: Pin<Box<Oneshot<S, Request<ReqBody>>>>, alt_svc: Option<HeaderValue> },
        // The server's own answer, finished already: a refusal, or a `500` for a failed
        // readiness.
        Reject { response: Option<Box<Response<Full<Bytes>>>> },
    }
}

impl<S, ReqBody> Kind<S, ReqBody>
where
    S: tower::Service<Request<ReqBody>>,
{
    /// The server's own answer `res`, given what every answer gets (see [`finish`]) now.
    fn reject(
        mut res: Response<Full<Bytes>>,
        mut alt_svc: Option<HeaderValue>,
        finished: Option<&Finished>,
    ) -> Self {
        finish(res.headers_mut(), &mut alt_svc, finished);
        Kind::Reject {
            response: Some(Box::new(res)),
        }
    }
}

impl<S, ReqBody, ResBody> Future for HostCheckFuture<S, ReqBody>
where
    S: tower::Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: http_body::Body,
{
    type Output = Result<Response<HostBody<ResBody>>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (finished, head) = (this.finished, *this.head);
        Poll::Ready(Ok(match this.kind.project() {
            KindProj::Called { fut, alt_svc } => {
                answer(ready!(fut.poll(cx)), alt_svc, finished.take(), head)
            }
            KindProj::Inner { fut, alt_svc } => answer(
                ready!(fut.as_mut().poll(cx)),
                alt_svc,
                finished.take(),
                head,
            ),
            KindProj::Reject { response } => {
                let response = response
                    .take()
                    .expect("HostCheckFuture polled after completion");
                (*response).map(|body| Tracked::new(Either::Right(body), finished.take()))
            }
        }))
    }
}

/// The inner service's answer: its response (see [`finish`]), or a `500` for its error (see
/// [`failed`]).
///
/// The answer to a `HEAD` request loses its body here (hyper drops it over HTTP/1, but sends
/// it over HTTP/2, where a client then fails the stream), keeping the length it would have
/// had as `Content-Length` when the body knew it and the service set none. An empty body
/// tells nothing: the service may have emptied it for `HEAD` itself (a router answering
/// from a streamed `GET` route does), and a wrong `Content-Length: 0` is worse than none
/// (RFC 9110 §8.6 lets a `HEAD` answer leave it out).
fn answer<B: http_body::Body, E: Into<BoxError>>(
    out: Result<Response<B>, E>,
    alt_svc: &mut Option<HeaderValue>,
    finished: Option<Finished>,
    head: bool,
) -> Response<HostBody<B>> {
    let mut res = match out {
        Ok(res) => res,
        Err(error) => return own(failed(error.into(), head), alt_svc, finished),
    };
    finish(res.headers_mut(), alt_svc, finished.as_ref());
    if head {
        let status = res.status();
        let length = res.body().size_hint().exact();
        if let Some(length) = length.filter(|&length| length > 0 && !is_bodiless(status)) {
            res.headers_mut()
                .entry(CONTENT_LENGTH)
                .or_insert(HeaderValue::from(length));
        }
        return res.map(|_| Tracked::new(Either::Right(Full::new(Bytes::new())), finished));
    }
    res.map(|body| Tracked::new(Either::Left(body), finished))
}

/// The server's own answer to a service error (see [`finish`]); a refusal is finished when
/// made ([`Kind::reject`]).
fn own<B>(
    mut res: Response<Full<Bytes>>,
    alt_svc: &mut Option<HeaderValue>,
    finished: Option<Finished>,
) -> Response<HostBody<B>> {
    finish(res.headers_mut(), alt_svc, finished.as_ref());
    res.map(|body| Tracked::new(Either::Right(body), finished))
}

/// What every answer gets, the service's and the server's own alike: `Alt-Svc` (unless the
/// service set its own), and `Connection: close` once the server is shutting down (HTTP/1).
#[inline]
fn finish(headers: &mut HeaderMap, alt_svc: &mut Option<HeaderValue>, finished: Option<&Finished>) {
    // Most servers have no HTTP/3 and are not shutting down: two tests.
    if alt_svc.is_some() || finished.is_some_and(Finished::closing) {
        add_server_headers(headers, alt_svc, finished);
    }
}

#[cold]
#[inline(never)]
fn add_server_headers(
    headers: &mut HeaderMap,
    alt_svc: &mut Option<HeaderValue>,
    finished: Option<&Finished>,
) {
    if let Some(value) = alt_svc.take() {
        headers.entry(ALT_SVC).or_insert(value);
    }
    if finished.is_some_and(Finished::closing) {
        // Shutting down: the client must not send another request on this connection.
        // (A `Connection` the service set, such as an upgrade's, is left alone.)
        headers
            .entry(CONNECTION)
            .or_insert(HeaderValue::from_static("close"));
    }
}

/// Every check a request passes before the service: its `Host` header, then the transfer
/// codings of a chunked body. `Err` carries the status and the reason shown to the client.
fn check<B: http_body::Body>(req: &Request<B>) -> Result<(), (StatusCode, &'static str)> {
    check_host(req).map_err(|reason| (StatusCode::BAD_REQUEST, reason))?;
    check_codings(req)
}

/// Applies RFC 9112 §3.2; `Err` carries the reason shown to the client.
///
/// HTTP/2 carries the authority in `:authority`: a `Host` header there is optional, but when
/// sent it must be one, valid, and agree with `:authority` (RFC 9113 §8.3.1).
///
/// An HTTP/1 request target in absolute form (or a `CONNECT` target in authority form) names
/// the host itself: its authority must be a valid host too (no userinfo, a numeric port), as
/// `:authority` must.
fn check_host<B>(req: &Request<B>) -> Result<(), &'static str> {
    let (required, authority) = match req.version() {
        Version::HTTP_11 => (true, None),
        Version::HTTP_09 | Version::HTTP_10 => (false, None),
        _ => (false, req.uri().authority()),
    };
    if authority.is_none() {
        if let Some(target) = req.uri().authority() {
            if !is_valid_host(target.as_str().as_bytes()) {
                return Err("invalid authority in the request target");
            }
        }
    }
    let disagrees =
        |host: &HeaderValue| authority.is_some_and(|a| !same_host(req.uri(), a, host.as_bytes()));
    let mut hosts = req.headers().get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (None, _) if required => Err("missing Host header"),
        // HTTP/2's `:authority` stands in for `Host`: the same grammar (no userinfo,
        // RFC 9113 §8.3.1), as HTTP/3's is held to.
        (None, _) => match authority {
            Some(a) if !is_valid_host(a.as_str().as_bytes()) => Err("invalid :authority"),
            _ => Ok(()),
        },
        (Some(_), Some(_)) => Err("more than one Host header"),
        (Some(host), None) if disagrees(host) => Err("Host header disagrees with :authority"),
        (Some(host), None) if is_valid_host(host.as_bytes()) => Ok(()),
        (Some(_), None) => Err("invalid Host header"),
    }
}

/// Whether a `Host` value names the same host as the request's `:authority` (RFC 9113 §8.3.1,
/// RFC 9114 §4.3.1: refused when it "identifies an entity that differs"): equal ignoring ASCII
/// case and the scheme's default port, so `a.example:443` agrees with `a.example` over
/// `https` (and `:80` over `http`).
pub(crate) fn same_host<'a>(
    uri: &http::Uri,
    authority: &'a http::uri::Authority,
    host: &'a [u8],
) -> bool {
    let default_port: &[u8] = if uri.scheme() == Some(&http::uri::Scheme::HTTPS) {
        b":443"
    } else {
        b":80"
    };
    let strip = |v: &'a [u8]| v.strip_suffix(default_port).unwrap_or(v);
    strip(authority.as_str().as_bytes()).eq_ignore_ascii_case(strip(host))
}

/// RFC 9112 §3.2.2: a server that receives an HTTP/1 request target in absolute form "MUST
/// ignore the received Host header field (if any) and instead use the host information of
/// the request-target". Services read the host from `Host` (virtual hosts, redirects, CORS,
/// links), so `Host` is made the target's authority: `GET http://a.example/ HTTP/1.1` with
/// `Host: b.example` reaches the service with `Host: a.example`, as it would through a proxy.
/// Requests in origin form (nearly all) pay one branch.
fn target_host_wins<B>(req: &mut Request<B>) {
    if req.version() > Version::HTTP_11 {
        return;
    }
    let Some(authority) = req.uri().authority() else {
        return;
    };
    let host = HeaderValue::from_str(authority.as_str());
    if let Ok(host) = host {
        if req.headers().get(HOST) != Some(&host) {
            req.headers_mut().insert(HOST, host);
        }
    }
}

/// The transfer codings of a chunked request body (RFC 9112 §6.1; hyper checks that `chunked`
/// comes last): another coding before it is one the server does not apply, so `501`, as the
/// RFC says, rather than handing the service a body still coded; `chunked` twice is `400`.
/// Looked at only when the body is chunked: most requests pay one size-hint read.
fn check_codings<B: http_body::Body>(req: &Request<B>) -> Result<(), (StatusCode, &'static str)> {
    let body = req.body();
    if body.is_end_stream() || body.size_hint().exact().is_some() {
        return Ok(());
    }
    let mut chunked = 0;
    // A walk over the headers, not `get_all`: a second caller of `get_all` made the compiler
    // stop inlining the `Host` lookup every request makes (callgrind, /plaintext: 8,882
    // instructions a request with `get_all` here, 8,826 without).
    let codings = req
        .headers()
        .iter()
        .filter(|(name, _)| *name == TRANSFER_ENCODING);
    for (_, value) in codings {
        let codings = value.to_str().unwrap_or_default().split(',');
        for coding in codings.map(str::trim).filter(|c| !c.is_empty()) {
            if !coding.eq_ignore_ascii_case("chunked") {
                return Err((
                    StatusCode::NOT_IMPLEMENTED,
                    "unsupported transfer coding (only chunked is understood)",
                ));
            }
            chunked += 1;
        }
    }
    if chunked > 1 {
        return Err((StatusCode::BAD_REQUEST, "chunked applied more than once"));
    }
    Ok(())
}

/// [`refusal`], without its body when it answers a `HEAD` request (hyper would send the body
/// over HTTP/2, and the client would then fail the stream instead of seeing the status), with
/// the length it would have had, as [`answer`] does for the service's answers.
fn refused(status: StatusCode, reason: &'static str, head: bool) -> Response<Full<Bytes>> {
    let mut response = refusal(status, reason);
    if head {
        let length = http_body::Body::size_hint(response.body()).exact();
        response.headers_mut().insert(
            CONTENT_LENGTH,
            HeaderValue::from(length.unwrap_or_default()),
        );
        *response.body_mut() = Full::new(Bytes::new());
    }
    response
}

/// What a request gets when the service fails (its `poll_ready` or its future returns an
/// error), rather than a connection dropped without a word, which is what hyper does with a
/// service error; the connection is closed after it over HTTP/1 (the request body may be
/// unread), and over HTTP/3 the stream gets the same:
///
/// * `400 Bad Request` when the error is (or was caused by) a [`BodyError`]: the request body
///   could not be read (a malformed chunked body, say), the client's doing, logged at debug
///   level; a handler that reads the body with `?` gets this without a word of its own;
/// * else `500 Internal Server Error`, the error logged at error level.
pub(crate) fn failed(error: BoxError, head: bool) -> Response<Full<Bytes>> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&*error);
    while let Some(e) = cause {
        if e.is::<BodyError>() {
            tracing::debug!(%error, "the request body could not be read; answering 400");
            return refused(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
                head,
            );
        }
        cause = e.source();
    }
    tracing::error!(%error, "the service failed; answering 500");
    refused(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the service failed",
        head,
    )
}

/// A short plain-text refusal that closes the connection.
pub(crate) fn refusal(status: StatusCode, reason: &'static str) -> Response<Full<Bytes>> {
    let phrase = status.canonical_reason().unwrap_or("Error");
    let mut res = Response::new(Full::new(Bytes::from(format!("{phrase}: {reason}\n"))));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    // The request may have a body we will not read; closing is the only way
    // to stay in sync with the client.
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    res
}

/// `Host = uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2-3).
/// An empty value is valid: clients send it when the target has no authority.
pub(crate) fn is_valid_host(value: &[u8]) -> bool {
    is_common_host(value) || matches_host_grammar(value)
}

/// The shape of nearly every `Host`: a name or IPv4 address, then maybe `:` and a port. One
/// table lookup a byte; `false` for anything else (IP literals, percent-encoding, bad bytes),
/// which [`matches_host_grammar`] then decides.
fn is_common_host(value: &[u8]) -> bool {
    let name_end = value
        .iter()
        .position(|&b| !REG_NAME[usize::from(b)])
        .unwrap_or(value.len());
    match &value[name_end..] {
        [] => true,
        [b':', port @ ..] => port.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// The full `Host` grammar.
fn matches_host_grammar(value: &[u8]) -> bool {
    let (host, port) = if value.first() == Some(&b'[') {
        match value.iter().position(|&b| b == b']') {
            Some(end) => {
                let rest = &value[end + 1..];
                let port = match rest {
                    [] => None,
                    [b':', port @ ..] => Some(port),
                    _ => return false,
                };
                if !is_ip_literal(&value[1..end]) {
                    return false;
                }
                (None, port)
            }
            None => return false,
        }
    } else {
        match value.iter().rposition(|&b| b == b':') {
            Some(colon) => (Some(&value[..colon]), Some(&value[colon + 1..])),
            None => (Some(value), None),
        }
    };
    host.is_none_or(is_reg_name) && port.is_none_or(|p| p.iter().all(u8::is_ascii_digit))
}

/// `IPv6address / IPvFuture` between the brackets of an IP-literal.
fn is_ip_literal(inner: &[u8]) -> bool {
    match inner {
        [b'v' | b'V', rest @ ..] => {
            let Some(dot) = rest.iter().position(|&b| b == b'.') else {
                return false;
            };
            let (version, tail) = (&rest[..dot], &rest[dot + 1..]);
            !version.is_empty()
                && version.iter().all(u8::is_ascii_hexdigit)
                && !tail.is_empty()
                && tail
                    .iter()
                    .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':')
        }
        _ => std::str::from_utf8(inner)
            .ok()
            .and_then(|s| std::net::Ipv6Addr::from_str(s).ok())
            .is_some(),
    }
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`, which also
/// covers IPv4 addresses. Every request pays for this, so it is one table
/// lookup a byte.
fn is_reg_name(name: &[u8]) -> bool {
    let mut i = 0;
    while i < name.len() {
        let b = name[i];
        if REG_NAME[usize::from(b)] {
            i += 1;
        } else if b == b'%'
            && name
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
        {
            i += 3;
        } else {
            return false;
        }
    }
    true
}

/// `unreserved / sub-delims`, by byte.
const REG_NAME: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = is_unreserved(b as u8) || is_sub_delim(b as u8);
        b += 1;
    }
    table
};

const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// Whether a response of `status` never has content on the wire (RFC 9110 §6.4.1): `1xx`,
/// `204` and `304` (as `armature_router::is_bodiless`, which this crate does not depend on).
pub(crate) fn is_bodiless(status: StatusCode) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
}

#[cfg(test)]
mod tests {
    use super::*;

    type NoBody = http_body_util::Empty<Bytes>;

    fn req(version: Version, hosts: &[&str]) -> Request<NoBody> {
        let mut builder = Request::builder().version(version).uri("/");
        for host in hosts {
            builder = builder.header(HOST, *host);
        }
        builder.body(NoBody::new()).unwrap()
    }

    #[test]
    fn http11_needs_exactly_one_valid_host() {
        assert!(check_host(&req(Version::HTTP_11, &["example.com"])).is_ok());
        assert_eq!(
            check_host(&req(Version::HTTP_11, &[])),
            Err("missing Host header")
        );
        assert_eq!(
            check_host(&req(Version::HTTP_11, &["a", "a"])),
            Err("more than one Host header")
        );
        assert_eq!(
            check_host(&req(Version::HTTP_11, &["a b"])),
            Err("invalid Host header")
        );
    }

    #[test]
    fn http10_may_omit_host_but_not_repeat_it() {
        assert!(check_host(&req(Version::HTTP_10, &[])).is_ok());
        assert!(check_host(&req(Version::HTTP_10, &["a", "b"])).is_err());
    }

    #[test]
    fn http2_may_omit_host_but_one_sent_must_agree_with_the_authority() {
        assert!(check_host(&req(Version::HTTP_2, &[])).is_ok());
        let with_authority = |host: &str| {
            Request::builder()
                .version(Version::HTTP_2)
                .uri("http://a.example/")
                .header(HOST, host)
                .body(())
                .unwrap()
        };
        assert!(check_host(&with_authority("A.example")).is_ok());
        assert_eq!(
            check_host(&with_authority("b.example")),
            Err("Host header disagrees with :authority")
        );
    }

    #[test]
    fn a_default_port_names_the_same_host() {
        let agree = |uri: &str, host: &str| {
            let uri: http::Uri = uri.parse().unwrap();
            same_host(&uri, uri.authority().unwrap(), host.as_bytes())
        };
        assert!(agree("https://a.example/", "a.example:443"));
        assert!(agree("https://a.example:443/", "A.example"));
        assert!(agree("http://a.example/", "a.example:80"));
        assert!(agree("http://[::1]:80/", "[::1]"));
        // Another port, or the other scheme's default, is another entity.
        assert!(!agree("https://a.example/", "a.example:80"));
        assert!(!agree("http://a.example/", "a.example:443"));
        assert!(!agree("https://a.example/", "a.example:8443"));
        assert!(!agree("http://a.example:8080/", "a.example:80"));
        assert!(!agree("http://a.example/", "b.example"));
    }

    #[test]
    fn only_chunked_is_understood_once() {
        let chunked = |codings: &[&str]| {
            let mut builder = Request::post("/");
            for coding in codings {
                builder = builder.header(TRANSFER_ENCODING, *coding);
            }
            // A body of unknown length, as hyper gives for a chunked request.
            let body = UnknownLength;
            builder.body(body).unwrap()
        };
        assert!(check_codings(&chunked(&["chunked"])).is_ok());
        assert!(check_codings(&chunked(&["Chunked"])).is_ok());
        assert_eq!(
            check_codings(&chunked(&["gzip, chunked"])).map_err(|e| e.0),
            Err(StatusCode::NOT_IMPLEMENTED)
        );
        assert_eq!(
            check_codings(&chunked(&["gzip", "chunked"])).map_err(|e| e.0),
            Err(StatusCode::NOT_IMPLEMENTED)
        );
        assert_eq!(
            check_codings(&chunked(&["chunked, chunked"])).map_err(|e| e.0),
            Err(StatusCode::BAD_REQUEST)
        );
        // A body of known length is not looked at.
        let sized = Request::post("/")
            .header(TRANSFER_ENCODING, "gzip, chunked")
            .body(Full::new(Bytes::from_static(b"x")))
            .unwrap();
        assert!(check_codings(&sized).is_ok());
    }

    /// A body that never ends, of unknown length.
    struct UnknownLength;

    impl http_body::Body for UnknownLength {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            Poll::Pending
        }
    }

    #[test]
    fn host_grammar() {
        for ok in [
            "",
            "example.com",
            "example.com:8080",
            "example.com:",
            "127.0.0.1:3000",
            "[::1]",
            "[::1]:443",
            "[v1.fe80::a+en1]",
            "xn--bcher-kva.example",
            "a%20b",
            "localhost",
        ] {
            assert!(is_valid_host(ok.as_bytes()), "{ok:?} should be valid");
        }
        for bad in [
            "exa mple.com",
            "user@example.com",
            "example.com/path",
            "example.com:80:80",
            "example.com:8o",
            "[::1",
            "[::1]x",
            "[not-an-ip]",
            "a%2",
            "a%zz",
            "example.com?",
            "exa\tmple",
        ] {
            assert!(!is_valid_host(bad.as_bytes()), "{bad:?} should be invalid");
        }
    }

    /// Every string of up to four bytes over an alphabet of each byte class the grammar
    /// treats apart: the fast path never accepts what the full grammar rejects, and accepts
    /// the plain `name:port` shapes.
    #[test]
    fn the_fast_path_agrees_with_the_grammar() {
        let alphabet = b"a1.-:%[]v@ \xff";
        let mut value = Vec::new();
        let mut accepted = 0;
        let mut checked = 0;
        for len in 0..=4u32 {
            for mut n in 0..alphabet.len().pow(len) {
                value.clear();
                for _ in 0..len {
                    value.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                checked += 1;
                if is_common_host(&value) {
                    accepted += 1;
                    assert!(matches_host_grammar(&value), "{value:?}");
                }
            }
        }
        assert!(checked > 10_000);
        assert!(accepted > 100, "the fast path took only {accepted}");
        for common in ["localhost", "127.0.0.1:3000", "api.example.com:443", "a:"] {
            assert!(is_common_host(common.as_bytes()), "{common}");
        }
    }

    #[tokio::test]
    async fn rejection_closes_and_skips_inner_service() {
        use hyper::service::Service as _;
        let called = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = called.clone();
        let svc = HostCheck::new(tower::service_fn(move |_req: Request<NoBody>| {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::new()))) }
        }));
        let res = svc.call(req(Version::HTTP_11, &[])).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.headers()[CONNECTION], "close");
        assert!(!called.load(std::sync::atomic::Ordering::SeqCst));
    }

    /// A service that is not ready until it has been polled `pending` times, or whose
    /// readiness fails.
    #[derive(Clone)]
    struct Gate {
        pending: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        fail: bool,
    }

    impl tower::Service<Request<NoBody>> for Gate {
        type Response = Response<Full<Bytes>>;
        type Error = std::io::Error;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            use std::sync::atomic::Ordering::SeqCst;
            if self.fail {
                return Poll::Ready(Err(std::io::Error::other("backend gone")));
            }
            if self.pending.load(SeqCst) == 0 {
                return Poll::Ready(Ok(()));
            }
            self.pending.fetch_sub(1, SeqCst);
            cx.waker().wake_by_ref();
            Poll::Pending
        }

        fn call(&mut self, _req: Request<NoBody>) -> Self::Future {
            std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(b"ok")))))
        }
    }

    #[tokio::test]
    async fn a_service_not_ready_at_once_is_still_called() {
        use hyper::service::Service as _;
        let pending = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(2));
        let svc = HostCheck::new(Gate {
            pending: pending.clone(),
            fail: false,
        });
        let res = svc.call(req(Version::HTTP_11, &["a"])).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(pending.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_failed_readiness_is_a_500() {
        use hyper::service::Service as _;
        let svc = HostCheck::new(Gate {
            pending: Default::default(),
            fail: true,
        });
        let res = svc.call(req(Version::HTTP_11, &["a"])).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(res.headers()[CONNECTION], "close");
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(body, "Internal Server Error: the service failed\n");
    }

    #[tokio::test]
    async fn every_answer_advertises_http3_the_servers_own_too() {
        use hyper::service::Service as _;
        let alt_svc = HeaderValue::from_static("h3=\":443\"; ma=86400");
        let advertised = |res: &Response<_>| res.headers().get(ALT_SVC).cloned();
        let ok = HostCheck::new(tower::service_fn(|_req: Request<NoBody>| async {
            Ok::<_, std::io::Error>(Response::new(Full::new(Bytes::new())))
        }))
        .alt_svc(Some(alt_svc.clone()));
        // The service's answer, and the check's refusal of a request without `Host`.
        let res = ok.call(req(Version::HTTP_11, &["a"])).await.unwrap();
        assert_eq!(advertised(&res), Some(alt_svc.clone()));
        let res = ok.call(req(Version::HTTP_11, &[])).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(advertised(&res), Some(alt_svc.clone()));
        // The `500`s for a service that fails, in its future or in its readiness.
        let failing = HostCheck::new(tower::service_fn(|_req: Request<NoBody>| async {
            Err::<Response<Full<Bytes>>, _>(std::io::Error::other("boom"))
        }))
        .alt_svc(Some(alt_svc.clone()));
        let res = failing.call(req(Version::HTTP_11, &["a"])).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(advertised(&res), Some(alt_svc.clone()));
        let not_ready = HostCheck::new(Gate {
            pending: Default::default(),
            fail: true,
        })
        .alt_svc(Some(alt_svc.clone()));
        let res = not_ready.call(req(Version::HTTP_11, &["a"])).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(advertised(&res), Some(alt_svc));
    }
}
