//! The escapers: dockerd's json-file rules and logrus's, over the word classifier of the
//! parent module.

use super::{ascii_specials, first};
use crate::swar::{eq, load, HI};
#[cfg(target_arch = "x86_64")]
use std::mem::MaybeUninit;

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
/// On x86_64 the block escaper ([`escape_blocks`]) runs, and hands a string that is not valid
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
    escape_blocks(text, len, out, rules, valid_until);
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

/// Input bytes classified at once by the block escaper: its bitmap is one `u64`.
#[cfg(target_arch = "x86_64")]
const BLOCK: usize = 64;
/// The bytes the block escaper may read from a block's start: the block, and the 64 bytes a
/// re-copy after its last escape takes.
#[cfg(target_arch = "x86_64")]
const VIEW: usize = 2 * BLOCK;
/// The block escaper's staging buffer: room for one block's worst case (every byte a 6-byte
/// escape, plus the 64-byte re-copy and an 8-byte store) after what is already staged.
#[cfg(target_arch = "x86_64")]
const BLOCK_STAGE: usize = 640;
#[cfg(target_arch = "x86_64")]
const BLOCK_WORST: usize = BLOCK * 6 + BLOCK + 16;

/// The bitmaps of one 64-byte block (bit `k` for byte `k`): the bytes to rewrite (the ASCII
/// specials and 0xE2, which may start U+2028/U+2029) and the bytes at or above 0x80.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify_block(view: &[u8; VIEW]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    let mut special = 0u64;
    let mut high = 0u64;
    for j in 0..BLOCK / 16 {
        let part = &view[16 * j..16 * j + 16];
        // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics are available on
        // every x86_64 CPU; the one load reads the 16 bytes of `part`, unaligned.
        let (m, ctl, h) = unsafe {
            let v = _mm_loadu_si128(part.as_ptr().cast::<__m128i>());
            // A signed compare: bytes below 0x20 and bytes from 0x80 (negative) are both
            // "less than 0x20"; the high bytes are taken out below.
            let ctl = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            // `<` 0x3c and `>` 0x3e differ only in bit 1.
            let angle = _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(2)), _mm_set1_epi8(0x3e));
            let amp = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'&' as i8));
            let e2 = _mm_cmpeq_epi8(v, _mm_set1_epi8(0xe2u8 as i8));
            let m = _mm_or_si128(_mm_or_si128(quote, backslash), _mm_or_si128(angle, amp));
            (
                _mm_movemask_epi8(_mm_or_si128(m, e2)),
                _mm_movemask_epi8(ctl),
                _mm_movemask_epi8(v),
            )
        };
        let (m, ctl, h) = (
            u64::from(m as u16),
            u64::from(ctl as u16),
            u64::from(h as u16),
        );
        special |= (m | (ctl & !h)) << (16 * j);
        high |= h << (16 * j);
    }
    (special, high)
}

