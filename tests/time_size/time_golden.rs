//! Go's own RFC3339Nano output and parse results (`testdata/go-time/rfc3339nano.tsv`),
//! plus property tests against the `time` crate as an oracle.

use ctrlog::time::{
    format_rfc3339nano, format_rfc3339nano_fixed, parse_rfc3339, parse_rfc3339nano, Offset,
    ParseConfig, Timestamp, TimestampFormatter, TimestampParser,
};
use proptest::prelude::*;

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/go-time/rfc3339nano.tsv"
);

fn fmt(ts: Timestamp, off: Offset) -> String {
    let mut v = Vec::new();
    format_rfc3339nano(ts, off, &mut v);
    String::from_utf8(v).unwrap()
}

fn golden_rows() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(GOLDEN).expect("read Go golden table");
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[test]
fn formatting_matches_go_golden_table() {
    let mut checked = 0;
    for row in golden_rows() {
        if row[0] != "F" {
            continue;
        }
        let secs: i64 = row[1].parse().unwrap();
        let nanos: u32 = row[2].parse().unwrap();
        let ts = Timestamp::new(secs, nanos);
        assert_eq!(fmt(ts, Offset::Utc), row[3], "F {secs} {nanos}");
        let mut f = TimestampFormatter::new(Offset::Utc);
        assert_eq!(f.format(ts), row[3].as_bytes(), "cached F {secs} {nanos}");
        checked += 1;
    }
    assert!(checked >= 90, "only {checked} F rows");
}

#[test]
fn local_offset_row_matches_go() {
    let row = golden_rows().into_iter().find(|r| r[0] == "L").unwrap();
    let ts = parse_rfc3339nano(row[1].as_bytes()).unwrap();
    assert_eq!(fmt(ts, Offset::Fixed(2 * 3600 + 30 * 60)), row[1]);
}

/// Go 1.19's parse results, with the cases where current Go (and so kubelet and ctrlog)
/// decides otherwise listed explicitly.
#[test]
fn parsing_matches_go() {
    let mut checked = 0;
    let mut cache = TimestampParser::new(ParseConfig::kubelet());
    for row in golden_rows() {
        if row[0] != "P" {
            continue;
        }
        let input = row[1].as_str();
        let got = parse_rfc3339nano(input.as_bytes());
        // The cached parser agrees, warm from the rows before and warm from this row.
        for _ in 0..2 {
            let cached = cache.parse(input.as_bytes()).map(|p| p.timestamp);
            assert_eq!(cached, got, "cached {input}");
        }
        match (input, row[2].as_str()) {
            // Go >= 1.20 truncates digits past the ninth.
            ("2024-06-19T15:02:45.1234567891Z", "ERR") => {
                assert_eq!(got.unwrap().unix_nanos(), 1718809365123456789)
            }
            // Go's UnixNano overflows for year 0; ctrlog returns the real instant.
            ("0000-01-01T00:00:00Z", _) => {
                assert_eq!(got.unwrap().secs, -62167219200)
            }
            (_, "ERR") => assert!(got.is_err(), "{input} should be rejected, got {got:?}"),
            (_, nanos) => assert_eq!(
                got.unwrap_or_else(|e| panic!("{input}: {e}")).unix_nanos(),
                nanos.parse::<i128>().unwrap(),
                "{input}"
            ),
        }
        checked += 1;
    }
    assert!(checked >= 19);
}

#[test]
fn parse_rejects_what_go_rejects() {
    for bad in [
        "",
        "2024",
        "2024-06-19",
        "2024-06-19T15:02:45",
        "2024-06-19T15:02:45.123",
        "2024-06-19t15:02:45Z",
        "2024-06-19T15:02:45z",
        "2024-06-19 15:02:45Z",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-06-31T00:00:00Z",
        "2024-06-19T15:60:00Z",
        "2024-06-19T15:02:45+02",
        "2024-06-19T15:02:45+0200",
        "2024-06-19T15:02:45+25:00",
        "2024-06-19T15:02:45.1Z ",
        "24-06-19T15:02:45Z",
        "2024-6-19T15:02:45Z",
        "2024-06-19T15:2:45Z",
        "2024-06-19T15:02:4Z",
        "２024-06-19T15:02:45Z",
    ] {
        assert!(
            parse_rfc3339nano(bad.as_bytes()).is_err(),
            "{bad:?} accepted"
        );
        // Also right after a valid record in (nearly) the same second: a cached head must not
        // let a bad one through.
        for config in [ParseConfig::kubelet(), ParseConfig::go_json()] {
            let mut cache = TimestampParser::new(config);
            cache.parse(b"2024-06-19T15:02:45.5Z").unwrap();
            assert_eq!(
                cache.parse(bad.as_bytes()),
                parse_rfc3339(bad.as_bytes(), &config),
                "cached {bad:?}"
            );
            assert!(
                cache.parse(bad.as_bytes()).is_err(),
                "cached {bad:?} accepted"
            );
        }
    }
    // Leap day and a one-digit hour are fine.
    assert!(parse_rfc3339nano(b"2024-02-29T01:00:00Z").is_ok());
    assert!(parse_rfc3339nano(b"2000-02-29T1:00:00Z").is_ok());
}

