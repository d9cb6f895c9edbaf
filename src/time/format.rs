//! Formatting: Go's `time.Time.Format` with the `RFC3339Nano` layout (trailing fraction zeros
//! trimmed) and kubelet's fixed nine-digit `RFC3339NanoFixed`, plus a per-second cache for
//! writers that stamp every record. Checked against Go's own output in `tests/time_size/time_golden.rs`.

use super::calendar::{civil_from_unix, Civil};
use super::{Offset, Timestamp};

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

/// Appends `YYYY-MM-DDTHH:MM:SS` for local seconds `local` to `out` (19 bytes for four-digit
/// years, more for years beyond 9999 or before 0).
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
    let first = n / 100_000_000;
    let rest = eight_digits(n % 100_000_000);
    buf[0] = b'.';
    buf[1] = b'0' + first as u8;
    buf[2..].copy_from_slice(&rest.to_le_bytes());
    // Trailing zeros trimmed without a loop: the last non-`0` digit of `rest` is its highest
    // byte that differs from `0`.
    let nonzero = rest ^ 0x3030_3030_3030_3030;
    if nonzero != 0 {
        10 - (nonzero.leading_zeros() / 8) as usize
    } else if first != 0 {
        2
    } else {
        // Only for `nanos` a multiple of 10^9, which a `Timestamp` does not hold: the old
        // digit loop's answer, kept.
        1
    }
}

/// The eight decimal digits of `v` (below 10^8) as ASCII, the first digit in the lowest
/// byte: both 4-digit halves, then their 2-digit and 1-digit parts, are split in parallel
/// lanes of one `u64` by multiplying with fixed-point reciprocals (exact for these ranges:
/// `x * 10486 >> 20 == x / 100` for `x < 10^4`, `x * 103 >> 10 == x / 10` for `x < 100`).
#[inline]
fn eight_digits(v: u32) -> u64 {
    let v = u64::from(v);
    // 32-bit lanes: the first four digits, the last four.
    let halves = (v / 10_000) | ((v % 10_000) << 32);
    let hundreds = ((halves * 10_486) >> 20) & 0x0000_007f_0000_007f;
    // 16-bit lanes: pairs of digits.
    let pairs = hundreds | (halves - 100 * hundreds) << 16;
    let tens = ((pairs * 103) >> 10) & 0x000f_000f_000f_000f;
    // 8-bit lanes: digits.
    let digits = tens | (pairs - 10 * tens) << 8;
    digits + 0x3030_3030_3030_3030
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
    // Saturating: a clamp for instants at the ends of i64, which no log holds.
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
pub(crate) const MAX_TS_LEN: usize = 64;

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
        // Whole-array stores at a variable offset: copies of the variable lengths were two
        // `memcpy` calls per record. The prefix is at most `MAX_TS_LEN - 16` long (`refill`).
        let p = self.prefix_len.min(MAX_TS_LEN - 16);
        self.buf[p..p + 10].copy_from_slice(&frac);
        let z = (p + n).min(MAX_TS_LEN - 6);
        self.buf[z..z + 6].copy_from_slice(&self.zone);
        self.len = p + n + self.zone_len;
        &self.buf[..self.len]
    }

    /// [`format`](Self::format), answered as the whole buffer and the formatted length, so a
    /// caller can copy a fixed `MAX_TS_LEN` bytes (no `memcpy` call) and keep `len`.
    #[inline]
    pub(crate) fn format_padded(&mut self, ts: Timestamp) -> (&[u8; MAX_TS_LEN], usize) {
        let len = self.format(ts).len();
        (&self.buf, len)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit-by-digit fraction `fraction` replaced.
    fn fraction_oracle(nanos: u32) -> Vec<u8> {
        if nanos == 0 {
            return Vec::new();
        }
        let mut s = format!(".{:09}", nanos % 1_000_000_000).into_bytes();
        while s.last() == Some(&b'0') {
            s.pop();
        }
        s
    }

    /// Every trailing-zero count and digit position, and a stride through all nine-digit
    /// values (an exhaustive run of `eight_digits` over 0..10^8 against `format!` passed
    /// when it was written).
    #[test]
    fn fraction_matches_the_digit_loop() {
        let mut cases: Vec<u32> = (0..1_000_000_000).step_by(9_973).collect();
        for zeros in 0..9 {
            let unit = 10u32.pow(zeros);
            for lead in [1, 5, 9, 10, 99, 123, 999_999_999 / unit] {
                cases.push(lead.saturating_mul(unit) % 1_000_000_000);
            }
        }
        cases.extend([
            1,
            10,
            100_000_000,
            999_999_999,
            1_000_000_000,
            2_000_000_001,
        ]);
        for nanos in cases {
            let mut buf = [0u8; 10];
            let n = fraction(nanos, &mut buf);
            assert_eq!(&buf[..n], &fraction_oracle(nanos)[..], "{nanos}");
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
}
