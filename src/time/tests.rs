//! Parser tests that need the private paths: the fast path against the general path (the
//! oracle), for every preset, on arbitrary bytes and on mutated valid timestamps.

use proptest::prelude::*;

use super::fuzz::fuzz_time_parse;
use super::parse::{parse_fast, parse_general};
use super::*;

/// Every preset; a new preset must be added here so the oracle covers it.
const PRESETS: [ParseConfig; 2] = [ParseConfig::kubelet(), ParseConfig::go_json()];

/// The fast path may decline, but what it accepts the general path accepts identically, and
/// the public entry point always equals the general path.
fn check_oracle(s: &[u8]) -> Result<(), TestCaseError> {
    let fast = parse_fast(s);
    for config in &PRESETS {
        let general = parse_general(s, config);
        if let Some(f) = fast {
            prop_assert_eq!(
                Ok(f),
                general,
                "{:?} with {:?}",
                String::from_utf8_lossy(s),
                config
            );
        }
        prop_assert_eq!(parse_rfc3339_prefix(s, config), general);
        let whole = parse_rfc3339(s, config);
        match general {
            Ok(p) if p.len == s.len() => prop_assert_eq!(whole, Ok(p)),
            Ok(p) => prop_assert_eq!(whole, Err(ParseTimeError::Trailing(p.len))),
            Err(e) => prop_assert_eq!(whole, Err(e)),
        }
    }
    Ok(())
}

/// Valid timestamps in the shapes the presets accept: trimmed and fixed fractions, long
/// fractions, `,`, one-digit hours, zone offsets up to `±24:60`.
fn valid_timestamp() -> impl Strategy<Value = Vec<u8>> {
    (
        0i64..10_000,
        1u32..=12,
        1u32..=31,
        0u32..24,
        0u32..60,
        0u32..60,
        prop_oneof![Just(String::new()), "[.,][0-9]{1,12}"],
        prop_oneof![
            Just("Z".to_owned()),
            (prop_oneof![Just('+'), Just('-')], 0u32..=24, 0u32..=60)
                .prop_map(|(s, h, m)| format!("{s}{h:02}:{m:02}")),
        ],
        any::<bool>(),
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, zone, short_hour)| {
            let d = d.min(calendar::days_in_month(y, mo));
            let hour = if short_hour && h < 10 {
                format!("{h}")
            } else {
                format!("{h:02}")
            };
            format!("{y:04}-{mo:02}-{d:02}T{hour}:{mi:02}:{s:02}{frac}{zone}").into_bytes()
        })
}

/// Bytes that sit on the grammar's decision points.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        prop::sample::select(&b"0123456789-:T.,Z+-tz 6059"[..]),
        any::<u8>(),
    ]
}

#[derive(Clone, Debug)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Mutation::Replace(i, b)),
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut s: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let n = s.len();
        match *m {
            Mutation::Replace(i, b) if n > 0 => s[i % n] = b,
            Mutation::Insert(i, b) => s.insert(i % (n + 1), b),
            Mutation::Remove(i) if n > 0 => {
                s.remove(i % n);
            }
            Mutation::Truncate(i) => s.truncate(i % (n + 1)),
            _ => {}
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn fast_path_equals_general_on_arbitrary_bytes(s in proptest::collection::vec(any::<u8>(), 0..48)) {
        check_oracle(&s)?;
    }

    #[test]
    fn fast_path_equals_general_on_valid_timestamps(s in valid_timestamp(), tail in prop_oneof![Just(Vec::new()), proptest::collection::vec(interesting_byte(), 1..4)]) {
        check_oracle(&s)?;
        // Every generated text parses under the lax preset; the trailing bytes are left alone
        // (or extend a fraction or zone, which the oracle checks either way).
        prop_assert!(parse_rfc3339(&s, &ParseConfig::go_json()).is_ok());
        let mut with_tail = s.clone();
        with_tail.extend_from_slice(&tail);
        check_oracle(&with_tail)?;
    }

    #[test]
    fn fast_path_equals_general_on_mutated_timestamps(s in valid_timestamp(), ms in proptest::collection::vec(mutation(), 1..4)) {
        check_oracle(&mutate(s, &ms))?;
    }
}

#[test]
fn presets_differ_only_where_documented() {
    let text = b"2024-06-19T15:02:45.5-01:60";
    assert_eq!(
        parse_rfc3339(text, &ParseConfig::kubelet()),
        Err(ParseTimeError::OutOfRange("zone offset minute"))
    );
    let p = parse_rfc3339(text, &ParseConfig::go_json()).unwrap();
    assert_eq!(p.utc_offset, -7200);
    assert_eq!(p.timestamp, Timestamp::new(1_718_816_565, 500_000_000));
    assert_eq!(p.offset(), Offset::Fixed(-7200));
    assert_eq!(ParseConfig::default(), ParseConfig::kubelet());
}

#[test]
fn zone_offset_is_returned() {
    for (text, offset) in [
        (&b"2024-06-19T15:02:45Z"[..], 0),
        (b"2024-06-19T15:02:45.123-00:00", 0),
        (b"2024-06-19T15:02:45+24:00", 86_400),
        (b"2024-06-19T5:02:45,1-05:30", -19_800),
    ] {
        let p = parse_rfc3339(text, &ParseConfig::kubelet()).unwrap();
        assert_eq!((p.utc_offset, p.len), (offset, text.len()));
    }
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
