//! Route pattern syntax: parsing `/users/{id}`, `/users/:id` and `/files/{*rest}`.

use std::fmt;

use crate::error::RouteError;

/// One `/`-separated piece of a route pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Segment {
    /// Matches exactly this text (already percent-normalized).
    Static(Box<str>),
    /// Matches any non-empty segment.
    Param,
    /// Matches the non-empty rest of the path, slashes included. Always last.
    CatchAll,
}

/// A parsed route pattern: its segments and the names of its parameters, in order.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    pub(crate) segments: Vec<Segment>,
    pub(crate) names: Vec<Box<str>>,
    /// The pattern in canonical `{name}` syntax, used as the matched route template.
    pub(crate) template: Box<str>,
}

impl Pattern {
    /// Parses a pattern, accepting `{id}` and `:id` for parameters and `{*rest}` for a catch-all.
    pub(crate) fn parse(pattern: &str) -> Result<Self, RouteError> {
        let malformed = |reason: &'static str| RouteError::MalformedPattern {
            pattern: pattern.to_owned(),
            reason,
        };
        let rest = pattern
            .strip_prefix('/')
            .ok_or_else(|| malformed("a pattern must start with `/`"))?;
        let mut segments = Vec::new();
        let mut names: Vec<Box<str>> = Vec::new();
        let raw: Vec<&str> = rest.split('/').collect();
        for (index, raw_segment) in raw.iter().enumerate() {
            let is_last = index + 1 == raw.len();
            let (segment, name) = parse_segment(raw_segment).map_err(malformed)?;
            if segment == Segment::CatchAll && !is_last {
                return Err(malformed("a catch-all `{*name}` must be the last segment"));
            }
            if let Some(name) = name {
                if names.iter().any(|n| **n == *name) {
                    return Err(malformed("a parameter name is used twice"));
                }
                names.push(name.into());
            }
            segments.push(segment);
        }
        let template = render(&segments, &names);
        Ok(Pattern {
            segments,
            names,
            template: template.into(),
        })
    }

    /// The pattern with every parameter name erased: two patterns with the same shape
    /// would match exactly the same paths.
    pub(crate) fn shape(&self) -> impl fmt::Display + '_ {
        Shape(&self.segments)
    }
}

fn parse_segment(raw: &str) -> Result<(Segment, Option<&str>), &'static str> {
    if let Some(inner) = raw.strip_prefix('{') {
        let inner = inner
            .strip_suffix('}')
            .ok_or("a parameter must span a whole segment, like `/{id}`")?;
        return match inner.strip_prefix('*') {
            Some(name) => Ok((Segment::CatchAll, Some(valid_name(name)?))),
            None => Ok((Segment::Param, Some(valid_name(inner)?))),
        };
    }
    if let Some(name) = raw.strip_prefix(':') {
        return Ok((Segment::Param, Some(colon_name(name)?)));
    }
    // axum 0.7's and Express 5's catch-all: as a static segment it would match only itself.
    if raw
        .strip_prefix('*')
        .is_some_and(|name| valid_name(name).is_ok())
    {
        return Err("a catch-all is written `{*name}`, like `/files/{*path}` (`/files/*path` is axum 0.7's and Express 5's form)");
    }
    // A request's path ends at `?` or `#`: a pattern holding one could only match a client
    // that escaped it, which is never what `/search?q` meant.
    if raw.contains(['?', '#']) {
        return Err("a pattern is a path: `?` and `#` start a query or a fragment (write `%3F` or `%23` to match them escaped)");
    }
    if raw.contains(['{', '}']) {
        return Err("a parameter must span a whole segment, like `/{id}`");
    }
    // Request paths arrive percent-encoded, so a literal `/café` in a pattern is stored as
    // `/caf%C3%A9`, the form it can actually be matched in.
    let encoded = percent_encoding::utf8_percent_encode(raw, NOT_IN_PATH).to_string();
    let normalized = crate::path::normalize(&encoded)
        .map_err(|_| "invalid percent-encoding in a static segment")?;
    Ok((Segment::Static(normalized.into_owned().into()), None))
}

/// Bytes a request path never holds unescaped (non-ASCII is always escaped as well).
const NOT_IN_PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`');

/// The name of a `:name` parameter, with what other routers' forms of it mean said plainly.
fn colon_name(name: &str) -> Result<&str, &'static str> {
    if name.contains('(') {
        return Err("a parameter takes no regular expression (`:id(^\\d+)`): it matches any one segment; check its value in the handler (or a params schema)");
    }
    if name.ends_with('?') {
        return Err("a parameter cannot be optional (`:name?`): add the route with and without that segment");
    }
    let tail = name.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    if tail.is_some_and(|at| at > 0 && matches!(name.as_bytes()[at], b'.' | b':' | b'~' | b'+')) {
        return Err("a parameter must span a whole segment, like `/:id` (`/:name.json`: take `/:file` and check the suffix)");
    }
    valid_name(name)
}

fn valid_name(name: &str) -> Result<&str, &'static str> {
    if name.is_empty() {
        return Err("a parameter needs a name, like `{id}`");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err("a parameter name may only hold ASCII letters, digits, `_` and `-`");
    }
    Ok(name)
}

fn render(segments: &[Segment], names: &[Box<str>]) -> String {
    let mut out = String::new();
    let mut names = names.iter();
    for segment in segments {
        out.push('/');
        match segment {
            Segment::Static(text) => out.push_str(text),
            Segment::Param => {
                out.push('{');
                out.push_str(names.next().map_or("", |n| n));
                out.push('}');
            }
            Segment::CatchAll => {
                out.push_str("{*");
                out.push_str(names.next().map_or("", |n| n));
                out.push('}');
            }
        }
    }
    out
}

struct Shape<'a>(&'a [Segment]);

impl fmt::Display for Shape<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in self.0 {
            match segment {
                Segment::Static(text) => write!(f, "/{text}")?,
                Segment::Param => f.write_str("/{}")?,
                Segment::CatchAll => f.write_str("/{*}")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colon_and_brace_params_render_the_same_template() {
        assert_eq!(
            &*Pattern::parse("/users/:id").unwrap().template,
            "/users/{id}"
        );
        assert_eq!(
            &*Pattern::parse("/users/{id}").unwrap().template,
            "/users/{id}"
        );
        assert_eq!(
            &*Pattern::parse("/f/{*rest}").unwrap().template,
            "/f/{*rest}"
        );
        assert_eq!(&*Pattern::parse("/").unwrap().template, "/");
        assert_eq!(&*Pattern::parse("/a/").unwrap().template, "/a/");
        assert_eq!(&*Pattern::parse("/café").unwrap().template, "/caf%C3%A9");
        assert_eq!(
            &*Pattern::parse("/caf%c3%a9").unwrap().template,
            "/caf%C3%A9"
        );
    }

    #[test]
    fn malformed_patterns_are_rejected_with_a_reason() {
        for bad in [
            "users",
            "/{}",
            "/{*}",
            "/:",
            "/{id",
            "/id}",
            "/img-{id}.png",
            "/{*rest}/more",
            "/{a}/{a}",
            "/{a b}",
            "/%zz",
        ] {
            let err = Pattern::parse(bad).unwrap_err();
            assert!(
                matches!(err, RouteError::MalformedPattern { ref pattern, .. } if pattern == bad),
                "{bad}: {err}"
            );
        }
    }
}
