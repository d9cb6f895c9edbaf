//! JSON string bytes, eight at a time: the one byte classifier behind the crate's JSON string
//! escapers (dockerd's json-file rules, logrus's rules) and the Docker record unescaper.
//!
//! What: a string is scanned a 64-bit word at a time (SWAR, portable and `unsafe`-free); each
//! scan computes a mask with the high bit set in every byte that needs work, and the bytes
//! between are copied as whole words. Escaping flags `"`, `\`, bytes below 0x20, `<` `>` `&`
//! (Go `encoding/json`'s HTML escaping, which dockerd and logrus use), and the bytes that may
//! start U+2028/U+2029 or invalid UTF-8; unescaping flags `"` and `\`.
//!
//! Reference: Go `encoding/json` `appendString` (`encode.go`) for the escaping rules, moby
//! `ffjsonWriteJSONBytesAsString` (`jsonlog/jsonlogbytes.go`) for dockerd's variant, Go
//! `unquoteBytes` (`decode.go`) for unescaping; the SWAR masks are the classic exact
//! "byte equals" and "byte below" tests (no carry crosses a byte, so every flag is exact).
//!
//! Limits: the output buffer grows as needed, never by more than the escaped record; invalid
//! UTF-8 is found with `std::str::from_utf8`, which accepts exactly what Go's `utf8.DecodeRune`
//! accepts (see [`crate::go_utf8`] for the per-byte U+FFFD rule).

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

#[inline]
const fn splat(b: u8) -> u64 {
    LO * b as u64
}

/// The 8 bytes at `s[i..i + 8]`, little-endian (byte `i` is the low byte).
#[inline]
fn load(s: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[i..i + 8]);
    u64::from_le_bytes(w)
}

/// High bit set in each byte of `x` that is zero, exactly.
#[inline]
const fn zero_bytes(x: u64) -> u64 {
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// Bytes of `w` equal to `b`.
#[inline]
const fn eq(w: u64, b: u8) -> u64 {
    zero_bytes(w ^ splat(b))
}

/// `"`, `\`, `<`, `>`, `&` and bytes below 0x20: the ASCII bytes both escapers rewrite.
#[inline]
const fn ascii_specials(w: u64) -> u64 {
    // `<` 0x3c and `>` 0x3e differ only in bit 1, `"` 0x22 and `&` 0x26 only in bit 2: one
    // comparison each after setting that bit. Control: the low 7 bits plus 0x60 stay below
    // 0x80 exactly for values below 0x20 (the byte's own high bit is masked out by `!w`).
    let ctl = !((w & LOW7).wrapping_add(splat(0x60)) | w) & HI;
    eq(w | splat(0x02), 0x3e) | eq(w | splat(0x04), 0x26) | eq(w, b'\\') | ctl
}

/// Escaper mask where the input is not known to be valid UTF-8: every non-ASCII byte too.
#[inline]
const fn escape_mask(w: u64) -> u64 {
    ascii_specials(w) | (w & HI)
}

/// Escaper mask inside valid UTF-8: only 0xE2 among non-ASCII bytes (U+2028/U+2029 start
/// with it).
#[inline]
const fn escape_mask_utf8(w: u64) -> u64 {
    ascii_specials(w) | eq(w, 0xe2)
}

/// `"` or `\`: where a JSON string ends or an escape starts.
#[inline]
const fn quote_or_backslash(w: u64) -> u64 {
    eq(w, b'"') | eq(w, b'\\')
}

/// Byte index (0..8) of the lowest flagged byte of a non-zero mask.
#[inline]
fn first(m: u64) -> usize {
    (m.trailing_zeros() / 8) as usize
}

/// How one family of encoders escapes ASCII: for each byte below 0x80 that needs it, the
/// escape text (at most 6 bytes) in the low bytes of an entry and its length in the top byte.
pub(crate) struct EscapeRules {
    ascii: [u64; 0x80],
}

/// Builds the entry of a `\\u00XX` escape or a short form.
const fn entry(text: &[u8]) -> u64 {
    let mut v = 0u64;
    let mut i = 0;
    while i < text.len() {
        v |= (text[i] as u64) << (8 * i);
        i += 1;
    }
    v | (text.len() as u64) << 56
}

const fn rules(tab_short: bool) -> EscapeRules {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut ascii = [0u64; 0x80];
    let mut b = 0;
    while b < 0x80 {
        let c = b as u8;
        ascii[b] = match c {
            b'"' => entry(b"\\\""),
            b'\\' => entry(b"\\\\"),
            b'\n' => entry(b"\\n"),
            b'\r' => entry(b"\\r"),
            b'\t' if tab_short => entry(b"\\t"),
            0..=0x1f | b'<' | b'>' | b'&' => entry(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[(c >> 4) as usize],
                HEX[(c & 0xf) as usize],
            ]),
            _ => 0,
        };
        b += 1;
    }
    EscapeRules { ascii }
}

