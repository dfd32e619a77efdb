//! Routes without parameters, found by their whole path in one hash lookup.

use rustc_hash::FxHashMap;

/// Exact paths of parameter-free routes, with a filter on their lengths.
///
/// Most requests to an API with parameters are not for a static route; the length filter
/// (one bit per path length, lengths of 127 bytes and more sharing the last bit) turns most
/// of those into a shift and a mask instead of hashing the whole path.
#[derive(Debug, Default)]
pub(crate) struct Statics {
    paths: FxHashMap<Box<str>, usize>,
    lengths: u128,
}

impl Statics {
    pub(crate) fn insert(&mut self, path: Box<str>, index: usize) {
        self.lengths |= length_bit(path.len());
        self.paths.insert(path, index);
    }

    #[inline]
    pub(crate) fn get(&self, path: &str) -> Option<usize> {
        if self.lengths & length_bit(path.len()) == 0 {
            return None;
        }
        self.paths.get(path).copied()
    }
}

#[inline(always)]
fn length_bit(len: usize) -> u128 {
    1 << len.min(127)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_paths_of_every_length() {
        let mut statics = Statics::default();
        let long = format!("/{}", "a".repeat(300));
        for (i, path) in ["/", "/users", "/user/repos", long.as_str()]
            .iter()
            .enumerate()
        {
            statics.insert((*path).into(), i);
        }
        assert_eq!(statics.get("/"), Some(0));
        assert_eq!(statics.get("/users"), Some(1));
        assert_eq!(statics.get("/user/repos"), Some(2));
        assert_eq!(statics.get(&long), Some(3));
        // Same length, other text; other lengths; long paths sharing the last length bit.
        assert_eq!(statics.get("/usera"), None);
        assert_eq!(statics.get("/user"), None);
        assert_eq!(statics.get(&format!("/{}", "a".repeat(299))), None);
        assert_eq!(statics.get(""), None);
    }
}
