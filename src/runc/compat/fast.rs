//! The scanner's shortcuts over a contiguous slice, each equal to a walk of the byte-at-a-time
//! grammar in [`scanner`](super::scanner) and falling back to it wherever that walk could
//! do anything but accept:
//!
//! * [`valid_body_prefix`]: a string body up to its closing quote, 64 bytes at a time.
//! * [`flat_record`]: a whole top-level object whose values are all strings (the shape of
//!   every runc, crun and NVIDIA runtime record), with no per-byte state machine.
//!
//! Limits: both stop at a slice's end; the scanner then goes on byte by byte into the next
//! chunk, so a record split by a chunk boundary costs the slow path once. A record with a
//! value that is not a string (a number, `null`, an object) is read twice: by
//! [`flat_record`] up to that value, then by the byte-at-a-time grammar.

use super::rules::{Record, Target};
use crate::json_bytes;

/// The letters Go accepts after `\` besides `u`.
#[inline(always)]
pub(super) fn simple_escape(b: u8) -> bool {
    SIMPLE_ESCAPE[usize::from(b)]
}

/// [`simple_escape`] as a table: a load, where a bit set needs a 128-bit shift.
static SIMPLE_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let letters = *b"\"\\/bfnrt";
    let mut k = 0;
    while k < letters.len() {
        t[letters[k] as usize] = true;
        k += 1;
    }
    t
};

/// The escaped bytes of a 64-byte block (those right after a `\` that is not itself
/// escaped), given its backslashes and whether its first byte is escaped by the block before
/// (`carry`, updated for the next block). Runs of backslashes pair up from their start: bits
/// of odd-length runs starting on an even or odd bit are told apart by one addition.
/// Reference: simdjson's `find_escaped_branchless` (Langdale and Lemire, "Parsing Gigabytes
/// of JSON per Second", 2019).
#[inline(always)]
fn escaped(backslashes: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let backslashes = backslashes & !*carry;
    let follows = backslashes << 1 | *carry;
    let odd_starts = backslashes & !EVEN & !follows;
    let (even_runs, overflow) = odd_starts.overflowing_add(backslashes);
    *carry = u64::from(overflow);
    (EVEN ^ (even_runs << 1)) & follows
}

/// The length of the longest prefix of `s` that the string grammar accepts as body bytes:
/// bytes from 0x20 up but `"` and `\`, and complete valid escapes. It ends at the closing
/// quote, at a byte Go rejects, at the `\` of an escape that is bad or cut by the end of
/// `s`, or at the end of `s`: where the byte-at-a-time grammar takes over.
///
/// 64 bytes at a time: masks of the backslashes, quotes and control bytes
/// ([`json_bytes::string_masks`]), the escaped bytes from the backslashes ([`escaped`]),
/// so that the first unescaped quote or control byte ends the walk; only the escaped bytes
/// before it are looked at one by one (a table test, and the four hex digits of a `\u`).
/// Messages such as a pretty-printed config have an escape every few bytes.
///
/// Also says whether the prefix may hold a `\` (`false`: surely none, the bytes are the
/// string's value as they are).
#[inline(always)]
pub(super) fn valid_body_prefix(s: &[u8]) -> (usize, bool) {
    // Most strings of a record (keys, level, time) end within 32 bytes, escape-free: a look
    // at those first, inline, before the 64-byte walk.
    if let Some(head) = s.first_chunk::<32>() {
        let (backslashes, stops) = json_bytes::string_masks(head);
        // A stop with no backslash before it (`stop - 1`: the bits below the lowest stop).
        if stops != 0 && backslashes & stops.wrapping_sub(1) == 0 {
            return (stops.trailing_zeros() as usize, false);
        }
    }
    valid_body_walk(s)
}

