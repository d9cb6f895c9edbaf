//! Go's lossy UTF-8 rule, the one way the crate turns arbitrary bytes into text as Go would.
//!
//! Go decodes strings with `utf8.DecodeRune`, which on an invalid sequence returns
//! `RuneError` (U+FFFD) and consumes exactly one byte. So every byte that does not start a
//! valid sequence becomes one U+FFFD: `encoding/json` applies this when it encodes
//! (`appendString`: `if c == utf8.RuneError && size == 1 { … \ufffd … }`) and when it decodes
//! a string's bytes (`unquote`), and moby's json-file writer (`ffjsonWriteJSONBytesAsString`)
//! does the same. This is *not* `strings.ToValidUTF8`, which folds a run of invalid bytes
//! into one replacement, nor Rust's `String::from_utf8_lossy`, which replaces a maximal
//! invalid subpart (`\xe2\x80` is one U+FFFD in Rust, two in Go).
//!
//! Users: the runc decoder's Go `json.Decoder` rules (field names and the error message) and
//! the Docker escaper's fuzz oracle. `json_bytes::escape` applies the same rule inline while
//! escaping, for speed; the fuzz oracle checks the two agree. [`sequence_len`] is the
//! validity rule one character at a time, for the block escaper.

/// `b` as Go decodes it: valid UTF-8 kept, one U+FFFD per byte of any invalid sequence.
pub(crate) fn lossy(mut b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    loop {
        match std::str::from_utf8(b) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, rest) = b.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or(""));
                // Rust's `error_len` is the maximal invalid subpart: a lead byte and the
                // continuation bytes after it (or the truncated tail at the end). Go rejects
                // each of those bytes on its own, so each is one U+FFFD.
                let bad = e.error_len().unwrap_or(rest.len()).max(1).min(rest.len());
                for _ in 0..bad {
                    out.push('\u{FFFD}');
                }
                b = &rest[bad..];
                if b.is_empty() {
                    return out;
                }
            }
        }
    }
}