/// dockerd's json-file writer: tab is `\u0009` (moby's hand-written encoder).
pub(crate) static DOCKER: EscapeRules = rules(false);
/// logrus (Go `encoding/json`): tab is `\t`.
pub(crate) static LOGRUS: EscapeRules = rules(true);

/// Appends the 8 bytes of `w`, then keeps only the first `keep` of them: two fixed-size
/// operations, cheaper than a variable-length copy for the short runs between escapes.
#[inline]
fn push_word(out: &mut Vec<u8>, w: u64, keep: usize) {
    out.extend_from_slice(&w.to_le_bytes());
    out.truncate(out.len() - (8 - keep));
}

/// Appends `s` escaped with `rules` (without quotes). Bytes before `valid_until` must be valid
/// UTF-8 (`s.len()` for a `&str`, `0` when nothing is known). Non-ASCII: U+2028 and U+2029
/// become `\u2028` `\u2029`, other valid UTF-8 stays raw, each byte that does not start a
/// valid sequence becomes `\ufffd` (Go's `utf8.DecodeRune` consumes one byte per error).
pub(crate) fn escape(s: &[u8], out: &mut Vec<u8>, rules: &EscapeRules, mut valid_until: usize) {
    let n = s.len();
    out.reserve(n + n / 8 + 8);
    if n < 8 {
        // Pad to a word with a byte that needs no work.
        let mut w = [b' '; 8];
        w[..n].copy_from_slice(s);
        return escape_words(s, &w, out, rules, valid_until);
    }
    let mut i = 0;
    while i < n {
        // A whole word, or at the end the last 8 bytes shifted so that `s[i]` is byte 0 (its
        // top bytes are then zero, and masked out).
        let (w, live) = if i + 8 <= n {
            (load(s, i), 8)
        } else {
            let live = n - i;
            (load(s, n - 8) >> (8 * (8 - live)), live)
        };
        let mut m = if i + live <= valid_until {
            escape_mask_utf8(w)
        } else {
            escape_mask(w)
        };
        if live < 8 {
            m &= (1u64 << (8 * live)) - 1;
        }
        if m == 0 {
            push_word(out, w, live);
            i += live;
            continue;
        }
        let k = first(m);
        push_word(out, w, k);
        i = special(s, i + k, out, rules, &mut valid_until);
    }
}

/// [`escape`] of a string shorter than 8 bytes, padded into `w`.
#[inline]
fn escape_words(s: &[u8], w: &[u8; 8], out: &mut Vec<u8>, rules: &EscapeRules, mut valid_until: usize) {
    let n = s.len();
    let mut i = 0;
    while i < n {
        let v = u64::from_le_bytes(*w) >> (8 * i);
        let live = n - i;
        let m = escape_mask(v) & ((1u64 << (8 * live)) - 1);
        if m == 0 {
            push_word(out, v, live);
            return;
        }
        let k = first(m);
        push_word(out, v, k);
        i = special(s, i + k, out, rules, &mut valid_until);
    }
}

/// Escapes the flagged byte `s[p]`; returns the index of the next byte to scan.
#[inline]
fn special(
    s: &[u8],
    p: usize,
    out: &mut Vec<u8>,
    rules: &EscapeRules,
    valid_until: &mut usize,
) -> usize {
    let b = s[p];
    if b < 0x80 {
        let e = rules.ascii[usize::from(b)];
        push_word(out, e, (e >> 56) as usize);
        return p + 1;
    }
    non_ascii(s, p, out, valid_until)
}

fn non_ascii(s: &[u8], p: usize, out: &mut Vec<u8>, valid_until: &mut usize) -> usize {
    if p >= *valid_until {
        let rest = &s[p..];
        *valid_until = p + match std::str::from_utf8(rest) {
            Ok(_) => rest.len(),
            Err(e) => e.valid_up_to(),
        };
        if *valid_until == p {
            out.extend_from_slice(b"\\ufffd");
            return p + 1;
        }
    }
    if s[p] == 0xe2 && s.get(p + 1) == Some(&0x80) {
        if let Some(&c @ (0xa8 | 0xa9)) = s.get(p + 2) {
            out.extend_from_slice(if c == 0xa8 { b"\\u2028" } else { b"\\u2029" });
            return p + 3;
        }
    }
    out.push(s[p]);
    p + 1
}

