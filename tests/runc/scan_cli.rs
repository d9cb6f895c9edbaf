#![cfg(feature = "cli")]
//! `ctrlog scan`: a fake containerd task state tree holding copies of real runc log.json files.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

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

fn tree(root: &Path) {
    for (ns, id, file, _) in BUNDLES {
        let dir = root.join(ns).join(id);
        fs::create_dir_all(&dir).unwrap();
        fs::copy(format!("{REAL}{file}"), dir.join("log.json")).unwrap();
    }
    // A bundle without log.json, and a stray file at the namespace level: skipped.
    fs::create_dir_all(root.join("default").join("no-log")).unwrap();
    fs::write(root.join("default").join("stray"), b"x").unwrap();
}

fn scan(root: &Path, json: bool) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("scan").arg("--root").arg(root);
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
            .ends_with(&format!("{ns}/{id}/log.json")));
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
    assert!(header.contains("NAMESPACE") && header.contains("LAST ERROR"));
    let rows: Vec<&str> = lines.collect();
    let want = expected_order();
    assert_eq!(rows.len(), want.len());
    for (row, (ns, id, size, err)) in rows.iter().zip(&want) {
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cols[0], size.to_string(), "{row}");
        assert_eq!(cols[1], *ns);
        assert_eq!(cols[2], *id);
        let expect = if err.is_empty() { "-" } else { err };
        assert!(row.ends_with(expect), "{row}");
    }
}

#[test]
fn empty_root_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
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
    let root = dir.path().join("tasks");
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
    for (id, err) in errors {
        let want = if id == "link" {
            "symbolic link"
        } else {
            "FIFO"
        };
        assert!(err.contains(want), "{id}: {err}");
    }
}
