//! `ctrlog write` end to end: the built binary, stdin to records.
#![cfg(feature = "cli")]

use crate::util;

use std::os::unix::fs::PermissionsExt;
use std::process::{Output, Stdio};

use ctrlog::cri::{Stream, Tag};
use util::{a, f, p, parse_cri, pieces};

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/real/");

fn ctrlog(args: &[&str], stdin: &[u8]) -> Output {
    ctrlog_env(args, stdin, &[])
}

fn ctrlog_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    util::run_write(args, env, stdin, Stdio::piped())
}

fn ok_records(args: &[&str], stdin: &[u8]) -> Vec<util::Rec> {
    let out = ctrlog(args, stdin);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_cri(&out.stdout)
}

#[test]
fn containerd_table_cases_through_the_cli() {
    type Case = (&'static str, Vec<u8>, Vec<(Tag, Vec<u8>)>);
    let cases: Vec<Case> = vec![
        (
            "16384",
            b"test stdout log 1\ntest stdout log 2\n".to_vec(),
            vec![f(b"test stdout log 1"), f(b"test stdout log 2")],
        ),
        (
            "16384",
            b"test stderr log 1\ntest stderr log 2".to_vec(),
            vec![f(b"test stderr log 1"), p(b"test stderr log 2")],
        ),
        (
            "16384",
            [a(16385), b"\n".to_vec(), a(16385), b"\n".to_vec()].concat(),
            vec![p(&a(16384)), f(b"a"), p(&a(16384)), f(b"a")],
        ),
        (
            "2048",
            [a(6154), b"\n".to_vec()].concat(),
            vec![p(&a(2048)), p(&a(2048)), p(&a(2048)), f(&a(10))],
        ),
        (
            "6144",
            [a(8202), b"\n".to_vec()].concat(),
            vec![p(&a(6144)), f(&a(2058))],
        ),
        ("0", [a(40970), b"\n".to_vec()].concat(), vec![f(&a(40970))]),
        (
            "-1",
            [a(4095), b"\r\n".to_vec(), a(4095), b"\r\n".to_vec()].concat(),
            vec![f(&a(4095)), f(&a(4095))],
        ),
    ];
    for (m, input, want) in cases {
        let recs = ok_records(&["--max-len", m, "--utc"], &input);
        assert!(pieces(&recs) == want, "--max-len {m}");
        assert!(recs
            .iter()
            .all(|r| r.stream == Stream::Stdout && r.time.ends_with(b"Z")));
    }
}

#[test]
fn every_limit_through_the_cli() {
    for m in [1usize, 15, 16, 17, 4095, 4096, 16384] {
        let input = [
            a(m),
            b"\r\n".to_vec(),
            a(m + 1),
            b"\n\n".to_vec(),
            a(2 * m + 1),
        ]
        .concat();
        let mut want = vec![f(&a(m)), p(&a(m)), f(b"a"), f(b"")];
        want.extend([p(&a(m)), p(&a(m)), p(b"a")]);
        let recs = ok_records(&["--max-len", &m.to_string(), "--stream", "stderr"], &input);
        assert!(pieces(&recs) == want, "M = {m}");
        assert!(recs.iter().all(|r| r.stream == Stream::Stderr));
    }
    let big = [a(300_000), b"\n".to_vec()].concat();
    assert!(pieces(&ok_records(&["--max-len", "-5"], &big)) == vec![f(&a(300_000))]);
    // Unlimited, capped: past the memory cap lines become partials.
    let recs = ok_records(&["--max-len", "0", "--memory-cap", "100k"], &big);
    assert!(pieces(&recs) == vec![p(&a(102_400)), p(&a(102_400)), f(&a(95_200))]);
}

#[test]
fn cri_output_matches_containerd_for_the_real_program() {
    let theirs = parse_cri(&std::fs::read(format!("{REAL}containerd/cri-gen.log")).unwrap());
    for (stream, file) in [("stdout", "gen.stdout.bin"), ("stderr", "gen.stderr.bin")] {
        let input = std::fs::read(format!("{REAL}expected/{file}")).unwrap();
        let ours = ok_records(&["--stream", stream], &input);
        let want: Vec<_> = theirs
            .iter()
            .filter(|r| r.stream.as_str() == stream)
            .cloned()
            .collect();
        assert!(pieces(&ours) == pieces(&want), "{stream}");
    }
}

#[test]
fn json_file_output_matches_dockerd_for_the_real_program() {
    let theirs = std::fs::read(format!("{REAL}docker/gen-json.log")).unwrap();
    let strip_time = |l: &[u8]| {
        let at = l.windows(8).rposition(|w| w == b"\"time\":\"").unwrap();
        l[..at].to_vec()
    };
    for (stream, file) in [("stdout", "gen.stdout.bin"), ("stderr", "gen.stderr.bin")] {
        let input = std::fs::read(format!("{REAL}expected/{file}")).unwrap();
        let out = ctrlog(&["--format", "json-file", "--stream", stream], &input);
        assert!(out.status.success());
        let ours: Vec<Vec<u8>> = out
            .stdout
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(strip_time)
            .collect();
        let key = format!("\"stream\":\"{stream}\"");
        let want: Vec<Vec<u8>> = theirs
            .split(|&b| b == b'\n')
            .filter(|l| l.windows(key.len()).any(|w| w == key.as_bytes()))
            .map(strip_time)
            .collect();
        assert_eq!(ours, want, "{stream}");
    }
}

#[test]
fn output_file_is_created_0640_and_appended() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let path_s = path.to_str().unwrap();
    let out = ctrlog(&["--output", path_s, "--utc"], b"one\n");
    assert!(out.status.success());
    assert!(out.stdout.is_empty(), "records go to the file only");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    // 0640 minus the umask; the usual umasks (022, 002, 027) keep it 0640.
    assert_eq!(mode & !0o640, 0, "mode {mode:o}");
    assert!(ok_status(&["-o", path_s, "--stream", "stderr"], b"two"));
    let recs = parse_cri(&std::fs::read(&path).unwrap());
    let got: Vec<_> = recs
        .iter()
        .map(|r| (r.stream, r.tag, r.content.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Stream::Stdout, Tag::Full, b"one".to_vec()),
            (Stream::Stderr, Tag::Partial, b"two".to_vec())
        ]
    );
}

