//! What one access event says, gathered over the life of a request.

use std::fmt;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use armature_router::{MatchedRoute, Observation, Observed};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use smallvec::SmallVec;
use tracing::Level;

use super::line::{Line, TextField};
use super::{AccessLog, Format, TARGET};
use crate::request_id::RequestId;

pub(crate) struct Record {
    level: Level,
    format: Format,
    /// Where the line goes; `None`: a `tracing` event.
    log: Option<AccessLog>,
    start: Instant,
    method: Method,
    /// The path, copied: a `Uri` clone would keep the server's read buffer borrowed until the
    /// line is written, and hyper then allocates a new one for the next request. Only lines
    /// of requests without a route print it.
    path: SmallVec<[u8; 48]>,
    request_id: Option<HeaderValue>,
    /// Whether `request_id` is the [`RequestId`] extension (set by a `RequestIdLayer` outside
    /// this one); if not, the response's `x-request-id` (from one inside) replaces it.
    id_from_layer: bool,
    peer: Option<SocketAddr>,
    status: Option<StatusCode>,
    /// The matched route's template, as the router reported it (see [`Record::observe`]).
    route: Option<SmallVec<[u8; 48]>>,
    /// Whether a router has reported (a route, or none matched).
    routed: bool,
    /// Whether `route` came from Armature's router (a template of visible ASCII), not from a
    /// `route_label`: see `Line::route_is_template`.
    route_is_template: bool,
    pub(crate) bytes: u64,
}

#[derive(Clone, Copy)]
pub(crate) enum Outcome {
    Ok,
    BodyError,
    Aborted,
    ServiceError,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::BodyError => "body_error",
            Outcome::Aborted => "aborted",
            Outcome::ServiceError => "service_error",
        }
    }
}

/// Whether an access event at `level` would be recorded by the current subscriber.
pub(crate) fn enabled(level: Level) -> bool {
    match level {
        Level::ERROR => tracing::enabled!(target: TARGET, Level::ERROR),
        Level::WARN => tracing::enabled!(target: TARGET, Level::WARN),
        Level::INFO => tracing::enabled!(target: TARGET, Level::INFO),
        Level::DEBUG => tracing::enabled!(target: TARGET, Level::DEBUG),
        Level::TRACE => tracing::enabled!(target: TARGET, Level::TRACE),
    }
}

impl Record {
    pub(crate) fn start<B>(
        req: &Request<B>,
        level: Level,
        format: Format,
        log: Option<AccessLog>,
    ) -> Self {
        let id = req.extensions().get::<RequestId>();
        let id_from_layer = id.is_some();
        let request_id = match id {
            Some(id) => Some(id.header_value().clone()),
            // Without the layer, a client's header, so only an id the layer would accept:
            // one with spaces could forge the line's other fields (`rid=x peer=6.6.6.6`).
            None => req
                .headers()
                .get("x-request-id")
                .filter(|id| RequestId::is_valid(id))
                .cloned(),
        };
        Record {
            level,
            format,
            log,
            start: Instant::now(),
            method: req.method().clone(),
            path: SmallVec::from_slice(req.uri().path().as_bytes()),
            request_id,
            id_from_layer,
            peer: req.extensions().get::<SocketAddr>().copied(),
            status: None,
            route: None,
            routed: false,
            route_is_template: false,
            bytes: 0,
        }
    }

    /// The route another router matched, read from the request ([`Logger::route_label`]);
    /// an Armature router that reports still wins.
    ///
    /// [`Logger::route_label`]: super::Logger::route_label
    pub(crate) fn label(&mut self, template: &str) {
        self.route = Some(SmallVec::from_slice(template.as_bytes()));
        self.route_is_template = false;
    }

    /// Starts observing the router (`armature_router::Observation`) around the inner
    /// service's `call` or `poll`, unless it has reported already: the router tells the
    /// template as it matches, which costs no response extension.
    pub(crate) fn observe(&self) -> Option<Observation> {
        (!self.routed).then(Observation::start)
    }

    /// Takes the route the router reported during `observation`, if it did.
    pub(crate) fn learn(&mut self, observation: Option<Observation>) {
        let Some(observation) = observation else {
            return;
        };
        match observation.finish(|_, template| SmallVec::from_slice(template.as_bytes())) {
            Observed::Route(template) => {
                (self.route, self.routed, self.route_is_template) = (Some(template), true, true);
            }
            Observed::Unmatched => self.routed = true,
            Observed::NotCalled => {}
        }
    }

