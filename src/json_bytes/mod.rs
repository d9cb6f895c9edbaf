//! JSON string bytes, many at a time: the byte classifiers behind the crate's JSON string
//! escapers (dockerd's json-file rules, logrus's rules) and the Docker record unescaper.
//!
//! What: a string is scanned a 64-bit word at a time (SWAR, portable and `unsafe`-free), or on
//! x86_64 by the escapers 64 bytes at a time into a bitmap (AVX2 where the CPU has it, else
//! SSE2: `blocks`) and by
//! `runc::compat` 64 bytes at a time (`string_masks`); each
//! scan computes a mask with the high bit set in every byte that needs work, and the bytes
//! between are copied as whole words. Escaping flags `"`, `\`, bytes below 0x20, `<` `>` `&`
//! (Go `encoding/json`'s HTML escaping, which dockerd and logrus use), and the bytes that may
//! start U+2028/U+2029 or invalid UTF-8; unescaping flags `"` and `\`. Output is written with
//! fixed-size stores at a register index (into the output `Vec`'s spare capacity when
//! escaping, the scratch buffer sized once when unescaping), never a variable-length copy
//! per piece. The unescaper
//! scans and stores 16 bytes at a time instead ([`quote_or_backslash_16`]: SSE2 on x86_64;
//! two SWAR words elsewhere, checked against it in tests).
//!
//! Reference: Go `encoding/json` `appendString` (`encode.go`) for the escaping rules, moby
//! `ffjsonWriteJSONBytesAsString` (`jsonlog/jsonlogbytes.go`) for dockerd's variant, Go
//! `unquoteBytes` (`decode.go`) for unescaping; the SWAR masks are the classic "byte equals"
//! and "byte below" tests: the escaper's are exact per byte (no carry crosses a byte), the
//! unescaper's search for the first `"` or `\` only needs its lowest flag exact.
//!
//! Limits: the output grows by at most the escaped string (6 bytes per input byte at worst);
//! invalid UTF-8 is found with `std::str::from_utf8` (the word escaper) or one character at
//! a time with `go_utf8::sequence_len` (the block escaper, at the bytes its bitmaps flag),
//! which accept exactly what Go's `utf8.DecodeRune` accepts (see [`crate::go_utf8`] for the
//! per-byte U+FFFD rule). Speed
//! depends on escape density. On x86_64 the escapers classify 64 bytes at a time with AVX2,
//! detected at run time, or SSE2 (the x86_64 baseline); the module's `unsafe` blocks are
//! those classifiers (the escapers' AVX2 and SSE2 ones, the unescaper's 16-byte one, its
//! in-line twin that also stops at `\n` and that twin's AVX2 32-byte step, and
//! `runc::compat`'s string walk, each tested against its portable twin), the calls that
//! reach the AVX2 code after detection, and the escaper's `set_len` over what it wrote. They
//! pay one loop iteration per
//! escape and about one mispredicted branch per 64-byte block; elsewhere the word escaper pays
//! about one per 8-byte word that holds an escape. A branch-free expansion would need SIMD
//! shuffles (`pshufb`/`vpexpandb`); AVX-512's intrinsics are stable only from Rust 1.89,
//! above the crate's MSRV.

#[cfg(target_arch = "x86_64")]
mod blocks;
// Tests of the block escaper's edges (adversarial review).
#[cfg(all(test, target_arch = "x86_64"))]
mod adversarial_tests;
mod escape;
mod unescape;

#[cfg(feature = "__fuzz")]
pub(crate) use escape::fuzz_json_escape;
pub(crate) use escape::{escape, escape_ahead, DOCKER, LOGRUS};
pub(crate) use unescape::{unescape_string, unescape_string_in_line, Unescaped};

use crate::swar::{eq, load, splat, HI, LO, LOW7};

/// `"`, `\`, `<`, `>`, `&` and bytes below 0x20: the ASCII bytes both escapers rewrite.
#[inline]
const fn ascii_specials(w: u64) -> u64 {
    // `<` 0x3c and `>` 0x3e differ only in bit 1, `"` 0x22 and `&` 0x26 only in bit 2: one
    // comparison each after setting that bit. Control: the low 7 bits plus 0x60 stay below
    // 0x80 exactly for values below 0x20 (the byte's own high bit is masked out by `!w`).
    let ctl = !((w & LOW7).wrapping_add(splat(0x60)) | w) & HI;
    eq(w | splat(0x02), 0x3e) | eq(w | splat(0x04), 0x26) | eq(w, b'\\') | ctl
}

