//! The unescaper: a JSON string body decoded as Go's `unquoteBytes` does.
//!
//! The body is searched 16 bytes at a time for `"` or `\` ([`quote_or_backslash_16`]: SSE2
//! on x86_64, SWAR elsewhere), and after an escape copied and searched 32 at a time. The usual dockerd value (no escape, or only a final `\n`) is
//! not copied; any other is decoded into a scratch buffer that keeps its length between
//! records, so nothing is zeroed or reallocated per record once it fits the longest line.
//!
//! [`unescape_string_in_line`] reads a body that is not cut at its line's end (the read
//! buffer from a record's start): the same scan also stops at a raw `\n`
//! ([`stops_nl_16`]), so a reader finds a Docker record's end while decoding it, in one pass
//! over its bytes instead of a newline search and then this one. On x86_64 with AVX2
//! (detected at run time) it classifies 32 bytes per compare ([`stops_nl_32_avx2`]); its
//! `unsafe` is that classifier's block (SSE2 for the 16-byte ones) and the two calls into
//! code compiled for AVX2 after `is_x86_feature_detected!`, each tested against the
//! portable path.

use super::{find_quote_or_backslash, quote_or_backslash_16};
use crate::swar::{eq, load};

/// Where [`unescape_string`] left a string's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unescaped {
    /// No escapes: the value is the body up to the closing quote.
    Raw,
    /// The only escape is a final `\n` (dockerd's every complete line): the value is the
    /// body up to the closing quote less those two bytes, then a newline. Nothing is copied.
    RawThenNewline,
    /// Decoded into the first `len` bytes of the scratch buffer (the rest is left over).
    Scratch(usize),
}

/// Reads a JSON string body from `body[0]` (after its opening quote) to its closing quote, as
/// Go's `unquoteBytes` decodes it: returns the quote's index and where the value is
/// ([`Unescaped`]; `scratch` is written only for [`Unescaped::Scratch`], and only its first
/// `len` bytes are the value). `None`: no closing quote, or an escape Go rejects. Raw control
/// bytes and invalid UTF-8 are passed through as they are (the caller decides; Go would
/// reject the first and replace the second).
#[inline]
pub(crate) fn unescape_string(body: &[u8], scratch: &mut Vec<u8>) -> Option<(usize, Unescaped)> {
    let at = find_quote_or_backslash(body)?;
    if body[at] == b'"' {
        return Some((at, Unescaped::Raw));
    }
    if body.get(at + 1..at + 3) == Some(b"n\"") {
        return Some((at + 2, Unescaped::RawThenNewline));
    }
    unescape_into::<false>(body, at, scratch)
}

/// [`unescape_string`] of the body up to its first raw `\n`, for a body that runs on past the
/// end of its line: `None` also when a `\n` comes before the closing quote (the value is then
/// cut by its line's end, and [`unescape_string`] of the cut body is `None` too). The result
/// is otherwise [`unescape_string`]'s, found without looking past the closing quote. Bodies
/// up to about 64 KiB are meant (the caller bounds it): an escaped value makes `scratch` that
/// long.
///
/// On x86_64 with AVX2 (detected at run time) its searches classify 32 bytes in one step
/// ([`stops_nl_32_avx2`]), else in two SSE2 (or SWAR) halves.
#[inline]
pub(crate) fn unescape_string_in_line(
    body: &[u8],
    scratch: &mut Vec<u8>,
) -> Option<(usize, Unescaped)> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, just checked.
        return unsafe { in_line_avx2(body, scratch) };
    }
    in_line::<false>(body, scratch)
}

/// [`in_line`] compiled for AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn in_line_avx2(body: &[u8], scratch: &mut Vec<u8>) -> Option<(usize, Unescaped)> {
    in_line::<true>(body, scratch)
}

/// [`unescape_string_in_line`], its 32-byte steps in one AVX2 classifier with `AVX2` (only
/// inlined into [`in_line_avx2`]).
#[inline(always)]
fn in_line<const AVX2: bool>(body: &[u8], scratch: &mut Vec<u8>) -> Option<(usize, Unescaped)> {
    let at = find_stop_nl::<AVX2>(body)?;
    match body[at] {
        b'"' => return Some((at, Unescaped::Raw)),
        b'\n' => return None,
        _ => {}
    }
    if body.get(at + 1..at + 3) == Some(b"n\"") {
        return Some((at + 2, Unescaped::RawThenNewline));
    }
    #[cfg(target_arch = "x86_64")]
    if AVX2 {
        // SAFETY: `in_line::<true>` is only reached through `in_line_avx2`, called after
        // `is_x86_feature_detected!("avx2")`.
        return unsafe { unescape_into_nl_avx2(body, at, scratch) };
    }
    unescape_into::<true>(body, at, scratch)
}

