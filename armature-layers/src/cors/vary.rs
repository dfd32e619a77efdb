//! Adding names to `Vary` without dropping or duplicating the inner service's.

use http::header::{HeaderMap, HeaderValue, VARY};

/// `Vary` of a preflight answer: whether an `OPTIONS` request is a preflight at all, and how
/// it is answered, depends on all three.
pub(crate) const PREFLIGHT: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// `Vary` of an actual response whose `Access-Control-Allow-Origin` depends on `Origin`.
pub(crate) const ORIGIN: HeaderValue = HeaderValue::from_static("origin");

/// Makes `headers` vary on `name` (lowercase), keeping what is there.
///
/// * No `Vary` yet: inserts `value` (a precomputed constant, so no allocation).
/// * `Vary: *` or `name` already listed (in any case, in any of several `Vary` fields):
///   nothing to do.
/// * Otherwise the existing fields are folded into one, with `name` appended.
pub(crate) fn ensure(headers: &mut HeaderMap, name: &str, value: HeaderValue) {
    let mut existing = headers.get_all(VARY).iter().peekable();
    if existing.peek().is_none() {
        headers.insert(VARY, value);
        return;
    }
    let mut joined = Vec::with_capacity(64);
    for field in existing {
        for token in field.as_bytes().split(|&b| b == b',') {
            let token = token.trim_ascii();
            if token == b"*" || token.eq_ignore_ascii_case(name.as_bytes()) {
                return;
            }
        }
        let field = field.as_bytes().trim_ascii();
        if !field.is_empty() {
            if !joined.is_empty() {
                joined.extend_from_slice(b", ");
            }
            joined.extend_from_slice(field);
        }
    }
    if !joined.is_empty() {
        joined.extend_from_slice(b", ");
    }
    joined.extend_from_slice(name.as_bytes());
    let merged = HeaderValue::from_bytes(&joined).expect("joined from valid header values");
    headers.insert(VARY, merged);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vary_after(existing: &[&'static str]) -> Vec<String> {
        let mut headers = HeaderMap::new();
        for v in existing {
            headers.append(VARY, HeaderValue::from_static(v));
        }
        ensure(&mut headers, "origin", ORIGIN);
        headers
            .get_all(VARY)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn inserts_when_absent() {
        assert_eq!(vary_after(&[]), ["origin"]);
    }

    #[test]
    fn appends_to_existing_fields() {
        assert_eq!(
            vary_after(&["accept-encoding"]),
            ["accept-encoding, origin"]
        );
        assert_eq!(
            vary_after(&["accept-encoding", "Accept-Language , Cookie"]),
            ["accept-encoding, Accept-Language , Cookie, origin"]
        );
    }

    #[test]
    fn never_duplicates() {
        assert_eq!(vary_after(&["Origin"]), ["Origin"]);
        assert_eq!(
            vary_after(&["accept-encoding", " ORIGIN "]),
            ["accept-encoding", " ORIGIN "]
        );
        assert_eq!(vary_after(&["accept, origin"]), ["accept, origin"]);
    }

    #[test]
    fn star_already_covers_everything() {
        assert_eq!(vary_after(&["*"]), ["*"]);
    }

    #[test]
    fn empty_field_is_replaced() {
        assert_eq!(vary_after(&[""]), ["origin"]);
    }
}
