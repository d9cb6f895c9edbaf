//! Docker's (`loggerutils/logfile_test.go` `TestCheckCapacityAndRotate`,
//! `jsonfilelog/jsonfilelog_test.go` `TestJSONFileLoggerWithOpts`, `jsonfilelog.New`'s option
//! errors) and kubelet's (`pkg/kubelet/logs/container_log_manager_test.go`) tests, ported.
#![cfg(feature = "gzip")]

use crate::rotate_common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use ctrlog::rotate::{
    Backups, Naming, OptionError, OptionProblem, RotateOption, RotateOptions, RotatingFile,
};
use ctrlog::time::{FixedClock, Offset, Timestamp};
use rotate_common::*;

#[test]
fn docker_check_capacity_and_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("log");
    let mut o = opts(Some(5), Backups::Count(2), Naming::Docker);
    o.compress = true;
    o.mode = 0o600;
    let mut l = RotatingFile::open(&path, o).unwrap();
    l.write_all(b"hello world!").unwrap();
    assert!(!d.join("log.1").exists() && !d.join("log.1.gz").exists());
    l.write_all(b"hello world!").unwrap();
    l.wait_compressed();
    assert_eq!(gunzip(&d.join("log.1.gz")), b"hello world!");
    l.write_all(b"hello world!").unwrap();
    l.wait_compressed();
    assert!(d.join("log.1.gz").exists());
    assert!(d.join("log.2.gz").exists());
    // Docker's "closed log file" case becomes: a backup removed under the writer.
    std::fs::remove_file(d.join("log.2.gz")).unwrap();
    for i in 0..5 {
        l.write_all(format!("hello world {i}!").as_bytes()).unwrap();
    }
    l.wait_compressed();
    assert_eq!(names(d), ["log", "log.1.gz", "log.2.gz"]);
    assert_eq!(read(&path), b"hello world 4!");
    assert_eq!(gunzip(&d.join("log.1.gz")), b"hello world 3!");
    assert_eq!(gunzip(&d.join("log.2.gz")), b"hello world 2!");
    assert_eq!(mode(&d.join("log.1.gz")), 0o600);
    l.close().unwrap();
}

fn json_line(i: usize) -> String {
    format!("{{\"log\":\"line{i}\\n\",\"stream\":\"src1\",\"time\":\"0001-01-01T00:00:00Z\"}}\n")
}

fn json_lines(r: std::ops::Range<usize>) -> String {
    r.map(json_line).collect()
}

/// Docker rotates once the file has reached 1000 bytes, so its first file holds lines 0-15
/// (1030 bytes); ctrlog rotates before a write would cross 1000 bytes: lines 0-14 (965 bytes).
#[test]
fn docker_json_file_logger_with_opts_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("container.log");
    let o = RotateOptions::from_docker(Some("1k"), Some("3"), true).unwrap();
    let mut l = RotatingFile::open(&path, o).unwrap();
    for i in 0..36 {
        l.write_all(json_line(i).as_bytes()).unwrap();
    }
    l.close().unwrap();
    assert_eq!(
        names(d),
        ["container.log", "container.log.1.gz", "container.log.2.gz"]
    );
    assert_eq!(read(&path), json_lines(30..36).as_bytes());
    assert_eq!(
        gunzip(&d.join("container.log.1.gz")),
        json_lines(15..30).as_bytes()
    );
    assert_eq!(
        gunzip(&d.join("container.log.2.gz")),
        json_lines(0..15).as_bytes()
    );
    assert_eq!(mode(&path), 0o640);
}

#[test]
fn docker_json_file_logger_with_opts_two_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("container.log");
    let o = RotateOptions::from_docker(Some("1k"), Some("2"), false).unwrap();
    let mut l = RotatingFile::open(&path, o).unwrap();
    for i in 0..20 {
        l.write_all(json_line(i).as_bytes()).unwrap();
    }
    assert_eq!(names(d), ["container.log", "container.log.1"]);
    assert_eq!(read(&path), json_lines(15..20).as_bytes());
    assert_eq!(
        read(&d.join("container.log.1")),
        json_lines(0..15).as_bytes()
    );
}

/// Docker's default `max-file=1`: no backups (nerdctl keeps them all).
#[test]
fn docker_max_file_1_keeps_no_backups() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("container.log");
    let o = RotateOptions::from_docker(Some("100"), Some("1"), false).unwrap();
    assert_eq!(o.backups, Backups::Count(0));
    let mut l = RotatingFile::open(&path, o).unwrap();
    for i in 0..10 {
        l.write_all(json_line(i).as_bytes()).unwrap();
    }
    assert_eq!(names(d), ["container.log"]);
    assert_eq!(read(&path), json_line(9).as_bytes());
    assert_eq!(l.stats().rotations, 9);
}

