//! The field rules' shortcuts against their slow paths (ASCII keys against folding, the
//! compacted time string against the whole one) and the `msg` buffers' cap.

use proptest::prelude::*;

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// The ASCII shortcut gives the folding path's answer.
    #[test]
    fn ascii_keys_match_as_folded(key in "(?i)(level|msg|time|levels|ms|tim|l[e\\-]vel|[a-z_ ]{0,6})") {
        let key = key.as_bytes();
        prop_assert_eq!(match_key(key), match_key_folding(key));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Compacting keeps the parse's answer: what fits the buffer raw gets the same verdict
    /// as its compacted form (the one longer strings are checked in).
    #[test]
    fn compacted_time_keeps_the_verdict(
        // Mostly valid dates and times, so that both verdicts occur.
        head in "[0-9]{4}-(0[1-9]|1[0-2]|[0-9]{2})-(0[1-9]|1[0-9]|2[0-8]|3[01])[T ]([01][0-9]|2[0-4]|[0-9]):[0-5][0-9](:[0-5][0-9]|:[0-9]{1,3})?",
        frac in "([.,][0-9]{0,12})?",
        zone in "(Z|[+-][0-9]{2}:[0-9]{2}|[+-][0-9]{4}|:|z)?",
    ) {
        let text = format!("{head}{frac}{zone}");
        let mut raw = TimeCheck::new();
        raw.push_run(text.as_bytes());
        let mut compacted = TimeCheck::new();
        compacted.compact = true;
        for b in text.bytes() {
            compacted.push(b);
        }
        let mut p = TimestampParser::new(ParseConfig::go_json());
        prop_assert_eq!(raw.ok(&mut p), compacted.ok(&mut p), "{}", text);
    }
}

#[test]
fn a_long_time_string_is_compacted() {
    let mut p = TimestampParser::new(ParseConfig::go_json());
    let mut t = TimeCheck::new();
    t.push_run(b"2024-06-19T15:02:45.");
    t.push_run(&[b'1'; 100]);
    t.push_run(b"+01:60");
    assert!(t.compact && t.ok(&mut p));
    let mut t = TimeCheck::new();
    t.bad = true;
    t.push_run(&[b'1'; 40]);
    assert!(!t.ok(&mut p));
}

/// A `msg` of any length, fed in any pieces (raw, plain or escaped, one huge run or
/// many small ones), keeps its buffers within the cap: the raw one within half of it,
/// the decoded one within it, and an over-long one is dropped, not kept.
#[test]
fn msg_buffers_stay_within_the_cap() {
    let cap = 4096;
    // Each unit with the length it decodes to.
    let units: [(&[u8], usize); 5] = [
        (b"a", 1),
        (br"\n", 1),
        (br"\u00e9", 2),
        (br"\ud83d\ude00", 4),
        (b"\xff", 1),
    ];
    for (unit, decoded) in units {
        for total in [cap / 2 - 1, cap / 2 + 1, cap, cap + 1, 3 * cap, 50 * cap] {
            let n = total / unit.len();
            let text = unit.repeat(n);
            for piece in [1, 7, 64, 1000, 64 << 10] {
                let mut r = Record::new(cap);
                r.string(Target::Level, b"error", false).unwrap();
                r.begin_string(Target::Msg);
                for run in text.chunks(piece) {
                    r.raw(run);
                    assert!(
                        r.msg_raw.capacity() <= cap / 2,
                        "raw {}",
                        r.msg_raw.capacity()
                    );
                    assert!(r.msg.capacity() <= cap, "decoded {}", r.msg.capacity());
                }
                r.end_string(true).unwrap();
                r.end_record();
                // The answer is the message lossy-decoded: an invalid byte counts one
                // against the cap but is three in the answer (as in the old scanner).
                let answer_cap = if unit == b"\xff" { 3 * cap } else { cap };
                assert!(r.msg.capacity() <= cap, "{unit:?} {total} {piece}");
                assert!(
                    r.answer.capacity() <= answer_cap,
                    "{unit:?} {total} {piece}"
                );
                assert_eq!(r.answer_long, n * decoded > cap, "{total} {unit:?}");
            }
        }
    }
}

#[test]
fn folding_keys_still_match() {
    assert_eq!(match_key("m\u{17F}g".as_bytes()), Field::Msg);
    assert_eq!(match_key("\u{212A}ey".as_bytes()), Field::Other);
    assert_eq!(match_key(b"MsG"), Field::Msg);
    assert_eq!(match_key(b"lEVEL"), Field::Level);
    assert_eq!(match_key(b"level\xff"), Field::Other);
}
