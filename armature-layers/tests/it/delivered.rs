//! A body that never says it has ended, but declares its length (as tower-http's `ServeFile`
//! streams a file under `Content-Length`): hyper's HTTP/1 connection stops polling it once that
//! many bytes are out and drops it. The logger and analytics count such a response as sent
//! whole (`ok`), not `aborted`; one dropped short of its length is still an abort.

use crate::conn;
use crate::serve;

use std::convert::Infallible;
use std::io::{self, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use armature_layers::analytics::AnalyticsLayer;
use armature_layers::logger::{AccessLog, Logger};
use armature_server::RequestBody;
use bytes::Bytes;
use conn::Conn;
use http::header::CONTENT_LENGTH;
use http::{Request, Response};
use http_body::{Body, Frame};
use tower::ServiceBuilder;

/// Yields its chunks one by one and never reports its end (`is_end_stream` stays `false`),
/// like a body read from a file.
struct Chunks(Vec<&'static str>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(match self.0.is_empty() {
            true => None,
            false => Some(Ok(Frame::data(Bytes::from_static(
                self.0.remove(0).as_bytes(),
            )))),
        })
    }
}

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Serves `handler` behind analytics and the logger, sends each `(method, path)` on one
/// connection and checks its `(status, body)`; returns the access log's text and the analytics
/// once the server has stopped.
async fn served<F, Fut>(
    handler: F,
    requests: &[(&str, &str, (u16, &str))],
) -> (String, AnalyticsLayer)
where
    F: Fn(Request<RequestBody>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response<Chunks>, Infallible>> + Send + 'static,
{
    let lines = Lines::default();
    let log = AccessLog::new(lines.clone());
    let analytics = AnalyticsLayer::new();
    let app = ServiceBuilder::new()
        .layer(analytics.clone())
        .layer(Logger::default().write_to(log.clone()))
        .service(tower::service_fn(handler));
    let serving = serve::serve(app);
    let mut conn = Conn::open(serving.addr).await;
    for &(method, path, (status, body)) in requests {
        assert_eq!(
            conn.send(method, path, "", "").await,
            (status, body.to_owned()),
            "{method} {path}"
        );
    }
    drop(conn);
    serving.stop().await;
    log.flush().unwrap();
    let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
    (text, analytics)
}

#[tokio::test]
async fn a_body_that_sent_its_declared_length_was_delivered_not_aborted() {
    let (text, analytics) = served(
        |_req| async {
            let mut res = Response::new(Chunks(vec!["hello ", "world"]));
            res.headers_mut()
                .insert(CONTENT_LENGTH, http::HeaderValue::from_static("11"));
            Ok(res)
        },
        &[("GET", "/file", (200, "hello world")); 3],
    )
    .await;
    // A line says its outcome only when it is not `ok`.
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(!text.contains("outcome="), "{text}");
    let summary = analytics.summary();
    assert_eq!(summary.total.requests, 3);
    assert_eq!(summary.total.errors, 0, "{summary:?}");
    let metrics = analytics.render_metrics();
    assert!(!metrics.contains("error_type=\"aborted\""), "{metrics}");
}

/// A `304` or `204` has no body on the wire (RFC 9110 §15.3.5, §15.4.5): hyper drops the
/// handler's body unpolled, even one that streams, and the client got the whole answer. The
/// logger and analytics count it as sent (`ok`), not as a client that went away.
#[tokio::test]
async fn a_bodiless_status_with_a_streamed_body_was_delivered_not_aborted() {
    let (text, analytics) = served(
        |req: Request<RequestBody>| async move {
            let mut res = Response::new(Chunks(vec!["not ", "sent"]));
            *res.status_mut() = match req.uri().path() {
                "/same" => http::StatusCode::NOT_MODIFIED,
                _ => http::StatusCode::NO_CONTENT,
            };
            Ok(res)
        },
        &[("GET", "/same", (304, "")), ("PUT", "/item", (204, ""))],
    )
    .await;
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(!text.contains("outcome="), "{text}");
    let metrics = analytics.render_metrics();
    assert!(!metrics.contains("error_type=\"aborted\""), "{metrics}");
}
