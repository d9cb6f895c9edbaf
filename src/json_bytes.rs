//! JSON string bytes, eight at a time: the one byte classifier behind the crate's JSON string
//! escapers (dockerd's json-file rules, logrus's rules) and the Docker record unescaper.
//!
//! What: a string is scanned a 64-bit word at a time (SWAR, portable and `unsafe`-free); each
//! scan computes a mask with the high bit set in every byte that needs work, and the bytes
//! between are copied as whole words. Escaping flags `"`, `\`, bytes below 0x20, `<` `>` `&`
//! (Go `encoding/json`'s HTML escaping, which dockerd and logrus use), and the bytes that may
//! start U+2028/U+2029 or invalid UTF-8; unescaping flags `"` and `\`. Output is written with
//! fixed 8-byte stores at a register index (a stack staging buffer when escaping, the scratch
//! buffer sized once when unescaping), never a variable-length copy per piece.
//!
//! Reference: Go `encoding/json` `appendString` (`encode.go`) for the escaping rules, moby
//! `ffjsonWriteJSONBytesAsString` (`jsonlog/jsonlogbytes.go`) for dockerd's variant, Go
//! `unquoteBytes` (`decode.go`) for unescaping; the SWAR masks are the classic "byte equals"
//! and "byte below" tests: the escaper's are exact per byte (no carry crosses a byte), the
//! unescaper's search for the first `"` or `\` only needs its lowest flag exact.
//!
//! Limits: the output grows by at most the escaped string (6 bytes per input byte at worst);
//! invalid UTF-8 is found with `std::str::from_utf8`, which accepts exactly what Go's
//! `utf8.DecodeRune` accepts (see [`crate::go_utf8`] for the per-byte U+FFFD rule). Speed
//! depends on escape density: text with an escape every few bytes (random ASCII with `"<>&`,
//! JSON logs) costs about one mispredicted branch per word that holds one; a branch-free
//! expansion would need SIMD shuffles, i.e. `std::arch` and `unsafe`.

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

/// How one family of encoders writes each byte: an entry holds the output text (the byte
/// itself, or an escape of at most 6 bytes) in its low bytes and the text's length in its top
/// byte. Non-ASCII bytes are entries of themselves: the escaper sends the ones that need a
/// decision (0xE2, invalid UTF-8) elsewhere before it reads the table.
pub(crate) struct EscapeRules {
    table: [u64; 256],
}

/// The entry of `text`.
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
    let mut table = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = match c {
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
            _ => entry(&[c]),
        };
        b += 1;
    }
    EscapeRules { table }
}

/// dockerd's json-file writer: tab is `\u0009` (moby's hand-written encoder).
pub(crate) static DOCKER: EscapeRules = rules(false);
/// logrus (Go `encoding/json`): tab is `\t`.
pub(crate) static LOGRUS: EscapeRules = rules(true);

/// Escaped output is built in a small stack buffer and appended to the caller's `Vec` in
/// pieces: every write is then a fixed 8-byte store at a register index (writing into the
/// `Vec` itself reloads its length and capacity after each store, as a `u8` store may alias
/// them), and a shorter text is overwritten by the next store.
struct Staging {
    buf: [u8; STAGE],
    o: usize,
}

const STAGE: usize = 256;
/// The most one word adds to the staging buffer: 8 escapes of 6 bytes, plus the 8-byte store
/// that may run past the last one.
const WORD_MAX: usize = 8 * 6 + 8;

impl Staging {
    /// Stores the 8 bytes of `w` at the write index without advancing it. The index is below
    /// `STAGE - 8` by construction; the `min` only spares the bounds check.
    #[inline(always)]
    fn put(&mut self, w: u64) {
        let o = self.o.min(STAGE - 8);
        self.buf[o..o + 8].copy_from_slice(&w.to_le_bytes());
    }
}

