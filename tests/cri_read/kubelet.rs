//! Ports of kubelet's `pkg/kubelet/kuberuntime/logs/logs_test.go` tables (and ctrlog's fixes
//! of kubelet quirks, marked as such).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctrlog::cri::read::{
    parse_cri_record, Emitter, LogFormat, LogReader, OutputOptions, ParseError, PartialMerger,
    ReadOptions, RecordParser, SplitSink, TailMode,
};
use ctrlog::cri::{Stream, Tag};
use ctrlog::time::{format_rfc3339nano_fixed, parse_rfc3339nano, Offset, Timestamp};

type Sink = SplitSink<Vec<u8>, Vec<u8>>;

fn sink() -> Sink {
    SplitSink {
        stdout: Vec::new(),
        stderr: Vec::new(),
    }
}

fn ts(s: &str) -> Timestamp {
    parse_rfc3339nano(s.as_bytes()).unwrap()
}

// ---- TestParseLog ----

#[test]
fn parse_log_table() {
    let t = ts("2016-10-20T18:39:20.57606443Z");
    // (line, format, stream, tag, content); content excludes the record's '\n' (ctrlog).
    let ok: &[(&str, LogFormat, Stream, Tag, &str)] = &[
        (
            "{\"log\":\"docker stdout test log\",\"stream\":\"stdout\",\"time\":\"2016-10-20T18:39:20.57606443Z\"}\n",
            LogFormat::DockerJson,
            Stream::Stdout,
            Tag::Partial, // no '\n' in "log": a piece (kubelet prints it as is)
            "docker stdout test log",
        ),
        (
            "{\"log\":\"docker stderr test log\",\"stream\":\"stderr\",\"time\":\"2016-10-20T18:39:20.57606443Z\"}\n",
            LogFormat::DockerJson,
            Stream::Stderr,
            Tag::Partial,
            "docker stderr test log",
        ),
        (
            "2016-10-20T18:39:20.57606443Z stdout F cri stdout test log\n",
            LogFormat::Cri,
            Stream::Stdout,
            Tag::Full,
            "cri stdout test log",
        ),
        (
            "2016-10-20T18:39:20.57606443Z stderr F cri stderr test log\n",
            LogFormat::Cri,
            Stream::Stderr,
            Tag::Full,
            "cri stderr test log",
        ),
        (
            "2016-10-20T18:39:20.57606443Z stdout P cri stdout partial test log\n",
            LogFormat::Cri,
            Stream::Stdout,
            Tag::Partial,
            "cri stdout partial test log",
        ),
        (
            "2016-10-20T18:39:20.57606443Z stdout P:TAG1:TAG2 cri stdout partial test log\n",
            LogFormat::Cri,
            Stream::Stdout,
            Tag::Partial,
            "cri stdout partial test log",
        ),
    ];
    let mut p = RecordParser::new();
    for (line, format, stream, tag, content) in ok {
        let (f, r) = p
            .parse(line.as_bytes())
            .unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert_eq!(
            (f, r.stream, r.tag, r.content),
            (*format, *stream, *tag, content.as_bytes()),
            "{line:?}"
        );
        assert_eq!(r.timestamp, t);
    }
    assert!(p.parse(b"unsupported log format test log\n").is_err());
}

#[test]
fn parse_cri_errors() {
    let cases: &[(&str, ParseError)] = &[
        ("no-timestamp-here", ParseError::MissingTimestamp),
        ("2016-10-20T18:39:20Z", ParseError::MissingTimestamp),
        ("2016-10-20T18:39:20Z stdout", ParseError::MissingStream),
        ("2016-10-20T18:39:20Z stdin F x", ParseError::BadStream),
        ("2016-10-20T18:39:20Z stdoutx F x", ParseError::BadStream),
        ("2016-10-20T18:39:20Z stdout F", ParseError::MissingTag),
        ("2016-10-20T18:39:20Z stdout P\n", ParseError::MissingTag),
    ];
    for (line, want) in cases {
        assert_eq!(parse_cri_record(line.as_bytes()), Err(*want), "{line:?}");
    }
    assert!(matches!(
        parse_cri_record(b"2016-13-20T18:39:20Z stdout F x"),
        Err(ParseError::BadTimestamp(_))
    ));
    // Tags other than P are full; an empty tag field too (kubelet: tags[0] != "P").
    for line in [
        "2016-10-20T18:39:20Z stdout X x",
        "2016-10-20T18:39:20Z stdout  x",
        "2016-10-20T18:39:20Z stdout F:P x",
    ] {
        assert_eq!(
            parse_cri_record(line.as_bytes()).unwrap().tag,
            Tag::Full,
            "{line:?}"
        );
    }
    // Lenient timestamps, kept zone.
    let r = parse_cri_record(b"2022-10-29T16:10:22.592603036-05:00 stdout F \n").unwrap();
    assert_eq!((r.utc_offset, r.content), (-5 * 3600, &b""[..]));
}

