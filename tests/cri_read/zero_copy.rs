//! The zero-copy output path ([`LogSink::write_stream_at`] and [`LogSink::release`]) against
//! the copying one: the same bytes, in the same order, with every range found in the window
//! it was promised in, whatever the read size, `--limit-bytes` (cutting inside a batch of
//! ranges), `--tail`, `--since` and `--timestamps`.

use std::fs;
use std::ops::ControlFlow;

use ctrlog::cri::read::{FileWarning, LogReader, LogSink, MergedSink, ReadOptions, SplitSink};
use ctrlog::cri::Stream;
use ctrlog::time::parse_rfc3339nano;
use proptest::prelude::*;

/// Keeps ranges until `release`, checks them against the window there, and records the
/// output per stream and merged, plus how each piece came.
#[derive(Debug, Default)]
struct Ranges {
    /// (stream, window range, the bytes promised) or copied bytes, in call order.
    queue: Vec<(Stream, Option<usize>, Vec<u8>)>,
    split: [Vec<u8>; 2],
    merged: Vec<u8>,
    /// Calls of `write_stream_at`, and of them those that end in a newline.
    kept: usize,
    kept_with_newline: usize,
    /// `release` calls with ranges to write.
    releases: usize,
}

impl Ranges {
    fn put(&mut self, s: Stream, data: &[u8]) {
        self.split[s.index()].extend_from_slice(data);
        self.merged.extend_from_slice(data);
    }
}

impl LogSink for Ranges {
    fn write_stream(&mut self, s: Stream, data: &[u8]) -> std::io::Result<()> {
        if self.queue.is_empty() {
            self.put(s, data);
        } else {
            self.queue.push((s, None, data.to_vec()));
        }
        Ok(())
    }
    fn write_stream_at(&mut self, s: Stream, data: &[u8], at: usize) -> std::io::Result<()> {
        self.kept += 1;
        self.kept_with_newline += usize::from(data.ends_with(b"\n"));
        self.queue.push((s, Some(at), data.to_vec()));
        Ok(())
    }
    fn release(&mut self, window: &[u8]) -> std::io::Result<()> {
        self.releases += usize::from(!self.queue.is_empty());
        for (s, at, data) in std::mem::take(&mut self.queue) {
            if let Some(at) = at {
                assert_eq!(
                    window.get(at..at + data.len()),
                    Some(&data[..]),
                    "the range is not what was written"
                );
            }
            self.put(s, &data);
        }
        Ok(())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        assert!(self.queue.is_empty(), "flush before release");
        Ok(())
    }
    fn warning(&mut self, _: &FileWarning) {
        assert!(self.queue.is_empty(), "warning before release");
    }
    fn line_end(&mut self, _: Stream) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

#[derive(Clone, Debug)]
enum Rec {
    /// stderr?, partial?, content
    Cri(bool, bool, String),
    /// A json-file record: its content is decoded, not in the window.
    Docker(bool, String),
    Garbage(String),
}

fn rec() -> impl Strategy<Value = Rec> {
    let content = || prop::string::string_regex("[a-z \"\\\\é\r]{0,30}").unwrap();
    prop_oneof![
        8 => (any::<bool>(), any::<bool>(), content()).prop_map(|(e, p, c)| Rec::Cri(e, p, c)),
        1 => (any::<bool>(), content()).prop_map(|(e, c)| Rec::Docker(e, c)),
        1 => prop::string::string_regex("[a-z ]{0,8}").unwrap().prop_map(Rec::Garbage),
    ]
}

fn render(recs: &[Rec], unterminated: bool) -> Vec<u8> {
    let mut out = String::new();
    for (i, r) in recs.iter().enumerate() {
        let t = format!("2024-01-01T00:00:{:02}.{:09}+01:00", i % 60, i);
        let s = |e: &bool| if *e { "stderr" } else { "stdout" };
        match r {
            Rec::Cri(e, p, c) => {
                let tag = if *p { "P" } else { "F" };
                out += &format!("{t} {} {tag} {c}\n", s(e));
            }
            Rec::Docker(e, c) => {
                let log = serde_json::to_string(&format!("{c}\n")).unwrap();
                out += &format!(
                    "{{\"log\":{log},\"stream\":\"{}\",\"time\":\"{t}\"}}\n",
                    s(e)
                );
            }
            Rec::Garbage(g) => out += &format!("{g}\n"),
        }
    }
    if unterminated {
        out.pop();
    }
    out.into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn zero_copy_output_is_the_copied_output(
        recs in prop::collection::vec(rec(), 0..40),
        unterminated in any::<bool>(),
        read_size in 16usize..300,
        max_record_len in prop_oneof![Just(4usize << 20), 40usize..120],
        limit in prop::option::of(0u64..600),
        tail in prop::option::of(0u64..8),
        since in prop::option::of(0u32..40),
        timestamps in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        fs::write(&path, render(&recs, unterminated)).unwrap();
        let mut opts = ReadOptions::default();
        opts.read_size = read_size;
        opts.max_record_len = max_record_len;
        opts.tail = tail;
        opts.output.limit_bytes = limit;
        opts.output.timestamps = timestamps;
        opts.output.since = since.map(|s| {
            parse_rfc3339nano(format!("2024-01-01T00:00:{s:02}+01:00").as_bytes()).unwrap()
        });
        let mut split = SplitSink { stdout: Vec::new(), stderr: Vec::new() };
        let want = LogReader::open(&path, opts.clone()).unwrap().read_to(&mut split).unwrap();
        let mut merged = MergedSink(Vec::new());
        LogReader::open(&path, opts.clone()).unwrap().read_to(&mut merged).unwrap();
        let mut ranges = Ranges::default();
        let got = LogReader::open(&path, opts).unwrap().read_to(&mut ranges).unwrap();
        prop_assert_eq!(got, want);
        prop_assert_eq!(&ranges.split[0], &split.stdout);
        prop_assert_eq!(&ranges.split[1], &split.stderr);
        prop_assert_eq!(&ranges.merged, &merged.0);
    }
}

/// A CRI `F` record's content and newline come as one range, a `P` record's content as
/// one; a json-file `log` lies in the line when it has no escape but its final `\n`.
#[test]
fn one_call_per_full_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    fs::write(
        &path,
        "2024-01-01T00:00:00Z stdout P a\n\
         2024-01-01T00:00:01Z stdout F b\n\
         2024-01-01T00:00:02Z stderr F \n\
         {\"log\":\"j\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:03Z\"}\n\
         2024-01-01T00:00:04Z stdout F last",
    )
    .unwrap();
    let mut sink = Ranges::default();
    LogReader::open(&path, ReadOptions::default())
        .unwrap()
        .read_to(&mut sink)
        .unwrap();
    assert_eq!(sink.split, [b"ab\nj\nlast".to_vec(), b"\n".to_vec()]);
    // "a", "b\n", "\n", "j" kept (then the newline "j" lacks, and the unterminated end
    // "last", copied).
    assert_eq!((sink.kept, sink.kept_with_newline), (4, 2));
    assert!(sink.releases >= 1);
}

