//! Fuzz bodies of the CRI/Docker readers (internal `__fuzz` feature, not public API): the
//! parsers never panic and agree with slow oracles; the merging reader gives the same output
//! however its input is split.

use super::{parse_cri_record, parse_docker_record, pipeline, OutputOptions, SplitSink};

/// Fuzz entry: the CRI parser never panics, and what parses is consistent.
pub fn fuzz_cri_record(data: &[u8]) {
    if let Ok(r) = parse_cri_record(data) {
        assert!(r.content.len() <= data.len());
        let again = parse_cri_record(data);
        assert_eq!(again, Ok(r));
    }
}

/// Fuzz entry: the Docker parser never panics; fast path and `serde_json` agree.
pub fn fuzz_docker_record(data: &[u8]) {
    // A scratch buffer left longer by an earlier record, with bytes that must not show
    // through (the parser reuses its scratch across records and never zeroes it).
    let mut scratch = vec![b'Z'; data.len() / 2 + 7];
    let fast = parse_docker_record(data, &mut scratch)
        .map(|r| (r.timestamp, r.stream, r.tag, r.content.to_vec()));
    let mut fresh = Vec::new();
    let again = parse_docker_record(data, &mut fresh)
        .map(|r| (r.timestamp, r.stream, r.tag, r.content.to_vec()));
    assert_eq!(fast, again, "a used scratch changed the result");
    #[derive(serde::Deserialize)]
    struct Oracle {
        log: String,
        stream: String,
        time: String,
    }
    let line = data.strip_suffix(b"\n").unwrap_or(data);
    if let Ok(o) = serde_json::from_slice::<Oracle>(line) {
        if let (Some(stream), Ok(ts)) = (
            crate::cri::Stream::from_bytes(o.stream.as_bytes()),
            crate::time::parse_rfc3339nano(o.time.as_bytes()),
        ) {
            let (tag, content) = match o.log.as_bytes().split_last() {
                Some((b'\n', rest)) => (crate::cri::Tag::Full, rest.to_vec()),
                _ => (crate::cri::Tag::Partial, o.log.as_bytes().to_vec()),
            };
            assert_eq!(
                fast,
                Ok((ts, stream, tag, content)),
                "input {:?}",
                String::from_utf8_lossy(data)
            );
        }
    }
}

/// Fuzz entry: the merging reader over arbitrary bytes never panics, respects the byte
/// limit, and gives the same output however the input is split into reads; through the file
/// reader (Unix), its zero-copy output equals its copying output.
pub fn fuzz_merge_reader(data: &[u8]) {
    let (opts, body) = match data.split_first() {
        Some((&b, rest)) => (b, rest),
        None => return,
    };
    let output = OutputOptions {
        timestamps: opts & 1 != 0,
        limit_bytes: (opts & 2 != 0).then_some(u64::from(opts >> 2)),
        since: None,
        timestamp_offset: None,
    };
    let mut whole = SplitSink {
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let mut p = pipeline::Pipeline::new(output, super::decode::ReadFormat::Auto.decoder());
    let _ = p.feed_bytes(body, &mut whole);
    if let Some(l) = output.limit_bytes {
        assert!((whole.stdout.len() + whole.stderr.len()) as u64 <= l);
    }
    // The same bytes through the LineBuffer with tiny reads.
    let mut c = crate::lines::LineBuffer::new(0, 16, 1 << 20);
    let mut lines = Vec::new();
    let mut off = 0;
    loop {
        loop {
            match c.next_line() {
                Some(crate::lines::LineItem::Line {
                    offset: pos,
                    bytes: l,
                }) => lines.push((pos, l.to_vec())),
                Some(crate::lines::LineItem::Overlong { .. }) => {}
                None => break,
            }
        }
        // Feed by hand: emulate a file with `body`.
        let chunk = &body[off..body.len().min(off + 7)];
        if chunk.is_empty() {
            break;
        }
        off += chunk.len();
        c.fill_from(&mut &chunk[..])
            .expect("reading a slice cannot fail");
    }
    let mut expect = Vec::new();
    let mut at = 0u64;
    for l in body.split_inclusive(|&b| b == b'\n') {
        if l.ends_with(b"\n") {
            expect.push((at, l.to_vec()));
        }
        at += l.len() as u64;
    }
    assert_eq!(lines, expect);
    #[cfg(unix)]
    zero_copy_matches_copying(body, output);
}

/// The file reader's zero-copy path (content handed out as ranges of the read buffer,
/// [`LogSink::write_stream_at`], written at [`LogSink::release`]) gives what a sink that takes
/// only copies gets, with small reads so that records straddle them.
#[cfg(unix)]
fn zero_copy_matches_copying(body: &[u8], output: OutputOptions) {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::recording_sink::RecordingSink;
    use super::{LogReader, ReadOptions};

    static FILES: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "ctrlog-fuzz-{}-{}.log",
        std::process::id(),
        FILES.fetch_add(1, Ordering::Relaxed)
    ));
    // `create_new`: a name planted in the shared temporary directory (a symlink) is refused,
    // not followed.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, body))
        .expect("the fuzz input is written to a new temporary file");
    let opts = ReadOptions {
        output,
        read_size: 64,
        ..ReadOptions::default()
    };
    let read = |sink: &mut RecordingSink| {
        LogReader::open_single(&path, opts.clone()).and_then(|mut r| r.read_to(sink))
    };
    let mut copies = RecordingSink::copying();
    let mut ranges = RecordingSink::zero_copy();
    let a = read(&mut copies).map_err(|e| e.to_string());
    let b = read(&mut ranges).map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&path);
    assert_eq!(a, b, "read results");
    assert_eq!(ranges.unreleased(), 0, "ranges left unreleased");
    assert_eq!(copies.out, ranges.out, "zero-copy output");
    assert_eq!(copies.ends, ranges.ends, "line ends");
}