/// `"` or `\`: where a JSON string ends or an escape starts. Only the lowest flag is exact
/// (a borrow from a flagged byte may flag the byte above it), which is all a search for the
/// first one needs, at two operations fewer per byte value than [`eq`].
#[inline]
const fn quote_or_backslash(w: u64) -> u64 {
    let q = w ^ splat(b'"');
    let b = w ^ splat(b'\\');
    (q.wrapping_sub(LO) & !q | b.wrapping_sub(LO) & !b) & HI
}

/// Byte index (0..8) of the lowest flagged byte of a non-zero mask.
#[inline]
fn first(m: u64) -> usize {
    (m.trailing_zeros() / 8) as usize
}

/// The first `"` or `\` in `s`: 16 bytes at a time ([`quote_or_backslash_16`]) for short
/// strings (where `memchr2`'s setup dominates), `memchr2` for long ones.
#[inline]
pub(crate) fn find_quote_or_backslash(s: &[u8]) -> Option<usize> {
    if s.len() > 256 {
        return memchr::memchr2(b'"', b'\\', s);
    }
    let mut i = 0;
    while let Some(block) = s.get(i..i + 16) {
        let m = quote_or_backslash_16(block.try_into().expect("16 bytes"));
        if m != 0 {
            return Some(i + m.trailing_zeros() as usize);
        }
        i += 16;
    }
    if i + 8 <= s.len() {
        let m = quote_or_backslash(load(s, i));
        if m != 0 {
            return Some(i + first(m));
        }
        i += 8;
    }
    s[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\')
        .map(|k| i + k)
}

/// The first `"`, `\` or byte below 0x20 in `s`: where a scanner that rejects raw control
/// bytes in strings (Go's, in `runc::compat`) must stop. Word at a time; the lowest flag of
/// the combined mask is exact because each part's lowest flag is.
// Only the old compat scanner, kept as the tests' reference, still uses it.
#[cfg_attr(not(test), allow(dead_code))]
#[inline]
pub(crate) fn find_quote_backslash_or_control(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i + 8 <= s.len() {
        let w = load(s, i);
        // As in `ascii_specials`: the low 7 bits plus 0x60 stay below 0x80 exactly below 0x20.
        let ctl = !((w & LOW7).wrapping_add(splat(0x60)) | w) & HI;
        let m = quote_or_backslash(w) | ctl;
        if m != 0 {
            return Some(i + first(m));
        }
        i += 8;
    }
    s[i..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|k| i + k)
}

/// Bit `i` set when `block[i]` is `"` or `\`: the unescaper's 16-byte classifier. SSE2 on
/// x86_64 (part of its baseline; every flag exact), two [`quote_or_backslash`] words elsewhere
/// (only the lowest flag exact). Callers only look for the lowest flag.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn quote_or_backslash_16(block: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics exist on every x86_64
    // CPU; `block` is 16 readable bytes and `loadu` needs no alignment.
    let m = unsafe {
        let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
        let q = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
        let b = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
        _mm_movemask_epi8(_mm_or_si128(q, b))
    };
    // The movemask's 16 low bits are the 16 compares.
    u32::from(m as u16)
}

/// Bit `i` set when `block[i]` is `"` or `\` (other targets; the portable twin of the SSE2
/// version, which the tests check it against).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub(crate) fn quote_or_backslash_16(block: &[u8; 16]) -> u32 {
    quote_or_backslash_16_swar(block)
}

