//! Hand-written rule tests for `ctrlog::runc`: robust mode, decoder policies, writer,
//! summary (containerd-compatible mode is in `compat_rules.rs`).

use std::io::Cursor;

use ctrlog::runc::{
    encode_entry, last_error, last_error_compat, last_error_stream, last_error_with, parse_entry,
    summarize, Decoder, DecoderOptions, EntryWriter, ErrorPolicy, FieldValue, LastErrorOptions,
    RuncError, SummaryOptions,
};
use ctrlog::time::{Offset, Timestamp};

fn robust(input: &[u8]) -> Option<String> {
    let mut opts = LastErrorOptions::default();
    opts.max_record_len = 1 << 20;
    opts.block_size = 3;
    let back = last_error_with(Cursor::new(input), opts).unwrap();
    let fwd = last_error_stream(std::io::BufReader::with_capacity(5, input)).unwrap();
    assert_eq!(back, fwd, "{:?}", String::from_utf8_lossy(input));
    // The naive oracle is test support compiled with the `__fuzz` feature (CI: --all-features).
    #[cfg(feature = "__fuzz")]
    assert_eq!(fwd, ctrlog::runc::last_error_naive(input, 1 << 20));
    back.map(|e| e.msg)
}

#[test]
fn robust_rules() {
    let s = |x: &str| Some(x.to_owned());
    // Torn final record does not hide the answer.
    assert_eq!(
        robust(b"{\"level\":\"error\",\"msg\":\"a\"}\n{\"level\":\"err"),
        s("a")
    );
    // A corrupt record elsewhere neither.
    assert_eq!(
        robust(b"{\"level\":\"error\",\"msg\":\"a\"}\n\xef\xbb\xbfgarbage\n{\"level\":\"info\"}\n"),
        s("a")
    );
    // Per record: no state carried over.
    assert_eq!(
        robust(b"{\"level\":\"error\",\"msg\":\"a\"}\n{\"level\":\"error\"}\n"),
        s("")
    );
    assert_eq!(
        robust(b"{\"level\":\"error\",\"msg\":\"a\"}\n{\"msg\":\"b\"}\n"),
        s("a")
    );
    // Trimmed, Unicode whitespace.
    assert_eq!(
        robust("{\"level\":\"error\",\"msg\":\"\u{a0} x \\n\"}".as_bytes()),
        s("x")
    );
    // Exact level, exact keys.
    assert_eq!(
        robust(b"{\"level\":\"Error\",\"msg\":\"a\"}\n{\"Level\":\"error\",\"msg\":\"b\"}"),
        None
    );
    // Escaped level value is still found (prefilter lets `\u` through).
    assert_eq!(robust(br#"{"level":"\u0065rror","msg":"a"}"#), s("a"));
    // An invalid time does not disqualify the record.
    assert_eq!(
        robust(br#"{"level":"error","msg":"a","time":"yesterday"}"#),
        s("a")
    );
    // Text logs have no error record.
    assert_eq!(
        robust(b"time=\"2026-11-23T08:27:45Z\" level=error msg=\"container does not exist\"\n"),
        None
    );
    // "error" inside a message is not a level.
    assert_eq!(robust(br#"{"level":"info","msg":"\"error\" error"}"#), None);
    // CRLF, blank lines.
    assert_eq!(
        robust(b"\r\n\n{\"level\":\"error\",\"msg\":\"a\"}\r\n\n"),
        s("a")
    );
    assert_eq!(robust(b""), None);
}

#[test]
fn robust_time_and_offset() {
    let log = b"{\"level\":\"info\",\"msg\":\"x\"}\n{\"level\":\"error\",\"msg\":\"a\",\"time\":\"2024-01-20T16:00:07+08:00\"}\n";
    let e = last_error(Cursor::new(&log[..])).unwrap().unwrap();
    assert_eq!(e.offset, 27);
    assert_eq!(e.time, Some(Timestamp::new(1705737607, 0)));
}

#[test]
fn robust_oversized_record_skipped_in_bounded_memory() {
    // An error record over the cap is skipped; the earlier one is the answer.
    let mut log = b"{\"level\":\"error\",\"msg\":\"small\"}\n".to_vec();
    log.extend_from_slice(b"{\"level\":\"error\",\"msg\":\"");
    log.extend(std::iter::repeat_n(b'x', 10_000));
    log.extend_from_slice(b"\"}\n{\"level\":\"info\"}");
    let mut opts = LastErrorOptions::default();
    opts.max_record_len = 1000;
    opts.block_size = 64;
    let back = last_error_with(Cursor::new(&log[..]), opts)
        .unwrap()
        .unwrap();
    assert_eq!(back.msg, "small");
    let fwd =
        ctrlog::runc::last_error_stream_with(std::io::BufReader::with_capacity(64, &log[..]), opts)
            .unwrap()
            .unwrap();
    assert_eq!(fwd, back);
    // With the default cap the big one wins.
    assert_eq!(
        last_error(Cursor::new(&log[..]))
            .unwrap()
            .unwrap()
            .msg
            .len(),
        10_000
    );
}

/// A reader that fails the test if anything asks it for more than `limit` bytes of buffer:
/// proves the backward scan never reads more than a block at a time, and counts bytes read.
struct Counting<'a> {
    inner: Cursor<&'a [u8]>,
    read: u64,
    largest: usize,
}

impl std::io::Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.largest = self.largest.max(buf.len());
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

impl std::io::Seek for Counting<'_> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

#[test]
fn backward_cost_is_proportional_to_distance_from_end() {
    let mut log = Vec::new();
    log.extend_from_slice(b"{\"level\":\"error\",\"msg\":\"old\"}\n");
    for _ in 0..100_000 {
        log.extend_from_slice(
            b"{\"level\":\"info\",\"msg\":\"Using low-level runtime /usr/bin/runc\"}\n",
        );
    }
    log.extend_from_slice(
        b"{\"level\":\"error\",\"msg\":\"new\"}\n{\"level\":\"info\",\"msg\":\"x\"}\n",
    );
    let mut r = Counting {
        inner: Cursor::new(&log[..]),
        read: 0,
        largest: 0,
    };
    let mut opts = LastErrorOptions::default();
    opts.max_record_len = 4096;
    opts.block_size = 4096;
    let e = last_error_with(&mut r, opts).unwrap().unwrap();
    assert_eq!(e.msg, "new");
    assert!(r.read <= 4096, "read {} bytes of {}", r.read, log.len());
    // Whole scan: reads every byte once, in blocks of at most 1 MiB.
    let mut r = Counting {
        inner: Cursor::new(&log[..]),
        read: 0,
        largest: 0,
    };
    let e = last_error_with(&mut r, opts).unwrap();
    assert_eq!(e.unwrap().msg, "new");
    let mut r = Counting {
        inner: Cursor::new(&log[..log.len() - 60]),
        read: 0,
        largest: 0,
    };
    let _ = last_error_with(&mut r, opts).unwrap();
    assert!(r.largest <= 1 << 20);
}

#[test]
fn backward_one_huge_record_memory_is_capped() {
    // One 8 MiB record: the scan skips it holding at most cap + 1 MiB.
    let mut log = b"{\"level\":\"error\",\"msg\":\"".to_vec();
    log.extend(std::iter::repeat_n(b'a', 8 << 20));
    log.extend_from_slice(b"\"}\n");
    let mut r = Counting {
        inner: Cursor::new(&log[..]),
        read: 0,
        largest: 0,
    };
    let mut opts = LastErrorOptions::default();
    opts.max_record_len = 1 << 16;
    opts.block_size = 1 << 16;
    assert_eq!(last_error_with(&mut r, opts).unwrap(), None);
    assert!(r.largest <= 1 << 20);
    assert_eq!(r.read, log.len() as u64);
}

#[test]
fn entry_fields_and_borrowing() {
    let line = br#"{"file":"github.com/opencontainers/runc/signals.go:92","func":"main.(*signalHandler).forward","level":"debug","msg":"process exited","pid":14036,"status":0,"time":"2026-11-23T08:27:13Z"}"#;
    let e = parse_entry(line).unwrap();
    assert_eq!(e.level(), "debug");
    assert!(matches!(
        e.msg,
        Some(std::borrow::Cow::Borrowed("process exited"))
    ));
    assert_eq!(e.field("pid"), Some("14036"));
    assert_eq!(e.field("status"), Some("0"));
    assert_eq!(e.fields.len(), 4);
    assert_eq!(e.timestamp(), Some(Ok(Timestamp::new(1795422433, 0))));
    let esc = parse_entry(br#"{"level":"debug","msg":"nsexec: =\u003e setup"}"#).unwrap();
    assert_eq!(esc.msg(), "nsexec: => setup");
    // Errors.
    assert!(parse_entry(b"{\"level\":\"err").unwrap_err().is_truncated());
    assert!(matches!(
        parse_entry(b"[1]"),
        Err(ctrlog::runc::EntryError::Type { .. })
    ));
    assert!(matches!(
        parse_entry(b"{\"level\":1}"),
        Err(ctrlog::runc::EntryError::Type { .. })
    ));
    assert!(matches!(
        parse_entry(b"{} x"),
        Err(ctrlog::runc::EntryError::Syntax { .. })
    ));
    // null means absent; a repeated key keeps the last value.
    let e = parse_entry(br#"{"level":"error","msg":null,"level":"info"}"#).unwrap();
    assert_eq!((e.level(), e.msg.is_none()), ("info", true));
}

fn decode_all(
    input: &[u8],
    opts: DecoderOptions,
    cap: usize,
) -> (Vec<(u64, String)>, Vec<u64>, ctrlog::runc::DecodeStats) {
    let mut dec = Decoder::with_options(std::io::BufReader::with_capacity(cap, input), opts);
    let mut recs = Vec::new();
    let mut errs = Vec::new();
    loop {
        match dec.next_record() {
            Ok(Some(r)) => recs.push((r.offset, r.entry.msg().to_owned())),
            Ok(None) => break,
            Err(e) => errs.push(e.offset().unwrap()),
        }
    }
    (recs, errs, dec.stats())
}

#[test]
fn decoder_policies_and_chunking() {
    let mut input = b"{\"level\":\"info\",\"msg\":\"a\"}\n\n  \nnot json\n".to_vec();
    input.extend_from_slice(b"{\"level\":\"info\",\"msg\":\"");
    input.extend(std::iter::repeat_n(b'z', 300));
    input.extend_from_slice(b"\"}\n{\"level\":\"error\",\"msg\":\"b\\u003c\"}\n{\"lev");
    let mut lenient = DecoderOptions::default();
    lenient.policy = ErrorPolicy::Lenient;
    lenient.max_record_len = 100;
    let mut strict = DecoderOptions::default();
    strict.policy = ErrorPolicy::Strict;
    strict.max_record_len = 100;
    let want: Vec<(u64, String)> = vec![(0, "a".into()), (366, "b<".into())];
    for cap in [1, 2, 7, 64, 8192] {
        let (recs, errs, st) = decode_all(&input, lenient, cap);
        assert_eq!(recs, want, "cap {cap}");
        assert!(errs.is_empty());
        assert_eq!(
            (st.records, st.blank, st.malformed, st.overlong, st.torn),
            (2, 2, 1, 1, 1),
            "cap {cap}"
        );
        let (recs, errs, _) = decode_all(&input, strict, cap);
        assert_eq!(recs, want, "cap {cap}");
        assert_eq!(errs, vec![31, 40, 400], "cap {cap}");
    }
    // Strict: first error carries the offset and kind.
    let mut dec = Decoder::with_options(&input[..], strict);
    dec.next_record().unwrap();
    match dec.next_record() {
        Err(RuncError::Malformed {
            offset: 31,
            torn: false,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    match dec.next_record() {
        Err(RuncError::Overlong {
            offset: 40,
            len: 325,
            max: 100,
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn decoder_oversized_record_never_buffered() {
    // A 4 MiB record with a 1 KiB cap through a 4 KiB reader buffer: the decoder's carry must
    // never hold it. (Checked by the stats and by the final record decoding fine.)
    let mut input = b"{\"msg\":\"".to_vec();
    input.extend(std::iter::repeat_n(b'q', 4 << 20));
    input.extend_from_slice(b"\"}\n{\"level\":\"error\",\"msg\":\"after\"}\n");
    let mut opts = DecoderOptions::default();
    opts.policy = ErrorPolicy::Lenient;
    opts.max_record_len = 1024;
    let (recs, _, st) = decode_all(&input, opts, 4096);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].1, "after");
    assert_eq!(st.overlong, 1);
}

#[test]
fn writer_matches_runc_bytes() {
    // Real runc line, re-encoded: identical bytes.
    let want = "{\"level\":\"error\",\"msg\":\"runc run failed: unable to start container process: exec: \\\"no-such-binary\\\": executable file not found in $PATH\",\"time\":\"2026-11-23T08:27:09Z\"}\n";
    let mut out = Vec::new();
    encode_entry(
        "error",
        "runc run failed: unable to start container process: exec: \"no-such-binary\": executable file not found in $PATH",
        Timestamp::new(1795422429, 999_000_000),
        Offset::Utc,
        &[],
        &mut out,
    );
    assert_eq!(String::from_utf8(out).unwrap(), want);
    let real = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/real/runc/run-missing-exe-path.log.json"
    ))
    .unwrap();
    assert_eq!(real, want);
    // Debug line with file/func/pid/status: keys sorted like logrus.
    let real = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/real/runc/run-ok-debug.log.json"
    ))
    .unwrap();
    let last = real.lines().last().unwrap();
    let mut out = Vec::new();
    encode_entry(
        "debug",
        "process exited",
        Timestamp::new(1795422433, 0),
        Offset::Utc,
        &[
            ("status", FieldValue::Raw("0")),
            ("pid", FieldValue::Raw("14036")),
            ("func", FieldValue::Str("main.(*signalHandler).forward")),
            (
                "file",
                FieldValue::Str("github.com/opencontainers/runc/signals.go:92"),
            ),
        ],
        &mut out,
    );
    assert_eq!(String::from_utf8(out).unwrap(), format!("{last}\n"));
    // Escapes: HTML, controls, U+2028; offsets; clashing field names.
    let mut out = Vec::new();
    encode_entry(
        "info",
        "<a&b>\u{1}\u{7f}\u{2028}é",
        Timestamp::new(1705737600, 5),
        Offset::Fixed(8 * 3600),
        &[("msg", FieldValue::Str("x"))],
        &mut out,
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "{\"fields.msg\":\"x\",\"level\":\"info\",\"msg\":\"\\u003ca\\u0026b\\u003e\\u0001\u{7f}\\u2028é\",\"time\":\"2024-01-20T16:00:00+08:00\"}\n"
    );
}

#[test]
fn writer_round_trip_through_decoder() {
    let mut w = EntryWriter::new(Vec::new());
    let msgs = [
        "plain",
        "quote \" and \\ backslash",
        "\n\t<>&\u{2029}",
        "日志 🙂",
    ];
    for (i, m) in msgs.iter().enumerate() {
        w.write_entry(
            if i % 2 == 0 { "info" } else { "error" },
            m,
            Timestamp::new(i as i64, 0),
        )
        .unwrap();
    }
    let log = w.into_inner();
    let (recs, errs, _) = decode_all(&log, DecoderOptions::default(), 16);
    assert!(errs.is_empty());
    let got: Vec<&str> = recs.iter().map(|(_, m)| m.as_str()).collect();
    assert_eq!(got, msgs);
    assert_eq!(last_error_compat(&log[..]).unwrap(), "日志 🙂");
}

#[test]
fn summary_counts_spam() {
    let mut log = Vec::new();
    let config = "Running with config:\n{\n  \"AcceptEnvvarUnprivileged\": true\n}";
    for i in 0..50 {
        let mut w = EntryWriter::with_offset(&mut log, Offset::Fixed(8 * 3600));
        w.write_entry("info", config, Timestamp::new(1705737600 + i, 0))
            .unwrap();
        if i % 5 == 0 {
            w.write_entry(
                "info",
                "Using low-level runtime /usr/bin/runc",
                Timestamp::new(1705737600 + i, 0),
            )
            .unwrap();
        }
    }
    log.extend_from_slice(b"{\"level\":\"error\",\"msg\":\"boom\",\"time\":\"2024-01-20T16:00:59+08:00\"}\nnot json\n");
    let s = summarize(&log[..], SummaryOptions::default()).unwrap();
    assert_eq!(
        s.levels,
        vec![("info".to_string(), 60), ("error".to_string(), 1)]
    );
    assert_eq!(s.stats.malformed, 1);
    assert_eq!(s.first_time.as_deref(), Some("2024-01-20T16:00:00+08:00"));
    assert_eq!(s.last_time.as_deref(), Some("2024-01-20T16:00:59+08:00"));
    assert_eq!(s.top_messages[0].count, 50);
    assert!(s.top_messages[0]
        .preview
        .starts_with("Running with config:"));
    assert_eq!(s.top_messages[1].count, 10);
    assert!(!s.approximate);
    // Bounded tracking: more distinct messages than slots -> approximate, heavy hitter kept.
    let mut opts = SummaryOptions::default();
    opts.max_tracked = 4;
    let mut log = Vec::new();
    for i in 0..200 {
        log.extend_from_slice(format!("{{\"level\":\"info\",\"msg\":\"unique {i}\"}}\n{{\"level\":\"info\",\"msg\":\"spam\"}}\n").as_bytes());
    }
    let s = summarize(&log[..], opts).unwrap();
    assert!(s.approximate);
    assert_eq!(s.top_messages[0].preview, "spam");
    assert!(s.top_messages[0].count >= 200);
}

/// Past `max_tracked` distinct messages the counts are approximate, but the same input must
/// still give the same summary (the evicted message was picked in hash-map order).
#[test]
fn approximate_summary_is_deterministic() {
    let mut log = Vec::new();
    for i in 0..200 {
        for _ in 0..(i % 3) + 1 {
            log.extend_from_slice(
                format!("{{\"level\":\"info\",\"msg\":\"m{}\"}}\n", i % 40).as_bytes(),
            );
        }
        log.extend_from_slice(format!("{{\"level\":\"info\",\"msg\":\"u{i}\"}}\n").as_bytes());
    }
    let mut opts = ctrlog::runc::SummaryOptions::default();
    opts.max_tracked = 16;
    opts.top = 10;
    let first = ctrlog::runc::summarize(&log[..], opts).unwrap();
    assert!(first.approximate);
    for _ in 0..8 {
        assert_eq!(ctrlog::runc::summarize(&log[..], opts).unwrap(), first);
    }
}

/// The crate's two JSON escapers share one convention: they append a string's contents,
/// without quotes. On text both encode alike (no tab, no invalid UTF-8) they give the same bytes.
#[test]
fn json_escapers_share_one_convention() {
    for s in [
        "",
        "plain",
        "quote \" back \\ nl \n cr \r",
        "<a&b>\u{1}\u{7f}\u{2028}\u{2029}é",
    ] {
        let mut logrus = Vec::new();
        ctrlog::runc::escape_logrus_json(s, &mut logrus);
        let mut docker = Vec::new();
        ctrlog::cri::write::escape_docker_json(s.as_bytes(), &mut docker);
        assert_eq!(logrus, docker, "{s:?}");
        assert!(!logrus.starts_with(b"\"") || s.starts_with('"'), "{s:?}");
    }
    // Where the references differ, each keeps its own rule.
    let mut logrus = Vec::new();
    ctrlog::runc::escape_logrus_json("\t", &mut logrus);
    assert_eq!(logrus, br"\t");
    let mut docker = Vec::new();
    ctrlog::cri::write::escape_docker_json(b"\t", &mut docker);
    assert_eq!(docker, br"\u0009");
}