/// `--limit-bytes` ending inside a batch of ranges cuts the range it ends in.
#[test]
fn limit_cuts_inside_a_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    let log: String = (0..50)
        .map(|i| format!("2024-01-01T00:00:00Z stdout F line{i:02}\n"))
        .collect();
    fs::write(&path, log).unwrap();
    let mut opts = ReadOptions::default();
    opts.output.limit_bytes = Some(7 * 10 + 3);
    let mut sink = Ranges::default();
    let stats = LogReader::open(&path, opts)
        .unwrap()
        .read_to(&mut sink)
        .unwrap();
    let want: String = (0..10).map(|i| format!("line{i:02}\n")).collect::<String>() + "lin";
    assert_eq!(sink.split[0], want.as_bytes());
    assert!(stats.limit_reached);
    assert_eq!(sink.releases, 1, "all in one window");
}

/// `ctrlog logs` (its fd sink writes ranges of the read buffer with `writev`) against the
/// library's copying sinks, over several read buffers: both streams to one file (one queue,
/// record order) and to two.
#[cfg(feature = "cli")]
#[test]
fn cli_output_is_the_copied_output() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    let mut log = String::new();
    for i in 0..8_000u32 {
        let s = if i % 3 == 0 { "stderr" } else { "stdout" };
        let tag = if i % 5 == 1 { "P" } else { "F" };
        // Some content longer than the 1 KiB from which `ctrlog logs` keeps ranges.
        let len = (i * 7919 % if i % 4 == 0 { 3000 } else { 97 }) as usize;
        let c: String = (0..len)
            .map(|k| (b'a' + ((i as usize + k) % 26) as u8) as char)
            .collect();
        log += &format!(
            "2024-01-01T00:{:02}:{:02}.{i:09}Z {s} {tag} {c}\n",
            i / 3600 % 60,
            i / 60 % 60
        );
    }
    log += "2024-01-01T01:00:00Z stdout F unterminated";
    fs::write(&path, &log).unwrap();
    assert!(log.len() > 3 * (256 << 10), "several reads");
    let p = path.to_str().unwrap();
    let cases: [&[&str]; 5] = [
        &[],
        &["--timestamps"],
        &["--limit-bytes", "500000"],
        &["--tail", "5000", "--timestamps"],
        &["--since", "2024-01-01T00:02:00Z", "--limit-bytes", "300001"],
    ];
    for args in cases {
        let mut opts = ReadOptions::default();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match *a {
                "--timestamps" => opts.output.timestamps = true,
                "--limit-bytes" => opts.output.limit_bytes = it.next().unwrap().parse().ok(),
                "--tail" => opts.tail = it.next().unwrap().parse().ok(),
                "--since" => {
                    opts.output.since = parse_rfc3339nano(it.next().unwrap().as_bytes()).ok()
                }
                _ => unreachable!(),
            }
        }
        let mut split = SplitSink {
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        LogReader::open(&path, opts.clone())
            .unwrap()
            .read_to(&mut split)
            .unwrap();
        let mut merged = MergedSink(Vec::new());
        LogReader::open(&path, opts)
            .unwrap()
            .read_to(&mut merged)
            .unwrap();

        let run = |out: fs::File, err: fs::File| {
            let st = Command::new(env!("CARGO_BIN_EXE_ctrlog"))
                .arg("logs")
                .args(args)
                .arg(p)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .status()
                .unwrap();
            assert!(st.success(), "{args:?}");
        };
        let (o, e, m) = (
            dir.path().join("o"),
            dir.path().join("e"),
            dir.path().join("m"),
        );
        run(fs::File::create(&o).unwrap(), fs::File::create(&e).unwrap());
        // Not `assert_eq!`: megabytes of bytes in a failure message help no one.
        assert!(
            fs::read(&o).unwrap() == split.stdout,
            "{args:?} stdout differs"
        );
        assert!(
            fs::read(&e).unwrap() == split.stderr,
            "{args:?} stderr differs"
        );
        let f = fs::File::create(&m).unwrap();
        run(f.try_clone().unwrap(), f);
        assert!(fs::read(&m).unwrap() == merged.0, "{args:?} merged differs");
    }
}
