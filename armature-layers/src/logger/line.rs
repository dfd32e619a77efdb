//! One access line as bytes, for [`AccessLog`](super::AccessLog): written straight into the
//! log's buffer with integer formatting, no `fmt` machinery on the way.

use std::cell::Cell;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Format;

/// What a line says.
pub(crate) struct Line<'a> {
    pub(crate) format: Format,
    pub(crate) time: SystemTime,
    pub(crate) method: &'a str,
    pub(crate) route: &'a str,
    /// Whether `route` is an Armature router's template, which holds visible ASCII only (the
    /// router stores static segments percent-encoded), so the text line writes it as it is;
    /// a raw path or another router's label is escaped (`write_text_field`).
    pub(crate) route_is_template: bool,
    pub(crate) status: u16,
    pub(crate) latency: Duration,
    pub(crate) bytes: u64,
    pub(crate) request_id: &'a str,
    pub(crate) peer: Option<SocketAddr>,
    /// `None` when the whole response was sent.
    pub(crate) outcome: Option<&'static str>,
}

impl Line<'_> {
    /// Text: `2026-12-05T18:12:20.123Z GET /users/{id} 200 0.42ms 26B rid=… peer=…`;
    /// JSON: one object with the same facts. Either ends with `\n`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self.format {
            Format::Text => self.text(out),
            Format::Json => self.json(out),
        }
        out.push(b'\n');
    }

    fn text(&self, out: &mut Vec<u8>) {
        write_timestamp(out, self.time);
        out.push(b' ');
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        if self.route_is_template {
            out.extend_from_slice(self.route.as_bytes());
        } else {
            write_text_field(out, self.route);
        }
        out.push(b' ');
        number(out, self.status);
        out.push(b' ');
        millis(out, self.latency, 2);
        out.extend_from_slice(b"ms ");
        number(out, self.bytes);
        out.extend_from_slice(b"B rid=");
        out.extend_from_slice(self.request_id.as_bytes());
        out.extend_from_slice(b" peer=");
        match self.peer {
            Some(peer) => socket_addr(out, peer),
            None => out.push(b'-'),
        }
        if let Some(outcome) = self.outcome {
            out.extend_from_slice(b" outcome=");
            out.extend_from_slice(outcome.as_bytes());
        }
    }

    fn json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"time\":\"");
        write_timestamp(out, self.time);
        out.extend_from_slice(b"\",\"method\":");
        write_json_string(out, self.method);
        out.extend_from_slice(b",\"route\":");
        write_json_string(out, self.route);
        out.extend_from_slice(b",\"status\":");
        number(out, self.status);
        out.extend_from_slice(b",\"latency_ms\":");
        millis(out, self.latency, 3);
        out.extend_from_slice(b",\"bytes\":");
        number(out, self.bytes);
        out.extend_from_slice(b",\"request_id\":");
        write_json_string(out, self.request_id);
        out.extend_from_slice(b",\"peer\":");
        match self.peer {
            Some(peer) => {
                out.push(b'"');
                socket_addr(out, peer);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"outcome\":\"");
        out.extend_from_slice(self.outcome.unwrap_or("ok").as_bytes());
        out.extend_from_slice(b"\"}");
    }
}