// ---- TestReadLogs ----

const READ_LOGS_FILE: &str = concat!(
    "{\"log\":\"line1\\n\",\"stream\":\"stdout\",\"time\":\"2020-09-27T11:18:01.00000000Z\"}\n",
    "{\"log\":\"line2\\n\",\"stream\":\"stdout\",\"time\":\"2020-09-27T11:18:02.00000000Z\"}\n",
    "{\"log\":\"line3\\n\",\"stream\":\"stdout\",\"time\":\"2020-09-27T11:18:03.00000000Z\"}\n",
);

fn read(path: &Path, opts: ReadOptions, follow: bool) -> Sink {
    let mut s = sink();
    let mut r = LogReader::open(path, opts).unwrap();
    if follow {
        // kubelet's cases mark the container exited: the follower stops at the end.
        let stop = AtomicBool::new(true);
        r.follow(&mut s, &stop).unwrap();
    } else {
        r.read_to(&mut s).unwrap();
    }
    s
}

#[test]
fn read_logs_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("TestFollowLogs");
    fs::write(&path, READ_LOGS_FILE).unwrap();
    let since = Some(ts("2020-09-27T11:18:02Z"));
    let now = Some(ctrlog::time::Clock::now(&ctrlog::time::SystemClock));
    let o = |tail: Option<u64>, limit: Option<u64>, since: Option<Timestamp>| {
        let mut o = ReadOptions::default();
        o.tail = tail;
        o.output.since = since;
        o.output.limit_bytes = limit;
        o
    };
    let all = "line1\nline2\nline3\n";
    let cases: Vec<(&str, ReadOptions, bool, &str)> = vec![
        ("default", o(None, None, None), false, all),
        ("tail 2", o(Some(2), None, None), false, "line2\nline3\n"),
        ("tail 4", o(Some(4), None, None), false, all),
        ("tail 0", o(Some(0), None, None), false, ""),
        ("limit 9", o(None, Some(9), None), false, "line1\nlin"),
        ("limit 100", o(None, Some(100), None), false, all),
        ("limit 0", o(None, Some(0), None), false, ""),
        ("since", o(None, None, since), false, "line2\nline3\n"),
        ("since now", o(None, None, now), false, ""),
        ("follow", o(None, None, None), true, all),
        (
            "follow tail 2",
            o(Some(2), None, None),
            true,
            "line2\nline3\n",
        ),
        ("follow since", o(None, None, since), true, "line2\nline3\n"),
    ];
    for (name, opts, follow, want) in cases {
        for mode in [TailMode::Lines, TailMode::Records] {
            let mut opts = opts.clone();
            opts.tail_mode = mode;
            let s = read(&path, opts, follow);
            assert_eq!(String::from_utf8_lossy(&s.stdout), want, "{name} {mode:?}");
            assert!(s.stderr.is_empty(), "{name}");
        }
    }
}

// ---- TestWriteLogs / TestWriteLogsWithBytesLimit (through Emitter) ----

fn piece_for(
    stream: Stream,
    t: Timestamp,
    content: &'static [u8],
) -> ctrlog::cri::read::Piece<'static> {
    let mut m = PartialMerger::new();
    let rec = ctrlog::cri::read::LogRecord {
        timestamp: t,
        utc_offset: 0,
        stream,
        tag: Tag::Full,
        content,
    };
    m.push(&rec)
}

fn fixed(t: Timestamp) -> String {
    let mut v = Vec::new();
    format_rfc3339nano_fixed(t, Offset::Utc, &mut v);
    String::from_utf8(v).unwrap()
}