/// The stops (see [`stops_16`]) of a 32-byte block: bit `i` for `block[i]`. With `AVX2`
/// (and `NL`) one AVX2 classifier; it must then be inlined only into code that runs after
/// `is_x86_feature_detected!("avx2")` (the `_avx2` functions).
#[inline(always)]
fn stops_32<const NL: bool, const AVX2: bool>(block: &[u8; 32]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if NL && AVX2 {
        // SAFETY: `AVX2` is true only in the `_avx2` functions, called after
        // `is_x86_feature_detected!("avx2")`.
        return unsafe { stops_nl_32_avx2(block) };
    }
    let (lo, hi) = block.split_at(16);
    // The low half's lowest flag comes first; with none, the high half's.
    stops_16::<NL>(lo.try_into().expect("16 bytes"))
        | stops_16::<NL>(hi.try_into().expect("16 bytes")) << 16
}

/// Bit `i` set when `block[i]` is `"`, `\` or `\n`: [`stops_nl_16`] 32 bytes at a time.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn stops_nl_32_avx2(block: &[u8; 32]) -> u32 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };
    // SAFETY: the caller guarantees AVX2; the one load reads the 32 bytes of `block`,
    // unaligned.
    let m = unsafe {
        let v = _mm256_loadu_si256(block.as_ptr().cast::<__m256i>());
        let q = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8));
        let b = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8));
        let n = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\n' as i8));
        _mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(q, b), n))
    };
    m as u32
}

/// The first `"`, `\` or `\n` in `s`: 32 bytes per step while they last (one test per step:
/// the usual record is 100 to 300 bytes), then 16, then a byte at a time.
#[inline(always)]
fn find_stop_nl<const AVX2: bool>(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(block) = s.get(i..i + 32) {
        let m = stops_32::<true, AVX2>(block.try_into().expect("32 bytes"));
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 32;
    }
    if let Some(block) = s.get(i..i + 16) {
        let m = stops_nl_16(block.try_into().expect("16 bytes"));
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 16;
    }
    s[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b == b'\n')
        .map(|k| i + k)
}

/// The stops of the decoding loop: `"` and `\`, and with `NL` a raw `\n` too.
#[inline(always)]
fn stops_16<const NL: bool>(block: &[u8; 16]) -> u32 {
    if NL {
        stops_nl_16(block)
    } else {
        quote_or_backslash_16(block)
    }
}

/// The first stop in `s` (see [`stops_16`]), for the last few bytes of a body.
#[inline(always)]
fn find_stop<const NL: bool>(s: &[u8]) -> Option<usize> {
    if NL {
        find_stop_nl::<false>(s)
    } else {
        find_quote_or_backslash(s)
    }
}

/// Bit `i` set when `block[i]` is `"`, `\` or `\n`: [`quote_or_backslash_16`] that also
/// stops at a line's end. SSE2 on x86_64 (the baseline; every flag exact).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn stops_nl_16(block: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics exist on every x86_64
    // CPU; `block` is 16 readable bytes and `loadu` needs no alignment.
    let m = unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
        let q = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let b = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        let n = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8));
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, b), n))
    };
    // The movemask's 16 low bits are the 16 compares.
    u32::from(m as u16)
}

/// Bit `i` set when `block[i]` is `"`, `\` or `\n` (other targets; the portable twin of the
/// SSE2 version, which the tests check it against).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(crate) fn stops_nl_16(block: &[u8; 16]) -> u32 {
    stops_nl_16_swar(block)
}

/// [`stops_nl_16`] from two SWAR words, each word's exact byte flags gathered into 8 bits by
/// a multiply (one bit per byte, so no carries).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
pub(crate) fn stops_nl_16_swar(block: &[u8; 16]) -> u32 {
    let flags = |w: u64| eq(w, b'"') | eq(w, b'\\') | eq(w, b'\n');
    let gather = |m: u64| ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32;
    gather(flags(load(block, 0))) | gather(flags(load(block, 8))) << 8
}

