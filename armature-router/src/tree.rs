//! The route trie the builder fills: one node per segment position, where conflicts are found.
//!
//! Routes are inserted segment by segment; two routes of the same shape (same static text,
//! parameters and catch-alls in the same places) meet at the same node and conflict.
//! Parameter names live with the routes, not in the trie, so `/users/{id}/posts` and
//! `/users/{user_id}/likes` can coexist. Lookups do not walk this trie: it is compiled into a
//! [`Table`](crate::table::Table) once the router is built.

use crate::pattern::Segment;

#[derive(Default, Debug)]
pub(crate) struct Node {
    /// Static children in insertion order.
    pub(crate) statics: Vec<(Box<str>, Node)>,
    pub(crate) param: Option<Box<Node>>,
    /// The value of the catch-all route at this position.
    pub(crate) catch_all: Option<usize>,
    /// The value of the route ending here.
    pub(crate) value: Option<usize>,
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
                        self.statics.push((text.clone(), Node::default()));
                        self.statics.len() - 1
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::Pattern;

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