#[test]
fn write_logs_table() {
    let t = Timestamp::new(1234, 43210);
    let log = "abcdefg\n";
    let cases: Vec<(Stream, Option<Timestamp>, bool, String, String)> = vec![
        (Stream::Stderr, None, false, String::new(), log.into()),
        (Stream::Stdout, None, false, log.into(), String::new()),
        (
            Stream::Stdout,
            Some(Timestamp::new(1235, 43210)),
            false,
            String::new(),
            String::new(),
        ),
        (
            Stream::Stderr,
            None,
            true,
            String::new(),
            format!("{} {log}", fixed(t)),
        ),
    ];
    for (stream, since, timestamps, out, err) in cases {
        let mut output = OutputOptions::default();
        output.since = since;
        output.timestamps = timestamps;
        let mut e = Emitter::new(output);
        let mut s = sink();
        e.emit(&piece_for(stream, t, b"abcdefg"), true, &mut s)
            .unwrap();
        assert_eq!(String::from_utf8(s.stdout).unwrap(), out);
        assert_eq!(String::from_utf8(s.stderr).unwrap(), err);
    }
    assert_eq!(fixed(t), "1970-01-01T00:20:34.000043210Z");
}

#[test]
fn write_logs_with_bytes_limit_table() {
    let t = Timestamp::new(1234, 4321);
    let tss = fixed(t);
    let log = "abcdefg\n";
    let n = log.len() as u64;
    // (stdout lines, stderr lines, bytes, timestamps, expect stdout, expect stderr)
    let cases: Vec<(usize, usize, u64, bool, String, String)> = vec![
        (3, 0, 3, false, "abc".into(), String::new()),
        (3, 0, n + 3, false, "abcdefg\nabc".into(), String::new()),
        (3, 0, 3 * n, false, log.repeat(3), String::new()),
        (0, 3, n + 3, false, String::new(), "abcdefg\nabc".into()),
        (1, 2, n + 3, false, log.into(), "abc".into()),
        (
            3,
            0,
            tss.len() as u64 + 1 + n + 2,
            true,
            format!("{tss} {log}{}", &tss[..2]),
            String::new(),
        ),
    ];
    for (i, (outs, errs, bytes, timestamps, want_out, want_err)) in cases.into_iter().enumerate() {
        let mut output = OutputOptions::default();
        output.limit_bytes = Some(bytes);
        output.timestamps = timestamps;
        let mut e = Emitter::new(output);
        let mut s = sink();
        for _ in 0..outs {
            e.emit(&piece_for(Stream::Stdout, t, b"abcdefg"), true, &mut s)
                .unwrap();
        }
        for _ in 0..errs {
            e.emit(&piece_for(Stream::Stderr, t, b"abcdefg"), true, &mut s)
                .unwrap();
        }
        assert_eq!(String::from_utf8(s.stdout).unwrap(), want_out, "case {i}");
        assert_eq!(String::from_utf8(s.stderr).unwrap(), want_err, "case {i}");
    }
}

// ---- TestReadLogsLimitsWithTimestamps ----

#[test]
fn read_logs_limits_with_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.txt");
    let mut f = fs::File::create(&path).unwrap();
    for _ in 0..2 {
        for i in 0..10000 {
            writeln!(f, "2022-10-29T16:10:22.592603036-05:00 stdout P {i}").unwrap();
        }
        writeln!(f, "2022-10-29T16:10:22.592603036-05:00 stdout F ").unwrap();
    }
    drop(f);
    let mut opts = ReadOptions::default();
    opts.output.timestamps = true;
    let s = read(&path, opts, false);
    let out = String::from_utf8(s.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "should have two lines");
    for l in lines {
        let (t, rest) = l.split_once(' ').unwrap();
        assert_eq!(t, "2022-10-29T16:10:22.592603036-05:00");
        assert!(parse_rfc3339nano(t.as_bytes()).is_ok());
        assert!(rest.ends_with("9999"));
        assert!(rest.starts_with("0123"));
    }
}

