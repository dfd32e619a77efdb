//! [`find`]: the first occurrence of a byte in a path, eight bytes at a time. The router
//! looks for `/` to cut segments and for `%` to know whether a path needs decoding.

/// The index of the first `NEEDLE` at or after `start` in `bytes`, or `bytes.len()`.
#[inline(always)]
pub(crate) fn find<const NEEDLE: u8>(bytes: &[u8], start: usize) -> usize {
    let needles: u64 = u64::from_ne_bytes([NEEDLE; 8]);
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    // The high bit of every byte of `w` that is `NEEDLE`, and no other bit (no carries between
    // bytes, so unlike the shorter `(x - 0x01..) & !x` trick it may be masked afterwards).
    let matches = |w: u64| {
        let x = w ^ needles;
        !(((x & LOW7) + LOW7) | x | LOW7)
    };
    let mut at = start;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let found = matches(load(chunk));
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    if at < bytes.len() && bytes.len() >= 8 {
        // The last eight bytes, ignoring those before `at` (already searched, or before `start`).
        let from = bytes.len() - 8;
        let chunk = &bytes[from..];
        let found = matches(load(chunk)) & (u64::MAX << ((at - from) * 8));
        return if found != 0 {
            from + (found.trailing_zeros() / 8) as usize
        } else {
            bytes.len()
        };
    }
    bytes[at..]
        .iter()
        .position(|&b| b == NEEDLE)
        .map_or(bytes.len(), |i| at + i)
}

/// Eight bytes as a little-endian word.
#[inline(always)]
pub(crate) fn load(chunk: &[u8]) -> u64 {
    u64::from_le_bytes(chunk.try_into().expect("eight bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length up to 40, the needle (or none) at every position, the byte that differs
    /// from it in one bit (which a borrowing zero-byte test misreports) around it, and every
    /// start.
    fn agrees_with_a_byte_scan<const NEEDLE: u8>(find: impl Fn(&[u8], usize) -> usize) {
        for len in 0..40 {
            for at in (0..len).map(Some).chain([None]) {
                let mut bytes = vec![NEEDLE ^ 1; len];
                if let Some(i) = at {
                    bytes[i] = NEEDLE;
                }
                for start in 0..=len {
                    let expected = bytes[start..]
                        .iter()
                        .position(|&b| b == NEEDLE)
                        .map_or(len, |i| start + i);
                    assert_eq!(find(&bytes, start), expected, "{bytes:?} from {start}");
                }
            }
        }
    }

    #[test]
    fn finds_what_a_byte_scan_finds() {
        agrees_with_a_byte_scan::<b'/'>(find::<b'/'>);
        agrees_with_a_byte_scan::<b'%'>(find::<b'%'>);
    }
}