/// [`escape`] 64 bytes at a time (x86_64): one SSE2 bitmap per block, the block copied raw
/// into the output, then each flagged byte written as its escape followed by a fixed 64-byte
/// re-copy of the input after it. A line's escapes then cost one loop iteration each and one
/// unpredictable exit per block, instead of a branch per 8-byte word. UTF-8 is checked (once,
/// from the first block with a byte at or above 0x80) only when `valid_until` does not cover
/// `s`; a string that is not valid UTF-8 is escaped again by [`escape_words`].
///
/// The output is written straight into `out`'s spare capacity, a window of `BLOCK_STAGE`
/// bytes at a time: a zeroed stack stage copied into `out` cost a `memset` and a `memcpy` per
/// string, a fifth of a short-line json-file write.
///
/// The string is `text[..n]`; the views read `text` past `n` where it has the bytes (their
/// flags are masked off, their copies overwritten or not counted), and a padded copy of the
/// string's end where it does not.
#[cfg(target_arch = "x86_64")]
pub(crate) fn escape_blocks(
    text: &[u8],
    n: usize,
    out: &mut Vec<u8>,
    rules: &EscapeRules,
    valid_until: usize,
) {
    let s = &text[..n];
    let start = out.len();
    let mut utf8_known = valid_until >= n;
    // The last bytes, padded: every view is then `VIEW` bytes long.
    let mut pad = [b' '; VIEW];
    let mut i = 0;
    while i < n {
        out.reserve(BLOCK_STAGE);
        let Some(stage) = out.spare_capacity_mut().first_chunk_mut::<BLOCK_STAGE>() else {
            unreachable!("reserved above")
        };
        // Bytes of `stage` written so far, all of them output.
        let mut o = 0;
        while i < n && o <= BLOCK_STAGE - BLOCK_WORST {
            let len = (n - i).min(BLOCK);
            let view: &[u8; VIEW] = match text.get(i..i + VIEW) {
                Some(v) => v.try_into().unwrap_or(&pad),
                None => {
                    pad[..n - i].copy_from_slice(&s[i..]);
                    &pad
                }
            };
            let (mut m, high) = classify_block(view);
            let live = if len < BLOCK {
                (1u64 << len) - 1
            } else {
                u64::MAX
            };
            m &= live;
            if high & live != 0 && !utf8_known {
                // Every byte before `i` is ASCII, so `s` is valid UTF-8 exactly when `s[i..]` is.
                if std::str::from_utf8(&s[i..]).is_err() {
                    out.truncate(start);
                    return escape_words(s, out, rules, valid_until);
                }
                utf8_known = true;
            }
            // The clamps never bind (`o` is at most `BLOCK_STAGE - BLOCK_WORST` here, and grows
            // by at most 6 per escape); they only spare the bounds checks.
            let at = o.min(BLOCK_STAGE - BLOCK);
            put(stage, at, block_at(view, 0));
            // `prev`: the block offset up to which the input has been written (raw or escaped).
            let mut prev = 0;
            while m != 0 {
                let k = m.trailing_zeros() as usize;
                m &= m - 1;
                o += k - prev;
                let c = view[k];
                let mut next = k + 1;
                let e = if c == 0xe2 && s.get(i + k + 1) == Some(&0x80) {
                    match s.get(i + k + 2) {
                        Some(0xa8) => {
                            next = k + 3;
                            entry(b"\\u2028")
                        }
                        Some(0xa9) => {
                            next = k + 3;
                            entry(b"\\u2029")
                        }
                        _ => rules.table[0xe2],
                    }
                } else {
                    rules.table[usize::from(c)]
                };
                let at = o.min(BLOCK_STAGE - 8);
                put(stage, at, &e.to_le_bytes());
                o += (e >> 56) as usize;
                // The input after the escape; the bytes past the block's end are overwritten
                // by the next block. A U+2028 that runs into the next block (`next` > 64)
                // copies nothing that counts: the next block starts after it.
                let at = o.min(BLOCK_STAGE - BLOCK);
                put(stage, at, block_at(view, next));
                prev = next;
            }
            let end = len.max(prev);
            o += end - prev;
            i += end;
        }
        let len = out.len() + o;
        // SAFETY: `stage` starts at `out`'s length and its first `o` bytes are written: a
        // block's raw copy covers the `o` it advances to, an escape's 8-byte store covers the
        // escape, and the re-copy after it covers the input that follows up to the block's
        // end. (The escaped text never holds a zero byte, so a byte left unwritten would show
        // in the tests, which compare every output with the byte-at-a-time oracle.)
        unsafe { out.set_len(len) };
    }
}

/// Copies `bytes` into `stage` at `at`, making them initialised.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn put<const N: usize>(stage: &mut [MaybeUninit<u8>], at: usize, bytes: &[u8; N]) {
    stage[at..at + N].copy_from_slice(&bytes.map(MaybeUninit::new));
}

/// The 64 bytes of `view` from `from`, clamped to the view's second half.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_at(view: &[u8; VIEW], from: usize) -> &[u8; BLOCK] {
    match view[from.min(VIEW - BLOCK)..].first_chunk() {
        Some(b) => b,
        None => unreachable!("the view holds 64 bytes from any offset up to 64"),
    }
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
