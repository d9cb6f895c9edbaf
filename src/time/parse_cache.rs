//! [`TimestampParser`]: the parser with a per-second cache, the parse counterpart of
//! [`TimestampFormatter`](super::TimestampFormatter).
//!
//! Log records arrive in time order, many per second, so consecutive timestamps nearly always
//! share their first 19 bytes (`2024-06-19T15:02:45`). Checking those bytes and turning the date
//! into days is most of the fast path's work; the cache remembers the last head that the fast
//! path accepted and its seconds, and when the next input starts with the same bytes it parses
//! only the fraction and the zone.
//!
//! # Reference
//! The result is the uncached parser's, [`parse_rfc3339_prefix`](super::parse_rfc3339_prefix)
//! with the same [`ParseConfig`], for every input in every order (property-tested below and
//! checked on Go's golden table in `tests/time_size/time_golden.rs`). That holds because:
//!
//! * only a head the fast path accepts is cached, and whether a head is valid does not depend
//!   on the bytes after it (the fast path's range checks are all on the head's fields);
//! * a head is reused only on an exact byte match of all 19 bytes, so a one-digit hour
//!   (`T5:02:45.`), which the fast path never accepts, can never match a cached head;
//! * whenever the fraction or zone is not the fast path's shape, the input goes to the general
//!   path, as it does uncached.
//!
//! A second level remembers the last date (`2024-06-19T`, 11 bytes) and its midnight: records
//! a second or more apart (runc's `log.json`, one record per hook or exec) mostly share their
//! date, so a new second costs the clock's 8 bytes, not the calendar.
//!
//! # Limits
//! One head and one date are remembered: input that alternates between seconds (merged
//! streams) parses at the speed of a date hit, and between days at the uncached speed, never
//! slower by more than the two comparisons.

use super::parse::{fast_clock, fast_date, fast_tail, parse_general};
use super::{ParseConfig, ParseTimeError, ParsedTime};

/// An RFC 3339 parser that remembers the last second it parsed: when the next input starts
/// with the same 19 bytes (`2024-06-19T15:02:45`), only the fraction and zone are parsed.
/// Same results as [`parse_rfc3339_prefix`](super::parse_rfc3339_prefix) and
/// [`parse_rfc3339`](super::parse_rfc3339) with its [`ParseConfig`], in any order of inputs;
/// keep one per stream of records.
///
/// ```
/// use ctrlog::time::{parse_rfc3339, ParseConfig, TimestampParser};
/// let mut p = TimestampParser::new(ParseConfig::kubelet());
/// for text in [&b"2024-06-19T15:02:45.1Z"[..], b"2024-06-19T15:02:45.25+02:00", b"2024-06-19T5:02:45Z"] {
///     assert_eq!(p.parse(text), parse_rfc3339(text, &ParseConfig::kubelet()));
/// }
/// ```
#[derive(Clone, Debug)]
pub struct TimestampParser {
    config: ParseConfig,
    /// The cached head's 19 bytes as three little-endian words (bytes 0..8, 8..16, 11..19):
    /// three loads and compares instead of a byte loop.
    head: [u64; 3],
    /// The cached head's seconds since the epoch, as if written in UTC.
    head_secs: i64,
    /// The cached date's 11 bytes (`2024-06-19T`) as two overlapping words (bytes 0..8 and
    /// 3..11), and the seconds of its midnight.
    date: [u64; 2],
    date_secs: i64,
}

/// The cache's starting entry: a valid head with its real seconds, so no "empty" state (which
/// input could spell) is needed.
const EPOCH_HEAD: &[u8; 19] = b"1970-01-01T00:00:00";

const fn word(h: &[u8; 19], at: usize) -> u64 {
    let mut b = [0u8; 8];
    let mut k = 0;
    while k < 8 {
        b[k] = h[at + k];
        k += 1;
    }
    u64::from_le_bytes(b)
}

const fn words(h: &[u8; 19]) -> [u64; 3] {
    [word(h, 0), word(h, 8), word(h, 11)]
}

const fn date_words(h: &[u8; 19]) -> [u64; 2] {
    [word(h, 0), word(h, 3)]
}