/// Appends `s` escaped with `rules` (without quotes). Bytes before `valid_until` must be valid
/// UTF-8 (`s.len()` for a `&str`, `0` when nothing is known). Non-ASCII: U+2028 and U+2029
/// become `\u2028` `\u2029`, other valid UTF-8 stays raw, each byte that does not start a
/// valid sequence becomes `\ufffd` (Go's `utf8.DecodeRune` consumes one byte per error).
///
/// A word with nothing to escape is copied whole; in a word with escapes each flagged byte is
/// replaced in turn (the mask is computed once per word); a non-ASCII byte that needs a
/// decision (0xE2, or any non-ASCII byte not yet known valid) stops the word there.
pub(crate) fn escape(s: &[u8], out: &mut Vec<u8>, rules: &EscapeRules, mut valid_until: usize) {
    let n = s.len();
    out.reserve(n + n / 8 + 8);
    let mut st = Staging {
        buf: [0; STAGE],
        o: 0,
    };
    let mut i = 0;
    while i < n {
        if st.o > STAGE - WORD_MAX {
            out.extend_from_slice(&st.buf[..st.o]);
            st.o = 0;
        }
        // A whole word; at the end the last 8 bytes shifted so that `s[i]` is byte 0 (the
        // top bytes, zero, are masked out); a string shorter than 8 bytes padded with spaces.
        let (w, live) = if i + 8 <= n {
            (load(s, i), 8)
        } else if n >= 8 {
            let live = n - i;
            (load(s, n - 8) >> (8 * (8 - live)), live)
        } else {
            let mut p = [b' '; 8];
            p[..n - i].copy_from_slice(&s[i..]);
            (u64::from_le_bytes(p), n - i)
        };
        let live_mask = if live < 8 {
            (1u64 << (8 * live)) - 1
        } else {
            u64::MAX
        };
        // Non-ASCII bytes that need a decision.
        let care = if i + live <= valid_until {
            eq(w, 0xe2)
        } else {
            w & HI
        } & live_mask;
        let mut m = (ascii_specials(w) & live_mask) | care;
        st.put(w);
        if m == 0 {
            st.o += live;
            i += live;
            continue;
        }
        // Every escape of this word in turn, from the one mask (its flags are exact); a
        // non-ASCII flag ends the word there and scanning restarts after it.
        let mut k0 = 0;
        loop {
            let k = first(m);
            st.o += k - k0;
            let b = (w >> (8 * k)) as u8;
            if care & (0x80 << (8 * k)) != 0 {
                i = non_ascii(s, i + k, &mut st, &mut valid_until);
                break;
            }
            let e = rules.table[usize::from(b)];
            st.put(e);
            st.o += (e >> 56) as usize;
            k0 = k + 1;
            m &= m - 1;
            if k0 < 8 {
                st.put(w >> (8 * k0));
            }
            if m == 0 {
                st.o += live - k0;
                i += live;
                break;
            }
        }
    }
    out.extend_from_slice(&st.buf[..st.o]);
}

/// The flagged non-ASCII byte `s[p]`; returns the index of the next byte to scan.
fn non_ascii(s: &[u8], p: usize, st: &mut Staging, valid_until: &mut usize) -> usize {
    if p >= *valid_until {
        let rest = &s[p..];
        *valid_until = p + match std::str::from_utf8(rest) {
            Ok(_) => rest.len(),
            Err(e) => e.valid_up_to(),
        };
        if *valid_until == p {
            st.put(entry(b"\\ufffd"));
            st.o += 6;
            return p + 1;
        }
    }
    if s[p] == 0xe2 && s.get(p + 1) == Some(&0x80) {
        if let Some(&c @ (0xa8 | 0xa9)) = s.get(p + 2) {
            st.put(entry(if c == 0xa8 { b"\\u2028" } else { b"\\u2029" }));
            st.o += 6;
            return p + 3;
        }
    }
    st.put(u64::from(s[p]));
    st.o += 1;
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

/// The first `"`, `\` or byte below 0x20 in `s`: where a scanner that rejects raw control
/// bytes in strings (Go's, in `runc::compat`) must stop. Word at a time; the lowest flag of
/// the combined mask is exact because each part's lowest flag is.
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

/// Where [`unescape_string`] left a string's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unescaped {
    /// No escapes: the value is the body up to the closing quote.
    Raw,
    /// The only escape is a final `\n` (dockerd's every complete line): the value is the
    /// body up to the closing quote less those two bytes, then a newline. Nothing is copied.
    RawThenNewline,
    /// Decoded into the scratch buffer.
    Scratch,
}

