//! Property tests: tail vs a naive oracle, chunking independence, Docker fast path vs
//! serde_json, writer -> reader round trips for both formats, and the structured reader
//! (`next_line`) vs the byte reader on rotated sets.

use std::fs;

use ctrlog::cri::read::{
    parse_docker_record, LogReader, OutputOptions, ReadOptions, SplitSink, TailMode,
};
use ctrlog::cri::{Stream, Tag};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Rec {
    Cri(bool, bool, String), // stderr?, partial?, content
    Docker(bool, bool, String),
    Garbage(String),
}

fn content() -> impl Strategy<Value = String> {
    prop::string::string_regex("[a-z \"\\\\<>&é😀\t]{0,12}").unwrap()
}

fn rec() -> impl Strategy<Value = Rec> {
    prop_oneof![
        6 => (any::<bool>(), any::<bool>(), content()).prop_map(|(e, p, c)| Rec::Cri(e, p, c)),
        2 => (any::<bool>(), any::<bool>(), content()).prop_map(|(e, p, c)| Rec::Docker(e, p, c)),
        1 => prop::string::string_regex("[a-z {}]{0,8}").unwrap().prop_map(Rec::Garbage),
    ]
}

fn render(recs: &[Rec]) -> Vec<u8> {
    let mut out = String::new();
    for (i, r) in recs.iter().enumerate() {
        let t = format!(
            "2024-01-01T00:00:{:02}.{:09}Z",
            i / 1_000_000 % 60,
            i % 1_000_000
        );
        match r {
            Rec::Cri(e, p, c) => {
                let s = if *e { "stderr" } else { "stdout" };
                let tag = if *p { "P" } else { "F" };
                out += &format!("{t} {s} {tag} {c}\n");
            }
            Rec::Docker(e, p, c) => {
                let s = if *e { "stderr" } else { "stdout" };
                let log = if *p { c.clone() } else { format!("{c}\n") };
                let log = serde_json::to_string(&log).unwrap();
                out += &format!("{{\"log\":{log},\"stream\":\"{s}\",\"time\":\"{t}\"}}\n");
            }
            Rec::Garbage(g) => {
                out += g;
                out.push('\n');
            }
        }
    }
    out.into_bytes()
}

/// Logical lines ordered by their last piece, as (stream is stderr, bytes incl. '\n' if ended).
fn oracle_lines(recs: &[Rec]) -> Vec<(bool, Vec<u8>)> {
    let mut open: [Option<(Vec<u8>, usize)>; 2] = [None, None];
    let mut done: Vec<(usize, bool, Vec<u8>)> = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        let (e, p, c) = match r {
            Rec::Cri(e, p, c) | Rec::Docker(e, p, c) => (*e, *p, c),
            Rec::Garbage(_) => continue,
        };
        let slot = &mut open[e as usize];
        let buf = slot.get_or_insert_with(|| (Vec::new(), i));
        buf.0.extend_from_slice(c.as_bytes());
        buf.1 = i;
        if !p {
            let (mut b, _) = slot.take().unwrap();
            b.push(b'\n');
            done.push((i, e, b));
        }
    }
    for (e, slot) in open.iter_mut().enumerate() {
        if let Some((b, last)) = slot.take() {
            done.push((last, e == 1, b));
        }
    }
    done.sort_by_key(|d| d.0);
    done.into_iter().map(|(_, e, b)| (e, b)).collect()
}

