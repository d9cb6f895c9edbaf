//! Fuzz target body: compiled with the internal `__fuzz` feature (for `fuzz/` and the corpus
//! replay test) and in unit tests, so it is not in a user's build or in the semver surface.

use super::parse::{parse_fast, parse_general};
use super::{
    format_rfc3339nano, parse_rfc3339_prefix, parse_rfc3339nano, Offset, ParseConfig,
    TimestampParser,
};

/// Parses `data` with both parser paths and checks they agree, that the cached parser agrees
/// with the uncached one on each line of `data` in turn (its head and date caches carried from
/// line to line), and that what parses formats back to an equal instant.
pub fn fuzz_time_parse(data: &[u8]) {
    for config in [ParseConfig::kubelet(), ParseConfig::go_json()] {
        let mut cached = TimestampParser::new(config);
        for line in data.split(|&b| b == b'\n') {
            assert_eq!(
                cached.parse_prefix(line),
                parse_rfc3339_prefix(line, &config),
                "{line:?} after the lines before it, {config:?}"
            );
        }
    }
    // The fast path's oracle (also property-tested): what it accepts, the general path
    // accepts identically under every preset.
    if let Some(fast) = parse_fast(data) {
        for config in [ParseConfig::kubelet(), ParseConfig::go_json()] {
            assert_eq!(parse_general(data, &config), Ok(fast), "{config:?}");
        }
    }
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
