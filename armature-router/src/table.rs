//! The compiled route table: the builder's trie flattened for lookup, matched with backtracking.
//!
//! At every segment a static child is tried first, then the parameter child, then the
//! catch-all, so precedence is `static > {param} > {*catch_all}` segment by segment and does
//! not depend on the order routes were added.
//!
//! Nodes live in one array and are named by index. Every static edge — (parent node, segment
//! text) → child — lives in one open-addressing hash table, so finding a static child is one
//! hash of the segment and (almost always) one probe, whatever the node's fan-out. A segment of
//! up to 16 bytes is its own key (two words and a length), so comparing it needs no text; only
//! longer segments compare their text after the key matched.

use smallvec::SmallVec;

use crate::scan::{find, load};
use crate::tree::Node;

/// Byte ranges of the matched parameter values within the path, in pattern order.
pub(crate) type Spans = SmallVec<[(usize, usize); 4]>;

/// "No such child / value" in the packed node fields.
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Flat {
    /// Whether any static edge leaves this node (if not, the hash probe is skipped).
    statics: bool,
    param: u32,
    catch_all: u32,
    value: u32,
}

/// One static edge. `parent == NONE` marks an empty slot.
#[derive(Debug, Clone, Copy)]
struct Edge {
    parent: u32,
    len: u32,
    head: u64,
    tail: u64,
    child: u32,
    /// Index into `Table::long` for segments longer than 16 bytes, else `NONE`.
    text: u32,
}

const EMPTY: Edge = Edge {
    parent: NONE,
    len: 0,
    head: 0,
    tail: 0,
    child: NONE,
    text: NONE,
};

/// The lookup side of a router's routes.
#[derive(Debug)]
pub(crate) struct Table {
    nodes: Vec<Flat>,
    edges: Box<[Edge]>,
    mask: usize,
    long: Vec<Box<[u8]>>,
    /// Whether a catch-all matches an empty rest (`/files/` for `/files/{*path}`).
    empty_rest: bool,
}

impl Table {
    /// Flattens `root`. Values are the indices the routes were inserted with. With
    /// `empty_rest`, a catch-all also matches an empty rest.
    pub(crate) fn compile(root: &Node, empty_rest: bool) -> Table {
        let mut table = Table {
            nodes: Vec::new(),
            edges: Box::new([]),
            mask: 0,
            long: Vec::new(),
            empty_rest,
        };
        let mut edges = Vec::new();
        table.flatten(root, &mut edges);
        // At most half full, so every probe sequence ends at an empty slot.
        let size = (edges.len() * 2).next_power_of_two().max(8);
        table.edges = vec![EMPTY; size].into_boxed_slice();
        table.mask = size - 1;
        for (parent, text, child) in edges {
            let bytes = text.as_bytes();
            let (head, tail) = key(bytes, 0, bytes.len());
            let long = if bytes.len() > 16 {
                table.long.push(bytes.into());
                (table.long.len() - 1) as u32
            } else {
                NONE
            };
            let edge = Edge {
                parent,
                len: bytes.len() as u32,
                head,
                tail,
                child,
                text: long,
            };
            let mut at = slot(parent, edge.len, head, tail) & table.mask;
            while table.edges[at].parent != NONE {
                at = (at + 1) & table.mask;
            }
            table.edges[at] = edge;
        }
        table
    }