fn read(path: &std::path::Path, opts: ReadOptions) -> (Vec<u8>, Vec<u8>) {
    let mut s = SplitSink {
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    LogReader::open(path, opts)
        .unwrap()
        .read_to(&mut s)
        .unwrap();
    (s.stdout, s.stderr)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn tail_equals_oracle(recs in prop::collection::vec(rec(), 0..40), n in 0u64..12, rs in 16usize..80) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        fs::write(&path, render(&recs)).unwrap();
        let lines = oracle_lines(&recs);
        let keep = &lines[lines.len().saturating_sub(n as usize)..];
        let (mut wo, mut we) = (Vec::new(), Vec::new());
        for (e, b) in keep {
            if *e { we.extend_from_slice(b) } else { wo.extend_from_slice(b) }
        }
        let mut opts = ReadOptions::default();
        opts.tail = Some(n);
        opts.read_size = rs;
        let (o, e) = read(&path, opts);
        prop_assert_eq!(String::from_utf8_lossy(&o), String::from_utf8_lossy(&wo));
        prop_assert_eq!(String::from_utf8_lossy(&e), String::from_utf8_lossy(&we));
    }

    #[test]
    fn output_independent_of_read_size(recs in prop::collection::vec(rec(), 0..40), rs in 16usize..64, limit in prop::option::of(0u64..200), ts in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        fs::write(&path, render(&recs)).unwrap();
        let mut output = OutputOptions::default();
        output.limit_bytes = limit;
        output.timestamps = ts;
        let mut opts = ReadOptions::default();
        opts.output = output;
        let big = read(&path, opts.clone());
        opts.read_size = rs;
        let small = read(&path, opts);
        prop_assert_eq!(&big, &small);
        if let Some(l) = limit {
            prop_assert!((big.0.len() + big.1.len()) as u64 <= l);
        }
        if limit.is_none() && !ts {
            let lines = oracle_lines(&recs);
            let o: Vec<u8> = lines.iter().filter(|l| !l.0).flat_map(|l| l.1.clone()).collect();
            let e: Vec<u8> = lines.iter().filter(|l| l.0).flat_map(|l| l.1.clone()).collect();
            prop_assert_eq!((o, e), big);
        }
    }

    /// The structured reader gives exactly the bytes the byte reader gives, per stream,
    /// on a set of up to three files cut anywhere (lines across files, unterminated ends),
    /// with tail (both modes), since, limit, small reads and small line parts.
    #[test]
    fn structured_equals_bytes(
        recs in prop::collection::vec(rec(), 0..40),
        cuts in prop::collection::vec(0usize..2000, 0..3),
        tail in prop::option::of(0u64..12),
        records_mode in any::<bool>(),
        since in prop::option::of(0i128..40),
        limit in prop::option::of(0u64..200),
        max_line in 1usize..30,
        rs in 16usize..80,
        end_cut in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut data = render(&recs);
        if end_cut && !data.is_empty() {
            // An unterminated last record.
            data.pop();
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        cuts.sort_unstable();
        let names = ["c.log.2", "c.log.1", "c.log"];
        let mut from = 0;
        let parts = cuts.len() + 1;
        for (i, name) in names[3 - parts..].iter().enumerate() {
            let to = cuts.get(i).copied().unwrap_or(data.len());
            fs::write(dir.path().join(name), &data[from..to]).unwrap();
            from = to;
        }
        let mut opts = ReadOptions::default();
        opts.tail = tail;
        if records_mode {
            opts.tail_mode = TailMode::Records;
        }
        opts.output.since = since.map(|k| {
            ctrlog::time::Timestamp::from_unix_nanos(1_704_067_200_000_000_000 + k)
        });
        opts.output.limit_bytes = limit;
        opts.max_line_len = max_line;
        opts.read_size = rs;
        let live = dir.path().join("c.log");
        let (want, want_stats) = crate::structured::bytes_of(&live, opts.clone(), false);
        let (got, lines, stats) = crate::structured::lines_of(&live, opts, false);
        prop_assert_eq!(
            [String::from_utf8_lossy(&got[0]), String::from_utf8_lossy(&got[1])],
            [String::from_utf8_lossy(&want[0]), String::from_utf8_lossy(&want[1])]
        );
        prop_assert_eq!(stats.lines_out, want_stats.lines_out);
        prop_assert_eq!(stats.bytes_out, want_stats.bytes_out);
        prop_assert_eq!(stats.skipped, want_stats.skipped);
        // A part ends at the first record that brings it to `max_line` (records hold at
        // most 12 characters of 4 bytes).
        prop_assert!(lines.iter().all(|l| l.content().len() < max_line + 48));
    }

    #[test]
    fn tail_records_mode_counts_physical_lines(recs in prop::collection::vec(rec(), 0..30), n in 0u64..10) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        fs::write(&path, render(&recs)).unwrap();
        let k = recs.len().saturating_sub(n as usize);
        let tail_recs: Vec<Rec> = recs[k..].to_vec();
        let mut wo = Vec::new();
        let mut we = Vec::new();
        for r in &tail_recs {
            match r {
                Rec::Cri(e, p, c) | Rec::Docker(e, p, c) => {
                    let b = if *e { &mut we } else { &mut wo };
                    b.extend_from_slice(c.as_bytes());
                    if !p { b.push(b'\n') }
                }
                Rec::Garbage(_) => {}
            }
        }
        let mut opts = ReadOptions::default();
        opts.tail = Some(n);
        opts.tail_mode = TailMode::Records;
        prop_assert_eq!(read(&path, opts), (wo, we));
    }

    #[test]
    fn docker_fast_path_matches_serde(s in "\\PC{0,20}", ctrl in prop::collection::vec(0u8..0x20, 0..3), nl in any::<bool>(), err in any::<bool>()) {
        let mut log = s.clone();
        for c in ctrl { log.push(c as char); }
        if nl { log.push('\n'); }
        // serde_json's escaping and Docker's (\u003c, \u0026, \u2028 ...).
        let std_json = serde_json::to_string(&log).unwrap();
        let mut docker = String::from("\"");
        for ch in log.chars() {
            match ch {
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => docker += &format!("\\u{:04x}", ch as u32),
                '\t' => docker += "\\u0009",
                '"' => docker += "\\\"",
                '\\' => docker += "\\\\",
                '\n' => docker += "\\n",
                '\r' => docker += "\\r",
                c if (c as u32) < 0x20 => docker += &format!("\\u{:04x}", c as u32),
                c if (c as u32) > 0xffff && err => {
                    // surrogate pair escape
                    let mut b = [0u16; 2];
                    for u in c.encode_utf16(&mut b) { docker += &format!("\\u{:04x}", u); }
                }
                c => docker.push(c),
            }
        }
        docker.push('"');
        let stream = if err { "stderr" } else { "stdout" };
        for enc in [std_json, docker] {
            let line = format!("{{\"log\":{enc},\"stream\":\"{stream}\",\"time\":\"2024-01-01T00:00:00.5Z\"}}\n");
            #[cfg(feature = "__fuzz")]
            ctrlog::cri::read::fuzz_docker_record(line.as_bytes());
            let mut scratch = Vec::new();
            let r = parse_docker_record(line.as_bytes(), &mut scratch).unwrap();
            let want = log.strip_suffix('\n').unwrap_or(&log);
            prop_assert_eq!(r.content, want.as_bytes());
            prop_assert_eq!(r.tag, if log.ends_with('\n') { Tag::Full } else { Tag::Partial });
            prop_assert_eq!(r.stream, if err { Stream::Stderr } else { Stream::Stdout });
        }
        // Other shapes go through serde_json.
        let attrs = format!("{{\"log\":{},\"stream\":\"{stream}\",\"attrs\":{{\"a\":\"b\"}},\"time\":\"2024-01-01T00:00:00Z\"}}", serde_json::to_string(&log).unwrap());
        let mut scratch = Vec::new();
        let r = parse_docker_record(attrs.as_bytes(), &mut scratch).unwrap();
        prop_assert_eq!(r.content, log.strip_suffix('\n').unwrap_or(&log).as_bytes());
    }
}

