//! What a request is counted against: its client address, a header, or your function.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use http::header::HeaderName;
use http::request::Parts;
use http::Request;
use smallvec::SmallVec;

use super::client_ip::ClientIp;

/// A key as stored: IPs as 5 or 17 bytes (a family tag and the address), other keys as given.
pub(crate) type KeyBuf = SmallVec<[u8; 32]>;

pub(crate) type KeyFn = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

#[derive(Clone)]
pub(crate) enum KeySource {
    ClientIp(ClientIp),
    Header(HeaderName),
    Func(KeyFn),
}

impl KeySource {
    /// The key of `req`, or `None` when the request has none (no peer address in the
    /// extensions, no such header, or the function said so): such requests are not limited.
    pub(crate) fn key_of<B>(&self, req: Request<B>) -> (Request<B>, Option<KeyBuf>) {
        let key = match self {
            KeySource::ClientIp(client) => {
                client.resolve(req.headers(), req.extensions()).map(ip_key)
            }
            KeySource::Header(name) => req
                .headers()
                .get(name)
                .map(|value| KeyBuf::from_slice(value.as_bytes())),
            KeySource::Func(f) => {
                let (parts, body) = req.into_parts();
                let key = f(&parts).map(|k| KeyBuf::from_slice(k.as_bytes()));
                return (Request::from_parts(parts, body), key);
            }
        };
        (req, key)
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