/// The first `"` or `\` in `s`: word at a time for short strings (where `memchr2`'s setup
/// dominates), `memchr2` for long ones.
#[inline]
pub(crate) fn find_quote_or_backslash(s: &[u8]) -> Option<usize> {
    if s.len() > 256 {
        return memchr::memchr2(b'"', b'\\', s);
    }
    let mut i = 0;
    while i + 8 <= s.len() {
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

/// The byte-at-a-time escaper [`escape`] replaced (dockerd's rules; logrus's with
/// `tab_short`), kept as the oracle the word-at-a-time one is checked against.
#[cfg(any(test, feature = "__fuzz"))]
pub(crate) fn escape_oracle(s: &[u8], out: &mut Vec<u8>, tab_short: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    let mut i = 0;
    // Bytes before this index are known to be valid UTF-8.
    let mut valid_until = 0;
    while let Some(&b) = s.get(i) {
        if b < 0x80 {
            if b >= 0x20 && !matches!(b, b'\\' | b'"' | b'<' | b'>' | b'&') {
                i += 1;
                continue;
            }
            out.extend_from_slice(&s[start..i]);
            match b {
                b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                b'\n' => out.extend_from_slice(b"\\n"),
                b'\r' => out.extend_from_slice(b"\\r"),
                b'\t' if tab_short => out.extend_from_slice(b"\\t"),
                _ => out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 0xf)],
                ]),
            }
            i += 1;
            start = i;
            continue;
        }
        if i >= valid_until {
            let rest = &s[i..];
            valid_until = i + match std::str::from_utf8(rest) {
                Ok(_) => rest.len(),
                Err(e) => e.valid_up_to(),
            };
            if valid_until == i {
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(b"\\ufffd");
                i += 1;
                start = i;
                continue;
            }
        }
        if b == 0xe2 && s.get(i + 1) == Some(&0x80) {
            if let Some(&c @ (0xa8 | 0xa9)) = s.get(i + 2) {
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(b"\\u202");
                out.push(HEX[usize::from(c & 0xf)]);
                i += 3;
                start = i;
                continue;
            }
        }
        i += 1;
    }
    out.extend_from_slice(&s[start..]);
}

/// Fuzz body `json_escape`: both escapers equal the byte-at-a-time oracle, on any bytes
/// (dockerd's rules) and on the longest valid UTF-8 prefix (logrus's), appended after
/// existing output.
#[cfg(feature = "__fuzz")]
pub fn fuzz_json_escape(data: &[u8]) {
    let mut fast = b"x".to_vec();
    escape(data, &mut fast, &DOCKER, 0);
    let mut slow = b"x".to_vec();
    escape_oracle(data, &mut slow, false);
    assert_eq!(fast, slow, "docker {data:?}");
    let text = match std::str::from_utf8(data) {
        Ok(t) => t,
        Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or_default(),
    };
    let mut fast = Vec::new();
    crate::runc::escape_logrus_json(text, &mut fast);
    let mut slow = Vec::new();
    escape_oracle(text.as_bytes(), &mut slow, true);
    assert_eq!(fast, slow, "logrus {text:?}");
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn fast(s: &[u8], rules: &EscapeRules, valid_until: usize) -> Vec<u8> {
        let mut out = Vec::new();
        escape(s, &mut out, rules, valid_until);
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
                    let special = |c: u8| c < 0x20 || matches!(c, b'"' | b'\\' | b'<' | b'>' | b'&');
                    assert_eq!(ascii_specials(w), expect(&special), "{bytes:?}");
                    assert_eq!(escape_mask(w), expect(&|c| special(c) || c >= 0x80));
                    assert_eq!(escape_mask_utf8(w), expect(&|c| special(c) || c == 0xe2));
                    assert_eq!(quote_or_backslash(w), expect(&|c| c == b'"' || c == b'\\'));
                }
            }
        }
    }

    #[test]
    fn every_short_input_around_the_word_edges_matches_the_oracle() {
        // Each escape class at each position of strings of 1 to 17 bytes.
        let fills: &[&[u8]] = &[b"\"", b"\\", b"\t", b"\x00", b"<", b"&", b"\xe2\x80\xa8", b"\xe2\x80", b"\xff", "é".as_bytes(), "🙂".as_bytes()];
        for len in 1..=17 {
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
        escape(b"a<b\xffc long enough to use words\xe2\x80\xa9", &mut out, &DOCKER, 0);
        assert_eq!(out, &br#"{"log":"a\u003cb\ufffdc long enough to use words\u2029"#[..]);
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
        fn docker_rules_match_the_oracle(s in prop::collection::vec(byte_mix(), 0..120)) {
            prop_assert_eq!(fast(&s, &DOCKER, 0), slow(&s, false));
        }

        #[test]
        fn logrus_rules_match_the_oracle(t in "[a-z \"\\\\<>&\t\n\r\u{0}\u{1f}\u{7f}é\u{2028}\u{2029}\u{2027}\u{202a}🙂]{0,80}") {
            prop_assert_eq!(fast(t.as_bytes(), &LOGRUS, t.len()), slow(t.as_bytes(), true));
        }
    }
}
