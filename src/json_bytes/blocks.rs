//! The block escaper (x86_64): [`escape`](super::escape)'s fast path, 64 input bytes
//! classified into one bitmap at a time, with SSE2 (the x86_64 baseline) or, where the CPU
//! has it (detected at run time), AVX2. The portable word escaper is its fallback for
//! invalid UTF-8 and the reference the tests hold both classifiers to.

use std::mem::MaybeUninit;

use super::escape::{entry, escape_words, EscapeRules};
use crate::go_utf8::sequence_len;

/// Input bytes classified at once by the block escaper: its bitmap is one `u64`.
const BLOCK: usize = 64;
/// The bytes the block escaper may read from a block's start: the block, and the 64 bytes a
/// re-copy after its last escape takes.
const VIEW: usize = 2 * BLOCK;
/// Write offsets in a window are masked with this (one `and`, where a clamp to the window's
/// end took three instructions, three times per escape): a block starts below `STAGE_FILL`
/// and adds at most 6 bytes per input byte, so every offset stays below `STAGE_MASK` and
/// the mask never changes one; it only lets the compiler drop the bounds checks.
const STAGE_MASK: usize = 1023;
/// The window of spare capacity written at a time: any masked offset plus a 64-byte store.
const BLOCK_STAGE: usize = STAGE_MASK + 1 + BLOCK;
/// A new block starts only below this fill: its worst case (every byte a 6-byte escape)
/// keeps offsets below `STAGE_MASK`.
const STAGE_FILL: usize = STAGE_MASK + 1 - BLOCK * 6 - 16;

/// A way to classify one 64-byte block: its bitmaps (bit `k` for byte `k`) of the bytes to
/// rewrite (the ASCII specials and 0xE2, which may start U+2028/U+2029) and of the bytes at
/// or above 0x80.
pub(super) trait Classify {
    /// The (special, high) bitmaps of `view`'s first 64 bytes.
    fn classify(view: &[u8; VIEW]) -> (u64, u64);
}

/// 16 bytes at a time (SSE2, every x86_64 CPU).
pub(super) struct Sse2;
/// 32 bytes at a time (AVX2); only through [`escape_blocks_avx2`], which runs only where
/// the CPU has AVX2.
struct Avx2;

impl Classify for Sse2 {
    #[inline(always)]
    fn classify(view: &[u8; VIEW]) -> (u64, u64) {
        classify_sse2(view)
    }
}

impl Classify for Avx2 {
    #[inline(always)]
    fn classify(view: &[u8; VIEW]) -> (u64, u64) {
        // SAFETY: `Avx2` is only used by `escape_blocks_avx2`, called only after
        // `is_x86_feature_detected!("avx2")` (in `escape_blocks`).
        unsafe { classify_avx2(view) }
    }
}

#[inline(always)]
fn classify_sse2(view: &[u8; VIEW]) -> (u64, u64) {
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

/// [`classify_sse2`] 32 bytes at a time: half the compares and masks per block.
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn classify_avx2(view: &[u8; VIEW]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8,
    };
    let mut special = 0u64;
    let mut high = 0u64;
    for j in 0..BLOCK / 32 {
        let part = &view[32 * j..32 * j + 32];
        // SAFETY: the caller guarantees AVX2; the one load reads the 32 bytes of `part`,
        // unaligned. The classes are `classify_sse2`'s.
        let (m, ctl, h) = unsafe {
            let v = _mm256_loadu_si256(part.as_ptr().cast::<__m256i>());
            let ctl = _mm256_cmpgt_epi8(_mm256_set1_epi8(0x20), v);
            let quote = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'"' as i8));
            let backslash = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'\\' as i8));
            let angle = _mm256_cmpeq_epi8(
                _mm256_or_si256(v, _mm256_set1_epi8(2)),
                _mm256_set1_epi8(0x3e),
            );
            let amp = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(b'&' as i8));
            let e2 = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0xe2u8 as i8));
            let m = _mm256_or_si256(
                _mm256_or_si256(quote, backslash),
                _mm256_or_si256(angle, amp),
            );
            (
                _mm256_movemask_epi8(_mm256_or_si256(m, e2)),
                _mm256_movemask_epi8(ctl),
                _mm256_movemask_epi8(v),
            )
        };
        let (m, ctl, h) = (
            u64::from(m as u32),
            u64::from(ctl as u32),
            u64::from(h as u32),
        );
        special |= (m | (ctl & !h)) << (32 * j);
        high |= h << (32 * j);
    }
    (special, high)
}

/// [`escape_blocks_with`] on the fastest classifier this CPU has.
#[inline]
pub(crate) fn escape_blocks(
    text: &[u8],
    n: usize,
    out: &mut Vec<u8>,
    rules: &EscapeRules,
    valid_until: usize,
) {
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, just checked.
        unsafe { escape_blocks_avx2(text, n, out, rules, valid_until) }
    } else {
        escape_blocks_with::<Sse2>(text, n, out, rules, valid_until);
    }
}

/// [`escape_blocks_with`] compiled for AVX2 (its copies too become 32-byte moves).
///
/// # Safety
/// The CPU must have AVX2.
#[target_feature(enable = "avx2")]
unsafe fn escape_blocks_avx2(
    text: &[u8],
    n: usize,
    out: &mut Vec<u8>,
    rules: &EscapeRules,
    valid_until: usize,
) {
    escape_blocks_with::<Avx2>(text, n, out, rules, valid_until);
}

