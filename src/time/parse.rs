//! Parsing: one RFC 3339 parser for every place ctrlog reads a Go timestamp.
//!
//! [`parse_rfc3339_prefix`] returns the instant, the zone offset it was written in and how many
//! bytes it took. What it accepts is set by a [`ParseConfig`] (httparse's shape: switches in
//! one struct, with named presets for the Go entry points ctrlog mirrors), never by a second
//! parser:
//!
//! * [`ParseConfig::kubelet`] (the default): `time.Parse(time.RFC3339Nano, s)` as kubelet
//!   calls it for CRI records (`parseCRILog`), as ctrlog has always parsed it;
//! * [`ParseConfig::go_json`]: `time.Time.UnmarshalJSON` in current Go, i.e.
//!   `time.Parse(time.RFC3339, s)` (Go's stricter RFC 3339 checks there are disabled, see Go
//!   issue 54580), as containerd's `getLastRuntimeError` decodes runc's `time` field.
//!
//! Both take Go's generic layout parser's shape; the module docs of [`crate::time`] list it
//! and the deliberate differences.
//!
//! Two paths, one result: a fast path for the common shape (two-digit hour, eight fraction
//! digits at once) that gives up with `None` on anything else, and the general path, which
//! accepts every shape the config allows and names the first offending byte. The fast path
//! only accepts what the general path accepts under every preset, with the same result
//! (property-tested in `src/time/tests.rs`), so it does not read the config. The fast path is
//! split at byte 19 (`fast_head`, `fast_tail`) so that [`TimestampParser`] can skip the head
//! when a record repeats the previous record's second.
//!
//! [`TimestampParser`]: super::TimestampParser

use super::calendar::{days_from_civil, days_in_month};
use super::{Offset, Timestamp};

/// What [`parse_rfc3339_prefix`] accepts beyond the shape every preset shares.
///
/// A switch exists where two Go entry points ctrlog mirrors disagree. What they share is not a
/// switch: `,` before the fraction, a one-digit hour, more than nine fraction digits
/// (truncated), zone hours up to 24; and a lowercase `t`/`z`, a space for `T` or `+hhmm` are
/// rejected by both. The struct is `#[non_exhaustive]` so a switch can be added when a new
/// preset needs one (add the preset to the oracle test in `src/time/tests.rs`).
///
/// Start from a preset and change a switch (the crate's [conventions](crate#conventions)):
///
/// ```
/// use ctrlog::time::{parse_rfc3339, ParseConfig};
/// let text = b"2024-06-19T15:02:45+01:60";
/// assert!(parse_rfc3339(text, &ParseConfig::kubelet()).is_err());
/// let mut lax = ParseConfig::kubelet();
/// lax.zone_minute_60 = true;
/// assert_eq!(parse_rfc3339(text, &lax).unwrap().utc_offset, 7200);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseConfig {
    /// Accept minute 60 in a zone offset (`+01:60`). Go's layout parser checks zone minutes
    /// with `> 60`, and containerd's `getLastRuntimeError` inherits that; ctrlog's CRI and
    /// Docker readers have always required `00..=59`.
    pub zone_minute_60: bool,
}

impl ParseConfig {
    /// kubelet's `time.Parse(time.RFC3339Nano, s)` for CRI records; also the Docker reader's.
    pub const fn kubelet() -> Self {
        ParseConfig {
            zone_minute_60: false,
        }
    }

    /// Go's `time.Time.UnmarshalJSON` (`time.Parse(time.RFC3339, s)`), as containerd's
    /// `getLastRuntimeError` applies it to runc's `time` field.
    pub const fn go_json() -> Self {
        ParseConfig {
            zone_minute_60: true,
        }
    }
}

impl Default for ParseConfig {
    fn default() -> Self {
        Self::kubelet()
    }
}

