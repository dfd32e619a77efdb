//! The compiled route table: a segment trie matched with backtracking.
//!
//! At every segment a static child is tried first, then the parameter child, then the
//! catch-all, so precedence is `static > {param} > {*catch_all}` segment by segment and does
//! not depend on the order routes were added. Parameter names live with the routes, not in the
//! trie, so `/users/{id}/posts` and `/users/{user_id}/likes` can coexist.

use smallvec::SmallVec;

use crate::pattern::Segment;

/// Byte ranges of the matched parameter values within the path, in pattern order.
pub(crate) type Spans = SmallVec<[(usize, usize); 4]>;

/// A static segment's first eight bytes and its length: comparing two keys is two integer
/// compares, so scanning a node's children touches one small contiguous array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    head: u64,
    len: usize,
}

/// Up to this many children a node scans its keys; past it, it binary-searches them.
const LINEAR_SCAN_MAX: usize = 12;

impl Key {
    #[inline]
    fn of(segment: &[u8]) -> Key {
        let mut head = [0u8; 8];
        let n = segment.len().min(8);
        head[..n].copy_from_slice(&segment[..n]);
        Key {
            head: u64::from_le_bytes(head),
            len: segment.len(),
        }
    }
}

#[derive(Default, Debug)]
pub(crate) struct Node {
    /// `keys[i]` is the key of `statics[i]`.
    keys: Vec<Key>,
    statics: Vec<(Box<str>, Node)>,
    param: Option<Box<Node>>,
    catch_all: Option<usize>,
    value: Option<usize>,
}

impl Node {
    /// Adds a route. On a conflict returns the value of the route with the same shape.
    pub(crate) fn insert(&mut self, segments: &[Segment], value: usize) -> Result<(), usize> {
        let Some((first, rest)) = segments.split_first() else {
            return match self.value {
                Some(existing) => Err(existing),
                None => {
                    self.value = Some(value);
                    Ok(())
                }
            };
        };
        let child = match first {
            Segment::Static(text) => {
                let at = match self.statics.iter().position(|(s, _)| s == text) {
                    Some(at) => at,
                    None => {
                        // Keep keys sorted (ties by text) so large nodes can binary-search.
                        let key = Key::of(text.as_bytes());
                        let at = self
                            .keys
                            .iter()
                            .zip(&self.statics)
                            .position(|(k, (s, _))| (*k, &**s) > (key, &**text))
                            .unwrap_or(self.keys.len());
                        self.keys.insert(at, key);
                        self.statics.insert(at, (text.clone(), Node::default()));
                        at
                    }
                };
                &mut self.statics[at].1
            }
            Segment::Param => self.param.get_or_insert_with(Default::default),
            Segment::CatchAll => {
                return match self.catch_all {
                    Some(existing) => Err(existing),
                    None => {
                        self.catch_all = Some(value);
                        Ok(())
                    }
                };
            }
        };
        child.insert(rest, value)
    }

    /// Finds the route for `path` (which starts with `/`), recording parameter spans.
    pub(crate) fn at(&self, path: &str, spans: &mut Spans) -> Option<usize> {
        if !path.starts_with('/') {
            return None;
        }
        self.find(path.as_bytes(), 1, spans)
    }

    fn find(&self, path: &[u8], start: usize, spans: &mut Spans) -> Option<usize> {
        let rest = &path[start..];
        let len = rest.iter().position(|&b| b == b'/').unwrap_or(rest.len());
        let end = start + len;
        let segment = &rest[..len];
        let last = end == path.len();

        if let Some(child) = self.static_child(segment) {
            if let Some(found) = child.descend(path, end, last, spans) {
                return Some(found);
            }
        }
        if let Some(child) = self.param.as_deref() {
            if !segment.is_empty() {
                spans.push((start, end));
                if let Some(found) = child.descend(path, end, last, spans) {
                    return Some(found);
                }
                spans.pop();
            }
        }
        if let Some(value) = self.catch_all {
            if start < path.len() {
                spans.push((start, path.len()));
                return Some(value);
            }
        }
        None
    }

    #[inline]
    fn descend(&self, path: &[u8], end: usize, last: bool, spans: &mut Spans) -> Option<usize> {
        if last {
            self.value
        } else {
            self.find(path, end + 1, spans)
        }
    }

