//! Where the access log and handler errors go: one `tracing` subscriber writing lines to stderr,
//! or, for an app with `Logger.json()`, JSON lines written as they are.

use std::io::Write;
use std::sync::Once;
use std::time::{SystemTime, UNIX_EPOCH};

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
    timestamp(&mut out, SystemTime::now());
    out.extend_from_slice(b"\",\"level\":\"ERROR\",\"target\":");
    json_string(&mut out, TARGET);
    for (name, value) in fields {
        out.push(b',');
        json_string(&mut out, name);
        out.push(b':');
        match value {
            Json::Text(text) => json_string(&mut out, text),
            Json::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Json::Null => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b",\"message\":");
    json_string(&mut out, message);
    out.extend_from_slice(b"}\n");
    let _ = std::io::stderr().write_all(&out);
}

/// `2026-12-05T18:12:20.123Z` (UTC, milliseconds), as the JSON access lines write `time`.
fn timestamp(out: &mut Vec<u8>, time: SystemTime) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    );
}

/// A JSON string: `"`, `\` and control characters escaped.
fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
    out.push(b'"');
}