/// [`quote_or_backslash_16`] from two SWAR words: each word's byte flags gathered into 8 bits
/// by a multiply (one bit per byte, so no carries). Only the lowest flag is exact.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
pub(crate) fn quote_or_backslash_16_swar(block: &[u8; 16]) -> u32 {
    let gather = |m: u64| ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32;
    gather(quote_or_backslash(load(block, 0))) | gather(quote_or_backslash(load(block, 8))) << 8
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::escape::{escape_oracle, escape_words, EscapeRules};
    use super::*;

    /// What [`escape`] appends, checked equal to what the portable word escaper appends (on
    /// x86_64 `escape` is the block escaper, on AVX2 where the CPU has it, so the SSE2 block
    /// escaper is called too).
    ///
    /// The block escaper writes into the `Vec`'s spare capacity; here that capacity holds
    /// zeros (and the `Vec` some earlier output), so a byte it left unwritten would show as a
    /// zero, which no escaped text holds.
    fn fast(s: &[u8], rules: &EscapeRules, valid_until: usize) -> Vec<u8> {
        let mut out = vec![0u8; 6 * s.len() + 1024];
        out.truncate(1);
        out[0] = b'x';
        escape(s, &mut out, rules, valid_until);
        assert_eq!(out.remove(0), b'x');
        // With bytes after the string that the escaper may read but must not output: every
        // class it flags, and a U+2028 whose first byte could pair with the string's end.
        let mut text = s.to_vec();
        text.extend_from_slice(&b"\x80\xa8\"\\<>&\n\x01\xe2\x80\xa8\xff".repeat(12));
        let mut ahead = Vec::new();
        escape_ahead(&text, s.len(), &mut ahead, rules, valid_until);
        assert_eq!(
            ahead, out,
            "the bytes after the string changed its escaping: {s:?}"
        );
        // `escape` took the AVX2 classifier where the CPU has it: the SSE2 one too.
        #[cfg(target_arch = "x86_64")]
        {
            let mut sse2 = Vec::new();
            blocks::escape_blocks_with::<blocks::Sse2>(
                &text,
                s.len(),
                &mut sse2,
                rules,
                valid_until,
            );
            assert_eq!(
                sse2, out,
                "the SSE2 and AVX2 block escapers differ on {s:?}"
            );
        }
        let mut words = Vec::new();
        escape_words(s, &mut words, rules, valid_until);
        assert_eq!(out, words, "block and word escapers differ on {s:?}");
        out
    }

    fn slow(s: &[u8], tab_short: bool) -> Vec<u8> {
        let mut out = Vec::new();
        escape_oracle(s, &mut out, tab_short);
        out
    }

    /// Every mask against the byte predicate it stands for, for every byte value at every
    /// position of a word whose other bytes are each of a few neighbours (so a borrow or
    /// carry across bytes would show).
    #[test]
    fn masks_are_exact_per_byte() {
        for b in 0..=255u8 {
            for other in [0u8, b' ', b'"', 0x7f, 0x80, 0xe2, 0xff] {
                for pos in 0..8 {
                    let mut bytes = [other; 8];
                    bytes[pos] = b;
                    let w = u64::from_le_bytes(bytes);
                    let expect = |pred: &dyn Fn(u8) -> bool| {
                        bytes
                            .iter()
                            .enumerate()
                            .filter(|(_, &c)| pred(c))
                            .fold(0u64, |m, (k, _)| m | 0x80 << (8 * k))
                    };
                    let special =
                        |c: u8| c < 0x20 || matches!(c, b'"' | b'\\' | b'<' | b'>' | b'&');
                    assert_eq!(ascii_specials(w), expect(&special), "{bytes:?}");
                    assert_eq!(eq(w, 0xe2), expect(&|c| c == 0xe2));
                    let qb = expect(&|c| c == b'"' || c == b'\\');
                    let got = quote_or_backslash(w);
                    // Exact up to and including the lowest flag.
                    assert_eq!(
                        got & (qb ^ qb.wrapping_sub(1)),
                        qb & (qb ^ qb.wrapping_sub(1))
                    );
                    assert_eq!(got == 0, qb == 0);
                }
            }
        }
    }

    #[test]
    fn every_short_input_around_the_word_edges_matches_the_oracle() {
        // Each escape class at each position of strings of 1 to 17 bytes (the word escaper's
        // edges), and of lengths around the block escaper's 64- and 128-byte edges.
        let fills: &[&[u8]] = &[
            b"\"",
            b"\\",
            b"\t",
            b"\x00",
            b"<",
            b"&",
            b"\xe2\x80\xa8",
            b"\xe2\x80",
            b"\xff",
            "é".as_bytes(),
            "🙂".as_bytes(),
        ];
        for len in (1..=17).chain(60..=68).chain(124..=132) {
            for pos in 0..len {
                for f in fills {
                    let mut s = vec![b'a'; len];
                    s.splice(pos..(pos + f.len()).min(len), f.iter().copied());
                    assert_eq!(fast(&s, &DOCKER, 0), slow(&s, false), "{s:?}");
                    if let Ok(t) = std::str::from_utf8(&s) {
                        assert_eq!(fast(&s, &LOGRUS, t.len()), slow(&s, true), "{s:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn appends_after_existing_output() {
        let mut out = b"{\"log\":\"".to_vec();
        escape(
            b"a<b\xffc long enough to use words\xe2\x80\xa9",
            &mut out,
            &DOCKER,
            0,
        );
        assert_eq!(
            out,
            &br#"{"log":"a\u003cb\ufffdc long enough to use words\u2029"#[..]
        );
    }

    #[test]
    fn find_quote_or_backslash_short_and_long() {
        for len in [0usize, 1, 7, 8, 9, 255, 256, 257, 1000] {
            let mut s = vec![b'x'; len];
            assert_eq!(find_quote_or_backslash(&s), None);
            for at in [0, len / 2, len.saturating_sub(1)] {
                if at < len {
                    s[at] = b'\\';
                    assert_eq!(find_quote_or_backslash(&s), Some(at), "{len} {at}");
                    s[at] = b'x';
                }
            }
        }
    }

    fn byte_mix() -> impl Strategy<Value = u8> {
        prop_oneof![
            8 => 0x20u8..0x7f,
            1 => prop::sample::select(b"\"\\<>&\t\n\r\x00\x1f\x7f".to_vec()),
            1 => 0x80u8..=0xff,
            1 => prop::sample::select(vec![0xe2u8, 0x80, 0xa8, 0xa9, 0xed, 0xf0, 0xc3]),
        ]
    }

    proptest! {
        #[test]
        fn docker_rules_match_the_oracle(s in prop::collection::vec(byte_mix(), 0..300)) {
            prop_assert_eq!(fast(&s, &DOCKER, 0), slow(&s, false));
        }

        /// Whatever either escaper writes (and serde_json's `\\uXXXX`-free form), the
        /// unescaper reads back, ending at the closing quote.
        #[test]
        fn unescape_reads_back_every_escaper(t in "[a-z \"\\\\<>&/\t\n\r\u{0}\u{1f}é\u{2028}🙂]{0,80}") {
            for encoded in [
                serde_json::to_string(&t).unwrap().into_bytes(),
                [&b"\""[..], &fast(t.as_bytes(), &DOCKER, 0), b"\""].concat(),
                [&b"\""[..], &fast(t.as_bytes(), &LOGRUS, t.len()), b"\""].concat(),
            ] {
                let body = [&encoded[1..], &b",\"stream\":\"stdout\"}"[..]].concat();
                // Left longer by an earlier record: only the content may come back.
                let mut scratch = vec![b'Z'; 300];
                let (end, at) = unescape_string(&body, &mut scratch).unwrap();
                prop_assert_eq!(end, encoded.len() - 2);
                let got = match at {
                    Unescaped::Raw => body[..end].to_vec(),
                    Unescaped::RawThenNewline => [&body[..end - 2], b"\n"].concat(),
                    Unescaped::Scratch(len) => scratch[..len].to_vec(),
                };
                prop_assert_eq!(got, t.as_bytes());
            }
        }

        #[test]
        fn logrus_rules_match_the_oracle(t in "[a-z \"\\\\<>&\t\n\r\u{0}\u{1f}\u{7f}é\u{2028}\u{2029}\u{2027}\u{202a}🙂]{0,200}") {
            prop_assert_eq!(fast(t.as_bytes(), &LOGRUS, t.len()), slow(t.as_bytes(), true));
        }
    }
}

/// Two masks over a block of 16, 32, 48 or 64 bytes, bit `k` for `block[k]`: the
/// backslashes, and the quotes and bytes below 0x20. These are the bytes where a validating
/// JSON string scan (Go's, in `runc::compat`) must look; every other byte of a string body
/// is accepted as it is. Exact per byte, so a scan can combine them (escaped positions) and
/// walk the set bits.
#[inline(always)]
pub(crate) fn string_masks<const N: usize>(block: &[u8; N]) -> (u64, u64) {
    const { assert!(N % 16 == 0 && N <= 64) };
    let (mut backslashes, mut stops) = (0u64, 0u64);
    for (k, lane) in block.chunks_exact(16).enumerate() {
        // `chunks_exact(16)`: every lane has 16 bytes.
        let (b, s) = string_lane(lane.try_into().unwrap_or(&[0; 16]));
        backslashes |= b << (16 * k);
        stops |= s << (16 * k);
    }
    (backslashes, stops)
}

/// [`string_masks`] of one 16-byte lane: three SSE2 compares (SSE2 is part of every x86_64).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn string_lane(lane: &[u8; 16]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics exist on every x86_64
    // CPU; `lane` is 16 readable bytes, and `loadu` needs no alignment.
    let (b, s) = unsafe {
        let x = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
        let ctl_max = _mm_set1_epi8(0x1f);
        // Below 0x20 exactly when the unsigned max with 0x1f is 0x1f.
        let ctl = _mm_cmpeq_epi8(_mm_max_epu8(x, ctl_max), ctl_max);
        let stop = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8)), ctl);
        (
            _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8))),
            _mm_movemask_epi8(stop),
        )
    };
    // A movemask's 16 low bits are the lane's 16 compares.
    (u64::from(b as u16), u64::from(s as u16))
}