#[test]
fn docker_option_errors() {
    let cases: &[(Option<&str>, Option<&str>, bool, &str)] = &[
        (Some("0"), None, false, "max-size must be a positive number"),
        (
            Some("0k"),
            Some("3"),
            false,
            "max-size must be a positive number",
        ),
        (
            Some("1k"),
            Some("0"),
            false,
            "max-file cannot be less than 1",
        ),
        (
            Some("1k"),
            Some("-1"),
            false,
            "max-file cannot be less than 1",
        ),
        (
            Some("1k"),
            Some("1"),
            true,
            "compress cannot be true when max-file is less than 2 or max-size is not set",
        ),
        (
            None,
            Some("3"),
            true,
            "compress cannot be true when max-file is less than 2 or max-size is not set",
        ),
        (
            Some("1k"),
            None,
            true,
            "compress cannot be true when max-file is less than 2 or max-size is not set",
        ),
        (
            Some("1k"),
            Some("three"),
            false,
            "invalid max-file 'three': not an integer",
        ),
        (
            Some("1k"),
            Some("99999999999999999999"),
            false,
            "invalid max-file '99999999999999999999': out of range",
        ),
    ];
    for (size, file, compress, want) in cases {
        let err = RotateOptions::from_docker(*size, *file, *compress).unwrap_err();
        assert_eq!(err.to_string(), *want, "{size:?} {file:?} {compress}");
    }
    assert!(matches!(
        RotateOptions::from_docker(Some("-1"), None, false),
        Err(OptionError {
            option: RotateOption::MaxSize,
            problem: OptionProblem::NotASize(_),
            ..
        })
    ));
    assert!(matches!(
        RotateOptions::from_docker(Some("10q"), None, false),
        Err(OptionError {
            option: RotateOption::MaxSize,
            problem: OptionProblem::NotASize(_),
            ..
        })
    ));
    let o = RotateOptions::from_docker(Some("10m"), Some("5"), true).unwrap();
    assert_eq!(o.max_size, Some(10_000_000));
    assert_eq!(o.backups, Backups::Count(4));
    assert!(o.compress);
    assert_eq!(o.naming, Naming::Docker);
    let o = RotateOptions::from_docker(Some("10MiB"), None, false).unwrap();
    assert_eq!(o.max_size, Some(10_000_000));
    assert_eq!(o.backups, Backups::Count(0));
    let o = RotateOptions::from_docker(None, None, false).unwrap();
    assert_eq!(o.max_size, None);
    assert_eq!(
        RotateOptions::kubelet(10, 1).unwrap_err().to_string(),
        "invalid MaxFiles 1, must be > 1"
    );
}

fn kubelet_opts(max_size: u64, max_files: u32) -> RotateOptions {
    let mut o = RotateOptions::kubelet(max_size, max_files).unwrap();
    o.offset = Offset::Utc;
    o.clock = Arc::new(FixedClock(Timestamp::new(T0, 0)));
    o.record_end = ctrlog::rotate::RecordEnd::Any;
    o
}

/// `TestRotateLogs`, the `container-has-excess-log` and `container-not-need-rotate` cases:
/// the oldest backup goes, the older raw backup is compressed, the newest stays raw.
#[test]
fn kubelet_rotate_logs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let short = d.join("test-log-1");
    std::fs::write(&short, b"short").unwrap();
    let mut l1 = RotatingFile::open(&short, kubelet_opts(10, 3)).unwrap();
    l1.write_all(b"!").unwrap();
    assert_eq!(read(&short), b"short!");

    let path = d.join("test-log-3");
    std::fs::write(&path, b"longer than 10 bytes").unwrap();
    std::fs::write(
        d.join("test-log-3.00000000-000001"),
        b"the length doesn't matter",
    )
    .unwrap();
    std::fs::write(
        d.join("test-log-3.00000000-000000.gz"),
        gzip(b"the length doesn't matter"),
    )
    .unwrap();
    let mut l = RotatingFile::open(&path, kubelet_opts(10, 3)).unwrap();
    l.write_all(b"x").unwrap();
    l.wait_compressed();
    assert_eq!(
        names(d),
        [
            "test-log-1",
            "test-log-3",
            "test-log-3.00000000-000001.gz",
            "test-log-3.20180101-000000",
        ]
    );
    assert_eq!(
        read(&d.join("test-log-3.20180101-000000")),
        b"longer than 10 bytes"
    );
    assert_eq!(
        gunzip(&d.join("test-log-3.00000000-000001.gz")),
        b"the length doesn't matter"
    );
}

