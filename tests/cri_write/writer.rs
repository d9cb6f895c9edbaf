//! CRI writer: containerd's `TestRedirectLogs` table, the splitting rules, memory caps,
//! error handling and stream interleaving, through the library.

use crate::util;

use std::io::{self, Read, Write};
use std::num::NonZeroUsize;

use ctrlog::cri::write::{
    CrPolicy, CriEncoder, LineSplitter, LogWriter, MaxLen, RecordWriter, SharedWriter, Split,
    SplitOptions, TimestampPolicy, WriteError, WriteErrorPolicy, WriterOptions, DEFAULT_MEMORY_CAP,
};
use ctrlog::cri::{Stream, Tag};
use ctrlog::time::{FixedClock, Offset, SteppingClock, Timestamp};
use util::{a, f, p, parse_cri, pieces, write_cri};

/// containerd's `defaultBufSize`.
const BUF: usize = 4096;
/// containerd's test `maxLen` (`defaultBufSize * 4`).
const MAX: i64 = (BUF * 4) as i64;

struct Case {
    name: &'static str,
    input: Vec<u8>,
    stream: Stream,
    max_len: i64,
    want: Vec<(Tag, Vec<u8>)>,
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// containerd `internal/cri/io/logger_test.go`, `TestRedirectLogs`, as data.
fn containerd_table() -> Vec<Case> {
    let nl: &[u8] = b"\n";
    let crlf: &[u8] = b"\r\n";
    let two = |n1: usize, n2: usize, end: &[u8]| cat(&[&a(n1), end, &a(n2), end]);
    vec![
        Case {
            name: "stdout log",
            input: b"test stdout log 1\ntest stdout log 2\n".to_vec(),
            stream: Stream::Stdout,
            max_len: MAX,
            want: vec![f(b"test stdout log 1"), f(b"test stdout log 2")],
        },
        Case {
            name: "stderr log",
            input: b"test stderr log 1\ntest stderr log 2\n".to_vec(),
            stream: Stream::Stderr,
            max_len: MAX,
            want: vec![f(b"test stderr log 1"), f(b"test stderr log 2")],
        },
        Case {
            name: "log ends without newline",
            input: b"test stderr log 1\ntest stderr log 2".to_vec(),
            stream: Stream::Stderr,
            max_len: MAX,
            want: vec![f(b"test stderr log 1"), p(b"test stderr log 2")],
        },
        Case {
            name: "log length equal to buffer size",
            input: two(BUF, BUF, nl),
            stream: Stream::Stdout,
            max_len: MAX,
            want: vec![f(&a(BUF)), f(&a(BUF))],
        },
        Case {
            name: "log length longer than buffer size",
            input: two(BUF * 2 + 10, BUF * 2 + 20, nl),
            stream: Stream::Stdout,
            max_len: MAX,
            want: vec![f(&a(BUF * 2 + 10)), f(&a(BUF * 2 + 20))],
        },
        Case {
            name: "log length equal to max length",
            input: two(BUF * 4, BUF * 4, nl),
            stream: Stream::Stdout,
            max_len: MAX,
            want: vec![f(&a(BUF * 4)), f(&a(BUF * 4))],
        },
        Case {
            name: "log length exceed max length by 1",
            input: two(BUF * 4 + 1, BUF * 4 + 1, nl),
            stream: Stream::Stdout,
            max_len: MAX,
            want: vec![p(&a(BUF * 4)), f(b"a"), p(&a(BUF * 4)), f(b"a")],
        },
        Case {
            name: "log length longer than max length",
            input: two(BUF * 8, BUF * 8 + 1, nl),
            stream: Stream::Stdout,
            max_len: MAX,
            want: vec![
                p(&a(BUF * 4)),
                f(&a(BUF * 4)),
                p(&a(BUF * 4)),
                p(&a(BUF * 4)),
                f(b"a"),
            ],
        },
        Case {
            name: "max length shorter than buffer size",
            input: two(BUF * 3 / 2 + 10, BUF * 3 / 2 + 20, nl),
            stream: Stream::Stdout,
            max_len: (BUF / 2) as i64,
            want: vec![
                p(&a(BUF / 2)),
                p(&a(BUF / 2)),
                p(&a(BUF / 2)),
                f(&a(10)),
                p(&a(BUF / 2)),
                p(&a(BUF / 2)),
                p(&a(BUF / 2)),
                f(&a(20)),
            ],
        },
        Case {
            name: "log length longer than max length, and (maxLen % defaultBufSize != 0)",
            input: two(BUF * 2 + 10, BUF * 2 + 20, nl),
            stream: Stream::Stdout,
            max_len: (BUF * 3 / 2) as i64,
            want: vec![
                p(&a(BUF * 3 / 2)),
                f(&a(BUF / 2 + 10)),
                p(&a(BUF * 3 / 2)),
                f(&a(BUF / 2 + 20)),
            ],
        },
        Case {
            name: "no limit if max length is 0",
            input: two(BUF * 10 + 10, BUF * 10 + 20, nl),
            stream: Stream::Stdout,
            max_len: 0,
            want: vec![f(&a(BUF * 10 + 10)), f(&a(BUF * 10 + 20))],
        },
        Case {
            name: "no limit if max length is negative",
            input: two(BUF * 10 + 10, BUF * 10 + 20, nl),
            stream: Stream::Stdout,
            max_len: -1,
            want: vec![f(&a(BUF * 10 + 10)), f(&a(BUF * 10 + 20))],
        },
        Case {
            name: "log length longer than buffer size with tailing \\r\\n",
            input: two(BUF - 1, BUF - 1, crlf),
            stream: Stream::Stdout,
            max_len: -1,
            want: vec![f(&a(BUF - 1)), f(&a(BUF - 1))],
        },
    ]
}

#[test]
fn containerd_redirect_logs_table() {
    for case in containerd_table() {
        // containerd reads through a 4096-byte bufio; try that, tiny reads and big reads.
        for chunk in [1, 7, BUF, BUF - 1, 256 * 1024] {
            if chunk == 1 && case.input.len() > 20_000 {
                continue; // covered by the other chunk sizes; keeps the test quick
            }
            let out = write_cri(&case.input, case.max_len, case.stream, chunk);
            let recs = parse_cri(&out);
            assert!(
                recs.iter().all(|r| r.stream == case.stream),
                "{}: stream",
                case.name
            );
            assert_eq!(
                recs.len(),
                case.want.len(),
                "{} (chunk {chunk}): count",
                case.name
            );
            assert!(pieces(&recs) == case.want, "{} (chunk {chunk})", case.name);
        }
    }
}

/// Every split of `input` into two chunks gives `want`.
fn check_all_cuts(input: &[u8], max_len: i64, want: &[(Tag, Vec<u8>)]) {
    let mut s0 = LineSplitter::new(MaxLen::from_signed(max_len));
    for cut in 0..=input.len() {
        let mut s = s0.clone();
        let mut got = Vec::new();
        s.for_each(&input[..cut], |t, c| got.push((t, c.to_vec())));
        s.for_each(&input[cut..], |t, c| got.push((t, c.to_vec())));
        s.finish_each(|t, c| got.push((t, c.to_vec())));
        assert_eq!(got, want, "input {input:?} cut at {cut}, M = {max_len}");
    }
    s0.reset();
}

#[test]
fn cr_before_newline_is_dropped_even_across_chunks() {
    check_all_cuts(b"abc\r\ndef\n", 16384, &[f(b"abc"), f(b"def")]);
    check_all_cuts(b"\r\n", 16384, &[f(b"")]);
    // Only one '\r' goes; other '\r' are content.
    check_all_cuts(b"a\r\r\n", 16384, &[f(b"a\r")]);
    check_all_cuts(b"\ra\rb\r\n", 16384, &[f(b"\ra\rb")]);
    // At the limit: M content bytes + "\r\n" is one F.
    check_all_cuts(b"abc\r\n", 3, &[f(b"abc")]);
    check_all_cuts(b"abcd\r\n", 3, &[p(b"abc"), f(b"d")]);
    // A '\r' not followed by '\n' counts toward the limit.
    check_all_cuts(b"abc\rd\n", 3, &[p(b"abc"), f(b"\rd")]);
    check_all_cuts(b"ab\r\rd\n", 3, &[p(b"ab\r"), f(b"\rd")]);
    check_all_cuts(b"a\r\n", 1, &[f(b"a")]);
    check_all_cuts(b"\r\r\n", 1, &[f(b"\r")]);
}

#[test]
fn unterminated_tail_is_partial_and_keeps_its_cr() {
    check_all_cuts(b"line\ntail", 16384, &[f(b"line"), p(b"tail")]);
    check_all_cuts(b"tail\r", 16384, &[p(b"tail\r")]);
    check_all_cuts(b"abcdefg", 3, &[p(b"abc"), p(b"def"), p(b"g")]);
    check_all_cuts(b"abcdef", 3, &[p(b"abc"), p(b"def")]);
    check_all_cuts(b"abc\r", 3, &[p(b"abc"), p(b"\r")]);
    check_all_cuts(b"", 3, &[]);
}

#[test]
fn empty_lines_are_empty_full_records() {
    check_all_cuts(b"\n\n", 16384, &[f(b""), f(b"")]);
    check_all_cuts(b"x\n\ny\n", 1, &[f(b"x"), f(b""), f(b"y")]);
    let out = write_cri(b"\n", 16384, Stream::Stdout, 4096);
    assert_eq!(out, b"2023-11-14T22:13:20.123456789Z stdout F \n");
}

#[test]
fn limits_from_1_to_16384_and_unlimited() {
    for m in [1usize, 2, 15, 16, 17, 4095, 4096, 16384] {
        let mi = m as i64;
        for len in [
            0,
            1,
            m.saturating_sub(1),
            m,
            m + 1,
            2 * m,
            2 * m + 1,
            3 * m + 5,
        ] {
            // Expected by arithmetic: ceil(len / m) pieces, at least one.
            let n = len.div_ceil(m).max(1);
            let mut want: Vec<_> = (0..n).map(|i| p(&a((len - i * m).min(m)))).collect();
            let mut want_tail = want.clone();
            if let Some(last) = want.last_mut() {
                last.0 = Tag::Full;
            }
            if len == 0 {
                want_tail.clear();
            }
            let line = cat(&[&a(len), b"\n"]);
            let crlf = cat(&[&a(len), b"\r\n"]);
            for chunk in [1, 3, m, m + 1, 4096, 1 << 20] {
                if chunk == 1 && len > 5000 {
                    continue;
                }
                for (input, expect) in [(&line, &want), (&crlf, &want), (&a(len), &want_tail)] {
                    let got = pieces(&parse_cri(&write_cri(input, mi, Stream::Stdout, chunk)));
                    assert!(
                        &got == expect,
                        "M={m} L={len} chunk={chunk} input ends {:?}",
                        input.last()
                    );
                    assert!(got.iter().all(|(_, c)| c.len() <= m));
                }
            }
        }
    }
    // Unlimited: a 1 MiB line is one record.
    let big = cat(&[&a(1 << 20), b"\r\n"]);
    for max_len in [0, -1] {
        let got = pieces(&parse_cri(&write_cri(&big, max_len, Stream::Stdout, 65536)));
        assert!(got == vec![f(&a(1 << 20))]);
    }
}

#[test]
fn unlimited_lines_past_the_memory_cap_become_partials() {
    let cap = NonZeroUsize::new(1000).unwrap();
    let mut opts = WriterOptions::default();
    opts.split.max_len = MaxLen::Unlimited;
    opts.split.memory_cap = cap;
    assert_eq!(
        LineSplitter::with_options(opts.split).max_record_len(),
        1000
    );
    opts.read_size = 333;
    opts.flush_size = 4096;
    let mut w = LogWriter::with_options(
        Stream::Stdout,
        CriEncoder::new(Offset::Utc),
        Vec::new(),
        opts,
    );
    w.copy_from(&cat(&[&a(2500), b"\nok\n"])[..]).unwrap();
    let got = pieces(&parse_cri(&w.into_inner()));
    assert!(got == vec![p(&a(1000)), p(&a(1000)), f(&a(500)), f(b"ok")]);
    // A large limit is capped the same way.
    let mut so = SplitOptions::default();
    so.max_len = MaxLen::from_signed(1 << 40);
    so.memory_cap = cap;
    let s = LineSplitter::with_options(so);
    assert_eq!(s.max_record_len(), 1000);
    assert_eq!(
        LineSplitter::new(MaxLen::Unlimited).max_record_len(),
        DEFAULT_MEMORY_CAP
    );
}

/// An endless line without '\n' (containerd grew to 3.6x of it): the writer's buffers stay
/// within the documented bound the whole time.
#[test]
fn memory_is_bounded_for_an_endless_line() {
    for (max_len, cap) in [
        (MaxLen::Unlimited, 64 * 1024),
        (MaxLen::from_signed(16384), 1 << 20),
    ] {
        let cap = NonZeroUsize::new(cap).unwrap();
        let mut opts = WriterOptions::default();
        opts.split.max_len = max_len;
        opts.split.memory_cap = cap;
        let m = LineSplitter::with_options(opts.split).max_record_len();
        let (read, flush) = (8192, 32 * 1024);
        opts.read_size = read;
        opts.flush_size = flush;
        let mut w = LogWriter::with_options(
            Stream::Stdout,
            CriEncoder::new(Offset::Utc),
            CountSink::default(),
            opts,
        );
        let bound = read + 2 * (m + 1) + 2 * (flush + m + 64);
        let chunk = vec![b'x'; 7777];
        let mut peak = 0;
        for _ in 0..(16 << 20) / chunk.len() {
            w.write_chunk(&chunk).unwrap();
            peak = peak.max(w.buffer_capacity());
        }
        let s = w.finish().unwrap();
        assert!(peak <= bound, "peak {peak} > bound {bound} (M = {m})");
        assert!(w.get_mut().max_content <= m);
        assert_eq!(s.records, s.partial_records, "no F without a newline");
        assert!(s.records >= (16 << 20) / m as u64);
    }
}

/// Counts records and their longest content without keeping them.
#[derive(Default)]
struct CountSink {
    records: u64,
    max_content: usize,
}

impl RecordWriter for CountSink {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        for rec in records
            .strip_suffix(b"\n")
            .unwrap_or(records)
            .split(|&b| b == b'\n')
        {
            self.records += 1;
            // "<ts> stdout P " is 30 + 10 bytes with this UTC formatter at t = 0.
            let content = rec.splitn(4, |&b| b == b' ').nth(3).unwrap_or_default();
            self.max_content = self.max_content.max(content.len());
        }
        Ok(())
    }
}

