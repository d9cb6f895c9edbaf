//! `ctrlog write --max-size/--max-file/--compress/--naming`: records through a rotating set.
#![cfg(feature = "cli")] // `cli` includes `gzip`

use std::io::Read;
use std::path::Path;
use std::process::{Output, Stdio};

fn write(args: &[&str], stdin: &[u8]) -> Output {
    crate::util::run_write(args, &[], stdin, Stdio::piped())
}

fn read_any(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    } else {
        raw
    }
}

/// Contents of lines from the CRI records in `bytes` (F records only; the input has no long
/// lines).
fn contents(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let s = String::from_utf8(l.to_vec()).unwrap();
            let mut it = s.splitn(4, ' ');
            let (_, stream, tag, content) = (
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap(),
                it.next().unwrap(),
            );
            assert_eq!((stream, tag), ("stdout", "F"), "{s}");
            content.to_owned()
        })
        .collect()
}

#[test]
fn docker_naming_caps_every_file_and_keeps_max_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    let input: String = (0..2000).map(|i| format!("line {i:05}\n")).collect();
    let out = write(
        &[
            "--output",
            log.to_str().unwrap(),
            "--max-size",
            "2k",
            "--max-file",
            "3",
        ],
        input.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["c.log", "c.log.1", "c.log.2"]);
    // Oldest first: .2, .1, live. Every file within 2000 bytes, records whole, in order.
    let mut all = Vec::new();
    for n in ["c.log.2", "c.log.1", "c.log"] {
        let bytes = std::fs::read(dir.path().join(n)).unwrap();
        assert!(bytes.len() <= 2000, "{n}: {} bytes", bytes.len());
        assert!(bytes.ends_with(b"\n"));
        all.extend(contents(&bytes));
    }
    let want: Vec<String> = (0..2000).map(|i| format!("line {i:05}")).collect();
    assert!(!all.is_empty());
    assert_eq!(
        all[..],
        want[want.len() - all.len()..],
        "a contiguous, ordered tail"
    );
}

#[test]
fn compressed_ctrlog_naming_loses_nothing_with_enough_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    let input: String = (0..500).map(|i| format!("record {i}\n")).collect();
    let out = write(
        &[
            "--output",
            log.to_str().unwrap(),
            "--max-size",
            "1k",
            "--max-file",
            "100",
            "--compress",
            "--naming",
            "ctrlog",
            "--format",
            "json-file",
        ],
        input.as_bytes(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut backups: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != &log)
        .collect();
    backups.sort();
    assert!(backups.len() > 5, "{backups:?}");
    assert!(
        backups.iter().all(|p| p.to_str().unwrap().ends_with(".gz")),
        "{backups:?}"
    );
    let mut text = Vec::new();
    for p in backups.iter().chain([&log]) {
        text.extend(read_any(p));
    }
    let logs: Vec<String> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice::<serde_json::Value>(l).unwrap()["log"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let want: Vec<String> = (0..500).map(|i| format!("record {i}\n")).collect();
    assert_eq!(logs, want);
}

/// Bad rotation flags: exit 2, the flag named and its value quoted, in the same words as the
/// driver's keys (one mapping of the rotation errors, `output::rotation_options`).
#[test]
fn bad_rotation_flags_exit_2_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("c.log");
    let p = log.to_str().unwrap();
    for (args, needle) in [
        (
            vec!["--output", p, "--max-size", "0"],
            "ctrlog: --max-size: '0' must be positive",
        ),
        (
            vec!["--output", p, "--max-size", "1m", "--max-file", "0"],
            "ctrlog: --max-file: '0' must be at least 1",
        ),
        (
            vec!["--output", p, "--max-size", "1m", "--max-file", "x"],
            "ctrlog: --max-file: 'x' is not an integer",
        ),
        (
            vec!["--output", p, "--max-size", "abc"],
            "ctrlog: --max-size: 'abc' is not a size: ",
        ),
        (
            vec!["--output", p, "--max-size", "1m", "--compress"],
            "ctrlog: --compress needs --max-size and a --max-file of 2 or more",
        ),
        (
            vec!["--output", p, "--max-size", "1m", "--naming", "weird"],
            "weird",
        ),
        (vec!["--max-size", "1m"], "--output"),
        // Checked even when no rotation flag is given (it was silently ignored).
        (vec!["--output", p, "--naming", "weird"], "weird"),
    ] {
        let out = write(&args, b"x\n");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    assert!(!log.exists(), "nothing was created");
}