impl TimestampParser {
    /// A parser with the rules of `config`.
    pub const fn new(config: ParseConfig) -> Self {
        TimestampParser {
            config,
            head: words(EPOCH_HEAD),
            head_secs: 0,
            date: date_words(EPOCH_HEAD),
            date_secs: 0,
        }
    }

    /// The rules this parser applies.
    pub fn config(&self) -> &ParseConfig {
        &self.config
    }

    /// [`parse_rfc3339_prefix`](super::parse_rfc3339_prefix) with this parser's config: the
    /// longest timestamp at the start of `s`.
    // Always inlined: called out of line, its result went back to the caller through the
    // stack (a load waiting on the stores just made, per record).
    #[inline(always)]
    pub fn parse_prefix(&mut self, s: &[u8]) -> Result<ParsedTime, ParseTimeError> {
        if let Some(h) = s.get(..19) {
            let h: &[u8; 19] = h.try_into().expect("19 bytes");
            let w = [load(h, 0), load(h, 8), load(h, 11)];
            let local = if w == self.head {
                Some(self.head_secs)
            } else {
                self.new_head(h, w)
            };
            // One call site, inlined: with two (hit and miss), `fast_tail` was an outlined
            // call whose result went through the stack in pieces and was read back whole (a
            // store-forwarding stall, 10% of a Docker read's samples).
            if let Some(p) = local.and_then(|local| fast_tail(s, local)) {
                return Ok(p);
            }
        }
        self.general(s)
    }

    /// A head that is not the cached one: its seconds, cached when it is valid (whatever
    /// follows: cached even if the tail sends the input to the general path).
    #[inline(never)]
    fn new_head(&mut self, h: &[u8; 19], w: [u64; 3]) -> Option<i64> {
        let secs = self.head_secs(h)?;
        self.head = w;
        self.head_secs = secs;
        Some(secs)
    }

    /// Not the fast path's shape: out of the hot path.
    #[cold]
    #[inline(never)]
    fn general(&self, s: &[u8]) -> Result<ParsedTime, ParseTimeError> {
        parse_general(s, &self.config)
    }

    /// The seconds of a head that is not cached (`fast_head`), through the cached date when
    /// its 11 bytes match.
    #[inline]
    fn head_secs(&mut self, h: &[u8; 19]) -> Option<i64> {
        let d = [load(h, 0), load(h, 3)];
        if d != self.date {
            // Valid whatever the clock: cache it even if the clock is out of range.
            self.date_secs = fast_date(h)?;
            self.date = d;
        }
        Some(self.date_secs + fast_clock(h)?)
    }

    /// [`parse_rfc3339`](super::parse_rfc3339) with this parser's config: `s` must be one
    /// timestamp and nothing else.
    #[inline]
    pub fn parse(&mut self, s: &[u8]) -> Result<ParsedTime, ParseTimeError> {
        let p = self.parse_prefix(s)?;
        if p.len != s.len() {
            return Err(ParseTimeError::Trailing(p.len));
        }
        Ok(p)
    }
}

impl Default for TimestampParser {
    /// With [`ParseConfig::kubelet`].
    fn default() -> Self {
        Self::new(ParseConfig::kubelet())
    }
}

