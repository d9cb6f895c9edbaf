//! The scanner as it was before the 64-byte string walk, the flat-record shortcut and the
//! deferred `msg` decoding (byte-at-a-time grammar, every string decoded as it is read):
//! the reference the property tests hold the current one to. Test-only, frozen.

// A frozen copy: what the tests do not call stays as it was.
#![allow(dead_code)]

use super::{syntax, CompatErrorKind, CompatOptions, Error};

mod rules;
mod scanner;

pub(super) use scanner::CompatScanner as OldScanner;

/// The answer (or the error, with its offset) of the current scanner and of this frozen one
/// over `data` fed in pieces cut at `cuts` (offsets, any order), with `cap`, as debug text.
pub(super) fn new_and_old(data: &[u8], cuts: &[usize], cap: usize) -> (String, String) {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
    cuts.extend([0, data.len()]);
    cuts.sort_unstable();
    cuts.dedup();
    let opts = CompatOptions { max_msg_len: cap };
    let mut new = super::CompatScanner::new(opts);
    let mut old = OldScanner::new(opts);
    let (mut new_err, mut old_err) = (None, None);
    for w in cuts.windows(2) {
        let piece = &data[w[0]..w[1]];
        if new_err.is_none() {
            new_err = new.feed(piece).err();
        }
        if old_err.is_none() {
            old_err = old.feed(piece).err();
        }
    }
    let new = new_err.map_or_else(|| new.finish(), Err);
    let old = old_err.map_or_else(|| old.finish(), Err);
    (format!("{new:?}"), format!("{old:?}"))
}