/// Reads a JSON string body from `body[0]` (after its opening quote) to its closing quote, as
/// Go's `unquoteBytes` decodes it: returns the quote's index and where the value is
/// ([`Unescaped`]; `scratch` is overwritten only for [`Unescaped::Scratch`]). `None`: no
/// closing quote, or an escape Go rejects. Raw control bytes and invalid UTF-8 are passed
/// through as they are (the caller decides; Go would reject the first and replace the second).
pub(crate) fn unescape_string(body: &[u8], scratch: &mut Vec<u8>) -> Option<(usize, Unescaped)> {
    let at = find_quote_or_backslash(body)?;
    if body[at] == b'"' {
        return Some((at, Unescaped::Raw));
    }
    if body.get(at + 1..at + 3) == Some(b"n\"") {
        return Some((at + 2, Unescaped::RawThenNewline));
    }
    // Unescaping never lengthens (`\"` is 2 bytes for 1, `\uXXXX` 6 for at most 3, a
    // surrogate pair 12 for 4), so `scratch` is sized once for the rest of the line, plus the
    // slack of one 8-byte store, and written by index (no capacity check per piece). Only
    // the growth is zeroed: what a previous record left is overwritten before it is read,
    // and the content is cut to its length at the end.
    if scratch.len() < body.len() + 8 {
        scratch.resize(body.len() + 8, 0);
    }
    let out = &mut scratch[..];
    out[..at].copy_from_slice(&body[..at]);
    let (mut i, mut o) = (at, at);
    loop {
        // `body[i]` is a backslash.
        (i, o) = unescape(body, i, out, o)?;
        // Copy words up to the next `"` or `\`. The store may write bytes past the match;
        // they are overwritten or cut off. `o <= i` (nothing lengthens), so it fits.
        loop {
            if i + 8 <= body.len() {
                let w = load(body, i);
                out[o..o + 8].copy_from_slice(&w.to_le_bytes());
                let m = quote_or_backslash(w);
                if m == 0 {
                    i += 8;
                    o += 8;
                    continue;
                }
                let k = first(m);
                i += k;
                o += k;
            } else {
                let k = body
                    .get(i..)?
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\')?;
                out[o..o + k].copy_from_slice(&body[i..i + k]);
                i += k;
                o += k;
            }
            break;
        }
        if body[i] == b'"' {
            scratch.truncate(o);
            return Some((i, Unescaped::Scratch));
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

/// Part of the `json_encode` fuzz body: both escapers equal the byte-at-a-time oracle, on any bytes
/// (dockerd's rules) and on the longest valid UTF-8 prefix (logrus's), appended after
/// existing output.
#[cfg(feature = "__fuzz")]
pub(crate) fn fuzz_json_escape(data: &[u8]) {
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
        // Each escape class at each position of strings of 1 to 17 bytes.
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
        fn docker_rules_match_the_oracle(s in prop::collection::vec(byte_mix(), 0..120)) {
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
                    Unescaped::Scratch => scratch.clone(),
                };
                prop_assert_eq!(got, t.as_bytes());
            }
        }

        #[test]
        fn logrus_rules_match_the_oracle(t in "[a-z \"\\\\<>&\t\n\r\u{0}\u{1f}\u{7f}é\u{2028}\u{2029}\u{2027}\u{202a}🙂]{0,80}") {
            prop_assert_eq!(fast(t.as_bytes(), &LOGRUS, t.len()), slow(t.as_bytes(), true));
        }
    }
}