use crate::swar::load;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::time::{parse_rfc3339, parse_rfc3339_prefix};

    const PRESETS: [ParseConfig; 2] = [ParseConfig::kubelet(), ParseConfig::go_json()];

    /// Heads from a small pool, so that sequences repeat them: valid ones (leap days, the
    /// epoch the cache starts with, year 0), invalid ones that look alike (no leap day,
    /// month 13, hour 24, second 60), and one-digit hours whose 19 bytes run into the tail.
    const HEADS: &[&str] = &[
        "2024-06-19T15:02:45",
        "2024-06-19T15:02:46",
        "2024-06-19T00:00:00",
        "2024-06-20T15:02:45",
        "2024-06-19T15:59:60",
        "2024-06-19T15:02:4",
        "2024-02-29T23:59:59",
        "2023-02-29T23:59:59",
        "2000-02-29T00:00:00",
        "1900-02-29T00:00:00",
        "1970-01-01T00:00:00",
        "0000-01-01T00:00:00",
        "9999-12-31T23:59:59",
        "2024-13-19T15:02:45",
        "2024-06-19T24:02:45",
        "2024-06-19T15:02:60",
        "2024-06-19T5:02:45",
        "2024-06-19T1:02:45",
        "2024-06-19t15:02:45",
        "2024-06-19 15:02:45",
    ];

    /// Tails on the fraction's and the zone's decision points, plus what follows a CRI
    /// timestamp.
    const TAILS: &[&str] = &[
        "Z",
        ".123456789Z",
        ".12345678Z",
        ".1Z",
        ",5Z",
        ".Z",
        ".",
        "",
        ".1234567890123Z",
        "+02:00",
        ".5-05:30",
        "+24:00",
        "+25:00",
        "+01:60",
        "-01:60",
        "+0100",
        "z",
        ".5x",
        "Z stdout F hi",
        "5Z",
        "5.120+02:00",
    ];

    fn input() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => (prop::sample::select(HEADS), prop::sample::select(TAILS))
                .prop_map(|(h, t)| format!("{h}{t}").into_bytes()),
            // A pool head with random bytes after it, or a flipped byte anywhere.
            1 => (prop::sample::select(HEADS), proptest::collection::vec(any::<u8>(), 0..12))
                .prop_map(|(h, t)| [h.as_bytes(), &t].concat()),
            1 => (prop::sample::select(HEADS), prop::sample::select(TAILS), any::<usize>(), any::<u8>())
                .prop_map(|(h, t, i, b)| {
                    let mut s = format!("{h}{t}").into_bytes();
                    let n = s.len();
                    s[i % n] = b;
                    s
                }),
            1 => proptest::collection::vec(any::<u8>(), 0..32),
        ]
    }

    fn check_sequence(seq: &[Vec<u8>]) -> Result<(), TestCaseError> {
        for config in &PRESETS {
            let mut prefix = TimestampParser::new(*config);
            let mut whole = TimestampParser::new(*config);
            for s in seq {
                let text = String::from_utf8_lossy(s);
                prop_assert_eq!(
                    prefix.parse_prefix(s),
                    parse_rfc3339_prefix(s, config),
                    "{:?} {:?}",
                    text,
                    config
                );
                prop_assert_eq!(
                    whole.parse(s),
                    parse_rfc3339(s, config),
                    "{:?} {:?}",
                    text,
                    config
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn cached_equals_uncached(seq in proptest::collection::vec(input(), 1..12)) {
            check_sequence(&seq)?;
        }
    }

    #[test]
    fn a_cached_head_skips_only_what_it_may() {
        let mut p = TimestampParser::default();
        // The starting entry is a real head.
        assert_eq!(
            p.parse(b"1970-01-01T00:00:00.5Z").unwrap().timestamp.secs,
            0
        );
        let a = p.parse(b"2024-02-29T23:59:59.1Z").unwrap();
        assert_eq!(a.timestamp.secs, 1_709_251_199);
        // Same head, other zone: the offset still applies.
        let b = p.parse(b"2024-02-29T23:59:59.2+01:00").unwrap();
        assert_eq!(b.timestamp.secs, a.timestamp.secs - 3600);
        assert_eq!((b.timestamp.nanos, b.utc_offset), (200_000_000, 3600));
        // Same head, bad fraction or zone: the general path's error, not a cached success.
        assert_eq!(
            p.parse(b"2024-02-29T23:59:59.Z"),
            parse_rfc3339(b"2024-02-29T23:59:59.Z", &ParseConfig::kubelet())
        );
        assert!(p.parse(b"2024-02-29T23:59:59+01:60").is_err());
        // A one-digit hour shares 18 bytes' worth of layout but never the cached bytes.
        let c = p.parse(b"2024-02-29T3:59:59.1Z").unwrap();
        assert_eq!(c.timestamp.secs, 1_709_179_199);
        // Not a leap year: the same shape is rejected.
        assert!(p.parse(b"2023-02-29T23:59:59.1Z").is_err());
    }

    #[test]
    fn go_json_minute_60_after_a_cached_head() {
        let mut p = TimestampParser::new(ParseConfig::go_json());
        p.parse(b"2024-06-19T15:02:45Z").unwrap();
        let q = p.parse(b"2024-06-19T15:02:45+01:60").unwrap();
        assert_eq!(q.utc_offset, 7200);
        assert_eq!(p.config(), &ParseConfig::go_json());
    }
}
