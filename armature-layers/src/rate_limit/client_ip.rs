//! Which address a request comes from: the peer, or — behind trusted proxies — the rightmost
//! untrusted hop of `X-Forwarded-For` or `Forwarded`.

use std::net::{IpAddr, SocketAddr};

use http::header::{HeaderName, FORWARDED};
use http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// The header trusted proxies use to pass on the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (the de-facto standard).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:4711"`.
    Forwarded,
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

#[derive(Debug, Clone)]
pub(crate) struct ClientIp {
    pub(crate) trusted: Vec<IpNet>,
    pub(crate) header: ForwardedHeader,
    /// IPv6 addresses are keyed by this prefix (a /64 is what one customer usually gets).
    pub(crate) ipv6_prefix: u8,
}

impl ClientIp {
    /// The client's address: the peer's (the `SocketAddr` the server put in the extensions)
    /// unless the peer is a trusted proxy; then, walking the forwarding header from the right
    /// (the hop nearest to us), the first address that is not a trusted proxy. The leftmost
    /// entries are whatever the client chose to send, so they are only used when every hop to
    /// their right is trusted. An entry that does not parse stops the walk at the last trusted
    /// hop (that proxy is then limited as the client).
    pub(crate) fn resolve(&self, headers: &HeaderMap, extensions: &Extensions) -> Option<IpAddr> {
        let peer = extensions.get::<SocketAddr>()?.ip().to_canonical();
        if !self.is_trusted(peer) {
            return Some(self.mask(peer));
        }
        let name = match self.header {
            ForwardedHeader::XForwardedFor => &X_FORWARDED_FOR,
            ForwardedHeader::Forwarded => &FORWARDED,
        };
        let mut last = peer;
        // Later fields are further right: a proxy appends.
        for field in headers.get_all(name).iter().rev() {
            // Element by element: bytes that are not text in a client-written element to the
            // left must not spoil the hops that trusted proxies appended to the same field.
            for element in field.as_bytes().rsplit(|&b| b == b',') {
                let Ok(element) = std::str::from_utf8(element) else {
                    return Some(self.mask(last));
                };
                let hop = match self.header {
                    ForwardedHeader::XForwardedFor => parse_node(element),
                    ForwardedHeader::Forwarded => forwarded_for(element).and_then(parse_node),
                };
                let Some(hop) = hop.map(|ip| ip.to_canonical()) else {
                    return Some(self.mask(last));
                };
                if !self.is_trusted(hop) {
                    return Some(self.mask(hop));
                }
                last = hop;
            }
        }
        Some(self.mask(last))
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }

    fn mask(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V6(v6) if self.ipv6_prefix < 128 => {
                let bits = u128::from(v6);
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.ipv6_prefix))
                    .unwrap_or(0);
                IpAddr::V6((bits & mask).into())
            }
            ip => ip,
        }
    }
}

/// The `for=` value of one `Forwarded` element (`for=1.2.3.4;proto=https`), unquoted.
fn forwarded_for(element: &str) -> Option<&str> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.eq_ignore_ascii_case("for")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:80`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    node.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn client(trusted: &[&str], header: ForwardedHeader) -> ClientIp {
        ClientIp {
            trusted: trusted.iter().map(|n| n.parse().unwrap()).collect(),
            header,
            ipv6_prefix: 128,
        }
    }

    fn resolve(c: &ClientIp, peer: &str, fields: &[&str]) -> Option<IpAddr> {
        let mut ext = Extensions::new();
        ext.insert(peer.parse::<SocketAddr>().unwrap());
        let mut headers = HeaderMap::new();
        let name = match c.header {
            ForwardedHeader::XForwardedFor => X_FORWARDED_FOR,
            ForwardedHeader::Forwarded => FORWARDED,
        };
        for f in fields {
            headers.append(name.clone(), HeaderValue::from_str(f).unwrap());
        }
        c.resolve(&headers, &ext)
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let c = client(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        assert_eq!(
            resolve(&c, "203.0.113.9:5000", &["1.1.1.1"]),
            ip("203.0.113.9")
        );
        let none = client(&[], ForwardedHeader::XForwardedFor);
        assert_eq!(
            resolve(&none, "10.0.0.1:5000", &["1.1.1.1"]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_wins() {
        let c = client(
            &["10.0.0.0/8", "192.168.1.1/32"],
            ForwardedHeader::XForwardedFor,
        );
        // The client sent a spoofed "6.6.6.6"; the edge proxy appended the real 198.51.100.7.
        let got = resolve(&c, "10.0.0.2:1", &["6.6.6.6, 198.51.100.7, 192.168.1.1"]);
        assert_eq!(got, ip("198.51.100.7"));
        // Split over two fields: the later field is further right.
        let got = resolve(&c, "10.0.0.2:1", &["6.6.6.6", "198.51.100.7:443, 10.1.1.1"]);
        assert_eq!(got, ip("198.51.100.7"));
        // Every hop trusted: the leftmost; no header: the proxy itself.
        assert_eq!(
            resolve(&c, "10.0.0.2:1", &["10.9.9.9, 10.1.1.1"]),
            ip("10.9.9.9")
        );
        assert_eq!(resolve(&c, "10.0.0.2:1", &[]), ip("10.0.0.2"));
        // Garbage stops at the last trusted hop.
        assert_eq!(
            resolve(&c, "10.0.0.2:1", &["1.1.1.1, nonsense, 10.1.1.1"]),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn forwarded_for_values_with_ports_quotes_and_ipv6() {
        let c = client(&["10.0.0.0/8", "::1/128"], ForwardedHeader::Forwarded);
        let got = resolve(
            &c,
            "[::1]:9",
            &[r#"for=6.6.6.6, For="[2001:db8::7]:4711";proto=https, for=10.0.0.3;by=10.0.0.4"#],
        );
        assert_eq!(got, ip("2001:db8::7"));
        assert_eq!(resolve(&c, "10.0.0.5:1", &["for=unknown"]), ip("10.0.0.5"));
        assert_eq!(
            resolve(&c, "10.0.0.5:1", &["for=192.0.2.60:80"]),
            ip("192.0.2.60")
        );
    }

    #[test]
    fn ipv4_mapped_peers_are_ipv4_and_ipv6_is_keyed_by_prefix() {
        let c = client(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        assert_eq!(
            resolve(&c, "[::ffff:10.0.0.2]:1", &["198.51.100.7"]),
            ip("198.51.100.7")
        );
        let mut c = client(&[], ForwardedHeader::XForwardedFor);
        c.ipv6_prefix = 64;
        assert_eq!(
            resolve(&c, "[2001:db8:1:2:3:4:5:6]:1", &[]),
            ip("2001:db8:1:2::")
        );
        assert_eq!(resolve(&c, "192.0.2.1:1", &[]), ip("192.0.2.1"));
    }
}
