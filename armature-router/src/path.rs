//! Percent-encoding policy for request paths.
//!
//! Armature routes on the path *as RFC 3986 defines equivalence*:
//!
//! * Every `%` must start a valid escape (`%` + two hex digits). Anything else (`%zz`, `%+1`,
//!   a trailing `%`) is rejected with `400 Bad Request` before routing.
//! * Escapes of *unreserved* characters (`A-Z a-z 0-9 - . _ ~`) are decoded before matching, so
//!   `/%61bout` reaches the `/about` route (RFC 3986 §6.2.2.2). axum routes those two differently.
//! * Escapes of every other character stay escaped while matching (hex digits upper-cased), so an
//!   encoded slash `%2F` never splits a segment: `/files/a%2Fb` matches `/files/{name}` with
//!   `name = "a/b"`.
//! * Path parameters are fully percent-decoded after matching and must be valid UTF-8, else
//!   `400 Bad Request`. `+` is not a space in a path and is kept as is.

use std::borrow::Cow;

use crate::scan::find;

/// A path held an invalid percent-escape or decoded to invalid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidPath;

fn hex(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

/// Validates every escape in `path` and decodes those of unreserved characters.
///
/// Borrows when `path` holds no `%`, which is the common case and allocation-free.
pub(crate) fn normalize(path: &str) -> Result<Cow<'_, str>, InvalidPath> {
    let bytes = path.as_bytes();
    let first = find::<b'%'>(bytes, 0);
    if first == bytes.len() {
        return Ok(Cow::Borrowed(path));
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte != b'%' {
            out.push(byte);
            i += 1;
            continue;
        }
        let hi = bytes.get(i + 1).copied().and_then(hex).ok_or(InvalidPath)?;
        let lo = bytes.get(i + 2).copied().and_then(hex).ok_or(InvalidPath)?;
        let decoded = hi << 4 | lo;
        if is_unreserved(decoded) {
            out.push(decoded);
        } else {
            out.push(b'%');
            out.push(bytes[i + 1].to_ascii_uppercase());
            out.push(bytes[i + 2].to_ascii_uppercase());
        }
        i += 3;
    }
    // Only ASCII bytes were replaced by ASCII bytes, so the result is still valid UTF-8.
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| InvalidPath)
}

/// Fully decodes one matched parameter. The path was validated by [`normalize`] already.
pub(crate) fn decode_param(raw: &str) -> Result<Cow<'_, str>, InvalidPath> {
    if !raw.as_bytes().contains(&b'%') {
        return Ok(Cow::Borrowed(raw));
    }
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| InvalidPath)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_table() {
        let cases: &[(&str, Result<&str, InvalidPath>)] = &[
            ("/about", Ok("/about")),
            ("/%61bout", Ok("/about")),
            ("/%7euser", Ok("/~user")),
            ("/a%2fb", Ok("/a%2Fb")),
            ("/a%2Fb", Ok("/a%2Fb")),
            ("/caf%C3%A9", Ok("/caf%C3%A9")),
            ("/%20", Ok("/%20")),
            ("/%", Err(InvalidPath)),
            ("/%4", Err(InvalidPath)),
            ("/%zz", Err(InvalidPath)),
            ("/%+1", Err(InvalidPath)),
            ("/%-1", Err(InvalidPath)),
        ];
        for (input, expected) in cases {
            assert_eq!(
                normalize(input).as_deref().map_err(|e| *e),
                *expected,
                "{input}"
            );
        }
    }

    #[test]
    fn params_decode_fully_and_require_utf8() {
        assert_eq!(decode_param("a%2Fb").unwrap(), "a/b");
        assert_eq!(decode_param("caf%C3%A9").unwrap(), "café");
        assert_eq!(decode_param("a+b").unwrap(), "a+b");
        assert_eq!(decode_param("%FF"), Err(InvalidPath));
    }
}