    /// Adds `node` and everything below it; returns its index.
    fn flatten<'n>(&mut self, node: &'n Node, edges: &mut Vec<(u32, &'n str, u32)>) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Flat {
            statics: !node.statics.is_empty(),
            param: NONE,
            catch_all: node.catch_all.map_or(NONE, |v| v as u32),
            value: node.value.map_or(NONE, |v| v as u32),
        });
        for (text, child) in &node.statics {
            let child = self.flatten(child, edges);
            edges.push((id, text, child));
        }
        if let Some(param) = node.param.as_deref() {
            let param = self.flatten(param, edges);
            self.nodes[id as usize].param = param;
        }
        id
    }

    /// Finds the route for `path` (which starts with `/`), recording parameter spans.
    #[inline]
    pub(crate) fn at(&self, path: &str, spans: &mut Spans) -> Option<usize> {
        self.at_where(path, spans, &mut |_, _| true)
    }

    /// Like [`at`](Self::at), but a route that `accept` refuses (given its value and the
    /// spans of its parameters) is passed over: the search backtracks to the next candidate
    /// in precedence order, as if that route were not there.
    #[inline]
    pub(crate) fn at_where<F>(&self, path: &str, spans: &mut Spans, accept: &mut F) -> Option<usize>
    where
        F: FnMut(usize, &Spans) -> bool,
    {
        if !path.starts_with('/') {
            return None;
        }
        self.find(0, path.as_bytes(), 1, spans, accept)
            .map(|v| v as usize)
    }

    fn find<F>(
        &self,
        node: u32,
        path: &[u8],
        start: usize,
        spans: &mut Spans,
        accept: &mut F,
    ) -> Option<u32>
    where
        F: FnMut(usize, &Spans) -> bool,
    {
        let flat = self.nodes[node as usize];
        let end = find::<b'/'>(path, start);
        let last = end == path.len();

        if flat.statics {
            if let Some(child) = self.static_child(node, path, start, end) {
                if let Some(found) = self.descend(child, path, end, last, spans, accept) {
                    return Some(found);
                }
            }
        }
        if flat.param != NONE && end > start {
            spans.push((start, end));
            if let Some(found) = self.descend(flat.param, path, end, last, spans, accept) {
                return Some(found);
            }
            spans.pop();
        }
        if flat.catch_all != NONE && (start < path.len() || self.empty_rest) {
            spans.push((start, path.len()));
            if accept(flat.catch_all as usize, spans) {
                return Some(flat.catch_all);
            }
            spans.pop();
        }
        None
    }

    #[inline]
    fn descend<F>(
        &self,
        node: u32,
        path: &[u8],
        end: usize,
        last: bool,
        spans: &mut Spans,
        accept: &mut F,
    ) -> Option<u32>
    where
        F: FnMut(usize, &Spans) -> bool,
    {
        if last {
            let value = self.nodes[node as usize].value;
            (value != NONE && accept(value as usize, spans)).then_some(value)
        } else {
            self.find(node, path, end + 1, spans, accept)
        }
    }

    #[inline]
    fn static_child(&self, parent: u32, path: &[u8], start: usize, end: usize) -> Option<u32> {
        let len = (end - start) as u32;
        let (head, tail) = key(path, start, end);
        let mut at = slot(parent, len, head, tail) & self.mask;
        loop {
            let edge = &self.edges[at];
            if edge.parent == NONE {
                return None;
            }
            if edge.parent == parent
                && edge.len == len
                && edge.head == head
                && edge.tail == tail
                && (edge.text == NONE || *self.long[edge.text as usize] == path[start..end])
            {
                return Some(edge.child);
            }
            at = (at + 1) & self.mask;
        }
    }
}

/// `bytes[start..end]` as two words: the first eight bytes and, for up to 16 bytes, the rest
/// (zero-padded), else the last eight. With the length, a key of up to 16 bytes is the text.
#[inline(always)]
fn key(bytes: &[u8], start: usize, end: usize) -> (u64, u64) {
    let n = end - start;
    if n <= 8 {
        (word(bytes, start, n), 0)
    } else if n <= 16 {
        (word(bytes, start, 8), word(bytes, start + 8, n - 8))
    } else {
        (word(bytes, start, 8), word(bytes, end - 8, 8))
    }
}

/// `n <= 8` bytes at `at` as a little-endian word, upper bytes zero. Reads one whole word
/// (the eight bytes from `at`, or the eight ending at `at + n`, as the slice allows) and
/// masks or shifts it, which is the case for every segment of a path eight bytes or longer.
#[inline(always)]
fn word(bytes: &[u8], at: usize, n: usize) -> u64 {
    if n == 0 {
        return 0;
    }
    if let Some(chunk) = bytes.get(at..at + 8) {
        let w = load(chunk);
        return if n == 8 {
            w
        } else {
            w & ((1u64 << (n * 8)) - 1)
        };
    }
    let end = at + n;
    if let Some(chunk) = end.checked_sub(8).and_then(|from| bytes.get(from..end)) {
        let w = load(chunk);
        return w >> ((8 - n) * 8);
    }
    let mut buf = [0u8; 8];
    buf[..n].copy_from_slice(&bytes[at..end]);
    u64::from_le_bytes(buf)
}