/// Fails every `n`th write.
struct FlakySink {
    calls: u64,
    every: u64,
    ok: Vec<u8>,
}

impl RecordWriter for FlakySink {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        self.calls += 1;
        if self.calls % self.every == 0 {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "denied"));
        }
        self.ok.extend_from_slice(records);
        Ok(())
    }
}

/// Hands out one line per read.
struct LineReader<'a>(std::slice::Split<'a, u8, fn(&u8) -> bool>);

impl Read for LineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.next() {
            Some(line) => {
                let n = line.len().min(buf.len() - 1);
                buf[..n].copy_from_slice(&line[..n]);
                buf[n] = b'\n';
                Ok(n + 1)
            }
            None => Ok(0),
        }
    }
}

fn line_reader(text: &[u8]) -> LineReader<'_> {
    LineReader(text.split((|b: &u8| *b == b'\n') as fn(&u8) -> bool))
}

#[test]
fn write_errors_are_counted_and_draining_continues() {
    let text = b"l1\nl2\nl3\nl4\nl5\nl6";
    let sink = FlakySink {
        calls: 0,
        every: 2,
        ok: Vec::new(),
    };
    let mut w = LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), sink);
    let s = w.copy_from(line_reader(text)).unwrap();
    assert_eq!(s.bytes_read, text.len() as u64 + 1);
    assert_eq!((s.records, s.write_errors, s.records_lost), (3, 3, 3));
    assert_eq!(s.last_write_error, Some(io::ErrorKind::PermissionDenied));
    let kept: Vec<_> = parse_cri(&w.into_inner().ok)
        .into_iter()
        .map(|r| r.content)
        .collect();
    assert_eq!(kept, vec![b"l1".to_vec(), b"l3".to_vec(), b"l5".to_vec()]);
}

