//! Docker json-file encoding: moby's `TestJSONLogsMarshalJSONBuf` and
//! `TestFastTimeMarshalJSON` tables, plus each escaping rule.

use ctrlog::cri::write::{escape_docker_json, DockerJsonEncoder, RecordEncoder};
use ctrlog::cri::{Stream, Tag};
use ctrlog::time::Timestamp;

fn encode(tag: Tag, log: &[u8], ts: Timestamp, stream: Stream) -> String {
    let mut f = DockerJsonEncoder::new();
    f.start_batch(ts, stream);
    let mut out = Vec::new();
    f.encode(tag, log, &mut out);
    String::from_utf8(out).expect("ASCII/UTF-8 output")
}

fn escaped(s: &[u8]) -> String {
    let mut out = Vec::new();
    escape_docker_json(s, &mut out);
    String::from_utf8(out).unwrap()
}

/// moby `jsonlogbytes_test.go` (`log` values; a partial record carries `log` as it is).
#[test]
fn moby_marshal_table() {
    let t = Timestamp::new(1_504_227_661, 1); // 2017-09-01T01:01:01.000000001Z
    let table: &[(&[u8], &str)] = &[
        (
            br#""A log line with \\""#,
            r#"{"log":"\"A log line with \\\\\"","#,
        ),
        (b"A log line", r#"{"log":"A log line","#),
        (b"A log line with \r", r#"{"log":"A log line with \r","#),
        (
            b"A log line with & < >",
            r#"{"log":"A log line with \u0026 \u003c \u003e","#,
        ),
        (
            "A log line with utf8 : 🚀 ψ ω β".as_bytes(),
            r#"{"log":"A log line with utf8 : 🚀 ψ ω β","#,
        ),
        ("\u{2028} \u{2029}".as_bytes(), r#"{"log":"\u2028 \u2029","#),
        (&[0xaf], r#"{"log":"\ufffd","#),
        (&[0x7f], "{\"log\":\"\x7f\","),
    ];
    let suffix = r#""stream":"stdout","time":"2017-09-01T01:01:01.000000001Z"}"#.to_owned() + "\n";
    for (log, want_prefix) in table {
        let out = encode(Tag::Partial, log, t, Stream::Stdout);
        assert!(out.starts_with(want_prefix), "{log:?}: {out}");
        assert!(out.ends_with(&suffix), "{out}");
        assert_eq!(out.len(), want_prefix.len() + suffix.len(), "{out}");
        let v: serde_json::Value = serde_json::from_str(out.trim_end()).expect("valid JSON");
        assert!(v["time"].is_string());
    }
}

#[test]
fn full_records_end_log_with_newline_and_partials_do_not() {
    let t = Timestamp::new(1_432_897_262, 3); // moby TestFastTimeMarshalJSON
    assert_eq!(
        encode(Tag::Full, b"hi", t, Stream::Stderr),
        "{\"log\":\"hi\\n\",\"stream\":\"stderr\",\"time\":\"2015-05-29T11:01:02.000000003Z\"}\n"
    );
    assert_eq!(
        encode(Tag::Full, b"", t, Stream::Stdout),
        "{\"log\":\"\\n\",\"stream\":\"stdout\",\"time\":\"2015-05-29T11:01:02.000000003Z\"}\n"
    );
    // An empty partial has no `log` key (dockerd's omitempty).
    assert_eq!(
        encode(
            Tag::Partial,
            b"",
            Timestamp::new(-62_135_596_800, 0),
            Stream::Stdout
        ),
        "{\"stream\":\"stdout\",\"time\":\"0001-01-01T00:00:00Z\"}\n"
    );
    // Trailing zeros of the fraction are trimmed, as Go's RFC3339Nano does.
    assert!(encode(
        Tag::Full,
        b"x",
        Timestamp::new(1_795_422_886, 747_102_260),
        Stream::Stderr
    )
    .ends_with("\"time\":\"2026-11-23T08:34:46.74710226Z\"}\n"));
}

#[test]
fn each_escaping_rule() {
    // Backslash escapes.
    assert_eq!(escaped(b"\"\\\n\r"), r#"\"\\\n\r"#);
    // Every other control byte is \u00XX with lowercase hex; tab too.
    assert_eq!(
        escaped(b"\t\x00\x01\x1b\x1f"),
        r"\u0009\u0000\u0001\u001b\u001f"
    );
    // HTML-sensitive characters.
    assert_eq!(
        escaped(b"<a href='x'>&amp;</a>"),
        r"\u003ca href='x'\u003e\u0026amp;\u003c/a\u003e"
    );
    // DEL, space and printable ASCII are raw.
    assert_eq!(escaped(b" ~\x7f/'"), " ~\x7f/'");
    // Valid multi-byte UTF-8 is raw, U+2028/U+2029 escaped.
    assert_eq!(
        escaped("héllo € 😀\u{2027}\u{2028}\u{2029}\u{202a}".as_bytes()),
        "héllo € 😀\u{2027}\\u2028\\u2029\u{202a}"
    );
    // Invalid UTF-8: one U+FFFD per byte, as Go's DecodeRune consumes one byte per error.
    assert_eq!(escaped(b"\xff\xfe"), r"\ufffd\ufffd");
    assert_eq!(escaped(b"a\xe2\x82b"), r"a\ufffd\ufffdb"); // truncated 3-byte sequence
    assert_eq!(escaped(b"\xe2\x82"), r"\ufffd\ufffd"); // truncated at the end
    assert_eq!(escaped(b"\xed\xa0\x80"), r"\ufffd\ufffd\ufffd"); // surrogate
    assert_eq!(escaped(b"\xc0\xaf"), r"\ufffd\ufffd"); // overlong
    assert_eq!(escaped(b"\xf4\x90\x80\x80"), r"\ufffd\ufffd\ufffd\ufffd"); // > U+10FFFF
    assert_eq!(escaped("é".as_bytes().split_at(1).0), r"\ufffd"); // a character cut by the splitter
    assert_eq!(
        escaped(b"\xe2\x80\xa8\xff\xe2\x80\xa9"),
        r"\u2028\ufffd\u2029"
    );
    assert_eq!(escaped(b""), "");
}

// The fuzz body is test support compiled with the `__fuzz` feature (CI: --all-features).
#[cfg(feature = "__fuzz")]
#[test]
fn escaping_matches_the_fuzz_oracle_on_samples() {
    for s in [
        &b"plain"[..],
        b"\x00<>&\xff\xe2\x80\xa8",
        "日志 🙂".as_bytes(),
        b"\xf0\x9f\x99",
    ] {
        ctrlog::cri::write::fuzz_json_encode(s);
    }
}
