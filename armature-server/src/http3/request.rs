//! Serving one HTTP/3 request stream: read the head, call the service with
//! a streaming body, stream the response back.

use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use bytes::Bytes;
use h3::error::Code;
use h3::server::{RequestResolver, RequestStream};
use http::header::{CONNECTION, TRANSFER_ENCODING, UPGRADE};
use http::{HeaderMap, HeaderName, Method, Request, Response, StatusCode};
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
    let (mut send, recv) = stream.split();
    let (mut parts, ()) = req.into_parts();
    if peer_addr {
        parts.extensions.insert(peer);
    }
    let head = parts.method == Method::HEAD;
    let req = Request::from_parts(parts, RequestBody::http3(H3Body::new(recv)));

    let result: Result<_, BoxError> = service.oneshot(req).await.map_err(Into::into);
    let res = match result {
        Ok(res) => res,
        Err(error) => {
            tracing::debug!(%peer, %error, "service failed; answering 500");
            let mut res = Response::new(http_body_util::Empty::<Bytes>::new());
            *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
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

/// Sends the head, streams the body (unless `head_only`), then the trailers,
/// and finishes the stream. A body error resets the stream so the client
/// cannot mistake a cut response for a complete one.
async fn respond<B>(send: &mut SendHalf, res: Response<B>, head_only: bool) -> Result<(), BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let (mut parts, body) = res.into_parts();
    strip_connection_fields(&mut parts.headers);
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

fn strip_connection_fields(headers: &mut HeaderMap) {
    for name in CONNECTION_SPECIFIC.iter() {
        if headers.contains_key(name) {
            headers.remove(name);
        }
    }
}
