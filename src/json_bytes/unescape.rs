//! The unescaper: a JSON string body decoded as Go's `unquoteBytes` does.

use super::{find_quote_or_backslash, first, quote_or_backslash};
use crate::swar::load;

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
