//! Human-readable sizes as Docker and nerdctl parse them (`max-size=10m`).
//!
//! Reference: `github.com/docker/go-units` `size.go` (v0.5), used by Docker's json-file and
//! local drivers and by nerdctl for `--log-opt max-size`:
//!
//! * [`from_human_size`] is go-units `FromHumanSize`: **decimal** multipliers. `10m`, `10MB`
//!   and even `10MiB` are 10,000,000 bytes; `1.5g` is 1,500,000,000; `100` is 100 bytes.
//! * [`ram_in_bytes`] is go-units `RAMInBytes`: binary multipliers (`1k` = 1024), for the
//!   places that want memory-style sizes.
//!
//! Accepted form: a non-negative number (digits, optional fraction, Go float syntax), then an
//! optional single space, then an optional suffix `b`, `k`, `kb`, `kib`, … `p`, `pb`, `pib`
//! (case-insensitive). Fractions are truncated toward zero (`32.5 B` is 32).
//!
//! Kubelet's `containerLogMaxSize` uses Kubernetes quantities (`10Mi`), a different grammar not
//! handled here.
//!
//! # Deliberate differences
//! * A result that does not fit in `i64` (what Go returns) is [`SizeError::Overflow`]; Go
//!   silently converts such a float to a garbage integer.
//! * Hexadecimal floats (`0x1p4`), which Go's `strconv.ParseFloat` would take, are rejected.
//!
//! ```
//! use ctrlog::size::{from_human_size, ram_in_bytes};
//! assert_eq!(from_human_size("10m").unwrap(), 10_000_000);
//! assert_eq!(from_human_size("10MiB").unwrap(), 10_000_000);
//! assert_eq!(ram_in_bytes("10m").unwrap(), 10 << 20);
//! assert!(from_human_size("-1").is_err());
//! ```

/// Why a size string was rejected. Every variant names the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SizeError {
    /// No number, or a number Go's `strconv.ParseFloat` would not accept.
    #[error("invalid size: '{0}'")]
    Invalid(String),
    /// A suffix other than b, k, m, g, t, p (with optional `b` or `ib`).
    #[error("invalid suffix: '{suffix}' in size '{input}'")]
    InvalidSuffix {
        /// The whole input.
        input: String,
        /// The suffix that was not understood.
        suffix: String,
    },
    /// A negative size (`-0` is allowed, as in go-units).
    #[error("invalid size: '{0}': negative")]
    Negative(String),
    /// The size does not fit in a signed 64-bit integer.
    #[error("size '{0}' is too large")]
    Overflow(String),
}

const DECIMAL: [u64; 5] = [
    1_000,
    1_000_000,
    1_000_000_000,
    1_000_000_000_000,
    1_000_000_000_000_000,
];
const BINARY: [u64; 5] = [1 << 10, 1 << 20, 1 << 30, 1 << 40, 1 << 50];

/// go-units `FromHumanSize`: decimal multipliers (`k` = 1000), as Docker's `max-size`.
pub fn from_human_size(s: &str) -> Result<u64, SizeError> {
    parse_size(s, &DECIMAL)
}

/// go-units `RAMInBytes`: binary multipliers (`k` = 1024).
pub fn ram_in_bytes(s: &str) -> Result<u64, SizeError> {
    parse_size(s, &BINARY)
}

fn parse_size(s: &str, units: &[u64; 5]) -> Result<u64, SizeError> {
    let b = s.as_bytes();
    // The number ends at the last digit, dot or space; a space there is the separator.
    let Some(sep) = b
        .iter()
        .rposition(|c| c.is_ascii_digit() || *c == b'.' || *c == b' ')
    else {
        return Err(SizeError::Invalid(s.to_owned()));
    };
    let (num, sfx) = if b[sep] == b' ' {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..sep + 1], &s[sep + 1..])
    };
    let value = parse_go_float(num).ok_or_else(|| SizeError::Invalid(s.to_owned()))?;
    if value < 0.0 {
        return Err(SizeError::Negative(s.to_owned()));
    }
    let bad_suffix = || SizeError::InvalidSuffix {
        input: s.to_owned(),
        suffix: sfx.to_owned(),
    };
    let sb = sfx.as_bytes();
    let mul = match sb.len() {
        0 => 1,
        1..=3 => {
            let first = sb[0].to_ascii_lowercase();
            let rest = &sb[1..];
            if first == b'b' {
                if !rest.is_empty() {
                    return Err(bad_suffix());
                }
                1
            } else {
                let idx = match first {
                    b'k' => 0,
                    b'm' => 1,
                    b'g' => 2,
                    b't' => 3,
                    b'p' => 4,
                    _ => return Err(bad_suffix()),
                };
                let ok = match rest.len() {
                    0 => true,
                    1 => rest[0].eq_ignore_ascii_case(&b'b'),
                    _ => rest.eq_ignore_ascii_case(b"ib"),
                };
                if !ok {
                    return Err(bad_suffix());
                }
                units[idx]
            }
        }
        _ => return Err(bad_suffix()),
    };
    let total = (value * mul as f64).trunc();
    // i64::MAX as f64 rounds up to 2^63, which itself does not fit.
    if !total.is_finite() || total >= 9_223_372_036_854_775_808.0 {
        return Err(SizeError::Overflow(s.to_owned()));
    }
    Ok(total as u64)
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal input: optional sign, digits with an optional
/// fraction (either side may be empty, not both), optional exponent. Returns `None` for
/// anything else, including Go's range errors (`1e400`).
fn parse_go_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let f = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        digits += i - f;
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let e = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == e {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Fuzz target body: compiled only with the internal `__fuzz` feature (for `fuzz/` and the
/// corpus replay test), so it is not in a user's build or in the semver surface.
#[cfg(feature = "__fuzz")]
mod fuzz {
    use super::{from_human_size, ram_in_bytes};

    /// Parses `data` as a decimal and as a binary size and checks the binary one is never
    /// smaller.
    pub fn fuzz_size_parse(data: &[u8]) {
        if let Ok(s) = std::str::from_utf8(data) {
            if let (Ok(d), Ok(r)) = (from_human_size(s), ram_in_bytes(s)) {
                // Binary multipliers are never smaller than decimal ones.
                assert!(r >= d, "{s:?}: ram {r} < human {d}");
            }
        }
    }
}

#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub use fuzz::fuzz_size_parse;