/// The length of the valid UTF-8 sequence that starts at `s[p]`, a byte at or above 0x80;
/// `None` when none starts there (a continuation byte, a byte never valid, an overlong form,
/// a surrogate, a code point past U+10FFFF, or a sequence cut by the end of `s`). This is
/// `utf8.DecodeRune`'s (and Rust's) rule, Unicode's table 3-7. For text with a few
/// non-ASCII characters among ASCII, checking each character where it starts costs a few
/// instructions, where `std::str::from_utf8` from the first one to the string's end took
/// 5.7% of a short-line json-file write's instructions (1.87 M of 32.79 M, cachegrind on the
/// `short.txt` of `benches/instructions.sh`).
// Only the block escaper (x86_64) calls it: other targets (wasm32 in CI) would warn.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline]
pub(crate) fn sequence_len(s: &[u8], p: usize) -> Option<usize> {
    // The second byte's range depends on the first; the others are plain continuations.
    let (len, lo, hi) = match *s.get(p)? {
        0xc2..=0xdf => (2, 0x80, 0xbf),
        0xe0 => (3, 0xa0, 0xbf),
        0xe1..=0xec | 0xee..=0xef => (3, 0x80, 0xbf),
        0xed => (3, 0x80, 0x9f),
        0xf0 => (4, 0x90, 0xbf),
        0xf1..=0xf3 => (4, 0x80, 0xbf),
        0xf4 => (4, 0x80, 0x8f),
        _ => return None,
    };
    let rest = s.get(p + 1..p + len)?;
    let (second, more) = rest.split_first()?;
    ((lo..=hi).contains(second) && more.iter().all(|&c| c & 0xc0 == 0x80)).then_some(len)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{lossy, sequence_len};

    /// [`sequence_len`] by `std::str::from_utf8`: the first char of the valid prefix.
    fn std_sequence_len(s: &[u8], p: usize) -> Option<usize> {
        let rest = &s[p..];
        let valid = std::str::from_utf8(rest).map_or_else(|e| e.valid_up_to(), str::len);
        let text = std::str::from_utf8(&rest[..valid]).ok()?;
        text.chars().next().map(char::len_utf8)
    }

    #[test]
    fn sequence_len_is_std_for_every_lead_and_second_byte() {
        // Every first and second byte, third and fourth bytes at and around the
        // continuation range's edges, and every cut by the end of the input.
        let edges = [0x00u8, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff];
        for a in 0x80..=0xffu8 {
            for b in 0..=0xffu8 {
                for c in edges {
                    for d in edges {
                        let s = [a, b, c, d];
                        for end in 1..=4 {
                            let s = &s[..end];
                            assert_eq!(sequence_len(s, 0), std_sequence_len(s, 0), "{s:x?}");
                        }
                    }
                }
            }
        }
    }

    /// At an offset into a longer slice, as the block escaper calls it (the test above only
    /// starts at 0): the bytes before `p` never count, and the end of `s` still cuts.
    #[test]
    fn sequence_len_is_std_at_an_offset() {
        let samples: [&[u8]; 6] = [
            b"\xc3\xa9",
            b"\xe2\x80\xa8",
            b"\xf0\x9f\x99\x82",
            b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80",
            b"\x80",
        ];
        for before in [&b""[..], b"a", b"\xc3", b"\xf0\x9f\x99", b"abcdefg"] {
            for sample in samples {
                for end in 1..=sample.len() {
                    let mut s = before.to_vec();
                    s.extend_from_slice(&sample[..end]);
                    s.extend_from_slice(b"\x80\x80\x80");
                    for cut in [before.len() + end, s.len()] {
                        let s = &s[..cut];
                        let p = before.len();
                        assert_eq!(sequence_len(s, p), std_sequence_len(s, p), "{s:x?} at {p}");
                    }
                }
            }
        }
    }

    /// Go's `utf8.DecodeRune` loop written out naively: the longest valid sequence of 1 to 4
    /// bytes at `i` is one char, otherwise one U+FFFD and one byte consumed.
    fn go_decode_rune_loop(s: &[u8]) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < s.len() {
            let found = (1..=4).find_map(|k| {
                let piece = s.get(i..i + k)?;
                std::str::from_utf8(piece).ok().map(|p| (p, k))
            });
            match found {
                Some((p, k)) => {
                    out.push_str(p);
                    i += k;
                }
                None => {
                    out.push('\u{fffd}');
                    i += 1;
                }
            }
        }
        out
    }

    #[test]
    fn go_cases() {
        // Truncated 3-byte sequence: two bytes, two replacements (Rust's lossy gives one).
        assert_eq!(lossy(b"\xe2\x80a"), "\u{fffd}\u{fffd}a");
        // Surrogate half and overlong encodings are invalid in Go too, byte by byte.
        assert_eq!(lossy(b"\xed\xa0\x80"), "\u{fffd}\u{fffd}\u{fffd}");
        assert_eq!(lossy(b"\xc0\xaf"), "\u{fffd}\u{fffd}");
        // Truncated at the end.
        assert_eq!(lossy(b"ok\xf0\x9f\x99"), "ok\u{fffd}\u{fffd}\u{fffd}");
        assert_eq!(lossy("日志 🙂".as_bytes()), "日志 🙂");
    }

    #[test]
    fn every_two_byte_input_matches_the_naive_loop() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(
                    lossy(&[a, b]),
                    go_decode_rune_loop(&[a, b]),
                    "{a:#x} {b:#x}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn matches_the_naive_loop(data in prop::collection::vec(
            prop_oneof![
                2 => 0x00u8..0x80,
                3 => 0x80u8..0xc0,
                2 => 0xc0u8..=0xff,
                1 => prop::sample::select(vec![0xe2u8, 0xed, 0xf0, 0xf4, 0x80, 0xa8]),
            ],
            0..24,
        )) {
            prop_assert_eq!(lossy(&data), go_decode_rune_loop(&data));
        }
    }
}
