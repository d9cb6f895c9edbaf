//! The scanner as it was before the 64-byte string walk, the flat-record shortcut and the
//! deferred `msg` decoding (byte-at-a-time grammar, every string decoded as it is read):
//! the reference the property tests hold the current one to. Test-only, frozen.

// A frozen copy: what the tests do not call stays as it was.
#![allow(dead_code)]

use super::{syntax, CompatErrorKind, CompatOptions, Error};

mod rules;
mod scanner;

pub(super) use scanner::CompatScanner as OldScanner;