/// A parsed timestamp: the instant, the zone it was written in, and its length in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedTime {
    /// The instant.
    pub timestamp: Timestamp,
    /// The zone offset the text was written with, in seconds east of UTC; `0` for `Z` and for
    /// `±00:00`. Readers use it to print a record in its own zone, as kubelet does.
    pub utc_offset: i32,
    /// How many bytes of the input the timestamp took.
    pub len: usize,
}

impl ParsedTime {
    /// The zone as an [`Offset`] (`Fixed`, or `Utc` for a zero offset).
    pub fn offset(&self) -> Offset {
        Offset::east(self.utc_offset)
    }
}

/// Why a timestamp did not parse. Small and `Copy`: per-record parse errors carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseTimeError {
    /// The text ended before the layout did (offset into the input).
    #[error("timestamp too short: input ends at byte {0}")]
    TooShort(usize),
    /// A byte that does not fit the layout.
    #[error("unexpected byte {found:#04x} at offset {at} in timestamp (expected {expected})")]
    Unexpected {
        /// Offset of the byte in the input.
        at: usize,
        /// The byte found.
        found: u8,
        /// What the layout wants there.
        expected: &'static str,
    },
    /// A field is out of its range (month 13, hour 24, day 30 of February, ...).
    #[error("timestamp field out of range: {0}")]
    OutOfRange(&'static str),
    /// Bytes after the zone.
    #[error("extra text after timestamp at offset {0}")]
    Trailing(usize),
}

/// Parses the longest RFC 3339 timestamp at the start of `s` with the rules of `config`.
/// Record parsers use the returned length to find where the timestamp field ends.
///
/// ```
/// use ctrlog::time::{parse_rfc3339_prefix, ParseConfig, Timestamp};
/// let p = parse_rfc3339_prefix(b"2024-06-19T15:02:45.5+02:00 stdout", &ParseConfig::kubelet())
///     .unwrap();
/// assert_eq!(p.timestamp, Timestamp::new(1718802165, 500_000_000));
/// assert_eq!((p.utc_offset, p.len), (7200, 27));
/// ```
#[inline]
pub fn parse_rfc3339_prefix(s: &[u8], config: &ParseConfig) -> Result<ParsedTime, ParseTimeError> {
    if let Some(r) = parse_fast(s) {
        return Ok(r);
    }
    parse_general(s, config)
}

/// Parses `s`, which must be one RFC 3339 timestamp and nothing else, with the rules of
/// `config`.
#[inline]
pub fn parse_rfc3339(s: &[u8], config: &ParseConfig) -> Result<ParsedTime, ParseTimeError> {
    let p = parse_rfc3339_prefix(s, config)?;
    if p.len != s.len() {
        return Err(ParseTimeError::Trailing(p.len));
    }
    Ok(p)
}

/// [`parse_rfc3339_prefix`] with [`ParseConfig::kubelet`], without the zone.
pub fn parse_rfc3339nano_prefix(s: &[u8]) -> Result<(Timestamp, usize), ParseTimeError> {
    parse_rfc3339_prefix(s, &ParseConfig::kubelet()).map(|p| (p.timestamp, p.len))
}

/// Parses a whole RFC 3339 timestamp as kubelet does (`time.Parse(time.RFC3339Nano, s)`); see
/// the module docs for what is accepted.
///
/// ```
/// use ctrlog::time::parse_rfc3339nano;
/// assert!(parse_rfc3339nano(b"2024-06-19T15:02:45.123456789Z").is_ok());
/// assert!(parse_rfc3339nano(b"2024-06-19 15:02:45Z").is_err());
/// ```
#[inline]
pub fn parse_rfc3339nano(s: &[u8]) -> Result<Timestamp, ParseTimeError> {
    parse_rfc3339(s, &ParseConfig::kubelet()).map(|p| p.timestamp)
}

const POW10: [u32; 10] = [
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

/// Seconds since the epoch of validated fields written at `offset` seconds east of UTC.
#[inline]
fn to_unix(year: i64, month: u32, day: u32, hms: [u32; 3], offset: i32) -> i64 {
    let [hour, minute, second] = hms;
    days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3600 + minute * 60 + second)
        - i64::from(offset)
}