#[test]
fn boundaries_and_fixed_form() {
    let max = parse_rfc3339nano(b"9999-12-31T23:59:59.999999999Z").unwrap();
    assert_eq!(fmt(max, Offset::Utc), "9999-12-31T23:59:59.999999999Z");
    let min = parse_rfc3339nano(b"0001-01-01T00:00:00Z").unwrap();
    assert_eq!(fmt(min, Offset::Utc), "0001-01-01T00:00:00Z");
    let before = Timestamp::new(-1, 500_000_000);
    assert_eq!(fmt(before, Offset::Utc), "1969-12-31T23:59:59.5Z");
    let mut v = Vec::new();
    format_rfc3339nano_fixed(before, Offset::Utc, &mut v);
    assert_eq!(v, b"1969-12-31T23:59:59.500000000Z");
    // Go's appendInt(year, 4) beyond four digits.
    assert_eq!(
        fmt(Timestamp::new(253402300800, 0), Offset::Utc),
        "10000-01-01T00:00:00Z"
    );
    assert_eq!(
        fmt(Timestamp::new(-62198755200, 0), Offset::Utc),
        "-0001-01-01T00:00:00Z"
    );
    assert_eq!(
        fmt(Timestamp::new(0, 0), Offset::Fixed(-(5 * 3600 + 30 * 60))),
        "1969-12-31T18:30:00-05:30"
    );
}

fn oracle(ts: Timestamp, off_secs: i32) -> String {
    let odt = time::OffsetDateTime::from_unix_timestamp_nanos(ts.unix_nanos())
        .unwrap()
        .to_offset(time::UtcOffset::from_whole_seconds(off_secs).unwrap());
    let base = odt
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap();
    let mut frac = format!("{:09}", ts.nanos);
    while frac.ends_with('0') {
        frac.pop();
    }
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    let zone = if off_secs == 0 {
        "Z".to_owned()
    } else {
        let m = off_secs.unsigned_abs() / 60;
        format!(
            "{}{:02}:{:02}",
            if off_secs < 0 { '-' } else { '+' },
            m / 60,
            m % 60
        )
    };
    format!("{base}{frac}{zone}")
}

// Year 1 .. 9999 in UTC.
const MIN_SECS: i64 = -62135596800;
const MAX_SECS: i64 = 253402300799;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn format_equals_time_crate(
        secs in MIN_SECS + 86_400..MAX_SECS - 86_400,
        nanos in prop_oneof![0u32..1_000_000_000, Just(0u32), (0u32..1000).prop_map(|n| n * 1_000_000)],
        off_min in -(24 * 60 - 1)..(24 * 60),
    ) {
        let ts = Timestamp::new(secs, nanos);
        let off = off_min * 60;
        let want = oracle(ts, off);
        prop_assert_eq!(fmt(ts, Offset::Fixed(off)), want.clone());
        let mut f = TimestampFormatter::new(Offset::Fixed(off));
        prop_assert_eq!(f.format(ts), want.as_bytes());
        // Parsing the text gives the instant back, and the zone it was written in, under
        // every preset.
        prop_assert_eq!(parse_rfc3339nano(want.as_bytes()).unwrap(), ts);
        for config in [ParseConfig::kubelet(), ParseConfig::go_json()] {
            let p = parse_rfc3339(want.as_bytes(), &config).unwrap();
            prop_assert_eq!((p.timestamp, p.utc_offset, p.len), (ts, off, want.len()));
            // Cold and then warm (same head) cache.
            let mut cache = TimestampParser::new(config);
            prop_assert_eq!(cache.parse(want.as_bytes()), Ok(p));
            prop_assert_eq!(cache.parse(want.as_bytes()), Ok(p));
        }
    }

    #[test]
    fn cached_formatter_equals_plain(start in MIN_SECS..MAX_SECS, steps in proptest::collection::vec(0i64..3_000_000_000, 1..50)) {
        let mut f = TimestampFormatter::new(Offset::Utc);
        let mut fixed = TimestampFormatter::new_fixed(Offset::Utc);
        let mut t = Timestamp::new(start, 0);
        for s in steps {
            t = t.add_nanos(i128::from(s));
            let want = fmt(t, Offset::Utc);
            prop_assert_eq!(f.format(t), want.as_bytes());
            let mut v = Vec::new();
            format_rfc3339nano_fixed(t, Offset::Utc, &mut v);
            prop_assert_eq!(fixed.format(t), &v[..]);
        }
    }

    #[test]
    fn parse_never_panics(s in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = parse_rfc3339nano(&s);
    }
}
