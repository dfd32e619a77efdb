//! Where the access log and handler errors go: one `tracing` subscriber writing lines to stderr,
//! or, for an app with `Logger.json()`, JSON lines written as they are.

use std::io::Write;
use std::sync::Once;
use std::time::SystemTime;

use armature_layers::logger::{write_json_string, write_timestamp};

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;

/// The target of handler failures, beside the logger's `armature::access`.
pub(crate) const TARGET: &str = "armature::node";

/// Installs the stderr subscriber once per process, unless the host already set one. Access
/// events and handler failures at INFO, everything else (the server's own start/stop and
/// per-connection noise) at WARN.
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
                    .with_ansi(false),
            )
            .with(filter);
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// A field value of a JSON error line.
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
    let mut out = Vec::with_capacity(160 + message.len());
    out.extend_from_slice(b"{\"time\":\"");
    write_timestamp(&mut out, SystemTime::now());
    out.extend_from_slice(b"\",\"level\":\"ERROR\",\"target\":");
    write_json_string(&mut out, TARGET);
    for (name, value) in fields {
        out.push(b',');
        write_json_string(&mut out, name);
        out.push(b':');
        match value {
            Json::Text(text) => write_json_string(&mut out, text),
            Json::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Json::Null => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b",\"message\":");
    write_json_string(&mut out, message);
    out.extend_from_slice(b"}\n");
    let _ = std::io::stderr().write_all(&out);
}