/// [`escape`](super::escape) 64 bytes at a time: one bitmap per block (from `C`), the block
/// copied raw into the output, then each flagged byte written as its escape followed by a fixed 64-byte
/// re-copy of the input after it. A line's escapes then cost one loop iteration each and one
/// unpredictable exit per block, instead of a branch per 8-byte word. UTF-8 is checked one
/// character at a time where a block's bitmap of bytes at or above 0x80 shows one
/// ([`check_utf8`]), past `valid_until`; a string that is not valid UTF-8 is escaped again
/// by [`escape_words`].
///
/// The output is written straight into `out`'s spare capacity, a window of `BLOCK_STAGE`
/// bytes at a time: a zeroed stack stage copied into `out` cost a `memset` and a `memcpy` per
/// string, a fifth of a short-line json-file write.
///
/// The string is `text[..n]`; the views read `text` past `n` where it has the bytes (their
/// flags are masked off, their copies overwritten or not counted), and a padded copy of the
/// string's end where it does not.
#[inline(always)]
pub(super) fn escape_blocks_with<C: Classify>(
    text: &[u8],
    n: usize,
    out: &mut Vec<u8>,
    rules: &EscapeRules,
    valid_until: usize,
) {
    let s = &text[..n];
    let start = out.len();
    // The bytes before `valid_to` are whole valid UTF-8 characters.
    let mut valid_to = valid_until;
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
        while i < n && o <= STAGE_FILL {
            let len = (n - i).min(BLOCK);
            let view: &[u8; VIEW] = match text.get(i..i + VIEW) {
                Some(v) => v.try_into().unwrap_or(&pad),
                None => {
                    pad[..n - i].copy_from_slice(&s[i..]);
                    &pad
                }
            };
            let (mut m, high) = C::classify(view);
            let live = if len < BLOCK {
                (1u64 << len) - 1
            } else {
                u64::MAX
            };
            m &= live;
            let high = high & live;
            if high != 0 && valid_to < i + len {
                match check_utf8(s, i, high, valid_to) {
                    Some(to) => valid_to = to,
                    None => {
                        out.truncate(start);
                        return escape_words(s, out, rules, valid_until);
                    }
                }
            }
            // The masks never bind (`o` is at most `STAGE_FILL` here, and grows
            // by at most 6 per escape); they only spare the bounds checks.
            let at = o & STAGE_MASK;
            put(stage, at, block_at(view, 0));
            // `prev`: the block offset up to which the input has been written (raw or escaped).
            let mut prev = 0;
            while m != 0 {
                let k = m.trailing_zeros() as usize;
                m &= m - 1;
                o += k - prev;
                let c = view[k];
                let mut next = k + 1;
                // `s`, not `text`: a U+2028 is never completed by the bytes after the string.
                // (A string cut inside one is not valid UTF-8 and went to the word escaper
                // above; the bound only keeps this exact.)
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
                let at = o & STAGE_MASK;
                put(stage, at, &e.to_le_bytes());
                o += (e >> 56) as usize;
                // The input after the escape; the bytes past the block's end are overwritten
                // by the next block. A U+2028 that runs into the next block (`next` > 64)
                // copies nothing that counts: the next block starts after it.
                let at = o & STAGE_MASK;
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

/// Characters of one block [`check_utf8`] checks one at a time before it validates the rest
/// of the string at once: the sparse accents and symbols of mostly-ASCII logs stay below it.
const DENSE_CHARS: u32 = 8;

/// Checks the characters of `s` that start at the bytes `i + k` for the set bits `k` of
/// `high` (the bytes at or above 0x80), skipping those inside the valid text before
/// `valid_to`. Returns where the valid text now ends, or `None` at the first byte that does
/// not start a valid character ([`sequence_len`]). A block's bytes after its last character
/// are ASCII, so every non-ASCII byte of `s` is either checked here or inside a character
/// checked here. Past [`DENSE_CHARS`] characters in one block, the rest of the string is
/// validated at once ([`valid_rest`]).
#[inline(always)]
fn check_utf8(s: &[u8], i: usize, mut high: u64, mut valid_to: usize) -> Option<usize> {
    let mut budget = DENSE_CHARS;
    while high != 0 {
        let p = i + high.trailing_zeros() as usize;
        high &= high - 1;
        if p >= valid_to {
            if budget == 0 {
                // Text of mostly non-ASCII characters (CJK, ...): one `from_utf8` of the rest
                // of the string costs less than a check per character (those took 1.7x the
                // instructions of a json-file write of CJK lines). `p` starts a character:
                // the bytes from `valid_to` to it are ASCII.
                return valid_rest(s, p);
            }
            budget -= 1;
            valid_to = p + sequence_len(s, p)?;
        }
    }
    Some(valid_to)
}

/// `Some(s.len())` when `s[p..]` is valid UTF-8: [`check_utf8`]'s way out of dense text, out
/// of line so that the check stays small enough to inline.
#[cold]
#[inline(never)]
fn valid_rest(s: &[u8], p: usize) -> Option<usize> {
    std::str::from_utf8(&s[p..]).is_ok().then_some(s.len())
}

/// Copies `bytes` into `stage` at `at`, making them initialised.
#[inline(always)]
fn put<const N: usize>(stage: &mut [MaybeUninit<u8>], at: usize, bytes: &[u8; N]) {
    stage[at..at + N].copy_from_slice(&bytes.map(MaybeUninit::new));
}

/// The 64 bytes of `view` from `from`, clamped to the view's second half.
#[inline(always)]
fn block_at(view: &[u8; VIEW], from: usize) -> &[u8; BLOCK] {
    match view[from.min(VIEW - BLOCK)..].first_chunk() {
        Some(b) => b,
        None => unreachable!("the view holds 64 bytes from any offset up to 64"),
    }
}
