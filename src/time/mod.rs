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
//! * [`parse_rfc3339_prefix`] / [`parse_rfc3339`]: the one parser, returning the instant, the
//!   zone offset it was written in and its length; a [`ParseConfig`] preset picks the Go entry
//!   point to mirror (kubelet's `time.Parse(time.RFC3339Nano, s)` or `time.Time.UnmarshalJSON`
//!   as containerd's `getLastRuntimeError` uses it).
//! * [`TimestampParser`]: the same parser with a per-second cache; a record in the same second
//!   as the one before has only its fraction and zone parsed.
//! * [`parse_rfc3339nano`]: kubelet's lenient parse (`time.Parse(time.RFC3339Nano, s)`), the
//!   instant only.
//! * `From<SystemTime>`, [`Timestamp::to_system_time`], `FromStr` and `Display` (RFC3339Nano in
//!   UTC); with feature `serde`, a timestamp serializes as that text.
//! * [`Timeline`]: events per stretch of time in fixed memory, and its sparkline.
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
//! `tests/time_size/time_golden.rs`, from `testdata/go-time/rfc3339nano.tsv`). Parsing follows
//! current Go's `time.Parse(time.RFC3339Nano, …)`, which kubelet uses for CRI records:
//!
//! * more than nine fraction digits are accepted and truncated (Go >= 1.20; Go 1.19 rejected
//!   them);
//! * `,` is accepted as the fraction separator and a one-digit hour (`T5:02:45`) is accepted,
//!   as Go's generic parser does;
//! * a dot with no digit after it (`45.Z`), a lowercase `t` or `z`, a space for `T`, a missing
//!   zone, `+hhmm` without the colon, second 60 (no leap seconds), hour 24 and impossible dates
//!   (`02-30`) are rejected, as Go rejects them;
//! * zone offsets up to `±24:00` are accepted (Go's limit); minutes must be below 60, except
//!   with [`ParseConfig::go_json`], which accepts minute 60 as Go's layout parser does (the
//!   runc compat scanner relies on it; [`ParseConfig::zone_minute_60`]);
//! * **differs:** year 0 (`0000-01-01T00:00:00Z`) yields the real instant; Go's `UnixNano`
//!   overflows there, which is a Go bug and not behaviour anyone relies on;
//! * **differs:** years outside 0000..=9999 cannot be parsed (RFC 3339 has four-digit years);
//!   they can be formatted, like Go (`-0001`, `10000`).
//!
//! # Layout
//! `calendar` (civil dates), `format` (Go's `Format`, the cached formatter), `parse` (the
//! parser and its config), `parse_cache` (the cached parser), `clock` (now and the local
//! zone: the only system calls).
//!
//! # Limits
//! [`Timestamp`] spans `i64` seconds; formatting covers every year Go can print for those
//! (proleptic Gregorian calendar, no leap seconds).

mod calendar;
mod clock;
mod convert;
mod format;
// Also in unit tests: the fuzz target's regression case runs without the feature.
#[cfg(any(test, feature = "__fuzz"))]
mod fuzz;
mod parse;
mod parse_cache;
#[cfg(test)]
mod tests;
mod timeline;

use std::fmt;

#[cfg(unix)]
pub(crate) use calendar::{civil_from_unix, Civil};
pub use clock::{Clock, FixedClock, SteppingClock, SystemClock};
pub(crate) use format::MAX_TS_LEN;
pub use format::{format_rfc3339nano, format_rfc3339nano_fixed, TimestampFormatter};
pub use timeline::{Timeline, TIMELINE_BUCKETS};
// Test support, not API: compiled only with the internal `__fuzz` feature.
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub use fuzz::fuzz_time_parse;
pub use parse::{
    parse_rfc3339, parse_rfc3339_prefix, parse_rfc3339nano, parse_rfc3339nano_prefix, ParseConfig,
    ParseTimeError, ParsedTime,
};
pub use parse_cache::TimestampParser;

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
                // Saturating: a clamp at the end of the representable range.
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
    /// The machine's local zone (`localtime_r`), as containerd's CRI plugin writes it; UTC off
    /// Unix.
    Local,
}

impl Offset {
    /// The zone written with `secs` seconds east of UTC: [`Offset::Utc`] for 0 (Go writes it
    /// `Z`), else [`Offset::Fixed`].
    pub const fn east(secs: i32) -> Offset {
        match secs {
            0 => Offset::Utc,
            s => Offset::Fixed(s),
        }
    }

    /// The offset in seconds east of UTC in force at `secs`.
    pub fn seconds_at(self, secs: i64) -> i32 {
        match self {
            Offset::Utc => 0,
            Offset::Fixed(s) => s,
            Offset::Local => clock::local_offset_at(secs),
        }
    }
}