fn number(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// `latency` in milliseconds with `decimals` (2 or 3) digits after the point, rounded.
fn millis(out: &mut Vec<u8>, latency: Duration, decimals: u32) {
    // u64 microseconds last 584,000 years; 128-bit division is slow.
    let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
    let unit = 10u64.pow(3 - decimals); // microseconds per last digit
    let scaled = micros.saturating_add(unit / 2) / unit;
    let per_ms = 10u64.pow(decimals);
    // Composed here and appended at once: "<whole>.<decimals>", at most 20 + 1 + 3 bytes.
    let mut text = [0; 24];
    let mut whole = itoa::Buffer::new();
    let whole = whole.format(scaled / per_ms).as_bytes();
    let point = whole.len();
    text[..point].copy_from_slice(whole);
    text[point] = b'.';
    let end = point + 1 + decimals as usize;
    fixed_width(&mut text[point + 1..end], scaled % per_ms);
    out.extend_from_slice(&text[..end]);
}

/// Writes `n` (below 100,000) in decimal at the start of `out`; returns how many digits.
fn decimal(out: &mut [u8], n: u32) -> usize {
    let digits = match n {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1_000..=9_999 => 4,
        _ => 5,
    };
    fixed_width(&mut out[..digits], u64::from(n));
    digits
}

/// Writes `value` into `digits` as decimal, right-aligned and zero-padded to its whole width
/// (higher digits that do not fit are dropped).
fn fixed_width(digits: &mut [u8], mut value: u64) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Writes `time` as the access lines do, `2026-12-05T18:12:20.123Z` (UTC, milliseconds), for
/// a program that writes lines of its own beside them. The part up to the seconds is formatted
/// once a second per thread.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
///
/// let mut out = Vec::new();
/// armature_layers::logger::write_timestamp(&mut out, UNIX_EPOCH + Duration::from_millis(1_765_000_000_123));
/// assert_eq!(out, b"2025-12-06T05:46:40.123Z");
/// ```
pub fn write_timestamp(out: &mut Vec<u8>, time: SystemTime) {
    thread_local! {
        static CACHE: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
    }
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let text = CACHE.with(|cache| {
        let (cached, text) = cache.get();
        if cached == secs {
            return text;
        }
        let text = civil(secs);
        cache.set((secs, text));
        text
    });
    out.extend_from_slice(&text);
    let mut millis = *b".000Z";
    fixed_width(&mut millis[1..4], u64::from(since.subsec_millis()));
    out.extend_from_slice(&millis);
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time (proleptic Gregorian calendar, UTC), after Howard
/// Hinnant's `civil_from_days`.
fn civil(secs: u64) -> [u8; 19] {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut text = *b"0000-00-00T00:00:00";
    fixed_width(&mut text[0..4], year.clamp(0, 9999) as u64);
    fixed_width(&mut text[5..7], month as u64);
    fixed_width(&mut text[8..10], day as u64);
    fixed_width(&mut text[11..13], rem / 3600);
    fixed_width(&mut text[14..16], rem / 60 % 60);
    fixed_width(&mut text[17..19], rem % 60);
    text
}

fn socket_addr(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => {
            // Composed here and appended at once: "255.255.255.255:65535" at most.
            let mut text = [0; 21];
            let mut len = 0;
            for (i, octet) in ip.octets().into_iter().enumerate() {
                if i > 0 {
                    text[len] = b'.';
                    len += 1;
                }
                len += decimal(&mut text[len..], u32::from(octet));
            }
            text[len] = b':';
            len += 1;
            len += decimal(&mut text[len..], u32::from(addr.port()));
            out.extend_from_slice(&text[..len]);
        }
        IpAddr::V6(_) => {
            use std::io::Write;
            let _ = write!(out, "{addr}");
        }
    }
}

/// Writes `s` as one field of a text line: a byte that is not visible ASCII (a space, a
/// control character, anything past `~`: a path's UTF-8, an LS or NEL that some viewers break
/// lines at, a right-to-left override) as `\xHH`, as nginx writes its access log, so a client's
/// path cannot pose as other fields or lines.
pub(crate) fn write_text_field(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    for b in s.bytes() {
        if !escaped(b) {
            out.push(b);
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        }
    }
}

/// Whether [`write_text_field`] writes `b` as `\xHH`: not visible ASCII, or `\`.
#[inline]
fn escaped(b: u8) -> bool {
    b.wrapping_sub(b'!') > b'~' - b'!' || b == b'\\'
}

/// Whether any byte of `s` is [`escaped`]: one pass without early exit, which the compiler
/// turns into a few instructions a byte (nearly every field needs no escape).
#[inline]
fn needs_escape(s: &str) -> bool {
    s.bytes().fold(false, |any, b| any | escaped(b))
}

/// [`write_text_field`] for a `Display` (the `tracing` event's message).
pub(crate) struct TextField<'a>(pub(crate) &'a str);

impl std::fmt::Display for TextField<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !needs_escape(self.0) {
            return f.write_str(self.0);
        }
        let mut out = Vec::with_capacity(self.0.len() + 16);
        write_text_field(&mut out, self.0);
        // Visible ASCII only.
        f.write_str(std::str::from_utf8(&out).unwrap_or_default())
    }
}

