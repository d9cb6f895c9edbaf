//! Helpers shared by the writer tests (no tests of its own).
#![allow(dead_code)]

use ctrlog::cri::write::{CriEncoder, LogWriter, MaxLen, WriterOptions};
use ctrlog::cri::{Stream, Tag};
use ctrlog::time::{FixedClock, Offset, Timestamp};

/// One parsed CRI record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    pub time: Vec<u8>,
    pub stream: Stream,
    pub tag: Tag,
    pub content: Vec<u8>,
}

/// A minimal CRI parser (independent of `ctrlog::cri::read`): every record ends with `\n`,
/// fields are separated by single spaces, the content is the rest of the line.
pub fn parse_cri(out: &[u8]) -> Vec<Rec> {
    assert!(
        out.is_empty() || out.ends_with(b"\n"),
        "output must end with a newline"
    );
    let mut recs = Vec::new();
    let body = out.strip_suffix(b"\n").unwrap_or(out);
    if out.is_empty() {
        return recs;
    }
    for line in body.split(|&b| b == b'\n') {
        let mut f = line.splitn(4, |&b| b == b' ');
        let time = f.next().unwrap().to_vec();
        let stream = Stream::from_bytes(f.next().expect("stream")).expect("stdout|stderr");
        let tag = match f.next().expect("tag") {
            b"P" => Tag::Partial,
            b"F" => Tag::Full,
            t => panic!("bad tag {t:?}"),
        };
        let content = f.next().expect("content field (maybe empty)").to_vec();
        ctrlog::time::parse_rfc3339nano(&time).expect("RFC3339Nano timestamp");
        recs.push(Rec {
            time,
            stream,
            tag,
            content,
        });
    }
    recs
}

/// (tag, content) of each record.
pub fn pieces(recs: &[Rec]) -> Vec<(Tag, Vec<u8>)> {
    recs.iter().map(|r| (r.tag, r.content.clone())).collect()
}

/// Writes `input` as CRI records with limit `max_len` (containerd's signed meaning), feeding
/// it in chunks of `chunk` bytes, UTC, fixed clock.
pub fn write_cri(input: &[u8], max_len: i64, stream: Stream, chunk: usize) -> Vec<u8> {
    let mut opts = WriterOptions::default();
    opts.split.max_len = MaxLen::from_signed(max_len);
    opts.read_size = chunk;
    opts.flush_size = 64 * 1024;
    let mut w = LogWriter::with_options(stream, CriEncoder::new(Offset::Utc), Vec::new(), opts)
        .with_clock(FixedClock(Timestamp::new(1_700_000_000, 123_456_789)));
    w.copy_from(input).expect("copy");
    w.into_inner()
}

/// Joins P pieces up to each F: (line, complete?) per line.
pub fn join_lines(p: &[(Tag, Vec<u8>)]) -> Vec<(Vec<u8>, bool)> {
    let mut lines = Vec::new();
    let mut cur = Vec::new();
    let mut open = false;
    for (tag, c) in p {
        cur.extend_from_slice(c);
        open = true;
        if *tag == Tag::Full {
            lines.push((std::mem::take(&mut cur), true));
            open = false;
        }
    }
    if open {
        lines.push((cur, false));
    }
    lines
}

pub fn f(s: &[u8]) -> (Tag, Vec<u8>) {
    (Tag::Full, s.to_vec())
}

pub fn p(s: &[u8]) -> (Tag, Vec<u8>) {
    (Tag::Partial, s.to_vec())
}

pub fn a(n: usize) -> Vec<u8> {
    vec![b'a'; n]
}

/// Runs `ctrlog write ARGS` with `env` added and stdout to `stdout`, feeding `stdin` from a
/// thread (the child may exit before it reads everything): the one way the CLI tests of this
/// binary run the writer.
#[cfg(feature = "cli")]
pub fn run_write(
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &[u8],
    stdout: std::process::Stdio,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctrlog"))
        .arg("write")
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ctrlog");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}
