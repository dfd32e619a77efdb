use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use http::HeaderValue;

/// The id of one request, in the request's extensions (for handlers and the logger). The
/// response carries it in its header (`x-request-id` by default), where layers outside
/// [`RequestIdLayer`](super::RequestIdLayer) read it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A fresh, process-unique id in the form of a random (version 4) UUID, RFC 9562:
    /// `8-4-4-4-12` hex digits, `4` the version digit and `8`–`b` the variant digit, so
    /// strict UUID validators accept it.
    ///
    /// ```
    /// use armature_layers::request_id::RequestId;
    ///
    /// let (a, b) = (RequestId::generate(), RequestId::generate());
    /// assert_ne!(a, b);
    /// assert_eq!(a.as_str().len(), 36);
    /// ```
    pub fn generate() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        static KEY: OnceLock<(u64, u64)> = OnceLock::new();
        let &(k0, k1) = KEY.get_or_init(|| {
            let state = RandomState::new();
            (state.hash_one(0u8), state.hash_one(1u8))
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // A bijective mix of the counter's 60 low bits keeps ids unique (for 2^60 requests);
        // the key makes them differ per process. The version nibble goes in between.
        let unique = mix60(n ^ k0);
        let hi = (unique >> 12) << 16 | 0x4000 | (unique & 0xfff);
        let lo = mix(n.wrapping_add(k1)) ^ k0.rotate_left(17);
        let lo = lo & (u64::MAX >> 2) | 1 << 63;
        // One allocation, shared by every clone (the request and response headers, the
        // extensions): `from_owner` counts references instead of copying.
        let text = Bytes::from_owner(uuid_text(hi, lo));
        RequestId(
            HeaderValue::from_maybe_shared(text).expect("hex digits and dashes are a valid header"),
        )
    }

    /// Accepts `value` as an id if it is 1 to 128 visible ASCII characters.
    pub(crate) fn parse(value: &HeaderValue) -> Option<Self> {
        Self::is_valid(value).then(|| RequestId(value.clone()))
    }

    /// Whether `value` may be used as an id: 1 to 128 visible ASCII characters, so no space
    /// or tab that would let it pose as another field of a log line, and a bounded length.
    pub(crate) fn is_valid(value: &HeaderValue) -> bool {
        let bytes = value.as_bytes();
        !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only visible ASCII is ever stored.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }

    /// The id as a header value, taken by value.
    pub(crate) fn into_header_value(self) -> HeaderValue {
        self.0
    }
}

/// splitmix64's finalizer: a bijection on u64 with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A bijection of the low 60 bits of `z` (xor-shifts and odd multipliers, all mod 2^60).
fn mix60(z: u64) -> u64 {
    const MASK: u64 = (1 << 60) - 1;
    let mut z = z & MASK;
    z = ((z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9)) & MASK;
    z = ((z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb)) & MASK;
    z ^ (z >> 31)
}

/// `hi` and `lo` as 32 lower-case hex digits in UUID groups: `8-4-4-4-12`.
fn uuid_text(hi: u64, lo: u64) -> [u8; 36] {
    let mut out = [b'-'; 36];
    let (hi, lo) = (hex_digits(hi), hex_digits(lo));
    out[0..8].copy_from_slice(&hi[0..8]);
    out[9..13].copy_from_slice(&hi[8..12]);
    out[14..18].copy_from_slice(&hi[12..16]);
    out[19..23].copy_from_slice(&lo[0..4]);
    out[24..36].copy_from_slice(&lo[4..16]);
    out
}

/// `word` as 16 lower-case hex digits, most significant first: each nibble spread to a byte of
/// its own, then all of them turned into ASCII at once (a few word operations instead of a
/// loop of sixteen table lookups, on every request).
fn hex_digits(word: u64) -> [u8; 16] {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let ascii = |half: u64| -> [u8; 8] {
        // 0x12345678 -> 0x0102030405060708.
        let x = (half | half << 16) & 0x0000_ffff_0000_ffff;
        let x = (x | x << 8) & 0x00ff_00ff_00ff_00ff;
        let nibbles = (x | x << 4) & 0x0f0f_0f0f_0f0f_0f0f;
        // Per byte: `'0' + n`, and `'a' - '0' - 10` (39) more where n > 9; no byte carries.
        let letters = ((nibbles + 6 * ONES) >> 4) & ONES;
        (nibbles + u64::from(b'0') * ONES + letters * 39).to_be_bytes()
    };
    let mut out = [0; 16];
    out[..8].copy_from_slice(&ascii(word >> 32));
    out[8..].copy_from_slice(&ascii(word & 0xffff_ffff));
    out
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn generated_ids_are_unique_and_uuid_shaped() {
        let ids: HashSet<String> = (0..10_000)
            .map(|_| RequestId::generate().to_string())
            .collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(10) {
            let groups: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{id}");
            assert!(
                id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()),
                "{id}"
            );
        }
        // RFC 9562's version 4 layout: the version digit 4, the variant digit 8, 9, a or b.
        for id in &ids {
            assert_eq!(&id[14..15], "4", "{id}");
            assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        }
    }

    #[test]
    fn hex_digits_agree_with_format_lower_hex() {
        let mut word = 0x0123_4567_89ab_cdefu64;
        for edge in [
            0,
            9,
            10,
            15,
            16,
            u64::MAX,
            0xa0a0_a0a0_a0a0_a0a0,
            0x9f9f_9f9f_9f9f_9f9f,
        ] {
            assert_eq!(hex_digits(edge), *format!("{edge:016x}").as_bytes());
        }
        for _ in 0..10_000 {
            word = mix(word);
            assert_eq!(hex_digits(word), *format!("{word:016x}").as_bytes());
        }
    }

    #[test]
    fn the_unique_part_is_a_bijection() {
        // Distinct inputs (consecutive, and far apart) stay distinct after mixing.
        let mixed: HashSet<u64> = (0..100_000u64)
            .chain((0..1000).map(|i| i << 50))
            .map(mix60)
            .collect();
        assert_eq!(mixed.len(), 100_000 + 999);
        assert!(mixed.iter().all(|&z| z < 1 << 60));
    }

    #[test]
    fn incoming_ids_are_validated() {
        let ok = HeaderValue::from_static("abc-123");
        assert_eq!(RequestId::parse(&ok).unwrap().as_str(), "abc-123");
        for bad in ["", "has space", &"x".repeat(129)] {
            assert!(
                RequestId::parse(&HeaderValue::from_str(bad).unwrap()).is_none(),
                "{bad:?}"
            );
        }
        let non_ascii = HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap();
        assert!(RequestId::parse(&non_ascii).is_none());
    }
}