/// Writes `s` as a JSON string, as the JSON access lines do: quoted, with `"`, `\` and control
/// characters escaped (a newline in a client's value cannot start a forged line).
///
/// ```
/// let mut out = Vec::new();
/// armature_layers::logger::write_json_string(&mut out, "a \"b\"\nc");
/// assert_eq!(out, br#""a \"b\"\u000ac""#);
/// ```
pub fn write_json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(format: Format) -> Line<'static> {
        Line {
            format,
            // 2026-12-05T18:12:20.123Z
            time: UNIX_EPOCH + Duration::from_millis(1_796_494_340_123),
            method: "GET",
            route: "/users/{id}",
            route_is_template: true,
            status: 200,
            latency: Duration::from_micros(417),
            bytes: 26,
            request_id: "abc",
            peer: Some(SocketAddr::from(([127, 0, 0, 1], 50312))),
            outcome: None,
        }
    }

    fn written(line: &Line<'_>) -> String {
        let mut out = Vec::new();
        line.write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_fields_escape_what_is_not_visible_ascii_in_lines_and_events_alike() {
        let field = "/caf\u{e9} b\\";
        let mut out = Vec::new();
        write_text_field(&mut out, field);
        assert_eq!(out, br"/caf\xc3\xa9\x20b\x5c");
        assert_eq!(TextField(field).to_string().as_bytes(), out.as_slice());
        assert_eq!(TextField("/users/{id}").to_string(), "/users/{id}");
    }

    #[test]
    fn text_line() {
        assert_eq!(
            written(&line(Format::Text)),
            "2026-12-05T18:12:20.123Z GET /users/{id} 200 0.42ms 26B rid=abc peer=127.0.0.1:50312\n"
        );
        let aborted = Line {
            outcome: Some("aborted"),
            peer: None,
            ..line(Format::Text)
        };
        assert!(written(&aborted).ends_with("rid=abc peer=- outcome=aborted\n"));
    }

    #[test]
    fn json_line_parses_and_escapes() {
        let odd = Line {
            route: "/a\"b\\c\u{1}",
            peer: Some("[::1]:8080".parse().unwrap()),
            ..line(Format::Json)
        };
        let text = written(&odd);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["time"], "2026-12-05T18:12:20.123Z");
        assert_eq!(value["route"], "/a\"b\\c\u{1}");
        assert_eq!(value["latency_ms"], 0.417);
        assert_eq!(value["status"], 200);
        assert_eq!(value["bytes"], 26);
        assert_eq!(value["peer"], "[::1]:8080");
        assert_eq!(value["outcome"], "ok");
    }

    #[test]
    fn latency_rounds_and_pads() {
        let cases = [
            (0, "0.00"),
            (4, "0.00"),
            (5, "0.01"),
            (1_000, "1.00"),
            (12_345, "12.35"),
            (u64::MAX / 1_000, "18446744073709.55"),
        ];
        for (micros, want) in cases {
            let mut out = Vec::new();
            millis(&mut out, Duration::from_micros(micros), 2);
            assert_eq!(String::from_utf8(out).unwrap(), want, "{micros} µs");
        }
    }

    #[test]
    fn peers_are_written_as_std_writes_them() {
        for peer in [
            "0.0.0.0:0",
            "127.0.0.1:50000",
            "9.10.99.100:9",
            "255.255.255.255:65535",
            "10.0.0.2:10000",
            "[::1]:8080",
            "[::ffff:10.0.0.1]:443",
        ] {
            let addr: SocketAddr = peer.parse().unwrap();
            let mut out = Vec::new();
            socket_addr(&mut out, addr);
            assert_eq!(String::from_utf8(out).unwrap(), addr.to_string());
        }
    }

    #[test]
    fn civil_dates() {
        let cases = [
            (0, "1970-01-01T00:00:00"),
            (951_782_400, "2000-02-29T00:00:00"),
            (1_796_494_340, "2026-12-05T18:12:20"),
            (4_107_542_399, "2100-02-28T23:59:59"),
        ];
        for (secs, want) in cases {
            assert_eq!(std::str::from_utf8(&civil(secs)).unwrap(), want, "{secs}");
        }
    }
}