    pub(crate) fn response<B>(&mut self, res: &Response<B>) {
        self.status = Some(res.status());
        if !self.id_from_layer {
            // A `RequestIdLayer` inside this one echoes the id it chose (maybe replacing the
            // client's, which it does not trust): log that one, the one the client sees.
            if let Some(id) = res
                .headers()
                .get("x-request-id")
                .filter(|id| RequestId::is_valid(id))
            {
                self.request_id = Some(id.clone());
            }
        }
        if self.route.is_none() {
            // A route no router reported to us: named by the response (by hand, or for another
            // layer that asked with `ReportMatchedRoute`).
            if let Some(route) = res.extensions().get::<MatchedRoute>() {
                self.route = Some(SmallVec::from_slice(route.as_str().as_bytes()));
                self.route_is_template = true;
            }
        }
    }

    /// The outcome of a body dropped before it was polled to its end: complete when it had
    /// reported its end (servers drop such a body, and an empty one, without polling it
    /// again) or answers a `HEAD`, else the client went away.
    pub(crate) fn outcome_when_dropped(&self, complete: bool) -> Outcome {
        if complete || self.method == Method::HEAD {
            Outcome::Ok
        } else {
            Outcome::Aborted
        }
    }

    pub(crate) fn emit(&self, outcome: Outcome) {
        let latency = self.start.elapsed();
        // Both copied from a `&str`.
        let route = match &self.route {
            Some(route) => std::str::from_utf8(route).unwrap_or("-"),
            None => std::str::from_utf8(&self.path).unwrap_or("-"),
        };
        let status = self.status.map_or(0, |s| s.as_u16());
        // Checked when taken (`RequestId::is_valid`: visible ASCII), so UTF-8 is all to check.
        let request_id = self
            .request_id
            .as_ref()
            .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
            .unwrap_or("-");
        if let Some(log) = &self.log {
            let line = Line {
                format: self.format,
                time: SystemTime::now(),
                method: self.method.as_str(),
                route,
                route_is_template: self.route_is_template,
                status,
                latency,
                bytes: self.bytes,
                request_id,
                peer: self.peer,
                outcome: match outcome {
                    Outcome::Ok => None,
                    other => Some(other.as_str()),
                },
            };
            log.append(|buf| line.write(buf));
            return;
        }
        let peer = Peer(self.peer);
        let latency_ms = latency.as_secs_f64() * 1e3;
        let message = Message {
            record: self,
            route,
            status,
            request_id,
            latency_ms,
            outcome,
        };
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(
                    target: TARGET,
                    $level,
                    method = %self.method,
                    route,
                    status,
                    latency_us = latency.as_micros() as u64,
                    bytes = self.bytes,
                    request_id,
                    peer = %peer,
                    outcome = outcome.as_str(),
                    "{message}"
                )
            };
        }
        match self.level {
            Level::ERROR => event!(Level::ERROR),
            Level::WARN => event!(Level::WARN),
            Level::INFO => event!(Level::INFO),
            Level::DEBUG => event!(Level::DEBUG),
            Level::TRACE => event!(Level::TRACE),
        }
    }
}

struct Peer(Option<SocketAddr>);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(addr) => write!(f, "{addr}"),
            None => f.write_str("-"),
        }
    }
}

struct Message<'a> {
    record: &'a Record,
    route: &'a str,
    status: u16,
    request_id: &'a str,
    latency_ms: f64,
    outcome: Outcome,
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.record;
        match r.format {
            Format::Text => {
                write!(
                    f,
                    "{} {} {} {:.2}ms {}B rid={} peer={}",
                    r.method,
                    TextField(self.route),
                    self.status,
                    self.latency_ms,
                    r.bytes,
                    self.request_id,
                    Peer(r.peer)
                )?;
                match self.outcome {
                    Outcome::Ok => Ok(()),
                    other => write!(f, " outcome={}", other.as_str()),
                }
            }
            Format::Json => {
                let line = JsonLine {
                    method: r.method.as_str(),
                    route: self.route,
                    status: self.status,
                    latency_ms: self.latency_ms,
                    bytes: r.bytes,
                    request_id: self.request_id,
                    peer: r.peer,
                    outcome: self.outcome.as_str(),
                };
                let json = sonic_rs::to_string(&line).map_err(|_| fmt::Error)?;
                f.write_str(&json)
            }
        }
    }
}

#[derive(serde::Serialize)]
struct JsonLine<'a> {
    method: &'a str,
    route: &'a str,
    status: u16,
    latency_ms: f64,
    bytes: u64,
    request_id: &'a str,
    peer: Option<SocketAddr>,
    outcome: &'a str,
}
