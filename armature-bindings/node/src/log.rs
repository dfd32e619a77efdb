//! Where the access log and handler errors go: one `tracing` subscriber writing lines to stderr,
//! or, for an app with `Logger.json()`, JSON lines written as they are.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Once;
use std::time::SystemTime;

use armature_layers::logger::{write_json_string, write_timestamp};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{dynamic_filter_fn, LevelFilter, Targets};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The target of handler failures, beside the logger's `armature::access`.
pub(crate) const TARGET: &str = "armature::node";

/// Whether an app of this process logs with `Logger.json()`: from then on every event of the
/// subscriber (the server's warnings, say) is written as a JSON line too, so that stderr stays
/// one JSON object a line.
static JSON_LINES: AtomicBool = AtomicBool::new(false);

/// Turns the subscriber's lines into JSON lines, for the rest of the process.
pub(crate) fn json_lines() {
    JSON_LINES.store(true, Relaxed);
}

fn json() -> bool {
    JSON_LINES.load(Relaxed)
}

/// Installs the stderr subscriber once per process, unless the host already set one. Access
/// events and handler failures at INFO, everything else (the server's own start/stop and
/// per-connection noise) at WARN. Lines are text, or JSON once [`json_lines`] is called.
pub(crate) fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let filter = Targets::new()
            .with_default(LevelFilter::WARN)
            .with_target(armature_layers::logger::TARGET, LevelFilter::INFO)
            .with_target(TARGET, LevelFilter::INFO);
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(false)
                    .with_filter(dynamic_filter_fn(|_, _| !json())),
            )
            .with(JsonEvents)
            .with(filter);
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Writes events as JSON lines (`time`, `level`, `target`, the event's fields, `message`)
/// while [`json_lines`] is on.
struct JsonEvents;

impl<S: Subscriber> Layer<S> for JsonEvents {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if !json() {
            return;
        }
        let meta = event.metadata();
        let mut fields = Fields {
            line: Line::start(meta.level().as_str(), meta.target()),
            message: String::new(),
        };
        event.record(&mut fields);
        fields.line.finish(&fields.message);
    }
}

/// An event's fields, written as they are visited; its message kept for the end.
struct Fields {
    line: Line,
    message: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.message);
        } else {
            self.line.field(field.name(), Json::Text(value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.line.field(field.name(), Json::Number(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.line.field(field.name(), Json::Text(&text));
        }
    }
}

/// One JSON log line being written: `{"time","level","target", ...fields, "message"}`.
struct Line(Vec<u8>);

impl Line {
    fn start(level: &str, target: &str) -> Line {
        let mut out = Vec::with_capacity(192);
        out.extend_from_slice(b"{\"time\":\"");
        write_timestamp(&mut out, SystemTime::now());
        out.extend_from_slice(b"\",\"level\":");
        write_json_string(&mut out, level);
        out.extend_from_slice(b",\"target\":");
        write_json_string(&mut out, target);
        Line(out)
    }

    fn field(&mut self, name: &str, value: Json<'_>) {
        let out = &mut self.0;
        out.push(b',');
        write_json_string(out, name);
        out.push(b':');
        match value {
            Json::Text(text) => write_json_string(out, text),
            Json::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Json::Null => out.extend_from_slice(b"null"),
        }
    }

    /// Ends the line with `message` and writes it to stderr with one call, at once (Node may
    /// exit without running Rust's destructors, so nothing waits in a buffer).
    fn finish(mut self, message: &str) {
        self.0.extend_from_slice(b",\"message\":");
        write_json_string(&mut self.0, message);
        self.0.extend_from_slice(b"}\n");
        let _ = std::io::stderr().write_all(&self.0);
    }
}

/// A field value of a JSON log line.
#[derive(Clone, Copy)]
pub(crate) enum Json<'a> {
    Text(&'a str),
    Number(u64),
    Null,
}

/// Logs an error of an app with `Logger.json()` as one JSON object a line on stderr, beside
/// its JSON access lines (text through the subscriber would break a line-based JSON
/// pipeline): `{"time","level":"ERROR","target","message", ...fields}`. Written with one call,
/// at once, as the access lines are.
pub(crate) fn json_error(message: &str, fields: &[(&str, Json<'_>)]) {
    let mut line = Line::start("ERROR", TARGET);
    for (name, value) in fields {
        line.field(name, *value);
    }
    line.finish(message);
}
