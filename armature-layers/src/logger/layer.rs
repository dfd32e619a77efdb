use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Level;

use super::record::{enabled, Record};
use super::{AccessLog, LoggedBody, ResponseFuture};
use crate::RouteLabel;

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
#[derive(Debug, Clone)]
pub struct Logger {
    level: Level,
    format: Format,
    log: Option<AccessLog>,
    label: Option<RouteLabel>,
}

impl Default for Logger {
    /// Readable one-line messages at `INFO`.
    fn default() -> Self {
        Logger {
            level: Level::INFO,
            format: Format::Text,
            log: None,
            label: None,
        }
    }
}

impl Logger {
    /// One JSON object per message, at `INFO`.
    pub fn json() -> Self {
        Logger::default().format(Format::Json)
    }

    /// The level of access events (`tracing` only: an [`AccessLog`] gets every request).
    ///
    /// ```
    /// let logger = armature_layers::logger::Logger::default().level(tracing::Level::DEBUG);
    /// ```
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// The message format.
    ///
    /// ```
    /// use armature_layers::logger::{Format, Logger};
    /// let logger = Logger::default().format(Format::Json);
    /// ```
    pub fn format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Writes one line per request to `log` (buffered, written in batches) instead of
    /// emitting a `tracing` event: the fast path for a busy server's access log. Lines start
    /// with a UTC timestamp; [`Format`] applies. See [`AccessLog`].
    ///
    /// ```
    /// use armature_layers::logger::{AccessLog, Logger};
    ///
    /// let logger = Logger::default().write_to(AccessLog::stdout());
    /// // 2026-12-05T18:12:20.123Z GET /users/{id} 200 0.42ms 26B rid=… peer=127.0.0.1:50312
    /// ```
    pub fn write_to(mut self, log: AccessLog) -> Self {
        self.log = Some(log);
        self
    }

    /// Logs requests no Armature router reports under the route template `label` reads from
    /// the request's extensions instead of their raw path (see [`RouteLabel`]): inside an
    /// axum app, `|ext| ext.get::<MatchedPath>().map(MatchedPath::as_str)`.
    ///
    /// ```
    /// use armature_layers::logger::Logger;
    ///
    /// #[derive(Clone)]
    /// struct Template(&'static str);
    /// let logger = Logger::default().route_label(|ext| ext.get::<Template>().map(|t| t.0));
    /// ```
    pub fn route_label(mut self, label: RouteLabel) -> Self {
        self.label = Some(label);
        self
    }
}

impl<S> Layer<S> for Logger {
    type Service = LoggerService<S>;

    fn layer(&self, inner: S) -> LoggerService<S> {
        LoggerService {
            inner,
            config: self.clone(),
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

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        if !(config.log.is_some() || enabled(config.level)) {
            return ResponseFuture::new(self.inner.call(req), None);
        }
        let mut record = Box::new(Record::start(
            &req,
            config.level,
            config.format,
            config.log.clone(),
        ));
        if let Some(template) = config.label.and_then(|label| label(req.extensions())) {
            record.label(template);
        }
        // Log the route template, not the raw path, when a router answers.
        let observation = record.observe();
        let future = self.inner.call(req);
        record.learn(observation);
        ResponseFuture::new(future, Some(record))
    }
}