/// The common shape (`YYYY-MM-DDTHH:MM:SS[.fff…](Z|±hh:mm)`, two-digit hour, zone minute
/// below 60) with every range check, and no error reporting: `None` sends the input to
/// [`parse_general`], which produces the precise error (or accepts the rarer shapes).
#[inline]
pub(super) fn parse_fast(s: &[u8]) -> Option<ParsedTime> {
    let local = fast_head(s.get(..19)?.try_into().ok()?)?;
    fast_tail(s, local)
}

/// The fast path's first 19 bytes, `YYYY-MM-DDTHH:MM:SS` with a two-digit hour and every field
/// in range: their seconds since the epoch as if written in UTC, or `None`. Whether they are
/// valid does not depend on what follows, which is what lets [`TimestampParser`] reuse them.
///
/// [`TimestampParser`]: super::TimestampParser
#[inline]
pub(super) fn fast_head(h: &[u8; 19]) -> Option<i64> {
    Some(fast_date(h)? + fast_clock(h)?)
}

/// Subtracting b'0' with wrap-around maps exactly the ten digits to 0..=9.
#[inline(always)]
fn head_digit(h: &[u8; 19], i: usize) -> u32 {
    h[i].wrapping_sub(b'0') as u32
}

/// The date of a head, `YYYY-MM-DDT` (bytes 0..11), in range: the seconds of its midnight
/// since the epoch, or `None`. Its validity depends on those 11 bytes only, which is what lets
/// [`TimestampParser`] reuse a date across seconds.
///
/// [`TimestampParser`]: super::TimestampParser
#[inline]
pub(super) fn fast_date(h: &[u8; 19]) -> Option<i64> {
    if h[4] != b'-' || h[7] != b'-' || h[10] != b'T' {
        return None;
    }
    let d = |i| head_digit(h, i);
    let all_digits = (d(0) < 10)
        & (d(1) < 10)
        & (d(2) < 10)
        & (d(3) < 10)
        & (d(5) < 10)
        & (d(6) < 10)
        & (d(8) < 10)
        & (d(9) < 10);
    if !all_digits {
        return None;
    }
    let year = i64::from(d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3));
    let month = d(5) * 10 + d(6);
    let day = d(8) * 10 + d(9);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(to_unix(year, month, day, [0, 0, 0], 0))
}

/// The clock of a head, `HH:MM:SS` (bytes 11..19) with a two-digit hour, in range: its seconds
/// since midnight, or `None`.
#[inline]
pub(super) fn fast_clock(h: &[u8; 19]) -> Option<i64> {
    if h[13] != b':' || h[16] != b':' {
        return None;
    }
    let d = |i| head_digit(h, i);
    let all_digits =
        (d(11) < 10) & (d(12) < 10) & (d(14) < 10) & (d(15) < 10) & (d(17) < 10) & (d(18) < 10);
    if !all_digits {
        return None;
    }
    let hour = d(11) * 10 + d(12);
    let minute = d(14) * 10 + d(15);
    let second = d(17) * 10 + d(18);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    Some(i64::from(hour * 3600 + minute * 60 + second))
}