// ---- writer then reader ----

/// A tiny test-local writer (the crate's own writer is tested in `cri_read_writer_prop.rs`): splits each line
/// into pieces of at most `m` bytes, CRI `P`/`F` records or Docker json-file pieces.
fn tiny_write(events: &[(bool, Vec<u8>)], m: usize, docker: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, (err, piece_and_end)) in events.iter().enumerate() {
        let _ = i;
        let s = if *err { "stderr" } else { "stdout" };
        let (last, body) = piece_and_end.split_last().unwrap();
        let full = *last == 1;
        assert!(body.len() <= m.max(1));
        if docker {
            let mut log = String::from_utf8(body.to_vec()).unwrap();
            if full {
                log.push('\n');
            }
            out.extend_from_slice(
                format!(
                    "{{\"log\":{},\"stream\":\"{s}\",\"time\":\"2024-01-01T00:00:00Z\"}}\n",
                    serde_json::to_string(&log).unwrap()
                )
                .as_bytes(),
            );
        } else {
            out.extend_from_slice(
                format!(
                    "2024-01-01T00:00:00.1Z {s} {} ",
                    if full { "F" } else { "P" }
                )
                .as_bytes(),
            );
            out.extend_from_slice(body);
            out.push(b'\n');
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn writer_then_reader_gives_back_lines(
        outs in prop::collection::vec("[a-z0-9 ]{0,30}", 0..8),
        errs in prop::collection::vec("[a-z0-9 ]{0,30}", 0..8),
        m in 1usize..12,
        order in prop::collection::vec(any::<bool>(), 0..200),
        docker in any::<bool>(),
    ) {
        // Split each stream's lines into pieces, then interleave the two piece queues.
        let pieces = |lines: &[String]| -> Vec<Vec<u8>> {
            let mut v = Vec::new();
            for l in lines {
                let b = l.as_bytes();
                let chunks: Vec<&[u8]> = if b.is_empty() { vec![b] } else { b.chunks(m).collect() };
                for (k, c) in chunks.iter().enumerate() {
                    let mut p = c.to_vec();
                    p.push(u8::from(k + 1 == chunks.len()));
                    v.push(p);
                }
            }
            v
        };
        let (mut po, mut pe) = (pieces(&outs).into_iter(), pieces(&errs).into_iter());
        let mut events = Vec::new();
        let mut it = order.iter().copied().chain(std::iter::repeat(false));
        loop {
            let pick_err = it.next().unwrap_or(false);
            let next = if pick_err { pe.next().map(|p| (true, p)).or_else(|| po.next().map(|p| (false, p))) }
                       else { po.next().map(|p| (false, p)).or_else(|| pe.next().map(|p| (true, p))) };
            match next { Some(e) => events.push(e), None => break }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        fs::write(&path, tiny_write(&events, m, docker)).unwrap();
        let mut opts = ReadOptions::default();
        opts.read_size = 32;
        let (o, e) = read(&path, opts);
        let join = |ls: &[String]| ls.iter().map(|l| format!("{l}\n")).collect::<String>();
        prop_assert_eq!(String::from_utf8(o).unwrap(), join(&outs));
        prop_assert_eq!(String::from_utf8(e).unwrap(), join(&errs));
    }
}
