//! The structured reader (`LogReader::next_line`) gives exactly the bytes the byte reader
//! (`read_to`) gives, per stream, on every real CRI and json-file log in `testdata/real/`
//! and on generated sets; a sink that stops early.

use std::fs;
use std::io;
use std::ops::ControlFlow;
use std::path::Path;

use ctrlog::cri::read::{
    LogLine, LogReader, LogSink, ReadOptions, ReadStats, RecordParser, SplitSink, TailMode,
};
use ctrlog::cri::Stream;
use ctrlog::time::Timestamp;

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/real/");

/// Every CRI (containerd, conmon) and Docker json-file log of the real test data.
const REAL_LOGS: &[&str] = &[
    "conmon/gen.k8s-file.log",
    "conmon/seq-1-5000.k8s-file.log",
    "containerd/cri-seq-1-5000.log",
    "containerd/cri-gen.log",
    "docker/gen-json.log",
];

pub(crate) fn bytes_of(path: &Path, opts: ReadOptions, single: bool) -> ([Vec<u8>; 2], ReadStats) {
    let mut s = SplitSink {
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let mut r = if single {
        LogReader::open_single(path, opts)
    } else {
        LogReader::open(path, opts)
    }
    .unwrap();
    let stats = r.read_to(&mut s).unwrap();
    ([s.stdout, s.stderr], stats)
}

/// The lines of a structured read, and per stream their bytes as the byte reader prints
/// them: content, and `\n` when complete.
pub(crate) fn lines_of(
    path: &Path,
    opts: ReadOptions,
    single: bool,
) -> ([Vec<u8>; 2], Vec<LogLine>, ReadStats) {
    let mut r = if single {
        LogReader::open_single(path, opts)
    } else {
        LogReader::open(path, opts)
    }
    .unwrap();
    let mut out = [Vec::new(), Vec::new()];
    let mut all = Vec::new();
    let mut line = LogLine::new();
    while r.next_line(&mut line).unwrap() {
        let o = &mut out[line.stream().index()];
        o.extend_from_slice(line.content());
        if line.complete() {
            o.push(b'\n');
        }
        all.push(line.clone());
    }
    // Over is over.
    assert!(!r.next_line(&mut line).unwrap(), "{line:?}");
    let stats = r.stats().unwrap().clone();
    (out, all, stats)
}

/// Each line's file and offset name its first record: a record of its stream and time.
fn check_sources(r: &LogReader, lines: &[LogLine]) {
    let mut parser = RecordParser::new();
    for l in lines {
        let f = &r.files()[l.file_index()];
        assert_eq!(f.path, l.path());
        // Replaced by its decompressed bytes for a `.gz` (feature gzip).
        #[cfg_attr(not(feature = "gzip"), allow(unused_mut))]
        let mut data = fs::read(&f.path).unwrap();
        #[cfg(feature = "gzip")]
        if f.gzip {
            use std::io::Read;
            let mut plain = Vec::new();
            flate2::read::MultiGzDecoder::new(&data[..])
                .read_to_end(&mut plain)
                .unwrap();
            data = plain;
        }
        let at = &data[l.offset() as usize..];
        let end = at
            .iter()
            .position(|&b| b == b'\n')
            .map_or(at.len(), |i| i + 1);
        let (_, rec) = parser.parse(&at[..end]).unwrap();
        assert_eq!(rec.stream, l.stream(), "{l:?}");
        assert_eq!(rec.timestamp, l.timestamp(), "{l:?}");
        assert_eq!(rec.utc_offset, l.utc_offset(), "{l:?}");
    }
}

/// The option sets compared: everything, tail (both modes), since, limits, small parts.
fn option_sets(mid: Timestamp) -> Vec<ReadOptions> {
    let mut sets = vec![ReadOptions::default()];
    for tail in [0, 1, 7, 100] {
        for mode in [TailMode::Lines, TailMode::Records] {
            let mut o = ReadOptions::default();
            o.tail = Some(tail);
            o.tail_mode = mode;
            sets.push(o);
        }
    }
    for limit in [0, 1, 100, 10_000, 20_000] {
        let mut o = ReadOptions::default();
        o.output.limit_bytes = Some(limit);
        sets.push(o);
    }
    for since in [Timestamp::from_unix_nanos(1_700_000_000_000_000_000), mid] {
        let mut o = ReadOptions::default();
        o.output.since = Some(since);
        sets.push(o);
        let mut o = ReadOptions::default();
        o.output.since = Some(since);
        o.tail = Some(3);
        o.output.limit_bytes = Some(50);
        sets.push(o);
    }
    let mut o = ReadOptions::default();
    o.read_size = 97;
    o.tail = Some(50);
    sets.push(o);
    sets
}

#[test]
fn structured_equals_bytes_on_every_real_log() {
    for name in REAL_LOGS {
        let path = format!("{REAL}{name}");
        let path = Path::new(&path);
        // `since` in the middle: lines before it are dropped whole.
        let (_, all, _) = lines_of(path, ReadOptions::default(), true);
        let mid = all[all.len() / 2].timestamp();
        for opts in option_sets(mid) {
            let (want, want_stats) = bytes_of(path, opts.clone(), true);
            let (got, lines, stats) = lines_of(path, opts.clone(), true);
            assert_eq!(got, want, "{name} {opts:?}");
            assert_eq!(stats.lines_out, want_stats.lines_out, "{name} {opts:?}");
            assert_eq!(stats.bytes_out, want_stats.bytes_out, "{name} {opts:?}");
            assert_eq!(stats.skipped, want_stats.skipped, "{name} {opts:?}");
            assert_eq!(stats.limit_reached, want_stats.limit_reached);
            check_sources(&LogReader::open_single(path, opts.clone()).unwrap(), &lines);
            if opts.output.since == Some(mid) && opts.tail.is_none() {
                assert!(stats.lines_out < all.len() as u64 && stats.lines_out > 0);
                assert!(lines.iter().all(|l| l.timestamp() >= mid));
            }
        }
        // Long lines in parts: the same bytes, and every part but a line's last is not
        // complete.
        let mut opts = ReadOptions::default();
        opts.max_line_len = 100;
        let (want, _) = bytes_of(path, opts.clone(), true);
        let (got, lines, _) = lines_of(path, opts, true);
        assert_eq!(got, want, "{name} in parts");
        // (but a line still open at the end of the file, one per stream at most).
        let short = lines
            .iter()
            .filter(|l| !l.complete() && l.content().len() < 100);
        assert!(short.count() <= 2, "{name}");
        if name.starts_with("conmon/gen") {
            assert!(lines.iter().filter(|l| !l.complete()).count() >= 3);
        }
    }
}

/// The real files carry big `P` pieces (conmon, containerd): the structured lines are the
/// logical lines, not the records.
#[test]
fn structured_lines_join_partial_records() {
    let path = format!("{REAL}conmon/gen.k8s-file.log");
    let (_, lines, stats) = lines_of(Path::new(&path), ReadOptions::default(), true);
    assert_eq!(lines.len() as u64, stats.lines_out);
    assert!(stats.records > stats.lines_out);
    let longest = lines.iter().map(|l| l.content().len()).max().unwrap();
    assert_eq!(longest, 8192 + 8192 + 3616);
}

/// A sink that stops after `n` stdout lines.
struct Head {
    out: Vec<u8>,
    err: Vec<u8>,
    lines: usize,
    n: usize,
}

impl LogSink for Head {
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        match stream {
            Stream::Stdout => self.out.extend_from_slice(data),
            Stream::Stderr => self.err.extend_from_slice(data),
        }
        Ok(())
    }
    fn line_end(&mut self, stream: Stream) -> ControlFlow<()> {
        if stream == Stream::Stdout {
            self.lines += 1;
        }
        if self.lines >= self.n {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

#[test]
fn sink_stops_early() {
    let path = format!("{REAL}containerd/cri-seq-1-5000.log");
    let (all, full) = bytes_of(Path::new(&path), ReadOptions::default(), true);
    assert!(!full.stopped);
    for n in [1, 2, 10, 4999] {
        let mut h = Head {
            out: Vec::new(),
            err: Vec::new(),
            lines: 0,
            n,
        };
        let stats = LogReader::open_single(&path, ReadOptions::default())
            .unwrap()
            .read_to(&mut h)
            .unwrap();
        assert!(stats.stopped);
        let want: Vec<u8> = all[0]
            .split_inclusive(|&b| b == b'\n')
            .take(n)
            .flatten()
            .copied()
            .collect();
        assert_eq!(h.out, want, "{n}");
        assert!(stats.records < full.records);
    }
    // Never stopping: the whole read.
    let mut h = Head {
        out: Vec::new(),
        err: Vec::new(),
        lines: 0,
        n: usize::MAX,
    };
    let stats = LogReader::open_single(&path, ReadOptions::default())
        .unwrap()
        .read_to(&mut h)
        .unwrap();
    assert!(!stats.stopped);
    assert_eq!([h.out, h.err], all);
}

/// A rotated set with a `.gz` backup (plain without feature `gzip`) and lines cut across
/// files, read whole and with tail: the same bytes, and sources in the right files.
#[test]
fn structured_equals_bytes_on_a_rotated_set() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("c.log");
    let oldest = "2023-12-31T23:59:59Z stderr P zipped \n";
    #[cfg(feature = "gzip")]
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(oldest.as_bytes()).unwrap();
        fs::write(dir.path().join("c.log.3.gz"), e.finish().unwrap()).unwrap();
    }
    #[cfg(not(feature = "gzip"))]
    fs::write(dir.path().join("c.log.3"), oldest).unwrap();
    fs::write(
        dir.path().join("c.log.2"),
        "2024-01-01T00:00:00Z stdout F one\n2024-01-01T00:00:01Z stdout P tw\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("c.log.1"),
        "2024-01-01T00:00:02Z stdout F o\n2024-01-01T00:00:03+05:30 stderr F err\n",
    )
    .unwrap();
    fs::write(
        &live,
        "garbage\n2024-01-01T00:00:04Z stdout F three\n2024-01-01T00:00:05Z stdout P unterminated",
    )
    .unwrap();
    for tail in [None, Some(1), Some(2), Some(3), Some(4), Some(10)] {
        let mut opts = ReadOptions::default();
        opts.tail = tail;
        let (want, want_stats) = bytes_of(&live, opts.clone(), false);
        let (got, lines, stats) = lines_of(&live, opts.clone(), false);
        assert_eq!(got, want, "{tail:?}");
        assert_eq!(stats.skipped, want_stats.skipped);
        check_sources(&LogReader::open(&live, opts).unwrap(), &lines);
    }
    let (_, lines, _) = lines_of(&live, ReadOptions::default(), false);
    let got: Vec<_> = lines
        .iter()
        .map(|l| {
            (
                l.file_index(),
                l.offset(),
                l.content().to_vec(),
                l.complete(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, 0, b"one".to_vec(), true),
            (1, 34, b"two".to_vec(), true),
            (0, 0, b"zipped err".to_vec(), true),
            (3, 8, b"three".to_vec(), true),
            (3, 44, b"unterminated".to_vec(), false),
        ]
    );
    // The line's time is its first piece's (in the `.gz`), not the `+05:30` record's.
    assert_eq!(lines[2].utc_offset(), 0);
    assert_eq!(lines[2].timestamp().unix_nanos(), 1_704_067_199_000_000_000);
}

/// An input that cannot seek (a FIFO), whole and with `--tail`: the same bytes.
#[test]
fn structured_equals_bytes_on_a_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let data = "2024-01-01T00:00:00Z stdout P a\n2024-01-01T00:00:01Z stderr F b\nnot a record\n\
                2024-01-01T00:00:02Z stdout F c\n2024-01-01T00:00:03Z stdout F d\n\
                2024-01-01T00:00:04Z stderr P e";
    for (k, tail) in [None, Some(1), Some(2), Some(5)].into_iter().enumerate() {
        let mut opts = ReadOptions::default();
        opts.tail = tail;
        let mut got = Vec::new();
        for structured in [false, true] {
            let fifo = dir.path().join(format!("f{k}{structured}"));
            let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
            let writer = {
                let fifo = fifo.clone();
                std::thread::spawn(move || fs::write(fifo, data).unwrap())
            };
            let out = if structured {
                lines_of(&fifo, opts.clone(), false).0
            } else {
                bytes_of(&fifo, opts.clone(), false).0
            };
            writer.join().unwrap();
            got.push(out);
        }
        assert_eq!(got[0], got[1], "{tail:?}");
        assert!(!got[0][0].is_empty() || tail == Some(1));
    }
}