/// `TestCleanupUnusedLog`: temporaries and raw files with a complete `.gz` twin go.
#[test]
fn kubelet_cleanup_unused_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("test-log.20180101-000000.tmp"), b"tmp").unwrap();
    std::fs::write(d.join("test-log.20180101-000001"), b"data").unwrap();
    std::fs::write(d.join("test-log.20180101-000001.gz"), gzip(b"data")).unwrap();
    let l = RotatingFile::open(d.join("test-log"), kubelet_opts(10, 5)).unwrap();
    l.close().unwrap();
    assert_eq!(names(d), ["test-log", "test-log.20180101-000001.gz"]);
}

/// `TestRemoveExcessLog`: before a rotation MaxFiles-2 backups are kept (the rotation adds one).
#[test]
fn kubelet_remove_excess_log() {
    for (max, expect) in [
        (2u32, vec![]),
        (3, vec!["4"]),
        (6, vec!["1", "2", "3", "4"]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let path = d.join("test-log");
        for i in [3, 1, 2, 4] {
            std::fs::write(d.join(format!("test-log.00000000-00000{i}")), b"x").unwrap();
        }
        let mut o = kubelet_opts(10, max);
        o.compress = false;
        // Open prunes to MaxFiles-1 backups; the rotation to MaxFiles-2 plus the new one.
        let mut l = RotatingFile::open(&path, o).unwrap();
        l.rotate().unwrap();
        let mut want: Vec<String> = vec!["test-log".into()];
        want.extend(expect.iter().map(|i| format!("test-log.00000000-00000{i}")));
        want.push("test-log.20180101-000000".into());
        assert_eq!(names(d), want, "MaxFiles {max}");
    }
}

/// `TestCompressLog`: the compressed file keeps the source's mode, no temporary is left, the
/// content round-trips.
#[test]
fn kubelet_compress_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("test-log");
    let mut o = kubelet_opts(100, 5);
    o.mode = 0o600;
    o.clock = Arc::new(ctrlog::time::SystemClock);
    let mut l = RotatingFile::open(&path, o).unwrap();
    l.write_all(b"test log content").unwrap();
    l.rotate().unwrap();
    l.write_all(b"newer").unwrap();
    l.rotate().unwrap();
    l.wait_compressed();
    let n = names(d);
    assert_eq!(n.len(), 3, "{n:?}");
    let gz: Vec<&String> = n.iter().filter(|s| s.ends_with(".gz")).collect();
    assert_eq!(gz.len(), 1, "{n:?}");
    let gz = d.join(gz[0]);
    assert_eq!(gunzip(&gz), b"test log content");
    assert_eq!(mode(&gz), 0o600);
    assert!(n.iter().all(|s| !s.ends_with(".tmp")));
    // The newest backup stays raw.
    let raw: Vec<&String> = n
        .iter()
        .filter(|s| s.starts_with("test-log.2") && !s.ends_with(".gz"))
        .collect();
    assert_eq!(raw.len(), 1);
    assert_eq!(read(&d.join(raw[0])), b"newer");
}

/// Two rotations in the same second never collide (kubelet's rename would replace).
#[test]
fn kubelet_same_second_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("c.log");
    let mut o = kubelet_opts(4, 2);
    o.compress = false;
    o.backups = Backups::Unlimited;
    let mut l = RotatingFile::open(&path, o).unwrap();
    for r in [&b"aaa"[..], b"bbb", b"ccc", b"ddd"] {
        l.write_all(r).unwrap();
    }
    assert_eq!(
        names(d),
        [
            "c.log",
            "c.log.20180101-000000",
            "c.log.20180101-000001",
            "c.log.20180101-000002"
        ]
    );
    assert_eq!(read(&d.join("c.log.20180101-000000")), b"aaa");
    assert_eq!(read(&d.join("c.log.20180101-000002")), b"ccc");
    assert_eq!(read(&path), b"ddd");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
}

/// ctrlog's names: a set reopened later continues the sequence from disk.
#[test]
fn ctrlog_sequence_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("c.log");
    std::fs::write(d.join("c.log.s00000041.gz"), gzip(b"old")).unwrap();
    let mut l =
        RotatingFile::open(&path, opts(Some(4), Backups::Unlimited, Naming::Ctrlog)).unwrap();
    l.write_all(b"aaa").unwrap();
    l.write_all(b"bbb").unwrap();
    l.write_all(b"ccc").unwrap();
    assert_eq!(
        names(d),
        [
            "c.log",
            "c.log.s00000041.gz",
            "c.log.s00000042",
            "c.log.s00000043"
        ]
    );
}