    #[inline]
    fn static_child(&self, segment: &[u8]) -> Option<&Node> {
        if self.keys.is_empty() {
            return None;
        }
        let key = Key::of(segment);
        if segment.len() <= 8 {
            // The key holds the whole segment, and keys of short segments are unique.
            let at = if self.keys.len() <= LINEAR_SCAN_MAX {
                self.keys.iter().position(|k| *k == key)?
            } else {
                self.keys.binary_search(&key).ok()?
            };
            return Some(&self.statics[at].1);
        }
        // Long segments can share a key: compare the text of each candidate.
        let start = self.keys.partition_point(|k| *k < key);
        self.keys[start..]
            .iter()
            .zip(&self.statics[start..])
            .take_while(|(k, _)| **k == key)
            .find(|(_, (text, _))| text.as_bytes() == segment)
            .map(|(_, (_, node))| node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::Pattern;

    fn table(routes: &[&str]) -> Node {
        let mut root = Node::default();
        for (i, route) in routes.iter().enumerate() {
            root.insert(&Pattern::parse(route).unwrap().segments, i)
                .unwrap_or_else(|e| panic!("{route} conflicts with {}", routes[e]));
        }
        root
    }

    fn lookup<'p>(root: &Node, routes: &[&'p str], path: &str) -> Option<(&'p str, Vec<String>)> {
        let mut spans = Spans::new();
        root.at(path, &mut spans).map(|i| {
            let values = spans.iter().map(|&(s, e)| path[s..e].to_owned()).collect();
            (routes[i], values)
        })
    }

    #[test]
    fn precedence_and_backtracking_table() {
        let routes = [
            "/",
            "/users",
            "/users/",
            "/users/new",
            "/users/{id}",
            "/users/{id}/posts",
            "/users/{*rest}",
            "/a/b/{*rest}",
            "/a/{x}/c",
            "/a/b/d",
            "/files/{*path}",
            "/{*fallback}",
        ];
        let root = table(&routes);
        // (path, the route and parameter values it reaches)
        type Case<'a> = (&'a str, Option<(&'a str, &'a [&'a str])>);
        let cases: &[Case] = &[
            ("/", Some(("/", &[]))),
            ("/users", Some(("/users", &[]))),
            ("/users/", Some(("/users/", &[]))),
            ("/users/new", Some(("/users/new", &[]))),
            ("/users/42", Some(("/users/{id}", &["42"]))),
            ("/users/42/posts", Some(("/users/{id}/posts", &["42"]))),
            ("/users/42/likes", Some(("/users/{*rest}", &["42/likes"]))),
            ("/users/new/posts", Some(("/users/{id}/posts", &["new"]))),
            // static `b` wins at segment two, even though `/a/{x}/c` would match too
            ("/a/b/c", Some(("/a/b/{*rest}", &["c"]))),
            ("/a/b/d", Some(("/a/b/d", &[]))),
            ("/a/z/c", Some(("/a/{x}/c", &["z"]))),
            ("/files/a/b.txt", Some(("/files/{*path}", &["a/b.txt"]))),
            ("/files/", Some(("/{*fallback}", &["files/"]))),
            ("/other/thing", Some(("/{*fallback}", &["other/thing"]))),
            ("*", None),
            ("", None),
        ];
        for (path, expected) in cases {
            let got = lookup(&root, &routes, path);
            let expected = expected.map(|(r, v)| (r, v.iter().map(|s| s.to_string()).collect()));
            assert_eq!(got, expected, "{path}");
        }
    }

    #[test]
    fn no_match_without_catch_all() {
        let routes = ["/users/{id}", "/users/{id}/posts"];
        let root = table(&routes);
        for path in [
            "/users",
            "/users/",
            "/users/1/",
            "/users/1/posts/",
            "/users//posts",
            "/x",
        ] {
            assert_eq!(lookup(&root, &routes, path), None, "{path}");
        }
    }

    #[test]
    fn same_shape_conflicts() {
        let mut root = Node::default();
        root.insert(&Pattern::parse("/u/{id}").unwrap().segments, 0)
            .unwrap();
        assert_eq!(
            root.insert(&Pattern::parse("/u/:name").unwrap().segments, 1),
            Err(0)
        );
        root.insert(&Pattern::parse("/f/{*a}").unwrap().segments, 2)
            .unwrap();
        assert_eq!(
            root.insert(&Pattern::parse("/f/{*b}").unwrap().segments, 3),
            Err(2)
        );
    }
}
