//! Every CRI and Docker file in `testdata/real/` reads back to its expected bytes.

use std::fs;

use ctrlog::cri::read::{LogReader, ReadOptions, RecordParser, SplitSink, TailMode};
use ctrlog::cri::{Stream, Tag};

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/real/");

fn real(p: &str) -> String {
    format!("{REAL}{p}")
}

fn read_all(p: &str, opts: ReadOptions) -> (Vec<u8>, Vec<u8>, ctrlog::cri::read::ReadStats) {
    let mut s = SplitSink {
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let stats = LogReader::open_single(real(p), opts)
        .unwrap()
        .read_to(&mut s)
        .unwrap();
    (s.stdout, s.stderr, stats)
}

fn expected(name: &str) -> Vec<u8> {
    fs::read(real(&format!("expected/{name}"))).unwrap()
}

/// (stream, tag, content length) of every record.
fn records(p: &str) -> Vec<(Stream, Tag, usize)> {
    let data = fs::read(real(p)).unwrap();
    let mut parser = RecordParser::new();
    data.split_inclusive(|&b| b == b'\n')
        .map(|l| {
            let (_, r) = parser.parse(l).unwrap();
            (r.stream, r.tag, r.content.len())
        })
        .collect()
}

#[test]
fn conmon_gen() {
    let (out, err, stats) = read_all("conmon/gen.k8s-file.log", ReadOptions::default());
    assert_eq!(out, expected("gen.stdout.bin"));
    assert_eq!(err, expected("gen.stderr.bin"));
    assert_eq!(stats.skipped, 0);
    let recs = records("conmon/gen.k8s-file.log");
    use Stream::*;
    use Tag::*;
    let big: Vec<_> = recs.iter().filter(|r| r.2 > 100).copied().collect();
    assert_eq!(
        big,
        vec![
            (Stdout, Partial, 8192),
            (Stdout, Full, 1808),
            (Stdout, Partial, 8192),
            (Stdout, Partial, 8192),
            (Stdout, Full, 3616),
            (Stderr, Partial, 8192),
            (Stderr, Partial, 8192),
            (Stderr, Full, 616),
        ]
    );
    // partial-A / partial-B: P then F; the two unterminated lines are P only.
    assert!(recs.contains(&(Stdout, Partial, 9)));
    assert_eq!(recs.last().map(|r| r.1), Some(Partial));
    // Stats: every logical line counted once.
    assert_eq!(stats.lines_out, 11);
}

#[test]
fn conmon_seq() {
    let (out, err, stats) = read_all("conmon/seq-1-5000.k8s-file.log", ReadOptions::default());
    assert_eq!(out, expected("seq-1-5000.stdout.bin"));
    assert!(err.is_empty());
    assert_eq!(stats.records, 5004);
    assert_eq!(stats.lines_out, 5000);
    // Tail counts logical lines, not the 4 P pieces.
    let mut opts = ReadOptions::default();
    opts.tail = Some(5000);
    assert_eq!(
        read_all("conmon/seq-1-5000.k8s-file.log", opts).0,
        expected("seq-1-5000.stdout.bin")
    );
    let mut opts = ReadOptions::default();
    opts.tail = Some(3);
    assert_eq!(
        read_all("conmon/seq-1-5000.k8s-file.log", opts).0,
        b"4998\n4999\n5000\n"
    );
}

#[test]
fn containerd_gen() {
    let (out, err, stats) = read_all("containerd/cri-gen.log", ReadOptions::default());
    let mut want = expected("gen.stdout.bin");
    let i = want
        .windows(11)
        .position(|w| w == b"crlf line\r\n")
        .unwrap();
    want.remove(i + 9);
    assert_eq!(out, want);
    assert_eq!(err, expected("gen.stderr.bin"));
    assert_eq!(stats.skipped, 0);
    let big: Vec<_> = records("containerd/cri-gen.log")
        .into_iter()
        .filter(|r| r.2 > 100)
        .collect();
    use Stream::*;
    use Tag::*;
    assert_eq!(
        big,
        vec![
            (Stdout, Full, 10000),
            (Stdout, Partial, 16384),
            (Stdout, Full, 3616),
            (Stderr, Partial, 16384),
            (Stderr, Full, 616),
        ]
    );
}

#[test]
fn containerd_seq() {
    let (out, err, stats) = read_all("containerd/cri-seq-1-5000.log", ReadOptions::default());
    assert_eq!(out, expected("seq-1-5000.stdout.bin"));
    assert!(err.is_empty());
    assert_eq!((stats.records, stats.lines_out), (5000, 5000));
}

#[test]
fn docker_gen() {
    let (out, err, stats) = read_all("docker/gen-json.log", ReadOptions::default());
    assert_eq!(out, expected("gen.stdout.bin"));
    assert_eq!(err, expected("gen.stderr.bin"));
    assert_eq!((stats.records, stats.skipped), (13, 0));
}

/// Tail of every real file equals the last lines of its full read, per stream.
#[test]
fn tail_matches_full_read_on_real_files() {
    for p in [
        "conmon/gen.k8s-file.log",
        "containerd/cri-gen.log",
        "docker/gen-json.log",
        "containerd/cri-seq-1-5000.log",
    ] {
        let (out, err, _) = read_all(p, ReadOptions::default());
        for n in [0u64, 1, 2, 3, 5, 8, 20] {
            let mut opts = ReadOptions::default();
            opts.tail = Some(n);
            opts.tail_mode = TailMode::Lines;
            let (o, e, _) = read_all(p, opts);
            assert!(out.ends_with(&o) && err.ends_with(&e), "{p} tail {n}");
            if n >= 20 && !p.contains("seq") {
                assert_eq!((o, e), (out.clone(), err.clone()), "{p} tail {n}");
            }
        }
    }
}

#[test]
fn timestamps_in_each_writers_zone() {
    let mut opts = ReadOptions::default();
    opts.tail = Some(1);
    opts.output.timestamps = true;
    let (o, _, _) = read_all("containerd/cri-seq-1-5000.log", opts.clone());
    let s = String::from_utf8(o).unwrap();
    assert!(s.ends_with("Z 5000\n") && s.len() == 30 + 1 + 5, "{s:?}");
    // conmon writes +00:00: printed as Z (Go's Z07:00 for offset 0).
    let (o, _, _) = read_all("conmon/seq-1-5000.k8s-file.log", opts);
    let s = String::from_utf8(o).unwrap();
    assert!(s.ends_with("Z 5000\n"), "{s:?}");
}
