#![cfg(feature = "cli")]
//! `ctrlog scan`: a fake containerd state root holding copies of real runc log.json files,
//! and residue bundles to prune.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

const BIN: &str = env!("CARGO_BIN_EXE_ctrlog");
const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/real/runc/");

/// (namespace, id, real file, expected last error; "" = none)
const BUNDLES: &[(&str, &str, &str, &str)] = &[
    ("k8s.io", "probe-loop", "shim-lifecycle-exec-missing-x5.log.json", "container not running"),
    ("k8s.io", "debug-ok", "run-ok-debug.log.json", ""),
    ("default", "bad-mount", "run-bad-mount.log.json", "runc run failed: unable to start container process: error during container init: error mounting \"/tmp/rp/does-not-exist\" to rootfs at \"/data\": stat /tmp/rp/does-not-exist: no such file or directory"),
    ("default", "dup", "create-duplicate-id.log.json", "runc create failed: container with given ID already exists"),
    ("moby", "text", "state-nonexistent.text.log", ""),
];

const V2: &str = "io.containerd.runtime.v2.task";
const V1: &str = "io.containerd.runtime.v1.linux";

/// A state root: the bundles under its v2 task directory.
fn tree(root: &Path) {
    let tasks = root.join(V2);
    for (ns, id, file, _) in BUNDLES {
        let dir = tasks.join(ns).join(id);
        fs::create_dir_all(&dir).unwrap();
        fs::copy(format!("{REAL}{file}"), dir.join("log.json")).unwrap();
    }
    // A bundle without log.json: listed with size 0. A stray file at the namespace level:
    // ignored.
    fs::create_dir_all(tasks.join("default").join("no-log")).unwrap();
    fs::write(tasks.join("default").join("stray"), b"x").unwrap();
}

fn scan(root: &Path, json: bool) -> Output {
    scan_with(root, json, &[])
}

fn scan_with(root: &Path, json: bool, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("scan").arg("--root").arg(root).args(args);
    if json {
        cmd.arg("--json");
    }
    cmd.output().unwrap()
}

fn expected_order() -> Vec<(&'static str, &'static str, u64, &'static str)> {
    let mut v: Vec<_> = BUNDLES
        .iter()
        .map(|(ns, id, file, err)| {
            let size = fs::metadata(format!("{REAL}{file}")).unwrap().len();
            (*ns, *id, size, *err)
        })
        .chain([("default", "no-log", 0, "")])
        .collect();
    v.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)).then(a.1.cmp(b.1)));
    v
}

#[test]
fn json_lists_bundles_largest_first_with_last_errors() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let out = scan(dir.path(), true);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got = v.as_array().unwrap();
    let want = expected_order();
    assert_eq!(got.len(), want.len());
    for (g, (ns, id, size, err)) in got.iter().zip(&want) {
        assert_eq!(g["namespace"], *ns);
        assert_eq!(g["id"], *id);
        assert_eq!(g["size"], *size);
        let expect_err = if err.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::from(*err)
        };
        assert_eq!(g["last_error"], expect_err, "{ns}/{id}");
        assert_eq!(g["error"], serde_json::Value::Null);
        assert!(g["path"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{V2}/{ns}/{id}/log.json")));
        assert!(g["bundle"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{V2}/{ns}/{id}")));
        // Just created, no shim: within the grace period.
        assert_eq!(g["residue"], false, "{g}");
        assert!(g["residue_reason"]
            .as_str()
            .unwrap()
            .contains("grace period"));
        assert!(g.get("prune").is_none());
    }
    // Sizes really are descending (the first is the debug/probe-loop spam).
    let sizes: Vec<u64> = got.iter().map(|g| g["size"].as_u64().unwrap()).collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]));
    let probe = got.iter().find(|g| g["id"] == "probe-loop").unwrap();
    assert_eq!(probe["last_error_time"], "2026-11-23T08:27:21Z");
}

#[test]
fn table_lists_bundles_largest_first() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let out = scan(dir.path(), false);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        ["SIZE", "NAMESPACE", "ID", "STATE", "LAST", "ERROR"]
    );
    let rows: Vec<&str> = lines.collect();
    let want = expected_order();
    assert_eq!(rows.len(), want.len());
    for (row, (ns, id, size, err)) in rows.iter().zip(&want) {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[0], size.to_string(), "{row}");
        assert_eq!(cols[1], *ns);
        assert_eq!(cols[2], *id);
        assert_eq!(cols[3], "live");
        let expect = if err.is_empty() { "-" } else { err };
        assert!(row.ends_with(expect), "{row}");
    }
}

