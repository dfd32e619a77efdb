use std::task::{Context, Poll};

use armature_router::ReportMatchedRoute;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Level;

use super::record::{enabled, Record};
use super::{LoggedBody, ResponseFuture};

/// How the message of an access event is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `GET /users/{id} 200 0.42ms 26B rid=… peer=127.0.0.1:50312`
    #[default]
    Text,
    /// `{"method":"GET","route":"/users/{id}","status":200,…}`
    Json,
}

/// The access-log layer. See the [module docs](super).
#[derive(Debug, Clone, Copy)]
pub struct Logger {
    level: Level,
    format: Format,
}

impl Default for Logger {
    /// Readable one-line messages at `INFO`.
    fn default() -> Self {
        Logger {
            level: Level::INFO,
            format: Format::Text,
        }
    }
}

impl Logger {
    /// One JSON object per message, at `INFO`.
    pub fn json() -> Self {
        Logger::default().format(Format::Json)
    }

    /// The level of access events.
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// The message format.
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }
}

impl<S> Layer<S> for Logger {
    type Service = LoggerService<S>;

    fn layer(&self, inner: S) -> LoggerService<S> {
        LoggerService {
            inner,
            config: *self,
        }
    }
}

/// The service of [`Logger`].
#[derive(Debug, Clone)]
pub struct LoggerService<S> {
    inner: S,
    config: Logger,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for LoggerService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<LoggedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let record = enabled(self.config.level).then(|| {
            // Log the route template, not the raw path, when a router answers.
            req.extensions_mut().insert(ReportMatchedRoute);
            Box::new(Record::start(&req, self.config.level, self.config.format))
        });
        ResponseFuture::new(self.inner.call(req), record)
    }
}