#[inline(always)]
fn slot(parent: u32, len: u32, head: u64, tail: u64) -> usize {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let a = head ^ (u64::from(parent) << 32 | u64::from(len)).wrapping_mul(K);
    let b = tail ^ K;
    let full = u128::from(a) * u128::from(b);
    (full as u64 ^ (full >> 64) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::Pattern;
    use crate::tree::Node;

    fn table(routes: &[&str]) -> Table {
        table_with(routes, false)
    }

    fn table_with(routes: &[&str], empty_rest: bool) -> Table {
        let mut root = Node::default();
        for (i, route) in routes.iter().enumerate() {
            root.insert(&Pattern::parse(route).unwrap().segments, i)
                .unwrap_or_else(|e| panic!("{route} conflicts with {}", routes[e]));
        }
        Table::compile(&root, empty_rest)
    }

    fn lookup<'p>(root: &Table, routes: &[&'p str], path: &str) -> Option<(&'p str, Vec<String>)> {
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
    fn a_catch_all_matches_an_empty_rest_when_asked() {
        let routes = [
            "/",
            "/users/",
            "/users/{*rest}",
            "/files/{*path}",
            "/{x}/{*tail}",
        ];
        let root = table_with(&routes, true);
        type Case<'a> = (&'a str, Option<(&'a str, &'a [&'a str])>);
        let cases: &[Case] = &[
            ("/files/", Some(("/files/{*path}", &[""]))),
            ("/files/a", Some(("/files/{*path}", &["a"]))),
            // Static still wins over the catch-all.
            ("/users/", Some(("/users/", &[]))),
            ("/users/x", Some(("/users/{*rest}", &["x"]))),
            // Without the slash before it there is no rest to be empty.
            ("/files", None),
            ("/q/", Some(("/{x}/{*tail}", &["q", ""]))),
            ("/q", None),
        ];
        for (path, expected) in cases {
            let got = lookup(&root, &routes, path);
            let expected = expected.map(|(r, v)| (r, v.iter().map(|s| s.to_string()).collect()));
            assert_eq!(got, expected, "{path}");
        }
        // Off (the default): an empty rest matches nothing.
        let strict = table(&routes);
        assert_eq!(lookup(&strict, &routes, "/files/"), None);
        assert_eq!(lookup(&strict, &routes, "/q/"), None);
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
    fn a_refused_value_backtracks_to_the_next_candidate() {
        let routes = [
            "/docs/{page}",
            "/docs/{*rest}",
            "/docs/index",
            "/{*fallback}",
        ];
        let root = table(&routes);
        // The route `path` reaches when the routes numbered in `refused` refuse it, with how
        // many spans are left: a refused route's spans are gone.
        let at = |path: &str, refused: &[usize]| {
            let mut spans = Spans::new();
            let found = root.at_where(path, &mut spans, &mut |r, _| !refused.contains(&r));
            found.map(|i| (routes[i], spans.len()))
        };
        assert_eq!(at("/docs/7", &[]), Some(("/docs/{page}", 1)));
        assert_eq!(at("/docs/7", &[0]), Some(("/docs/{*rest}", 1)));
        assert_eq!(at("/docs/7", &[0, 1]), Some(("/{*fallback}", 1)));
        assert_eq!(at("/docs/index", &[2]), Some(("/docs/{page}", 1)));
        assert_eq!(at("/docs/index", &[0, 1, 2, 3]), None);
    }

    #[test]
    fn long_segments_and_shared_keys() {
        // Segments over 16 bytes share a key when their first and last eight bytes agree.
        let routes = [
            "/abcdefgh-one-ijklmnop",
            "/abcdefgh-two-ijklmnop",
            "/abcdefghijklmnop",
            "/abcdefghijklmno",
            "/abcdefgh",
            "/abcdefg",
            "/x/{id}/abcdefghijklmnopqrstuvwxyz",
        ];
        let root = table(&routes);
        for route in &routes[..6] {
            assert_eq!(
                lookup(&root, &routes, route),
                Some((*route, vec![])),
                "{route}"
            );
        }
        assert_eq!(
            lookup(&root, &routes, "/x/7/abcdefghijklmnopqrstuvwxyz"),
            Some((routes[6], vec!["7".to_owned()]))
        );
        for path in [
            "/abcdefgh-six-ijklmnop",
            "/abcdefghijklmnoq",
            "/abcdefghi",
            "/abcdef",
            "/x/7/abcdefghijklmnopqrstuvwxyZ",
        ] {
            assert_eq!(lookup(&root, &routes, path), None, "{path}");
        }
    }

    #[test]
    fn many_children_of_one_node() {
        // More edges than one probe sequence would like: every one is still found.
        let routes: Vec<String> = (0..500).map(|i| format!("/n{i}/leaf")).collect();
        let routes: Vec<&str> = routes.iter().map(String::as_str).collect();
        let root = table(&routes);
        for route in &routes {
            assert_eq!(lookup(&root, &routes, route), Some((*route, vec![])));
        }
        assert_eq!(lookup(&root, &routes, "/n500/leaf"), None);
    }
}