#[test]
fn empty_root_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(V2)).unwrap();
    let out = scan(dir.path(), true);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v, serde_json::json!([]));
    let out = scan(dir.path(), false);
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 1);
}

#[test]
fn bad_root_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let out = scan(&missing, false);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope"));
    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    let out = scan(&file, false);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a directory"));
}

/// A `log.json` planted as a symlink (to a secret) or a FIFO is listed with the reason, never
/// followed and never opened blocking.
#[test]
fn planted_symlink_and_fifo_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(V2);
    let secret = dir.path().join("secret");
    fs::write(
        &secret,
        b"{\"level\":\"error\",\"msg\":\"TOP SECRET\",\"time\":\"2026-01-01T00:00:00Z\"}\n",
    )
    .unwrap();
    let link_dir = root.join("k8s.io").join("link");
    fs::create_dir_all(&link_dir).unwrap();
    std::os::unix::fs::symlink(&secret, link_dir.join("log.json")).unwrap();
    let fifo_dir = root.join("k8s.io").join("fifo");
    fs::create_dir_all(&fifo_dir).unwrap();
    let c = std::ffi::CString::new(fifo_dir.join("log.json").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let out = scan(&root, true);
    assert!(out.status.success(), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("TOP SECRET"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["error"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (id, err) in errors {
        let want = if id == "link" {
            "symbolic link"
        } else {
            "FIFO"
        };
        assert!(err.contains(want), "{id}: {err}");
    }
}

/// `--root` takes the state root (both task directories) or one task directory; any other
/// directory is an error, not an empty list (it used to list nothing, silently).
#[test]
fn root_is_a_state_root_or_a_task_dir() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let v1 = dir.path().join(V1).join("moby").join("old");
    fs::create_dir_all(&v1).unwrap();
    fs::write(v1.join("log.json"), b"{}\n").unwrap();
    let ids = |out: &Output| -> Vec<String> {
        assert!(out.status.success(), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let all = ids(&scan(dir.path(), true));
    assert_eq!(all.len(), BUNDLES.len() + 2, "{all:?}");
    assert!(all.contains(&"old".to_owned()));
    assert_eq!(ids(&scan(&dir.path().join(V1), true)), ["old"]);
    assert_eq!(
        ids(&scan(&dir.path().join(V2), true)).len(),
        BUNDLES.len() + 1
    );
    for neither in [
        dir.path().join(V2).join("k8s.io"),
        dir.path().join(V2).join("default/no-log"),
    ] {
        let out = scan(&neither, true);
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("neither a containerd state root"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

fn age(dir: &Path) {
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    File::open(dir).unwrap().set_modified(t).unwrap();
}

/// Residue (a dead init pid, files missing) is marked and pruned; the live bundle (this
/// test's own pid, written after it started) is not; `--dry-run` removes nothing; bad names
/// are reported, never removed.
#[test]
fn marks_and_prunes_residue() {
    let dir = tempfile::tempdir().unwrap();
    let ns = dir.path().join(V2).join("k8s.io");
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let bundle = |id: &str, pid: u32| -> PathBuf {
        let b = ns.join(id);
        fs::create_dir_all(b.join("rootfs")).unwrap();
        fs::write(b.join("init.pid"), pid.to_string()).unwrap();
        fs::write(b.join("config.json"), b"{}").unwrap();
        fs::write(
            b.join("log.json"),
            b"{\"level\":\"error\",\"msg\":\"oom\",\"time\":\"2026-01-01T00:00:00Z\"}\n",
        )
        .unwrap();
        age(&b);
        b
    };
    let residue = bundle("gone", dead);
    let live = bundle("running", std::process::id());
    let bad = ns.join(".gone");
    fs::create_dir_all(&bad).unwrap();

    let out = scan_with(dir.path(), false, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    let out = scan(dir.path(), true);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_id = |v: &serde_json::Value, id: &str| -> serde_json::Value {
        v.as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()
            .clone()
    };
    let g = by_id(&v, "gone");
    assert_eq!(g["residue"], true);
    assert_eq!(g["last_error"], "oom");
    assert_eq!(
        g["residue_reason"],
        format!(
            "no live process or shim: init.pid: pid {dead} not running; shim.pid: missing; \
             shim: no address; missing: address, runtime, options.json"
        )
    );
    let r = by_id(&v, "running");
    assert_eq!(r["residue"], false);
    assert_eq!(
        r["residue_reason"],
        format!("init process {} is running", std::process::id())
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(".gone: bad name"), "{stderr}");

    let out = scan_with(dir.path(), true, &["--prune-residue", "--dry-run"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &by_id(&v, "gone")["prune"];
    assert_eq!(p["action"], "would_remove", "{v}");
    // init.pid, config.json, log.json, rootfs
    assert_eq!(p["entries"], 4);
    assert!(by_id(&v, "running").get("prune").is_none());
    assert!(residue.join("log.json").exists());

    let out = scan_with(dir.path(), false, &["--prune-residue"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0][..5], ["SIZE", "NAMESPACE", "ID", "STATE", "PRUNE"]);
    let row = |id: &str| rows.iter().find(|r| r[2] == id).unwrap().clone();
    assert_eq!(row("gone")[3..], ["residue", "removed", "oom"]);
    assert_eq!(row("running")[3..], ["live", "-", "oom"]);
    assert!(!residue.exists());
    assert!(live.join("log.json").exists());
    assert!(bad.is_dir());
}

fn rec(level: &str, msg: &str) -> String {
    format!("{{\"level\":\"{level}\",\"msg\":\"{msg}\",\"time\":\"2026-01-01T00:00:00Z\"}}\n")
}

/// `--cap SIZE`: each log.json over SIZE brought down to its newest whole records with the
/// last error kept; `--dry-run` changes nothing; RECLAIMED in the table, `reclaimed` and
/// `cap` in the JSON; a symlink is skipped, never followed.
#[test]
fn cap_brings_each_log_json_down_and_reports_the_bytes_reclaimed() {
    let dir = tempfile::tempdir().unwrap();
    let ns = dir.path().join(V2).join("k8s.io");
    let big = ns.join("big");
    let small = ns.join("small");
    let link = ns.join("link");
    for b in [&big, &small, &link] {
        fs::create_dir_all(b).unwrap();
    }
    let mut content = rec("error", "the old error");
    for i in 0..5000 {
        content.push_str(&rec("warning", &format!("hook warning {i:05}")));
    }
    fs::write(big.join("log.json"), &content).unwrap();
    fs::write(small.join("log.json"), rec("info", "small")).unwrap();
    let secret = dir.path().join("secret");
    fs::write(&secret, &content).unwrap();
    std::os::unix::fs::symlink(&secret, link.join("log.json")).unwrap();

    let out = scan_with(dir.path(), true, &["--cap", "10k", "--dry-run"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read_to_string(big.join("log.json")).unwrap(), content);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_id = |id: &str| {
        v.as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap()
            .clone()
    };
    let b = by_id("big");
    assert_eq!(b["cap"]["action"], "would_cap", "{b}");
    assert_eq!(b["cap"]["kept_last_error"], true, "{b}");
    let would = b["reclaimed"].as_u64().unwrap();
    assert_eq!(
        would,
        b["cap"]["before"].as_u64().unwrap() - b["cap"]["after"].as_u64().unwrap()
    );
    assert!(b["cap"]["after"].as_u64().unwrap() <= 10_000, "{b}");
    assert_eq!(by_id("small")["cap"]["action"], "under");
    assert_eq!(by_id("small")["reclaimed"], 0);
    assert_eq!(by_id("link")["cap"]["action"], "skipped");
    assert!(by_id("link")["cap"]["reason"]
        .as_str()
        .unwrap()
        .contains("symbolic link"));

    let out = scan_with(dir.path(), false, &["--cap", "10k"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0][..5],
        ["SIZE", "RECLAIMED", "NAMESPACE", "ID", "STATE"]
    );
    let row = |id: &str| rows.iter().find(|r| r[3] == id).unwrap().clone();
    assert_eq!(
        row("big")[..2],
        [content.len().to_string(), would.to_string()]
    );
    assert_eq!(row("small")[1], "0");
    let kept = fs::read_to_string(big.join("log.json")).unwrap();
    assert!(kept.len() <= 10_000, "{}", kept.len());
    assert!(kept.starts_with(&rec("error", "the old error")), "{kept}");
    assert!(kept.ends_with(&rec("warning", "hook warning 04999")));
    assert!(content.ends_with(&kept[rec("error", "the old error").len()..]));
    assert_eq!(fs::read_to_string(&secret).unwrap(), content);

    let out = scan_with(dir.path(), false, &["--cap", "ten"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ten"));
}
