//! Go-compatible RFC 3339 timestamps: the hot path of every log writer and reader.
//!
//! Every log format ctrlog handles stamps records with Go's `time.RFC3339Nano` layout
//! (`2006-01-02T15:04:05.999999999Z07:00`): containerd's CRI plugin (local time), Docker's
//! json-file driver (UTC), runc's log.json (`time.RFC3339`, whole seconds). Kubelet prints
//! `kubectl logs --timestamps` with a fixed nine-digit fraction. This module formats and parses
//! those forms by hand, without a date crate, because the writer formats one timestamp per
//! record:
//!
//! * [`format_rfc3339nano`]: Go's `RFC3339Nano`, trailing fraction zeros trimmed, the dot left
//!   out when the nanoseconds are zero, `Z` for UTC and `±hh:mm` otherwise.
//! * [`format_rfc3339nano_fixed`]: the nine-digit form kubelet emits (`RFC3339NanoFixed`).
//! * [`TimestampFormatter`]: the same output with a per-second cache; within one second only
//!   the fraction is rewritten.
//! * [`parse_rfc3339nano`]: kubelet's lenient parse (`time.Parse(time.RFC3339Nano, s)`).
//! * [`Clock`]: where "now" comes from ([`SystemClock`], or [`FixedClock`]/[`SteppingClock`] in
//!   tests).
//!
//! ```
//! use ctrlog::time::{format_rfc3339nano, parse_rfc3339nano, Offset, Timestamp};
//!
//! let ts = parse_rfc3339nano(b"2024-06-19T15:02:45.120+02:00").unwrap();
//! assert_eq!(ts, Timestamp::new(1718802165, 120_000_000));
//! let mut out = Vec::new();
//! format_rfc3339nano(ts, Offset::Utc, &mut out);
//! assert_eq!(out, b"2024-06-19T13:02:45.12Z");
//! ```
//!
//! # Reference and deliberate differences
//! Formatting follows Go's `time.Time.Format` (checked against Go's own output in
//! `tests/time_golden.rs`, from `shared/testdata/go-time/rfc3339nano.tsv`). Parsing follows
//! current Go's `time.Parse(time.RFC3339Nano, …)`, which kubelet uses for CRI records:
//!
//! * more than nine fraction digits are accepted and truncated (Go >= 1.20; Go 1.19 rejected
//!   them);
//! * `,` is accepted as the fraction separator and a one-digit hour (`T5:02:45`) is accepted,
//!   as Go's generic parser does;
//! * a dot with no digit after it (`45.Z`), a lowercase `t` or `z`, a space for `T`, a missing
//!   zone, `+hhmm` without the colon, second 60 (no leap seconds), hour 24 and impossible dates
//!   (`02-30`) are rejected, as Go rejects them;
//! * zone offsets up to `±24:00` are accepted (Go's limit); minutes must be below 60;
//! * **differs:** year 0 (`0000-01-01T00:00:00Z`) yields the real instant; Go's `UnixNano`
//!   overflows there, which is a Go bug and not behaviour anyone relies on;
//! * **differs:** years outside 0000..=9999 cannot be parsed (RFC 3339 has four-digit years);
//!   they can be formatted, like Go (`-0001`, `10000`).
//!
//! # Limits
//! [`Timestamp`] spans `i64` seconds; formatting covers every year Go can print for those
//! (proleptic Gregorian calendar, no leap seconds).

use std::cell::Cell;
use std::fmt;

/// An instant: seconds since the Unix epoch (UTC) and nanoseconds within that second.
///
/// Ordering is chronological. `nanos` is always below 1,000,000,000 for values built by this
/// module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    pub secs: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
}

const NANOS_PER_SEC: i128 = 1_000_000_000;

