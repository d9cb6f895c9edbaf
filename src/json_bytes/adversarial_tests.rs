//! The block escaper against the byte-at-a-time oracle where its shortcuts could leak: the
//! bytes it may read after the string (none, a few, a whole view; escapes and a U+2028 cut
//! by the string's end among them), the `Vec` it writes into (spare capacity holding stale
//! bytes of any kind, too little capacity so that it grows mid-string), invalid UTF-8 at
//! every position around the block edges, and both classifiers (AVX2 where the CPU has it,
//! and SSE2).

use super::blocks::{escape_blocks_with, Sse2};
use super::escape::{escape_oracle, EscapeRules};
use super::*;

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// `text[..n]` escaped by `escape_ahead` and by the SSE2 block escaper, after existing
/// output, into `Vec`s whose spare capacity holds `stale` bytes (a byte left unwritten
/// would show unless it happened to be right for every fill), against the oracle.
fn check(text: &[u8], n: usize, rules: &EscapeRules, tab_short: bool, valid_until: usize) {
    let mut want = b"pre".to_vec();
    escape_oracle(&text[..n], &mut want, tab_short);
    for stale in [0u8, 0xff, b'a', b'\\'] {
        // No room (grows at once), less than one stage, and room for the worst case.
        for cap in [3usize, 700, 6 * n + 1000] {
            let fresh = || {
                let mut out = vec![stale; cap];
                out.clear();
                out.extend_from_slice(b"pre");
                out
            };
            let mut out = fresh();
            escape_ahead(text, n, &mut out, rules, valid_until);
            assert_eq!(out, want, "n {n} stale {stale} cap {cap} text {text:?}");
            let mut out = fresh();
            escape_blocks_with::<Sse2>(text, n, &mut out, rules, valid_until);
            assert_eq!(
                out, want,
                "SSE2: n {n} stale {stale} cap {cap} text {text:?}"
            );
        }
    }
}

/// The bytes the random strings are made of besides letters: every class the escaper
/// flags, the bytes of U+2028/U+2029 and of other multi-byte characters, and bytes that
/// are never valid UTF-8.
const SPECIAL: &[u8] = b"\"\\<>&\t\n\x00\x1f\x7f\xe2\x80\xa8\xa9\xc3\xff\xf0\x9f";

#[test]
fn every_length_with_every_lookahead() {
    let mut x = 0x1234_5678_9abc_def1u64;
    for n in 0..=300usize {
        for ahead in [0usize, 1, 2, 63, 64, 65, 127, 128, 129] {
            // Escape density out of 16 bytes.
            for density in [1u64, 16] {
                let mut text: Vec<u8> = (0..n + ahead)
                    .map(|_| {
                        let r = xorshift(&mut x);
                        if r % 16 < density {
                            SPECIAL[(r >> 8) as usize % SPECIAL.len()]
                        } else {
                            b'a' + (r >> 20) as u8 % 26
                        }
                    })
                    .collect();
                // A U+2028 cut by the string's end after its first or second byte.
                if n >= 2 && ahead >= 2 {
                    let at = n - 1 - (x % 2) as usize;
                    text[at..at + 3].copy_from_slice(b"\xe2\x80\xa8");
                }
                check(&text, n, &DOCKER, false, 0);
                if let Ok(t) = std::str::from_utf8(&text[..n]) {
                    check(&text, n, &LOGRUS, true, t.len());
                }
            }
        }
    }
}

#[test]
fn invalid_utf8_at_every_position_around_the_block_edges() {
    for n in [1usize, 2, 3, 63, 64, 65, 66, 127, 128, 129, 191, 192, 193] {
        let base: Vec<u8> = "é\u{2028}<🙂a".bytes().cycle().take(n).collect();
        for pos in 0..n {
            for bad in [0x80u8, 0xc3, 0xe2, 0xed, 0xf0, 0xff] {
                let mut text = base.clone();
                text[pos] = bad;
                // Lookahead that would complete a sequence cut by the end.
                text.extend_from_slice(b"\x80\xa8\x80\x80");
                check(&text, n, &DOCKER, false, 0);
                // A known-valid prefix, as a caller may pass.
                let valid =
                    std::str::from_utf8(&text[..n]).map_or_else(|e| e.valid_up_to(), str::len);
                check(&text, n, &DOCKER, false, valid);
            }
        }
    }
}