#[test]
fn write_errors_stop_the_copy_when_asked() {
    let sink = FlakySink {
        calls: 0,
        every: 2,
        ok: Vec::new(),
    };
    let mut opts = WriterOptions::default();
    opts.write_error_policy = WriteErrorPolicy::Stop;
    let mut w = LogWriter::with_options(Stream::Stdout, CriEncoder::new(Offset::Utc), sink, opts);
    match w.copy_from(line_reader(b"l1\nl2\nl3\n")) {
        Err(WriteError::Write { offset, source }) => {
            assert_eq!(offset, 6);
            assert_eq!(source.kind(), io::ErrorKind::PermissionDenied);
        }
        other => panic!("expected a write error, got {other:?}"),
    }
    assert_eq!(w.summary().records, 1);
}

/// Gives `data`, then fails.
struct FailingReader<'a>(&'a [u8]);

impl Read for FailingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0.is_empty() {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"));
        }
        let n = self.0.len().min(buf.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn read_error_flushes_the_tail_like_end_of_input() {
    let mut w = LogWriter::new(Stream::Stderr, CriEncoder::new(Offset::Utc), Vec::new());
    match w.copy_from(FailingReader(b"done\nhalf")) {
        Err(WriteError::Read { offset: 9, source }) => {
            assert_eq!(source.kind(), io::ErrorKind::BrokenPipe)
        }
        other => panic!("expected a read error, got {other:?}"),
    }
    let got = pieces(&parse_cri(&w.into_inner()));
    assert!(got == vec![f(b"done"), p(b"half")]);
}

#[test]
fn clock_is_read_once_per_chunk() {
    let clock = SteppingClock::new(Timestamp::new(1_700_000_000, 0), 1_000);
    let mut w =
        LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), Vec::new()).with_clock(&clock);
    w.write_all(b"a\nb\nc").unwrap();
    w.write_all(b"d\n").unwrap();
    w.write_all(b"tail").unwrap();
    w.finish().unwrap();
    let recs = parse_cri(w.get_mut());
    let times: Vec<&[u8]> = recs.iter().map(|r| &r.time[..]).collect();
    assert_eq!(
        times,
        vec![
            &b"2023-11-14T22:13:20Z"[..],
            b"2023-11-14T22:13:20Z",
            b"2023-11-14T22:13:20.000001Z",
            b"2023-11-14T22:13:20.000003Z",
        ]
    );
    let contents: Vec<&[u8]> = recs.iter().map(|r| &r.content[..]).collect();
    assert_eq!(contents, vec![&b"a"[..], b"b", b"cd", b"tail"]);
}