/// The decoding loop of [`unescape_string`] (and, with `NL`, of [`unescape_string_in_line`])
/// from the first escape at `body[at]`.
// Never inlined: out of line it keeps the escape decoder inlined in its loop, and the
// common values (no escape, a final `\n`) out of its register pressure.
#[inline(never)]
fn unescape_into<const NL: bool>(
    body: &[u8],
    at: usize,
    scratch: &mut Vec<u8>,
) -> Option<(usize, Unescaped)> {
    unescape_loop::<NL, false>(body, at, scratch)
}

/// [`unescape_into`] with `NL`, compiled for AVX2.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline(never)]
unsafe fn unescape_into_nl_avx2(
    body: &[u8],
    at: usize,
    scratch: &mut Vec<u8>,
) -> Option<(usize, Unescaped)> {
    unescape_loop::<true, true>(body, at, scratch)
}

/// The body of [`unescape_into`]; with `AVX2`, for [`unescape_into_nl_avx2`] only.
#[inline(always)]
fn unescape_loop<const NL: bool, const AVX2: bool>(
    body: &[u8],
    at: usize,
    scratch: &mut Vec<u8>,
) -> Option<(usize, Unescaped)> {
    // Unescaping never lengthens (`\"` is 2 bytes for 1, `\uXXXX` 6 for at most 3, a
    // surrogate pair 12 for 4), so `scratch` is sized once for the rest of the line, plus the
    // slack of one 32-byte store, and written by index (no capacity check per piece). It is
    // never shortened: what a previous record left is overwritten before it is read, and
    // the value's length is returned, so only growth is ever zeroed.
    if scratch.len() < body.len() + 32 {
        scratch.resize(body.len() + 32, 0);
    }
    // Exactly the body's length plus one store's slack, so that with `o <= i` the bounds
    // of every store below follow from the body's (the compiler drops their checks).
    let out = &mut scratch[..body.len() + 32];
    out[..at].copy_from_slice(&body[..at]);
    let (mut i, mut o) = (at, at);
    loop {
        // `body[i]` is a backslash. A `\n` before the closing quote ends every complete
        // line dockerd writes: decoded and returned here, without another block scan.
        if body.get(i + 1..i + 3) == Some(b"n\"") {
            out[o] = b'\n';
            return Some((i + 2, Unescaped::Scratch(o + 1)));
        }
        (i, o) = unescape(body, i, out, o)?;
        // Copy blocks up to the next `"` or `\`. The store may write bytes past the match;
        // they are overwritten or cut off. `o <= i` (nothing lengthens), so it fits.
        loop {
            assert!(o <= i, "unescaping never lengthens");
            // 32 bytes per step (two classifiers or one AVX2, one test): half the loop's overhead per
            // byte of the usual gap between escapes.
            if let Some(block) = body.get(i..i + 32) {
                let block: &[u8; 32] = block.try_into().expect("32 bytes");
                out[o..o + 32].copy_from_slice(block);
                let m = stops_32::<NL, AVX2>(block);
                if m == 0 {
                    i += 32;
                    o += 32;
                    continue;
                }
                let k = m.trailing_zeros() as usize;
                i += k;
                o += k;
            } else if let Some(block) = body.get(i..i + 16) {
                let block: &[u8; 16] = block.try_into().expect("16 bytes");
                out[o..o + 16].copy_from_slice(block);
                let m = stops_16::<NL>(block);
                if m == 0 {
                    i += 16;
                    o += 16;
                    continue;
                }
                let k = m.trailing_zeros() as usize;
                i += k;
                o += k;
            } else {
                let k = find_stop::<NL>(body.get(i..)?)?;
                out[o..o + k].copy_from_slice(&body[i..i + k]);
                i += k;
                o += k;
            }
            break;
        }
        if body[i] == b'"' {
            return Some((i, Unescaped::Scratch(o)));
        }
        if NL && body[i] == b'\n' {
            return None;
        }
    }
}

fn hex4(s: &[u8], at: usize) -> Option<u32> {
    let h = s.get(at..at + 4)?;
    let mut v = 0u32;
    for &b in h {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        v = v * 16 + u32::from(d);
    }
    Some(v)
}

