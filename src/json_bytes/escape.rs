//! The escapers: dockerd's json-file rules and logrus's, over the word classifier of the
//! parent module.

use super::{ascii_specials, first};
use crate::swar::{eq, load, HI};

/// How one family of encoders writes each byte: an entry holds the output text (the byte
/// itself, or an escape of at most 6 bytes) in its low bytes and the text's length in its top
/// byte. Non-ASCII bytes are entries of themselves: the escaper sends the ones that need a
/// decision (0xE2, invalid UTF-8) elsewhere before it reads the table.
pub(crate) struct EscapeRules {
    pub(super) table: [u64; 256],
}

/// The entry of `text`.
pub(super) const fn entry(text: &[u8]) -> u64 {
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
/// On x86_64 the block escaper ([`escape_blocks`](super::blocks::escape_blocks)) runs, and hands a string that is not valid
/// UTF-8 to the word escaper ([`escape_words`]), which is also the portable path.
#[inline]
pub(crate) fn escape(s: &[u8], out: &mut Vec<u8>, rules: &EscapeRules, valid_until: usize) {
    escape_ahead(s, s.len(), out, rules, valid_until);
}

/// [`escape`] of `text[..len]`, which may read (never output) the bytes of `text` after `len`:
/// the block escaper then reads whole 128-byte views from the input instead of copying a
/// string's last bytes into a padded buffer, whose fresh stores its loads stalled on (store
/// forwarding fails for a load that spans several stores).
#[inline]
pub(crate) fn escape_ahead(
    text: &[u8],
    len: usize,
    out: &mut Vec<u8>,
    rules: &EscapeRules,
    valid_until: usize,
) {
    #[cfg(target_arch = "x86_64")]
    super::blocks::escape_blocks(text, len, out, rules, valid_until);
    #[cfg(not(target_arch = "x86_64"))]
    escape_words(&text[..len], out, rules, valid_until);
}

/// [`escape`] a word at a time (portable, and the fallback for invalid UTF-8): appends `s`
/// escaped with `rules` (without quotes). Bytes before `valid_until` must be valid
/// UTF-8 (`s.len()` for a `&str`, `0` when nothing is known). Non-ASCII: U+2028 and U+2029
/// become `\u2028` `\u2029`, other valid UTF-8 stays raw, each byte that does not start a
/// valid sequence becomes `\ufffd` (Go's `utf8.DecodeRune` consumes one byte per error).
///
/// A word with nothing to escape is copied whole; in a word with escapes each flagged byte is
/// replaced in turn (the mask is computed once per word); a non-ASCII byte that needs a
/// decision (0xE2, or any non-ASCII byte not yet known valid) stops the word there.
pub(crate) fn escape_words(
    s: &[u8],
    out: &mut Vec<u8>,
    rules: &EscapeRules,
    mut valid_until: usize,
) {
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
    let mut slow = b"x".to_vec();
    escape_oracle(data, &mut slow, false);
    let mut fast = b"x".to_vec();
    escape(data, &mut fast, &DOCKER, 0);
    assert_eq!(fast, slow, "docker {data:?}");
    let mut words = b"x".to_vec();
    escape_words(data, &mut words, &DOCKER, 0);
    assert_eq!(words, slow, "docker words {data:?}");
    #[cfg(target_arch = "x86_64")]
    {
        let mut sse2 = b"x".to_vec();
        let rules = &DOCKER;
        super::blocks::escape_blocks_with::<super::blocks::Sse2>(
            data,
            data.len(),
            &mut sse2,
            rules,
            0,
        );
        assert_eq!(sse2, slow, "docker sse2 {data:?}");
    }
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
