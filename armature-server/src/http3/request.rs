//! Serving one HTTP/3 request stream: read the head, call the service with
//! a streaming body, stream the response back.

use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use h3::error::Code;
use h3::server::{RequestResolver, RequestStream};
use http::header::{CONNECTION, CONTENT_LENGTH, HOST, TE, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::body::H3Body;
use crate::bounds::{BoxError, ResBody, UserService};
use crate::RequestBody;

type SendHalf = RequestStream<h3_quinn::SendStream<Bytes>, Bytes>;
type Resolver = RequestResolver<super::guard::Connection, Bytes>;

/// Connection-specific fields, which HTTP/3 forbids (RFC 9114 §4.2); hyper
/// drops the same ones for HTTP/2.
static CONNECTION_SPECIFIC: [HeaderName; 5] = [
    CONNECTION,
    TRANSFER_ENCODING,
    UPGRADE,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
];

/// Serves one request. Failures concern only this stream and are logged at
/// debug level; a service error becomes a `500` on this stream.
pub(crate) async fn serve_request<S, B>(
    resolver: Resolver,
    service: S,
    peer: SocketAddr,
    head_timeout: Duration,
    peer_addr: bool,
) where
    S: UserService<B>,
    B: ResBody,
{
    let (req, stream) = match tokio::time::timeout(head_timeout, resolver.resolve_request()).await {
        Ok(Ok(resolved)) => resolved,
        Ok(Err(error)) => {
            tracing::debug!(%peer, %error, "HTTP/3 request head failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "HTTP/3 request head not received within header_read_timeout");
            return;
        }
    };
    let (mut send, mut recv) = stream.split();
    let (mut parts, ()) = req.into_parts();
    let head = parts.method == Method::HEAD;
    let content_length = match check_head(&parts) {
        Ok(content_length) => content_length,
        Err(reason) => {
            // Malformed (RFC 9114 §4.1.2): a 400 saying why, and the rest of
            // the request refused with H3_MESSAGE_ERROR.
            tracing::debug!(%peer, reason, uri = %parts.uri, "rejecting HTTP/3 request");
            recv.stop_sending(Code::H3_MESSAGE_ERROR);
            let res = crate::host::refusal(StatusCode::BAD_REQUEST, reason);
            if let Err(error) = respond(&mut send, res, head).await {
                tracing::debug!(%peer, %error, "HTTP/3 error response failed");
            }
            return;
        }
    };
    if peer_addr {
        parts.extensions.insert(peer);
    }
    crate::cookie::merge_cookie_fields(&mut parts.headers);
    let body = H3Body::new(recv, content_length);
    let req = Request::from_parts(parts, RequestBody::http3(body));

    let result: Result<_, BoxError> = service.oneshot(req).await.map_err(Into::into);
    let res = match result {
        Ok(res) => res,
        Err(error) => {
            let res = crate::host::failed(error, head);
            if let Err(error) = respond(&mut send, res, false).await {
                tracing::debug!(%peer, %error, "HTTP/3 error response failed");
            }
            return;
        }
    };
    if let Err(error) = respond(&mut send, res, head).await {
        tracing::debug!(%peer, %error, "HTTP/3 response failed");
    }
}

/// Sends the head (with `Content-Length` when the body knows its length and
/// the service set none), streams the body (unless `head_only`), then the
/// trailers, and finishes the stream. A body error resets the stream so the client
/// cannot mistake a cut response for a complete one.
async fn respond<B>(send: &mut SendHalf, res: Response<B>, head_only: bool) -> Result<(), BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = res.into_parts();
    strip_connection_fields(&mut parts.headers);
    // The length the body will have (or, to a HEAD request, would have had),
    // as hyper states it over HTTP/1 and HTTP/2. An empty answer to a HEAD
    // request tells nothing (the service may have emptied it itself, not
    // knowing the length), and a wrong `0` is worse than none (RFC 9110 §8.6),
    // as `host::answer` has it for the other protocols.
    let status = parts.status;
    if !crate::host::is_bodiless(status) {
        let length = body.size_hint().exact();
        if let Some(length) = length.filter(|&length| length > 0 || !head_only) {
            parts
                .headers
                .entry(CONTENT_LENGTH)
                .or_insert(HeaderValue::from(length));
        }
    }
    send.send_response(Response::from_parts(parts, ())).await?;
    if !head_only {
        let mut body = pin!(body);
        loop {
            let frame: Option<Result<_, BoxError>> =
                body.frame().await.map(|frame| frame.map_err(Into::into));
            let Some(frame) = frame else { break };
            let frame = match frame {
                Ok(frame) => frame,
                Err(error) => {
                    send.stop_stream(Code::H3_INTERNAL_ERROR);
                    return Err(error);
                }
            };
            match frame.into_data() {
                Ok(data) if data.is_empty() => {}
                Ok(data) => send.send_data(data).await?,
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        send.send_trailers(trailers).await?;
                    }
                }
            }
        }
    }
    send.finish().await?;
    Ok(())
}

/// The checks of a request head that h3 leaves out, which HTTP/1 and HTTP/2
/// requests pass too (`host.rs`, and hyper's own): one valid `Host` at most,
/// agreeing with `:authority` (h3 compares it with the first only); an
/// `:authority` that is a valid host (so no userinfo, RFC 9114 §4.3.1); no
/// connection-specific field and no `TE` but `trailers` (RFC 9114 §4.2);
/// and `Content-Length` a number, the same in every field line.
///
/// `Ok` carries the declared body length; `Err` the reason shown to the
/// client.
fn check_head(parts: &http::request::Parts) -> Result<Option<u64>, &'static str> {
    let authority = parts.uri.authority();
    if authority.is_some_and(|a| !crate::host::is_valid_host(a.as_str().as_bytes())) {
        return Err("invalid :authority");
    }
    let mut hosts = parts.headers.get_all(HOST).iter();
    match (hosts.next(), hosts.next()) {
        (Some(_), Some(_)) => return Err("more than one Host header"),
        (Some(host), None) if !crate::host::is_valid_host(host.as_bytes()) => {
            return Err("invalid Host header")
        }
        (Some(host), None)
            if authority
                .is_some_and(|a| !crate::host::same_host(&parts.uri, a, host.as_bytes())) =>
        {
            return Err("Host header disagrees with :authority")
        }
        _ => {}
    }
    if CONNECTION_SPECIFIC
        .iter()
        .any(|name| parts.headers.contains_key(name))
    {
        return Err("connection-specific header field");
    }
    if parts
        .headers
        .get_all(TE)
        .iter()
        .any(|te| !te.as_bytes().eq_ignore_ascii_case(b"trailers"))
    {
        return Err("TE header other than \"trailers\"");
    }
    let mut length = None;
    for value in parts.headers.get_all(CONTENT_LENGTH) {
        let parsed = std::str::from_utf8(value.as_bytes())
            .ok()
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or("invalid Content-Length")?;
        if length.is_some_and(|l| l != parsed) {
            return Err("conflicting Content-Length values");
        }
        length = Some(parsed);
    }
    Ok(length)
}

fn strip_connection_fields(headers: &mut HeaderMap) {
    for name in CONNECTION_SPECIFIC.iter() {
        if headers.contains_key(name) {
            headers.remove(name);
        }
    }
}