impl Timestamp {
    /// Builds a timestamp; nanoseconds of a second or more carry into `secs` (saturating).
    pub const fn new(secs: i64, nanos: u32) -> Self {
        if nanos < 1_000_000_000 {
            Timestamp { secs, nanos }
        } else {
            Timestamp {
                secs: secs.saturating_add((nanos / 1_000_000_000) as i64),
                nanos: nanos % 1_000_000_000,
            }
        }
    }

    /// From nanoseconds since the epoch, saturating at the ends of the `i64` second range.
    pub fn from_unix_nanos(nanos: i128) -> Self {
        let secs = nanos.div_euclid(NANOS_PER_SEC);
        let sub = nanos.rem_euclid(NANOS_PER_SEC) as u32;
        match i64::try_from(secs) {
            Ok(secs) => Timestamp { secs, nanos: sub },
            Err(_) if secs < 0 => Timestamp {
                secs: i64::MIN,
                nanos: 0,
            },
            Err(_) => Timestamp {
                secs: i64::MAX,
                nanos: 999_999_999,
            },
        }
    }

    /// Nanoseconds since the epoch.
    pub fn unix_nanos(self) -> i128 {
        self.secs as i128 * NANOS_PER_SEC + self.nanos as i128
    }

    /// This instant plus `nanos` nanoseconds (saturating).
    pub fn add_nanos(self, nanos: i128) -> Self {
        Self::from_unix_nanos(self.unix_nanos().saturating_add(nanos))
    }
}

impl fmt::Display for Timestamp {
    /// Go's RFC3339Nano in UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = Vec::with_capacity(40);
        format_rfc3339nano(*self, Offset::Utc, &mut buf);
        f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
    }
}

/// The zone a timestamp is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Offset {
    /// UTC, written `Z` (Docker, kubelet, most nodes).
    #[default]
    Utc,
    /// A fixed offset in seconds east of UTC, written `±hh:mm` (`Z` when zero, like Go).
    /// Seconds within the minute are dropped from the text, as Go does for RFC 3339.
    Fixed(i32),
    /// The machine's local zone (`localtime_r`), as containerd's CRI plugin writes it.
    Local,
}

impl Offset {
    /// The offset in seconds east of UTC in force at `secs`.
    pub fn seconds_at(self, secs: i64) -> i32 {
        match self {
            Offset::Utc => 0,
            Offset::Fixed(s) => s,
            Offset::Local => local_offset_at(secs),
        }
    }
}

fn local_offset_at(secs: i64) -> i32 {
    // time_t is i64 on every target ctrlog supports (64-bit Linux).
    #[allow(clippy::useless_conversion, irrefutable_let_patterns)]
    let Ok(t) = libc::time_t::try_from(secs) else {
        return 0;
    };
    // SAFETY: `tm` is plain data fully written by localtime_r on success; both pointers are
    // valid for the duration of the call.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return 0;
        }
        i32::try_from(tm.tm_gmtoff).unwrap_or(0)
    }
}

/// Date and time-of-day fields of a proleptic Gregorian calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
}