#[test]
fn clock_is_read_per_record_with_the_per_record_policy() {
    let clock = SteppingClock::new(Timestamp::new(1_700_000_000, 0), 1_000);
    let mut opts = WriterOptions::default();
    opts.timestamps = TimestampPolicy::PerRecord;
    opts.split.max_len = MaxLen::from_signed(3);
    let mut w = LogWriter::with_options(
        Stream::Stdout,
        CriEncoder::new(Offset::Utc),
        Vec::new(),
        opts,
    )
    .with_clock(&clock);
    w.write_all(b"a\nb\nc").unwrap();
    w.write_all(b"d\nlonger\n").unwrap();
    w.write_all(b"tail").unwrap();
    w.finish().unwrap();
    let recs = parse_cri(w.get_mut());
    let got: Vec<(&[u8], &[u8])> = recs.iter().map(|r| (&r.time[..], &r.content[..])).collect();
    // One clock reading per record, the pieces of a cut line included (containerd stamps
    // each read of a long line).
    assert_eq!(
        got,
        vec![
            (&b"2023-11-14T22:13:20Z"[..], &b"a"[..]),
            (b"2023-11-14T22:13:20.000001Z", b"b"),
            (b"2023-11-14T22:13:20.000002Z", b"cd"),
            (b"2023-11-14T22:13:20.000003Z", b"lon"),
            (b"2023-11-14T22:13:20.000004Z", b"ger"),
            (b"2023-11-14T22:13:20.000005Z", b"tai"),
            (b"2023-11-14T22:13:20.000006Z", b"l"),
        ]
    );
}