/// [`string_lane`] on other targets: the portable version.
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn string_lane(lane: &[u8; 16]) -> (u64, u64) {
    string_lane_swar(lane)
}

/// The portable [`string_lane`]: per 8-byte word, exact byte tests (high bit of each
/// flagged byte), the 8 high bits gathered by a multiply.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
#[inline(always)]
fn string_lane_swar(lane: &[u8; 16]) -> (u64, u64) {
    // Moves each byte's high bit to bit 56 + byte index (no carries: one bit per byte).
    let gather = |m: u64| ((m >> 7).wrapping_mul(0x0102_0408_1020_4080)) >> 56;
    let (mut backslashes, mut stops) = (0u64, 0u64);
    for k in 0..2 {
        let w = load(lane, 8 * k);
        // As in `ascii_specials`: the low 7 bits plus 0x60 stay below 0x80 exactly below 0x20.
        let ctl = !((w & LOW7).wrapping_add(splat(0x60)) | w) & HI;
        backslashes |= gather(eq(w, b'\\')) << (8 * k);
        stops |= gather(eq(w, b'"') | ctl) << (8 * k);
    }
    (backslashes, stops)
}

#[cfg(test)]
mod string_masks_tests {
    use proptest::prelude::*;

    use super::*;

    /// The portable lanes over a whole block.
    fn swar(block: &[u8; 64]) -> (u64, u64) {
        (0..4).fold((0, 0), |(b, s), k| {
            let (lb, ls) = string_lane_swar(block[16 * k..16 * k + 16].try_into().unwrap());
            (b | lb << (16 * k), s | ls << (16 * k))
        })
    }