fn ok_status(args: &[&str], stdin: &[u8]) -> bool {
    ctrlog(args, stdin).status.success()
}

#[test]
fn local_time_by_default_utc_on_request() {
    let recs = parse_cri(&ctrlog_env(&[], b"x\n", &[("TZ", "XYZ-2")]).stdout);
    assert!(
        recs[0].time.ends_with(b"+02:00"),
        "{:?}",
        String::from_utf8_lossy(&recs[0].time)
    );
    let recs = parse_cri(&ctrlog_env(&["--utc"], b"x\n", &[("TZ", "XYZ-2")]).stdout);
    assert!(recs[0].time.ends_with(b"Z"));
    let out = ctrlog_env(&["--format", "json-file"], b"x\n", &[("TZ", "XYZ-2")]);
    assert!(out.stdout.ends_with(b"Z\"}\n"), "json-file is always UTC");
}

#[test]
fn empty_input_writes_nothing() {
    let out = ctrlog(&[], b"");
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_flags_and_values_exit_2_with_a_message() {
    for args in [
        &["--format", "xml"][..],
        &["--stream", "stdin"],
        &["--max-len", "lots"],
        &["--max-len"],
        &["--memory-cap", "0"],
        &["--memory-cap", "-3"],
        &["--bogus"],
        &["--output", "/nonexistent-dir/x.log"],
    ] {
        let out = ctrlog(args, b"x\n");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.trim().is_empty(), "{args:?}: no message");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    let err = String::from_utf8_lossy(&ctrlog(&["--output", "/nonexistent-dir/x.log"], b"").stderr)
        .into_owned();
    assert!(err.contains("/nonexistent-dir/x.log"), "{err}");
}

/// Runs `ctrlog write ARGS` with stdout on `/dev/full` (every write fails with ENOSPC).
fn ctrlog_to_dev_full(args: &[&str], stdin: &[u8]) -> Output {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    util::run_write(args, &[], stdin, full.into())
}

#[test]
fn write_failures_are_reported_and_exit_1() {
    let input = b"a\nb\nc\n".repeat(1000);
    // stdout, not `--output /dev/full`: an output file must be a regular file (issue 9).
    let out = ctrlog_to_dev_full(&[], &input);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("could not be written"), "{err}");
    assert!(err.contains("stdout"), "names the output: {err}");
    let out = ctrlog_to_dev_full(&["--stop-on-write-error"], &input);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("writing log records"));
    let out = ctrlog(&["--output", "/dev/full"], &input);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/dev/full: is a character device, not a regular file"),
        "{err}"
    );
}

#[test]
fn timestamp_policy_per_read_or_per_record() {
    // 1000 short lines written at once: a few reads at most, 1000 records.
    let input: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    let distinct = |policy: &str| {
        let recs = ok_records(&["--timestamp-policy", policy], input.as_bytes());
        assert_eq!(recs.len(), 1000, "{policy}");
        let mut times: Vec<Vec<u8>> = recs.iter().map(|r| r.time.clone()).collect();
        times.dedup();
        times.len()
    };
    let per_read = distinct("per-read");
    let per_record = distinct("per-record");
    // One time per read of the pipe (it holds all 9 KB: a handful of reads at most); one
    // clock reading per record (nanoseconds apart, a debug build takes longer than that).
    assert!(per_read <= 10, "{per_read} distinct times per read");
    assert!(per_record > 100, "{per_record} distinct times per record");
    let out = ctrlog(&["--timestamp-policy", "sometimes"], b"x\n");
    assert_eq!(out.status.code(), Some(2));
}