/// ctrlog fix: kubelet shares one "new line" flag between the streams, so with timestamps
/// the stderr line below gets no prefix and the stdout continuation gets one.
#[test]
fn timestamps_per_stream_not_shared() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    fs::write(
        &path,
        "2024-01-01T00:00:00Z stdout P hel\n2024-01-01T00:00:01Z stderr F err\n2024-01-01T00:00:02Z stdout F lo\n",
    )
    .unwrap();
    let mut opts = ReadOptions::default();
    opts.output.timestamps = true;
    let s = read(&path, opts, false);
    assert_eq!(
        String::from_utf8(s.stdout).unwrap(),
        "2024-01-01T00:00:00.000000000Z hello\n"
    );
    assert_eq!(
        String::from_utf8(s.stderr).unwrap(),
        "2024-01-01T00:00:01.000000000Z err\n"
    );
}

/// ctrlog fix: kubelet fails the whole read when the first line is garbage.
#[test]
fn garbage_first_line_is_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    fs::write(
        &path,
        format!("garbage\n\n{READ_LOGS_FILE}2024-01-01T00:00:00Z stderr F cri too\n"),
    )
    .unwrap();
    let mut s = sink();
    let stats = LogReader::open(&path, ReadOptions::default())
        .unwrap()
        .read_to(&mut s)
        .unwrap();
    assert_eq!(s.stdout, b"line1\nline2\nline3\n");
    assert_eq!(s.stderr, b"cri too\n");
    assert_eq!(stats.skipped, 2);
    assert_eq!(stats.records, 4);
    assert_eq!(stats.first_skipped.as_ref().map(|x| x.offset), Some(0));
}

// ---- TestReadRotatedLog ----

fn wait_for(mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[derive(Clone, Default)]
struct SharedWriter(Arc<std::sync::Mutex<(Vec<u8>, Vec<u8>)>>);

impl ctrlog::cri::read::LogSink for SharedWriter {
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> std::io::Result<()> {
        let mut g = self.0.lock().unwrap();
        match stream {
            Stream::Stdout => g.0.extend_from_slice(data),
            Stream::Stderr => g.1.extend_from_slice(data),
        }
        Ok(())
    }
}

fn rotated_log_case(rotated_name: impl Fn(&str) -> String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logfile");
    let mut file = fs::File::create(&path).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let out = SharedWriter::default();
    let reader = {
        let (stop, mut out, path) = (stop.clone(), out.clone(), path.clone());
        std::thread::spawn(move || {
            let mut opts = ReadOptions::default();
            opts.poll_interval = Duration::from_millis(2);
            LogReader::open(&path, opts)
                .unwrap()
                .follow(&mut out, &stop)
                .unwrap()
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    for line in 0..10 {
        let now = ctrlog::time::Clock::now(&ctrlog::time::SystemClock);
        let stream = if line % 2 == 0 { "stdout" } else { "stderr" };
        writeln!(
            file,
            "{{\"log\":\"line{line}\\n\",\"stream\":\"{stream}\",\"time\":\"{now}\"}}"
        )
        .unwrap();
        std::thread::sleep(Duration::from_millis(1));
        if line == 5 {
            drop(file);
            fs::rename(&path, dir.path().join(rotated_name("logfile"))).unwrap();
            file = fs::File::create(&path).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let want_out = "line0\nline2\nline4\nline6\nline8\n";
    let want_err = "line1\nline3\nline5\nline7\nline9\n";
    wait_for(|| {
        let g = out.0.lock().unwrap();
        g.0.len() >= want_out.len() && g.1.len() >= want_err.len()
    });
    std::thread::sleep(Duration::from_millis(20));
    stop.store(true, Ordering::Relaxed);
    let stats = reader.join().unwrap();
    let g = out.0.lock().unwrap();
    assert_eq!(String::from_utf8_lossy(&g.0), want_out);
    assert_eq!(String::from_utf8_lossy(&g.1), want_err);
    assert_eq!(stats.rotations, 1);
}

#[test]
fn read_rotated_log_kubelet_test_name() {
    // kubelet's test renames to "<name>.<time.Format("220060102-150405")>" (not a kubelet
    // backup name): the follower still drains the renamed file and moves to the new one.
    rotated_log_case(|n| format!("{n}.2320261123-120000"));
}

#[test]
fn read_rotated_log_kubelet_backup_name() {
    rotated_log_case(|n| format!("{n}.20261123-120000"));
}