/// The calendar fields of `secs` seconds since the epoch (in whatever zone `secs` counts).
pub(crate) fn civil_from_unix(secs: i64) -> Civil {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u32;
    Civil {
        year,
        month,
        day,
        hour: sod / 3600,
        minute: sod / 60 % 60,
        second: sod % 60,
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a 400-year era.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Proleptic Gregorian (year, month, day) to days since 1970-01-01.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

static DIGIT_PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

#[inline]
fn put2(out: &mut [u8], v: u32) {
    let i = (v as usize % 100) * 2;
    out[0] = DIGIT_PAIRS[i];
    out[1] = DIGIT_PAIRS[i + 1];
}

/// Writes `YYYY-MM-DDTHH:MM:SS` for local seconds `local` into `out`; returns the length
/// (19 for four-digit years, more for years beyond 9999 or before 0).
fn write_date_time(local: i64, out: &mut Vec<u8>) {
    let Civil {
        year,
        month,
        day,
        hour,
        minute,
        second,
    } = civil_from_unix(local);
    // Go's appendInt(year, 4): a minus sign, then at least four digits.
    if (0..10_000).contains(&year) {
        let mut b = [0u8; 4];
        put2(&mut b[0..2], (year / 100) as u32);
        put2(&mut b[2..4], (year % 100) as u32);
        out.extend_from_slice(&b);
    } else {
        if year < 0 {
            out.push(b'-');
        }
        let abs = year.unsigned_abs();
        let digits = abs.to_string();
        for _ in digits.len()..4 {
            out.push(b'0');
        }
        out.extend_from_slice(digits.as_bytes());
    }
    let mut b = *b"-MM-DDTHH:MM:SS";
    put2(&mut b[1..3], month);
    put2(&mut b[4..6], day);
    put2(&mut b[7..9], hour);
    put2(&mut b[10..12], minute);
    put2(&mut b[13..15], second);
    out.extend_from_slice(&b);
}

/// Writes the zone suffix Go writes for RFC 3339: `Z` for a zero offset, else `±hh:mm`.
fn write_zone(offset_secs: i32, out: &mut Vec<u8>) {
    if offset_secs == 0 {
        out.push(b'Z');
        return;
    }
    let sign = if offset_secs < 0 { b'-' } else { b'+' };
    let mins = offset_secs.unsigned_abs() / 60;
    let mut b = [sign, 0, 0, b':', 0, 0];
    put2(&mut b[1..3], mins / 60);
    put2(&mut b[4..6], mins % 60);
    out.extend_from_slice(&b);
}

/// Writes `.` and the nine fraction digits of `nanos` into `buf[0..10]`; returns how many of
/// those bytes Go's RFC3339Nano keeps (0 when `nanos` is 0, else the dot and the digits up to
/// the last non-zero one).
#[inline]
fn fraction(nanos: u32, buf: &mut [u8; 10]) -> usize {
    if nanos == 0 {
        return 0;
    }
    let n = nanos % 1_000_000_000;
    buf[0] = b'.';
    put2(&mut buf[1..3], n / 10_000_000);
    put2(&mut buf[3..5], n / 100_000 % 100);
    put2(&mut buf[5..7], n / 1_000 % 100);
    put2(&mut buf[7..9], n / 10 % 100);
    buf[9] = b'0' + (n % 10) as u8;
    let mut len = 10;
    while buf[len - 1] == b'0' {
        len -= 1;
    }
    len
}

/// Appends `ts` in Go's `time.RFC3339Nano` layout to `out`.
///
/// ```
/// use ctrlog::time::{format_rfc3339nano, Offset, Timestamp};
/// let mut out = Vec::new();
/// format_rfc3339nano(Timestamp::new(0, 120_000_000), Offset::Fixed(9000), &mut out);
/// assert_eq!(out, b"1970-01-01T02:30:00.12+02:30");
/// ```
pub fn format_rfc3339nano(ts: Timestamp, offset: Offset, out: &mut Vec<u8>) {
    let off = offset.seconds_at(ts.secs);
    write_date_time(ts.secs.saturating_add(i64::from(off)), out);
    let mut frac = [0u8; 10];
    let n = fraction(ts.nanos, &mut frac);
    out.extend_from_slice(&frac[..n]);
    write_zone(off, out);
}

/// Appends `ts` with a fixed nine-digit fraction (kubelet's `RFC3339NanoFixed`, used by
/// `kubectl logs --timestamps`), e.g. `2024-06-19T15:02:45.100000000Z`.
pub fn format_rfc3339nano_fixed(ts: Timestamp, offset: Offset, out: &mut Vec<u8>) {
    let off = offset.seconds_at(ts.secs);
    write_date_time(ts.secs.saturating_add(i64::from(off)), out);
    let mut frac = [0u8; 10];
    fraction(ts.nanos, &mut frac);
    if ts.nanos == 0 {
        out.extend_from_slice(b".000000000");
    } else {
        out.extend_from_slice(&frac);
    }
    write_zone(off, out);
}

/// Longest text [`TimestampFormatter`] caches: a year of up to 20 characters plus the rest.
const MAX_TS_LEN: usize = 64;

/// Formats Go RFC3339Nano timestamps with a per-second cache.
///
/// Log writers stamp every record, and records arrive in bursts within one second, so the
/// date, time and zone are computed once per second and only the fraction is rewritten.
/// Output is identical to [`format_rfc3339nano`] (property-tested).
///
/// ```
/// use ctrlog::time::{Offset, Timestamp, TimestampFormatter};
/// let mut f = TimestampFormatter::new(Offset::Utc);
/// assert_eq!(f.format(Timestamp::new(1_700_000_000, 5)), b"2023-11-14T22:13:20.000000005Z");
/// assert_eq!(f.format(Timestamp::new(1_700_000_000, 0)), b"2023-11-14T22:13:20Z");
/// ```
#[derive(Clone, Debug)]
pub struct TimestampFormatter {
    offset: Offset,
    fixed_width: bool,
    cached_secs: Option<i64>,
    buf: [u8; MAX_TS_LEN],
    /// Length of the cached `YYYY-MM-DDTHH:MM:SS` prefix in `buf`.
    prefix_len: usize,
    zone: [u8; 6],
    zone_len: usize,
    len: usize,
}

impl TimestampFormatter {
    /// A formatter for Go's trimmed `RFC3339Nano` in the given zone.
    pub fn new(offset: Offset) -> Self {
        TimestampFormatter {
            offset,
            fixed_width: false,
            cached_secs: None,
            buf: [0; MAX_TS_LEN],
            prefix_len: 0,
            zone: [0; 6],
            zone_len: 0,
            len: 0,
        }
    }

    /// A formatter for kubelet's fixed nine-digit form.
    pub fn new_fixed(offset: Offset) -> Self {
        TimestampFormatter {
            fixed_width: true,
            ..Self::new(offset)
        }
    }

    /// The zone this formatter writes.
    pub fn offset(&self) -> Offset {
        self.offset
    }

    /// Formats `ts`; the returned bytes stay valid until the next call.
    #[inline]
    pub fn format(&mut self, ts: Timestamp) -> &[u8] {
        if self.cached_secs != Some(ts.secs) {
            self.refill(ts.secs);
        }
        let mut frac = [0u8; 10];
        let n = fraction(ts.nanos, &mut frac);
        let n = if self.fixed_width {
            if n == 0 {
                frac = *b".000000000";
            }
            10
        } else {
            n
        };
        let p = self.prefix_len;
        self.buf[p..p + n].copy_from_slice(&frac[..n]);
        self.buf[p + n..p + n + self.zone_len].copy_from_slice(&self.zone[..self.zone_len]);
        self.len = p + n + self.zone_len;
        &self.buf[..self.len]
    }

    #[cold]
    fn refill(&mut self, secs: i64) {
        let off = self.offset.seconds_at(secs);
        let mut tmp = Vec::with_capacity(32);
        write_date_time(secs.saturating_add(i64::from(off)), &mut tmp);
        // Years need at most 20 characters; the buffer holds far more than prefix + 16.
        let p = tmp.len().min(MAX_TS_LEN - 16);
        self.buf[..p].copy_from_slice(&tmp[..p]);
        self.prefix_len = p;
        tmp.clear();
        write_zone(off, &mut tmp);
        self.zone_len = tmp.len();
        self.zone[..tmp.len()].copy_from_slice(&tmp);
        self.cached_secs = Some(secs);
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

/// Parses the longest RFC 3339 timestamp at the start of `s`; returns it and the number of
/// bytes it took. Record parsers use this to find where the timestamp field ends.
pub fn parse_rfc3339nano_prefix(s: &[u8]) -> Result<(Timestamp, usize), ParseTimeError> {
    if let Some(r) = parse_fast(s) {
        return Ok(r);
    }
    parse_general(s)
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

/// The common shape (`YYYY-MM-DDTHH:MM:SS[.fff…](Z|±hh:mm)`, two-digit hour) with every range
/// check, and no error reporting: `None` sends the input to [`parse_general`], which produces
/// the precise error (or accepts the rarer shapes).
#[inline]
fn parse_fast(s: &[u8]) -> Option<(Timestamp, usize)> {
    let h: &[u8; 19] = s.get(..19)?.try_into().ok()?;
    if h[4] != b'-' || h[7] != b'-' || h[10] != b'T' || h[13] != b':' || h[16] != b':' {
        return None;
    }
    // Subtracting b'0' with wrap-around maps exactly the ten digits to 0..=9.
    let d = |i: usize| h[i].wrapping_sub(b'0') as u32;
    let all_digits = (d(0) < 10)
        & (d(1) < 10)
        & (d(2) < 10)
        & (d(3) < 10)
        & (d(5) < 10)
        & (d(6) < 10)
        & (d(8) < 10)
        & (d(9) < 10)
        & (d(11) < 10)
        & (d(12) < 10)
        & (d(14) < 10)
        & (d(15) < 10)
        & (d(17) < 10)
        & (d(18) < 10);
    if !all_digits {
        return None;
    }
    let year = i64::from(d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3));
    let month = d(5) * 10 + d(6);
    let day = d(8) * 10 + d(9);
    let hour = d(11) * 10 + d(12);
    let minute = d(14) * 10 + d(15);
    let second = d(17) * 10 + d(18);
    let mut i = 19;
    let mut nanos = 0u32;
    if let Some(b'.' | b',') = s.get(i) {
        let start = i + 1;
        let mut j = start;
        // Eight digits at once: containerd and conmon write seven to nine.
        if let Some(v) = s.get(start..start + 8).and_then(eight_digits) {
            nanos = v;
            j += 8;
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
    let off: i64 = match s.get(i)? {
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
            let v = i64::from(oh * 3600 + om * 60);
            if sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * 86_400
        + i64::from(hour * 3600 + minute * 60 + second)
        - off;
    Some((Timestamp { secs, nanos }, i))
}

/// The value of eight ASCII digits, or `None` if any byte is not a digit (SWAR).
#[inline]
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

fn parse_general(s: &[u8]) -> Result<(Timestamp, usize), ParseTimeError> {
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
    let offset_secs: i64 = match s.get(i) {
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
            if om > 59 {
                return Err(ParseTimeError::OutOfRange("zone offset minute"));
            }
            i += 6;
            let v = i64::from(oh * 3600 + om * 60);
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
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    Ok((Timestamp { secs, nanos }, i))
}

/// Parses a whole RFC 3339 timestamp as kubelet does (`time.Parse(time.RFC3339Nano, s)`); see
/// the module docs for what is accepted.
///
/// ```
/// use ctrlog::time::parse_rfc3339nano;
/// assert!(parse_rfc3339nano(b"2024-06-19T15:02:45.123456789Z").is_ok());
/// assert!(parse_rfc3339nano(b"2024-06-19 15:02:45Z").is_err());
/// ```
pub fn parse_rfc3339nano(s: &[u8]) -> Result<Timestamp, ParseTimeError> {
    let (ts, n) = parse_rfc3339nano_prefix(s)?;
    if n != s.len() {
        return Err(ParseTimeError::Trailing(n));
    }
    Ok(ts)
}

/// Where "now" comes from. Writers read it once per input chunk.
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The system's real-time clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Timestamp::new(
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Err(e) => {
                let d = e.duration();
                Timestamp::from_unix_nanos(-(d.as_nanos() as i128))
            }
        }
    }
}

/// A clock stuck at one instant (tests, reproducible output).
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A clock that returns `start`, then advances by `step_nanos` on every call (tests that need
/// distinct, increasing timestamps).
#[derive(Debug)]
pub struct SteppingClock {
    next: Cell<Timestamp>,
    step_nanos: i128,
}

impl SteppingClock {
    /// Starts at `start`, stepping `step_nanos` per reading.
    pub fn new(start: Timestamp, step_nanos: i128) -> Self {
        SteppingClock {
            next: Cell::new(start),
            step_nanos,
        }
    }
}

impl Clock for SteppingClock {
    fn now(&self) -> Timestamp {
        let t = self.next.get();
        self.next.set(t.add_nanos(self.step_nanos));
        t
    }
}

#[doc(hidden)]
pub fn fuzz_time_parse(data: &[u8]) {
    if let Ok(ts) = parse_rfc3339nano(data) {
        // Whatever parses must format and parse back to the same instant, unless its UTC
        // year left 0000..=9999 (`0000-01-01T00:00:07+02:02` is in year -1 in UTC): such
        // years format like Go (`-0001-…`) but RFC 3339 cannot carry them.
        let mut out = Vec::new();
        format_rfc3339nano(ts, Offset::Utc, &mut out);
        if out.get(4) == Some(&b'-') && out.first().is_some_and(u8::is_ascii_digit) {
            assert_eq!(parse_rfc3339nano(&out), Ok(ts), "round trip of {out:?}");
        } else {
            assert!(parse_rfc3339nano(&out).is_err(), "{out:?} parsed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip_across_eras() {
        for days in (-800_000i64..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }

    #[test]
    fn formatter_cache_follows_second_changes() {
        let mut f = TimestampFormatter::new(Offset::Fixed(-3600));
        assert_eq!(f.format(Timestamp::new(0, 0)), b"1969-12-31T23:00:00-01:00");
        assert_eq!(
            f.format(Timestamp::new(1, 1)),
            b"1969-12-31T23:00:01.000000001-01:00"
        );
        let mut fixed = TimestampFormatter::new_fixed(Offset::Utc);
        assert_eq!(
            fixed.format(Timestamp::new(0, 0)),
            b"1970-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            fixed.format(Timestamp::new(0, 10)),
            b"1970-01-01T00:00:00.000000010Z"
        );
    }

    #[test]
    fn year_zero_with_an_offset_is_year_minus_one_in_utc() {
        // Found by the time_parse fuzz target: accepted, but not representable in RFC 3339
        // once converted to UTC.
        let ts = parse_rfc3339nano(b"0000-01-01T00:00:07+02:02").unwrap();
        let mut out = Vec::new();
        format_rfc3339nano(ts, Offset::Utc, &mut out);
        assert_eq!(out, b"-0001-12-31T21:58:07Z");
        assert!(parse_rfc3339nano(&out).is_err());
        fuzz_time_parse(b"0000-01-01T00:00:07+02:02");
    }

    #[test]
    fn stepping_clock_steps() {
        let c = SteppingClock::new(Timestamp::new(10, 999_999_999), 2);
        assert_eq!(c.now(), Timestamp::new(10, 999_999_999));
        assert_eq!(c.now(), Timestamp::new(11, 1));
    }

    #[test]
    fn parse_errors_name_the_offset() {
        assert_eq!(
            parse_rfc3339nano(b"2024-06-19T15:02:45.Z"),
            Err(ParseTimeError::Unexpected {
                at: 20,
                found: b'Z',
                expected: "fraction digit"
            })
        );
        assert_eq!(
            parse_rfc3339nano(b"2024-06-19T15:02:45"),
            Err(ParseTimeError::TooShort(19))
        );
        assert_eq!(
            parse_rfc3339nano(b"2024-06-19T15:02:45Zx"),
            Err(ParseTimeError::Trailing(20))
        );
    }
}