/// Decodes the escape at `s[at]` (a backslash) into `out[o..]`; returns the index after it and
/// the new write index. `out` has room: an escape is never shorter than what it decodes to.
// Always inlined into the decoding loop (its one hot caller; with two instances of the loop
// it was outlined, a call per escape).
#[inline(always)]
fn unescape(s: &[u8], at: usize, out: &mut [u8], o: usize) -> Option<(usize, usize)> {
    let c = *s.get(at + 1)?;
    let simple = match c {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'u' => {
            let u = hex4(s, at + 2)?;
            let mut next = at + 6;
            let ch = if (0xD800..0xDC00).contains(&u) {
                // A high surrogate: pair it with a following low surrogate, else U+FFFD (Go).
                match (s.get(next), s.get(next + 1), hex4(s, next + 2)) {
                    (Some(b'\\'), Some(b'u'), Some(lo)) if (0xDC00..0xE000).contains(&lo) => {
                        next += 6;
                        char::from_u32(0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00))
                    }
                    _ => None,
                }
            } else {
                char::from_u32(u)
            };
            let ch = ch.unwrap_or('\u{FFFD}');
            let n = ch.encode_utf8(out.get_mut(o..o + 4)?).len();
            return Some((next, o + n));
        }
        _ => return None,
    };
    *out.get_mut(o)? = simple;
    Some((at + 2, o + 1))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::super::{quote_or_backslash_16, quote_or_backslash_16_swar};
    use super::*;

    /// The SSE2 classifier with `\n` (on x86_64) and its portable twin flag exactly the
    /// `"`, `\` and `\n` bytes, for every byte value at every position among a few neighbours.
    #[test]
    fn newline_classifiers_flag_exactly_the_stops() {
        for b in 0..=255u8 {
            for other in [0u8, b'\n', b'"', b'\\', b'\r', 0x0b, 0x8a, 0xff] {
                for pos in 0..16 {
                    let mut block = [b'a'; 16];
                    block[pos] = b;
                    block[(pos + 5) % 16] = other;
                    let want = block
                        .iter()
                        .enumerate()
                        .filter(|&(_, &c)| c == b'"' || c == b'\\' || c == b'\n')
                        .fold(0u32, |m, (k, _)| m | 1 << k);
                    assert_eq!(stops_nl_16(&block), want, "{block:?}");
                    assert_eq!(stops_nl_16_swar(&block), want, "{block:?}");
                    // The 32-byte step: this block in either half, the other half plain.
                    let mut wide = [b'a'; 32];
                    wide[..16].copy_from_slice(&block);
                    assert_eq!(stops_32::<true, false>(&wide), want, "{wide:?}");
                    wide.rotate_left(16);
                    assert_eq!(stops_32::<true, false>(&wide), want << 16, "{wide:?}");
                    #[cfg(target_arch = "x86_64")]
                    if std::arch::is_x86_feature_detected!("avx2") {
                        // SAFETY: the CPU has AVX2, just checked.
                        let m = unsafe { stops_nl_32_avx2(&wide) };
                        assert_eq!(m, want << 16, "{wide:?}");
                        wide.rotate_left(16);
                        // SAFETY: as above.
                        let m = unsafe { stops_nl_32_avx2(&wide) };
                        assert_eq!(m, want, "{wide:?}");
                    }
                }
            }
        }
    }

    /// The lowest flag of a 16-byte mask, or 16 for none.
    fn lowest(m: u32) -> u32 {
        m.trailing_zeros().min(16)
    }

    /// The SSE2 classifier (on x86_64) and the portable one agree with the byte predicate on
    /// the lowest flag, for every byte value at every position among a few neighbours.
    #[test]
    fn block_classifiers_find_the_first_quote_or_backslash() {
        for b in 0..=255u8 {
            for other in [0u8, b' ', b'"', b'\\', 0x7f, 0x80, 0xdc, 0xff] {
                for pos in 0..16 {
                    let mut block = [b'a'; 16];
                    block[pos] = b;
                    block[(pos + 5) % 16] = other;
                    let want = block
                        .iter()
                        .position(|&c| c == b'"' || c == b'\\')
                        .map_or(16, |k| k as u32);
                    assert_eq!(lowest(quote_or_backslash_16(&block)), want, "{block:?}");
                    assert_eq!(
                        lowest(quote_or_backslash_16_swar(&block)),
                        want,
                        "{block:?}"
                    );
                }
            }
        }
    }

    /// Byte at a time: the unescaper before the block scan.
    fn naive(body: &[u8]) -> Option<(usize, Vec<u8>)> {
        let mut out = vec![0u8; body.len() + 4];
        let (mut i, mut o) = (0, 0);
        loop {
            match body.get(i)? {
                b'"' => {
                    out.truncate(o);
                    return Some((i, out));
                }
                b'\\' => (i, o) = unescape(body, i, &mut out, o)?,
                &c => {
                    out[o] = c;
                    i += 1;
                    o += 1;
                }
            }
        }
    }

    fn fast(body: &[u8], scratch: &mut Vec<u8>) -> Option<(usize, Vec<u8>)> {
        let (end, at) = unescape_string(body, scratch)?;
        Some((
            end,
            match at {
                Unescaped::Raw => body[..end].to_vec(),
                Unescaped::RawThenNewline => [&body[..end - 2], b"\n"].concat(),
                Unescaped::Scratch(len) => scratch[..len].to_vec(),
            },
        ))
    }

    /// [`unescape_string_in_line`]'s result (with `avx2`, on AVX2 where the CPU has it; else
    /// its SSE2 or SWAR search), as [`fast`] gives [`unescape_string`]'s.
    fn fast_in_line(body: &[u8], scratch: &mut Vec<u8>, avx2: bool) -> Option<(usize, Vec<u8>)> {
        let (end, at) = if avx2 {
            unescape_string_in_line(body, scratch)?
        } else {
            in_line::<false>(body, scratch)?
        };
        Some((
            end,
            match at {
                Unescaped::Raw => body[..end].to_vec(),
                Unescaped::RawThenNewline => [&body[..end - 2], b"\n"].concat(),
                Unescaped::Scratch(len) => scratch[..len].to_vec(),
            },
        ))
    }

    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => prop::collection::vec(0x20u8..0x7f, 0..40),
            2 => prop::sample::select(vec![
                b"\\\"".to_vec(), b"\\\\".to_vec(), b"\\n".to_vec(), b"\\t".to_vec(),
                b"\\/".to_vec(), b"\\u00e9".to_vec(), b"\\ud83d\\ude42".to_vec(),
                b"\\ud83d".to_vec(), b"\\u12".to_vec(), b"\\x".to_vec(), b"\\".to_vec(),
                b"\"".to_vec(), b"\\n\"".to_vec(), "é🙂".as_bytes().to_vec(),
            ]),
        ]
    }

    /// [`piece`], and raw newlines, alone or after a backslash.
    fn piece_nl() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => piece(),
            1 => prop::sample::select(vec![b"\n".to_vec(), b"\\\n".to_vec(), b"\\u00\n".to_vec()]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// The block scan gives the byte-at-a-time result (end and value, or `None`) on
        /// bodies with escapes, quotes and cut escapes at any offset, with a scratch left
        /// longer or shorter by earlier records.
        #[test]
        fn block_unescaper_equals_the_naive_one(
            bodies in prop::collection::vec(prop::collection::vec(piece(), 0..12), 1..4),
        ) {
            let mut scratch = Vec::new();
            for parts in bodies {
                let body = parts.concat();
                prop_assert_eq!(fast(&body, &mut scratch), naive(&body), "{:?}", String::from_utf8_lossy(&body));
            }
        }

        /// The in-line unescaper over a body that runs past its line gives what the
        /// unescaper gives for the body cut at its first `\n` (the framed line), with a
        /// scratch shared with the framed path as a reader shares it.
        #[test]
        fn in_line_unescaper_equals_the_framed_one(
            bodies in prop::collection::vec(prop::collection::vec(piece_nl(), 0..16), 1..4),
        ) {
            let mut scratch = Vec::new();
            for parts in bodies {
                let body = parts.concat();
                let line = body.iter().position(|&b| b == b'\n').map_or(&body[..], |n| &body[..n]);
                let want = fast(line, &mut scratch);
                prop_assert_eq!(&want, &naive(line));
                prop_assert_eq!(fast_in_line(&body, &mut scratch, true), want.clone(), "{:?}", String::from_utf8_lossy(&body));
                prop_assert_eq!(fast_in_line(&body, &mut scratch, false), want, "{:?}", String::from_utf8_lossy(&body));
            }
        }
    }
}