/// [`valid_body_prefix`]'s walk.
fn valid_body_walk(s: &[u8]) -> (usize, bool) {
    let mut base = 0;
    let mut carry = 0u64;
    let mut escapes = 0u64;
    loop {
        let pad;
        let block = match s.get(base..).and_then(|r| r.first_chunk::<64>()) {
            Some(block) => block,
            None => {
                // The short end of `s`, padded with a byte that stops the walk (0x00).
                let tail = s.get(base..).unwrap_or_default();
                let mut b = [0u8; 64];
                b[..tail.len()].copy_from_slice(tail);
                pad = b;
                &pad
            }
        };
        let (backslashes, stops) = json_bytes::string_masks(block);
        let stop = if backslashes | carry == 0 {
            stops
        } else {
            let esc = escaped(backslashes, &mut carry);
            let stop = stops & !esc;
            // The bits up to the first stop (all of them when there is none). The escaped
            // bytes among them are checked: an escaped stop byte is a bad escape, found here.
            let upto = stop ^ stop.wrapping_sub(1);
            escapes |= backslashes & upto;
            let mut walk = esc & upto;
            while walk != 0 {
                let k = walk.trailing_zeros() as usize;
                let c = block[k];
                let ok = simple_escape(c)
                    || c == b'u'
                        && s.get(base + k + 1..base + k + 5)
                            .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
                if !ok {
                    // The escape's `\`, at `base + k - 1`: `k == 0` only when the block
                    // before ended with it (`carry`), so `base >= 64`.
                    return ((base + k).saturating_sub(1), true);
                }
                walk &= walk - 1;
            }
            stop
        };
        if stop != 0 {
            // Past the end only in the padding.
            let end = (base + stop.trailing_zeros() as usize).min(s.len());
            return (end, escapes != 0);
        }
        base += 64;
    }
}

#[inline(always)]
fn skip_ws(s: &[u8], mut p: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\r' | b'\n') = s.get(p) {
        p += 1;
    }
    p
}

/// The index of the first byte at or after `p` that is not whitespace, and that byte.
#[inline(always)]
fn next_byte(s: &[u8], p: usize) -> Option<(usize, u8)> {
    // Compact records have none: one look.
    match s.get(p) {
        Some(b' ' | b'\t' | b'\r' | b'\n') => {
            let p = skip_ws(s, p);
            Some((p, *s.get(p)?))
        }
        Some(&b) => Some((p, b)),
        None => None,
    }
}

/// A string whose opening quote is at `s[p]`, when the whole string is in `s` and valid: its
/// body's end (the closing quote's index) and whether the body may hold an escape.
#[inline]
fn string_at(s: &[u8], p: usize) -> Option<(usize, bool)> {
    if s.get(p) != Some(&b'"') {
        return None;
    }
    let body = s.get(p + 1..)?;
    let (n, escapes) = valid_body_prefix(body);
    (body.get(n) == Some(&b'"')).then_some((p + 1 + n, escapes))
}

/// A top-level object at the start of `s` (`s[0] == b'{'`) whose values are all strings:
/// feeds its keys and values to `record` as the scanner would, ends the record, and returns
/// its length. `None` when the object is anything else, or does not end within `s`, or a
/// value fails (a bad `time`): the scanner then reads it again from its `{`, byte by byte,
/// and reports what it finds. Reading it again is safe because what was fed to `record`
/// by then is fed again in the same order, and each string replaces what its field held.
pub(super) fn flat_record(record: &mut Record, s: &[u8]) -> Option<usize> {
    let mut p = next_byte(s, 1)?.0;
    loop {
        let (end, escapes) = string_at(s, p)?;
        // A key never fails.
        record.string(Target::Key, &s[p + 1..end], escapes).ok()?;
        let (colon, b':') = next_byte(s, end + 1)? else {
            return None;
        };
        p = next_byte(s, colon + 1)?.0;
        let (end, escapes) = string_at(s, p)?;
        let target = record.value_target(true, b'"').ok()?;
        record.string(target, &s[p + 1..end], escapes).ok()?;
        match next_byte(s, end + 1)? {
            (comma, b',') => p = next_byte(s, comma + 1)?.0,
            (close, b'}') => {
                record.end_record();
                // And the whitespace after it, which the scanner would skip.
                return Some(skip_ws(s, close + 1));
            }
            _ => return None,
        }
    }
}
