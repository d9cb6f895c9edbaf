//! Real data: ctrlog's writer against what containerd 1.6.20 and dockerd 20.10.24 wrote for
//! the same program output (`testdata/real/`, see its README).

use crate::util;

use ctrlog::cri::write::{
    CrPolicy, DockerJsonEncoder, LogWriter, MaxLen, WriterOptions, DEFAULT_MAX_LEN,
};
use ctrlog::cri::{Stream, Tag};
use ctrlog::time::{FixedClock, Timestamp};
use util::{parse_cri, pieces, write_cri};

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/real/");

fn real(name: &str) -> Vec<u8> {
    std::fs::read(format!("{REAL}{name}")).unwrap_or_else(|e| panic!("{REAL}{name}: {e}"))
}

fn stream_input(stream: Stream) -> Vec<u8> {
    match stream {
        Stream::Stdout => real("expected/gen.stdout.bin"),
        Stream::Stderr => real("expected/gen.stderr.bin"),
    }
}

#[test]
fn same_records_as_containerd_cri_gen_log() {
    let containerd = parse_cri(&real("containerd/cri-gen.log"));
    assert_eq!(containerd.len(), 13, "the file as documented");
    for stream in [Stream::Stdout, Stream::Stderr] {
        let theirs: Vec<(Tag, Vec<u8>)> = pieces(
            &containerd
                .iter()
                .filter(|r| r.stream == stream)
                .cloned()
                .collect::<Vec<_>>(),
        );
        let input = stream_input(stream);
        // Whole input at once, and in 4 KiB reads (containerd's bufio size).
        for chunk in [1 << 20, 4096, 1000] {
            let ours = parse_cri(&write_cri(&input, DEFAULT_MAX_LEN as i64, stream, chunk));
            assert!(ours.iter().all(|r| r.stream == stream));
            let ours = pieces(&ours);
            assert_eq!(
                ours.len(),
                theirs.len(),
                "{stream}: record count (chunk {chunk})"
            );
            for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
                assert!(
                    o == t,
                    "{stream} record {i} differs: ours {:?} {} bytes, containerd {:?} {} bytes",
                    o.0,
                    o.1.len(),
                    t.0,
                    t.1.len()
                );
            }
        }
    }
}

#[test]
fn containerd_timestamps_have_the_shape_we_write() {
    // containerd: Go RFC3339Nano, trailing zeros trimmed. Ours parse and format the same way.
    for rec in parse_cri(&real("containerd/cri-gen.log")) {
        let ts = ctrlog::time::parse_rfc3339nano(&rec.time).unwrap();
        let mut again = Vec::new();
        ctrlog::time::format_rfc3339nano(ts, ctrlog::time::Offset::Utc, &mut again);
        assert_eq!(again, rec.time);
    }
}

/// dockerd's line minus the `"time"` value (`...,"time":"` is kept).
fn without_time(line: &[u8]) -> &[u8] {
    let key = b"\"time\":\"";
    let at = line
        .windows(key.len())
        .rposition(|w| w == key)
        .expect("time key");
    &line[..at + key.len()]
}

fn docker_lines(stream: Stream) -> Vec<Vec<u8>> {
    let all = real("docker/gen-json.log");
    let tag = format!("\"stream\":\"{stream}\"");
    all.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter(|l| l.windows(tag.len()).any(|w| w == tag.as_bytes()))
        .map(<[u8]>::to_vec)
        .collect()
}

#[test]
fn json_file_encoding_is_byte_identical_to_dockerd() {
    let total: usize = [Stream::Stdout, Stream::Stderr]
        .iter()
        .map(|&s| docker_lines(s).len())
        .sum();
    assert_eq!(total, 13, "the file as documented");
    for stream in [Stream::Stdout, Stream::Stderr] {
        let theirs = docker_lines(stream);
        let input = stream_input(stream);
        for chunk in [1 << 20, 2048, 999] {
            let mut opts = WriterOptions::default();
            opts.split.max_len = MaxLen::from_signed(16384);
            opts.split.cr_policy = CrPolicy::Keep;
            opts.read_size = chunk;
            opts.flush_size = 1 << 16;
            let mut w = LogWriter::with_options(stream, DockerJsonEncoder::new(), Vec::new(), opts)
                .with_clock(FixedClock(Timestamp::new(1_795_422_884, 999_006_858)));
            w.copy_from(&input[..]).unwrap();
            let out = w.into_inner();
            let ours: Vec<&[u8]> = out
                .strip_suffix(b"\n")
                .unwrap()
                .split(|&b| b == b'\n')
                .collect();
            assert_eq!(
                ours.len(),
                theirs.len(),
                "{stream}: entries (chunk {chunk})"
            );
            for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
                assert!(
                    without_time(o) == without_time(t),
                    "{stream} entry {i}:\n ours {}\n dockerd {}",
                    String::from_utf8_lossy(&o[..o.len().min(200)]),
                    String::from_utf8_lossy(&t[..t.len().min(200)])
                );
                assert!(o.ends_with(b"Z\"}"));
            }
        }
    }
}

#[test]
fn json_file_log_values_reassemble_the_program_output() {
    for stream in [Stream::Stdout, Stream::Stderr] {
        let mut joined = Vec::new();
        for line in docker_lines(stream) {
            let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
            joined.extend_from_slice(v["log"].as_str().unwrap().as_bytes());
        }
        assert_eq!(
            joined,
            stream_input(stream),
            "dockerd kept every byte, \\r included"
        );
    }
}