/// The fast path after a valid head (`s[..19]`, whose UTC-as-written seconds are `local`): the
/// optional fraction and the zone, or `None`.
#[inline(always)]
pub(super) fn fast_tail(s: &[u8], local: i64) -> Option<ParsedTime> {
    // The usual tail (dockerd's and containerd's RFC3339Nano in UTC with a non-zero last
    // digit): `.`, nine digits, `Z`, at fixed places, checked with one bounds check. Its
    // result is the general code's below for the same bytes (`Z` is not a digit, so the
    // fraction stops at nine).
    if let Some(t) = s.get(19..30) {
        let t: &[u8; 11] = t.try_into().expect("11 bytes");
        let last = t[9].wrapping_sub(b'0');
        if t[0] == b'.' && t[10] == b'Z' && last < 10 {
            if let Some(v) = eight_digits(&t[1..9]) {
                return Some(ParsedTime {
                    timestamp: Timestamp {
                        secs: local,
                        nanos: v * 10 + u32::from(last),
                    },
                    utc_offset: 0,
                    len: 30,
                });
            }
        }
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if let Some(b'.' | b',') = s.get(i) {
        let start = i + 1;
        let mut j = start;
        // Eight digits at once: containerd and conmon write seven to nine.
        if let Some(v) = s.get(start..start + 8).and_then(eight_digits) {
            nanos = v;
            j += 8;
            // Exactly nine (most records): no loop, no scaling.
            if let Some(&b @ b'0'..=b'9') = s.get(j) {
                if !matches!(s.get(j + 1), Some(b'0'..=b'9')) {
                    nanos = nanos * 10 + u32::from(b - b'0');
                    return fast_zone(s, j + 1, nanos, local);
                }
            }
        }
        while let Some(&b @ b'0'..=b'9') = s.get(j) {
            if j - start < 9 {
                nanos = nanos * 10 + u32::from(b - b'0');
            }
            j += 1;
        }
        let n = j - start;
        if n == 0 {
            return None;
        }
        nanos *= POW10[n.min(9)];
        i = j;
    }
    fast_zone(s, i, nanos, local)
}

/// The fast path's zone at `s[i..]`, after a fraction worth `nanos`.
#[inline(always)]
fn fast_zone(s: &[u8], mut i: usize, nanos: u32, local: i64) -> Option<ParsedTime> {
    let offset: i32 = match s.get(i)? {
        b'Z' => {
            i += 1;
            0
        }
        &sign @ (b'+' | b'-') => {
            let z: &[u8; 6] = s.get(i..i + 6)?.try_into().ok()?;
            let zd = |k: usize| z[k].wrapping_sub(b'0') as u32;
            if z[3] != b':' || zd(1) > 9 || zd(2) > 9 || zd(4) > 9 || zd(5) > 9 {
                return None;
            }
            let (oh, om) = (zd(1) * 10 + zd(2), zd(4) * 10 + zd(5));
            if oh > 24 || om > 59 {
                return None;
            }
            i += 6;
            let v = (oh * 3600 + om * 60) as i32;
            if sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    Some(ParsedTime {
        timestamp: Timestamp {
            secs: local - i64::from(offset),
            nanos,
        },
        utc_offset: offset,
        len: i,
    })
}

/// The value of eight ASCII digits, or `None` if any byte is not a digit (SWAR).
// Always inlined: a few instructions, outlined once its caller grew (a Docker read's time
// parse inlined into the record decoder), at a call and a return per record.
#[inline(always)]
fn eight_digits(b: &[u8]) -> Option<u32> {
    let v = u64::from_le_bytes(b.try_into().ok()?);
    let hi = v & 0xF0F0_F0F0_F0F0_F0F0;
    let carry = v.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0;
    if hi != 0x3030_3030_3030_3030 || carry != 0x3030_3030_3030_3030 {
        return None;
    }
    let mut x = v - 0x3030_3030_3030_3030;
    // Pairwise combine: digits -> 2-digit -> 4-digit -> 8-digit values.
    x = (x.wrapping_mul(10) + (x >> 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x.wrapping_mul(100) + (x >> 16)) & 0x0000_FFFF_0000_FFFF;
    x = x.wrapping_mul(10_000) + (x >> 32);
    Some((x & 0xFFFF_FFFF) as u32)
}

#[inline]
fn digit(s: &[u8], i: usize, what: &'static str) -> Result<u32, ParseTimeError> {
    match s.get(i) {
        Some(&b @ b'0'..=b'9') => Ok(u32::from(b - b'0')),
        Some(&b) => Err(ParseTimeError::Unexpected {
            at: i,
            found: b,
            expected: what,
        }),
        None => Err(ParseTimeError::TooShort(i)),
    }
}

#[inline]
fn two(s: &[u8], i: usize, what: &'static str) -> Result<u32, ParseTimeError> {
    Ok(digit(s, i, what)? * 10 + digit(s, i + 1, what)?)
}

#[inline]
fn lit(s: &[u8], i: usize, want: u8, what: &'static str) -> Result<(), ParseTimeError> {
    match s.get(i) {
        Some(&b) if b == want => Ok(()),
        Some(&b) => Err(ParseTimeError::Unexpected {
            at: i,
            found: b,
            expected: what,
        }),
        None => Err(ParseTimeError::TooShort(i)),
    }
}

/// Every shape `config` allows, byte by byte, naming the first byte or field that does not fit.
pub(super) fn parse_general(s: &[u8], config: &ParseConfig) -> Result<ParsedTime, ParseTimeError> {
    let year = i64::from(
        digit(s, 0, "year digit")? * 1000
            + digit(s, 1, "year digit")? * 100
            + two(s, 2, "year digit")?,
    );
    lit(s, 4, b'-', "'-'")?;
    let month = two(s, 5, "month digit")?;
    lit(s, 7, b'-', "'-'")?;
    let day = two(s, 8, "day digit")?;
    lit(s, 10, b'T', "'T'")?;
    // Go's layout hour `15` takes one or two digits.
    let mut i = 11;
    let mut hour = digit(s, i, "hour digit")?;
    i += 1;
    if let Some(&b @ b'0'..=b'9') = s.get(i) {
        hour = hour * 10 + u32::from(b - b'0');
        i += 1;
    }
    lit(s, i, b':', "':'")?;
    let minute = two(s, i + 1, "minute digit")?;
    lit(s, i + 3, b':', "':'")?;
    let second = two(s, i + 4, "second digit")?;
    i += 6;
    let mut nanos = 0u32;
    if let Some(b'.' | b',') = s.get(i) {
        let start = i + 1;
        let mut j = start;
        let mut scale = 100_000_000u32;
        while let Some(&b @ b'0'..=b'9') = s.get(j) {
            // Digits past the ninth are read and dropped (truncation, like Go).
            nanos += u32::from(b - b'0') * scale;
            scale /= 10;
            j += 1;
        }
        if j == start {
            return Err(match s.get(j) {
                Some(&b) => ParseTimeError::Unexpected {
                    at: j,
                    found: b,
                    expected: "fraction digit",
                },
                None => ParseTimeError::TooShort(j),
            });
        }
        i = j;
    }
    let offset: i32 = match s.get(i) {
        Some(b'Z') => {
            i += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = two(s, i + 1, "zone hour digit")?;
            lit(s, i + 3, b':', "':' in zone")?;
            let om = two(s, i + 4, "zone minute digit")?;
            if oh > 24 {
                return Err(ParseTimeError::OutOfRange("zone offset hour"));
            }
            if om > 59 && !(om == 60 && config.zone_minute_60) {
                return Err(ParseTimeError::OutOfRange("zone offset minute"));
            }
            i += 6;
            let v = (oh * 3600 + om * 60) as i32;
            if sign == b'-' {
                -v
            } else {
                v
            }
        }
        Some(&b) => {
            return Err(ParseTimeError::Unexpected {
                at: i,
                found: b,
                expected: "'Z' or zone offset",
            })
        }
        None => return Err(ParseTimeError::TooShort(i)),
    };
    if !(1..=12).contains(&month) {
        return Err(ParseTimeError::OutOfRange("month"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(ParseTimeError::OutOfRange("day"));
    }
    if hour > 23 {
        return Err(ParseTimeError::OutOfRange("hour"));
    }
    if minute > 59 {
        return Err(ParseTimeError::OutOfRange("minute"));
    }
    if second > 59 {
        return Err(ParseTimeError::OutOfRange("second"));
    }
    Ok(ParsedTime {
        timestamp: Timestamp {
            secs: to_unix(year, month, day, [hour, minute, second], offset),
            nanos,
        },
        utc_offset: offset,
        len: i,
    })
}