#[test]
fn cri_timestamps_follow_the_zone() {
    let mut w = LogWriter::new(
        Stream::Stdout,
        CriEncoder::new(Offset::Fixed(3600)),
        Vec::new(),
    )
    .with_clock(FixedClock(Timestamp::new(0, 500_000_000)));
    w.copy_from(&b"x\n"[..]).unwrap();
    assert_eq!(w.into_inner(), b"1970-01-01T01:00:00.5+01:00 stdout F x\n");
}

#[test]
fn stdout_and_stderr_share_a_sink_at_record_boundaries() {
    let shared = SharedWriter::new(Vec::new());
    let out_text: Vec<u8> = (0..3000)
        .flat_map(|i| format!("out {i} {}\n", "o".repeat(i % 97)).into_bytes())
        .collect();
    let err_text: Vec<u8> = (0..3000)
        .flat_map(|i| format!("err {i} {}\n", "e".repeat(i % 89)).into_bytes())
        .collect();
    std::thread::scope(|s| {
        for (stream, text) in [(Stream::Stdout, &out_text), (Stream::Stderr, &err_text)] {
            let sink = shared.clone();
            s.spawn(move || {
                let mut opts = WriterOptions::default();
                opts.split.max_len = MaxLen::from_signed(50);
                opts.read_size = 1000;
                opts.flush_size = 700;
                let mut w =
                    LogWriter::with_options(stream, CriEncoder::new(Offset::Utc), sink, opts);
                w.copy_from(&text[..]).unwrap();
            });
        }
    });
    let all = shared.try_into_inner().unwrap();
    let recs = parse_cri(&all);
    for (stream, text) in [(Stream::Stdout, &out_text), (Stream::Stderr, &err_text)] {
        let mut joined = Vec::new();
        for r in recs.iter().filter(|r| r.stream == stream) {
            joined.extend_from_slice(&r.content);
            if r.tag == Tag::Full {
                joined.push(b'\n');
            }
        }
        assert!(&joined == text, "{stream} reassembles");
    }
}

#[test]
fn splitter_borrows_from_the_input_when_it_can() {
    let input = b"hello\nworld\n";
    let mut s = LineSplitter::new(MaxLen::CONTAINERD_DEFAULT);
    let (step, used) = s.split(input);
    match step {
        Split::Record(Tag::Full, c) => {
            assert_eq!(c, b"hello");
            assert_eq!(c.as_ptr(), input.as_ptr(), "no copy");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(used, 6);
    assert_eq!(s.capacity(), 0, "nothing buffered");
    let (step, used) = s.split(b"part");
    assert_eq!((step, used), (Split::NeedInput, 4));
    assert_eq!(s.buffered(), 4);
}

#[test]
fn keep_policy_keeps_cr() {
    let mut so = SplitOptions::default();
    so.max_len = MaxLen::from_signed(4);
    so.cr_policy = CrPolicy::Keep;
    let mut s = LineSplitter::with_options(so);
    let mut got = Vec::new();
    s.for_each(b"abc\r\nabcd\r\n", |t, c| got.push((t, c.to_vec())));
    s.finish_each(|t, c| got.push((t, c.to_vec())));
    assert_eq!(got, vec![f(b"abc\r"), p(b"abcd"), f(b"\r")]);
}
