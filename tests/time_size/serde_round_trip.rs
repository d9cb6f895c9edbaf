//! Feature `serde`: every data type survives a trip through JSON unchanged, and the text forms
//! are the ones the logs use (a timestamp is its RFC3339Nano text, a stream its name).
#![cfg(feature = "serde")]

use ctrlog::cri::Stream;
use ctrlog::runc::{last_error, summarize, OwnedEntry, Summary, SummaryOptions};
use ctrlog::time::Timestamp;
use proptest::prelude::*;

fn round_trip<T>(v: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let text = serde_json::to_string(v).expect("serializes");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn timestamp_and_stream_serialize_as_their_log_text() {
    let ts = Timestamp::new(1_718_802_165, 120_000_000);
    assert_eq!(
        serde_json::to_string(&ts).unwrap(),
        r#""2024-06-19T13:02:45.12Z""#
    );
    assert_eq!(
        serde_json::to_string(&Stream::Stderr).unwrap(),
        r#""stderr""#
    );
    assert_eq!(round_trip(&Stream::Stdout), Stream::Stdout);
    // Any RFC 3339 form kubelet accepts deserializes, to the instant it names.
    let t: Timestamp = serde_json::from_str(r#""2024-06-19T15:02:45.12+02:00""#).unwrap();
    assert_eq!(t, ts);
    let bad = serde_json::from_str::<Timestamp>(r#""2024-06-19 15:02:45Z""#).unwrap_err();
    assert!(bad.to_string().contains("timestamp"), "{bad}");
}

#[test]
fn runc_types_round_trip() {
    let log = concat!(
        r#"{"level":"info","msg":"hook \"x\" ran","time":"2026-01-01T00:00:01Z","pid":7}"#,
        "\n",
        r#"{"level":"error","msg":"exec failed","time":"2026-01-01T00:00:02Z"}"#,
        "\n"
    );
    let err = last_error(std::io::Cursor::new(log)).unwrap().unwrap();
    assert_eq!(round_trip(&err), err);
    let mut s: Summary = summarize(log.as_bytes(), SummaryOptions::default()).unwrap();
    // The timelines are not serialized (the JSON form is the counts).
    assert_eq!(s.timeline.total(), 2);
    s.timeline = Default::default();
    for m in &mut s.top_messages {
        m.timeline = Default::default();
    }
    assert_eq!(round_trip(&s), s);
    let mut dec = ctrlog::runc::Decoder::new(log.as_bytes());
    let mut e = OwnedEntry::default();
    while dec.read_entry(&mut e).unwrap() {
        assert_eq!(round_trip(&e), e);
        // The borrowed form serializes to the same JSON as the owned one.
        assert_eq!(
            serde_json::to_value(e.as_entry()).unwrap(),
            serde_json::to_value(&e).unwrap()
        );
    }
}

#[test]
fn owned_records_round_trip_any_content() {
    use ctrlog::cri::read::OwnedLogRecord;
    use ctrlog::cri::Tag;
    let ts = Timestamp::new(1_718_802_165, 5);
    let text = OwnedLogRecord::new(ts, Stream::Stdout, Tag::Partial, &b"caf\xc3\xa9"[..]);
    let json = serde_json::to_value(&text).unwrap();
    assert_eq!(json["content"], "caf\u{e9}");
    assert_eq!(json["tag"], "P");
    assert_eq!(round_trip(&text), text);
    // Not UTF-8: an array of bytes, back byte-exact.
    let raw = OwnedLogRecord::new(ts, Stream::Stderr, Tag::Full, &b"\xff\x00ok"[..]);
    assert!(serde_json::to_value(&raw).unwrap()["content"].is_array());
    assert_eq!(round_trip(&raw), raw);
}

#[test]
fn pod_paths_and_lines_round_trip() {
    use ctrlog::cri::read::{ContainerLogLink, LogLine, LogReader, PodLogPath, ReadOptions};
    let p = PodLogPath::parse("/var/log/pods/default_web-0_1b2c/nginx/3.log").unwrap();
    assert_eq!(round_trip(&p), p);
    let l = ContainerLogLink::parse("/var/log/containers/web-0_default_nginx-3f4e5d.log").unwrap();
    assert_eq!(round_trip(&l), l);
    // Lines read from a file, with their path, time and content (one not UTF-8).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    std::fs::write(
        &path,
        b"2024-01-01T00:00:00.5+01:00 stdout F hello\n2024-01-01T00:00:01Z stderr P \xff\n",
    )
    .unwrap();
    let mut r = LogReader::open(&path, ReadOptions::default()).unwrap();
    let mut line = LogLine::new();
    let mut n = 0;
    while r.next_line(&mut line).unwrap() {
        let json = serde_json::to_value(&line).unwrap();
        assert_eq!(json["path"], path.to_str().unwrap(), "{json}");
        assert_eq!(round_trip(&line), line);
        n += 1;
    }
    assert_eq!(n, 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]
    /// Every instant of years 0000..=9999 (what RFC 3339 can write) round-trips exactly.
    #[test]
    fn timestamps_round_trip(secs in -62_167_219_200i64..253_402_300_799, nanos in 0u32..1_000_000_000) {
        let ts = Timestamp::new(secs, nanos);
        prop_assert_eq!(round_trip(&ts), ts);
        prop_assert_eq!(ts.to_string().parse::<Timestamp>(), Ok(ts));
        if let Some(st) = ts.to_system_time() {
            prop_assert_eq!(Timestamp::from(st), ts);
        }
    }

    #[test]
    fn entries_round_trip(level in "[a-z]{0,8}", msg in any::<String>(), extra in any::<u32>()) {
        let e = OwnedEntry {
            level: Some(level),
            msg: Some(msg),
            time: None,
            fields: vec![("pid".into(), extra.to_string())],
        };
        prop_assert_eq!(round_trip(&e), e);
    }
}
