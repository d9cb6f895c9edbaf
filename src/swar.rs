//! Eight bytes at a time in a `u64` (SWAR): the word primitives the crate's byte scanners
//! share (the JSON string classifier, the splitter's portable newline mask, the timestamp
//! cache's prefix compare). Portable and `unsafe`-free; every mask sets the high bit of each
//! byte it flags, exactly (no carry crosses a byte).

/// `0x01` in every byte.
pub(crate) const LO: u64 = 0x0101_0101_0101_0101;
/// `0x80` in every byte.
pub(crate) const HI: u64 = 0x8080_8080_8080_8080;
/// `0x7f` in every byte.
pub(crate) const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// `b` in every byte.
#[inline]
pub(crate) const fn splat(b: u8) -> u64 {
    LO * b as u64
}

/// The 8 bytes at `s[i..i + 8]`, little-endian (byte `i` is the low byte).
#[inline(always)]
pub(crate) fn load(s: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[i..i + 8]);
    u64::from_le_bytes(w)
}

/// High bit set in each byte of `x` that is zero, exactly.
#[inline(always)]
pub(crate) const fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// Bytes of `w` equal to `b`.
#[inline(always)]
pub(crate) const fn eq(w: u64, b: u8) -> u64 {
    zero_bytes(w ^ splat(b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn eq_flags_exactly_the_equal_bytes() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut bytes = [b.wrapping_add(1); 8];
                bytes[at] = b;
                let w = u64::from_le_bytes(bytes);
                assert_eq!(super::eq(w, b), 0x80 << (8 * at), "{b} at {at}");
            }
        }
    }
}
