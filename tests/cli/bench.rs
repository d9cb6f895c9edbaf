//! `ctrlog bench`: every job runs in both modes at a tiny scale and reports positive figures;
//! the workload directory is removed unless kept; bad flags are refused with a message;
//! `--reference` without `go` says so and runs without the columns (with `go`: ignored here,
//! as CI has none); `--generate-only` writes the workloads and runs nothing.
#![cfg(feature = "cli")]

use std::fs;
use std::process::{Command, Output};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ctrlog"))
        .arg("bench")
        .args(args)
        .output()
        .unwrap()
}

fn num(v: &serde_json::Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing: {v}"))
}

#[test]
fn every_case_reports_positive_figures_and_the_workloads_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench(&[
        "--scale",
        "0.0005",
        "--json",
        "--runs",
        "1",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    let cases: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    // 14 jobs, each in-process and as a whole process.
    assert_eq!(cases.len(), 28, "{text}");
    for c in &cases {
        for key in [
            "bytes",
            "gb_per_s",
            "floor",
            "ratio",
            "memchr_gb_per_s",
            "seconds",
        ] {
            assert!(num(c, key) > 0.0, "{key}: {c}");
        }
        match c["mode"].as_str() {
            Some("process") => {
                assert!(num(c, "peak_rss_kib") > 0.0, "{c}");
                assert_eq!(c["floor_kind"], "cat", "{c}");
            }
            Some("in-process") => {
                assert!(c["peak_rss_kib"].is_null(), "{c}");
                assert_eq!(c["floor_kind"], "read", "{c}");
            }
            _ => panic!("mode: {c}"),
        }
        // The jobs that write a log and keep it have the output floor; the others do not.
        let job = c["job"].as_str().unwrap();
        if (job.contains("write") && !job.starts_with("rotate")) || job.starts_with("driver") {
            assert!(num(c, "output_bytes") > num(c, "bytes"), "{c}");
            assert!(num(c, "out_floor_seconds") > 0.0, "{c}");
            assert!(num(c, "out_ratio") < num(c, "ratio"), "{c}");
        } else {
            assert!(
                c["output_bytes"].is_null() && c["out_ratio"].is_null(),
                "{c}"
            );
        }
    }
    let driver = cases.iter().find(|c| c["job"] == "driver-cri").unwrap();
    let write = cases
        .iter()
        .find(|c| c["job"] == "cri-write-short")
        .unwrap();
    assert_eq!(
        num(driver, "bytes"),
        2.0 * num(write, "bytes"),
        "the driver takes the input on both streams"
    );
    assert!(
        err.contains("generating short.txt"),
        "progress on stderr: {err}"
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0, "left behind");
}

#[test]
fn markdown_is_a_table_headed_by_the_command_and_the_machine() {
    let out = bench(&[
        "--scale=0.0005",
        "--runs=1",
        "--jobs=cri-write-short,cri-read",
        "--mode=process",
        "--markdown",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let lines: Vec<_> = text.lines().collect();
    assert!(
        lines[0].starts_with("`ctrlog bench --scale 0.0005 --runs 1`")
            && lines[0].contains("cpus; load average"),
        "{text}"
    );
    let rows: Vec<_> = lines.iter().filter(|l| l.starts_with('|')).collect();
    assert_eq!(rows.len(), 4, "header, rule and two cases: {text}");
    fn cells(l: &str) -> Vec<&str> {
        l.split('|').map(str::trim).collect()
    }
    assert_eq!(
        cells(rows[2])[1..3],
        ["cri-write-short", "process"],
        "{text}"
    );
    // The writer has the output floor's columns filled, the reader dashes there.
    assert_ne!(cells(rows[2])[7], "-", "{text}");
    assert_eq!(cells(rows[3])[7], "-", "{text}");
    assert!(
        rows.iter().all(|r| cells(r).len() == cells(rows[0]).len()),
        "{text}"
    );
    let both = bench(&["--json", "--markdown"]);
    assert_eq!(
        both.status.code(),
        Some(2),
        "--json and --markdown conflict"
    );
}

#[test]
fn keep_leaves_the_selected_workloads_and_the_table_names_the_machine() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench(&[
        "--scale=0.001",
        "--runs=1",
        "--jobs=last-error,tail-10",
        "--mode=in-process",
        "--keep",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("cpus; load average"), "{text}");
    let rows: Vec<_> = text.lines().skip(2).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows[0].starts_with("last-error ") && rows[1].starts_with("tail-10 "));
    let kept: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(kept.len(), 1);
    let work = kept[0].as_ref().unwrap().path();
    assert!(work.join("nvidia-err-end.json").is_file());
    assert!(work.join("cri.log").is_file());
    assert!(!work.join("short.txt").exists(), "only what the jobs need");
}

/// `--generate-only` writes the selected jobs' workloads, prints where, runs nothing.
#[test]
fn generate_only_writes_the_workloads_and_runs_no_job() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench(&[
        "--scale=0.001",
        "--jobs=json-write-short,cri-read",
        "--generate-only",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let work = std::path::PathBuf::from(text.trim_end());
    assert_eq!(work.parent(), Some(dir.path()), "{text}");
    let mut names: Vec<_> = fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["cri.log", "short.txt"], "no job ran (no scratch/)");
    assert!(fs::metadata(work.join("short.txt")).unwrap().len() > 100_000);
    let refused = bench(&["--generate-only", "--json"]);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn bad_flags_are_refused_with_a_reason() {
    for (args, want) in [
        (
            &["--jobs", "cri-write-short,nope"][..],
            "unknown job \"nope\"",
        ),
        (&["--scale", "0"][..], "--scale must be"),
        (&["--scale", "nan"][..], "--scale must be"),
        (&["--runs", "0"][..], "--runs"),
    ] {
        let out = bench(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// A directory holding only `cat` (the floor), for `PATH`: no `go` there.
fn path_without_go() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cat = std::env::split_paths(&path)
        .map(|d| d.join("cat"))
        .find(|p| p.is_file())
        .expect("cat on PATH");
    std::os::unix::fs::symlink(cat, dir.path().join("cat")).unwrap();
    dir
}

#[test]
fn reference_without_go_says_so_and_runs_without_the_columns() {
    let bin = path_without_go();
    let out = Command::new(env!("CARGO_BIN_EXE_ctrlog"))
        .env("PATH", bin.path())
        .args([
            "bench",
            "--reference",
            "--scale=0.0005",
            "--runs=1",
            "--mode=process",
            "--jobs=cri-write-short,last-error",
            "--json",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    assert!(err.contains("no Go toolchain"), "{err}");
    let cases: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(cases.len(), 2, "{text}");
    for c in &cases {
        assert!(c.get("reference").is_none(), "{c}");
        assert!(num(c, "gb_per_s") > 0.0, "{c}");
    }
}

/// Needs a Go toolchain (`apt-get install golang-go`), which CI does not have: run with
/// `cargo test --all-features --test cli -- --ignored reference_replicas`.
#[test]
#[ignore = "needs go on PATH"]
fn reference_replicas_build_run_and_match_ctrlog() {
    let out = bench(&[
        "--reference",
        "--scale=0.001",
        "--runs=1",
        "--mode=process",
        "--json",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    assert!(err.contains("references built with go version"), "{err}");
    let cases: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(cases.len(), 14, "{text}");
    let mut with = Vec::new();
    for c in &cases {
        let r = &c["reference"];
        if r.is_null() {
            continue;
        }
        with.push(c["job"].as_str().unwrap().to_owned());
        for key in ["seconds", "gb_per_s", "ratio", "peak_rss_kib"] {
            assert!(num(r, key) > 0.0, "{key}: {c}");
        }
        assert_eq!(r["equal"], true, "{c}");
        assert!(r["difference"].is_null(), "{c}");
    }
    // Every job but rotation and the driver has a replica.
    assert_eq!(
        with,
        [
            "cri-write-short",
            "cri-write-mixed",
            "cri-write-long",
            "cri-write-oneline",
            "cri-write-per-record",
            "json-write-short",
            "last-error",
            "last-error-compat",
            "cri-read",
            "json-read",
            "tail-10"
        ],
        "{text}"
    );
    let one = cases
        .iter()
        .find(|c| c["job"] == "cri-write-oneline")
        .unwrap();
    assert_eq!(one["reference"]["check"], "content", "{one}");
    let read = cases.iter().find(|c| c["job"] == "json-read").unwrap();
    assert_eq!(read["reference"]["check"], "bytes", "{read}");
    assert_eq!(read["reference"]["follows"], "kubelet ReadLogs", "{read}");
}
