//! What a request is counted against: its client address, a header, or your function.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use http::header::{HeaderMap, HeaderName};
use http::request::Parts;
use http::Extensions;
use http::Request;
use smallvec::SmallVec;

use super::client_ip::ClientIp;
use crate::head::with_head;

/// A key as stored: IPs as 5 or 17 bytes (a family tag and the address), other keys as given
/// when they are at most [`MAX_RAW_KEY`] bytes, else as their 32-byte SHA-256. Every key fits
/// inline, so an entry of the in-process store is the same size whatever clients send, and a
/// Redis key is bounded too. (Raw keys are shorter than digests, so the two never collide.)
pub(crate) type KeyBuf = SmallVec<[u8; 32]>;

/// The longest key stored as given.
pub(crate) const MAX_RAW_KEY: usize = 31;

pub(crate) type KeyFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

#[derive(Clone)]
pub(crate) enum KeySource {
    ClientIp(ClientIp),
    Header(HeaderName),
    Func(KeyFn),
}

/// What a request is counted against.
pub(crate) enum Keyed {
    /// This key.
    Key(KeyBuf),
    /// Nothing: the request is not limited (no peer address in the extensions, no such
    /// header, or the function said so).
    Unlimited,
    /// The key header appears more than once. Which one would count? Another layer (an
    /// authentication check) may read a different one than the limiter, so a client could
    /// send its real key for the one and a fresh one per request for the other: refused.
    Ambiguous,
}

impl KeySource {
    /// The key of a request with these head fields, found by reference (the request stays where
    /// it is); `Err(f)` for a key function, which sees the whole head ([`key_by`]).
    #[inline]
    pub(crate) fn key_of(
        &self,
        headers: &HeaderMap,
        extensions: &Extensions,
    ) -> Result<Keyed, &KeyFn> {
        Ok(match self {
            KeySource::ClientIp(client) => match client.resolve(headers, extensions) {
                Some(ip) => Keyed::Key(ip_key(ip)),
                None => Keyed::Unlimited,
            },
            KeySource::Header(name) => {
                let mut fields = headers.get_all(name).iter();
                match (fields.next(), fields.next()) {
                    (None, _) => Keyed::Unlimited,
                    (Some(value), None) => Keyed::Key(bounded_key(value.as_bytes())),
                    (Some(_), Some(_)) => Keyed::Ambiguous,
                }
            }
            KeySource::Func(f) => return Err(f),
        })
    }
}

/// The key the key function `f` gives, shown the request head as [`Parts`]; the request is
/// handed back unchanged.
pub(crate) fn key_by<B>(f: &KeyFn, req: Request<B>) -> (Request<B>, Keyed) {
    with_head(req, |parts| match f(parts) {
        Some(k) => Keyed::Key(bounded_key(k.as_bytes())),
        None => Keyed::Unlimited,
    })
}

/// `key` as stored: itself if short, else its SHA-256.
pub(crate) fn bounded_key(key: &[u8]) -> KeyBuf {
    if key.len() <= MAX_RAW_KEY {
        KeyBuf::from_slice(key)
    } else {
        KeyBuf::from_slice(ring::digest::digest(&ring::digest::SHA256, key).as_ref())
    }
}

fn ip_key(ip: IpAddr) -> KeyBuf {
    let mut key = KeyBuf::new();
    match ip {
        IpAddr::V4(v4) => {
            key.push(4);
            key.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            key.push(6);
            key.extend_from_slice(&v6.octets());
        }
    }
    key
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::ClientIp(c) => f.debug_tuple("ClientIp").field(c).finish(),
            KeySource::Header(h) => f.debug_tuple("Header").field(h).finish(),
            KeySource::Func(_) => f.write_str("Func(..)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_kept_and_long_ones_hashed_to_32_bytes() {
        assert_eq!(&bounded_key(b"k-1")[..], b"k-1");
        let exact = [b'a'; MAX_RAW_KEY];
        assert_eq!(&bounded_key(&exact)[..], &exact[..]);
        let long = vec![b'x'; 64 * 1024];
        let hashed = bounded_key(&long);
        assert_eq!(hashed.len(), 32);
        assert!(!hashed.spilled(), "a hashed key is stored inline");
        let mut other = long.clone();
        other[40_000] = b'y';
        assert_ne!(
            hashed,
            bounded_key(&other),
            "distinct long keys stay distinct"
        );
        assert_eq!(
            hashed,
            bounded_key(&long),
            "and the same key maps to the same entry"
        );
    }
}