    fn naive(block: &[u8; 64]) -> (u64, u64) {
        let mask = |pred: &dyn Fn(u8) -> bool| {
            block
                .iter()
                .enumerate()
                .filter(|(_, &b)| pred(b))
                .fold(0, |m, (k, _)| m | 1 << k)
        };
        (mask(&|b| b == b'\\'), mask(&|b| b == b'"' || b < 0x20))
    }

    #[test]
    fn every_byte_value_at_every_position() {
        for b in 0..=255u8 {
            for other in [b'a', 0x00, b'"', b'\\', 0x7f, 0x80, 0xff] {
                for pos in [0, 7, 8, 15, 16, 31, 32, 63] {
                    let mut block = [other; 64];
                    block[pos] = b;
                    assert_eq!(string_masks(&block), naive(&block), "{b} at {pos}");
                    assert_eq!(swar(&block), naive(&block));
                    let head: &[u8; 32] = block.first_chunk().unwrap();
                    let (b32, s32) = naive(&block);
                    assert_eq!(string_masks(head), (b32 as u32 as u64, s32 as u32 as u64));
                }
            }
        }
    }

    proptest! {
        /// The SIMD path (x86_64) and the portable one give the naive masks.
        #[test]
        fn string_masks_are_exact(
            v in prop::collection::vec(prop_oneof![
                4 => 0x20u8..0x7f,
                1 => prop::sample::select(b"\"\\\x00\x1f\x20\x7f\x80\xff".to_vec()),
                1 => any::<u8>(),
            ], 64)
        ) {
            let block: [u8; 64] = v.try_into().unwrap();
            prop_assert_eq!(string_masks(&block), naive(&block));
            prop_assert_eq!(swar(&block), naive(&block));
        }
    }
}
