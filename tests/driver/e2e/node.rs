//! Node operations under a real containerd: a restart under a running container, `scan`
//! finding a live bundle, `scan --cap` on a live bundle's log.json.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use super::{id, poll, run, uri, Containerd, BIN};

/// Pids of the driver processes whose argv holds `needle` (their log-path).
fn drivers(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmd.split(|&b| b == 0).collect();
        if args.first() == Some(&BIN.as_bytes()) && args.contains(&needle.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

/// `slow.sh`'s `line N` numbers in a CRI file.
fn line_numbers(path: &Path) -> Vec<u64> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let c = l.splitn(4, ' ').nth(3).unwrap_or_default();
            let n = c.strip_prefix("line ").unwrap_or_else(|| panic!("{l:?}"));
            n.parse().unwrap()
        })
        .collect()
}

#[test]
#[ignore = "needs root, containerd, ctr, runc, busybox-static, python3: \
            CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: -- --ignored"]
fn containerd_restart_keeps_the_logger_and_loses_nothing() {
    let mut d = Containerd::start();
    let log = d.dir().join("restart.log");
    let log_s = log.to_str().unwrap().to_owned();
    let id = id("restart");
    let n = 200u64;
    let ran = d.ctr_run(
        &["-d"],
        &uri(&format!("log-path={log_s}")),
        &id,
        &["/bin/slow.sh", &n.to_string()],
    );
    assert!(ran.status.success(), "{ran:?}");
    poll(20, "output started", || {
        let l = line_numbers(&log);
        (l.len() >= 10, l.len())
    });
    let before = drivers(&log_s);
    assert_eq!(before.len(), 1, "one driver for {log_s}: {before:?}");
    d.stop();
    // With containerd down the container goes on writing and the logger goes on logging.
    let at_stop = line_numbers(&log).len();
    let while_down = poll(10, "output while containerd is down", || {
        let l = line_numbers(&log).len();
        (l > at_stop + 5, l)
    });
    assert!(
        while_down < n as usize,
        "the container ended while containerd was down"
    );
    d.restart();
    let ls = d.ctr(&["tasks", "ls"]);
    assert!(
        String::from_utf8_lossy(&ls.stdout).contains(&id),
        "the new containerd does not see the task: {ls:?}"
    );
    d.wait_stopped(&id);
    assert_eq!(
        drivers(&log_s),
        before,
        "the logger did not survive the restart"
    );
    d.remove(&id);
    // EOF then SIGTERM: the logger ends with the task.
    poll(15, "the logger exits", || {
        let p = drivers(&log_s);
        (p.is_empty(), p)
    });
    let got = line_numbers(&log);
    assert!(got.iter().copied().eq(1..=n), "gap or repeat: {got:?}");
}

/// A detached `sleep` container (a live bundle, its runc log.json present).
fn live(d: &Containerd, name: &str) -> String {
    let id = id(name);
    let log = d.dir().join(format!("{name}.log"));
    let out = d.ctr_run(
        &["-d"],
        &uri(&format!("log-path={}", log.display())),
        &id,
        &["/bin/sleep", "60"],
    );
    assert!(out.status.success(), "{out:?}");
    poll(10, "bundle's log.json", || {
        let p = d.tasks().join("default").join(&id).join("log.json");
        (p.exists(), p)
    });
    id
}

fn scan(args: &[&str], root: &Path) -> (Output, serde_json::Value) {
    let out = run(
        Command::new(BIN)
            .arg("scan")
            .args(args)
            .arg("--json")
            .arg("--root")
            .arg(root),
        "ctrlog scan",
    );
    assert!(out.status.success(), "{out:?}");
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {out:?}"));
    (out, v)
}

/// The scan entry of `id`.
fn entry<'a>(v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    v.as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("{id} not found: {v}"))
}

#[test]
#[ignore = "needs root, containerd, ctr, runc, busybox-static, python3: \
            CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: -- --ignored"]
fn scan_finds_the_live_bundle() {
    let d = Containerd::start();
    let id = live(&d, "scan");
    let (_, v) = scan(&[], &d.tasks());
    let e = entry(&v, &id);
    assert_eq!(e["namespace"], "default", "{e}");
    assert_eq!(
        e["path"],
        d.tasks()
            .join("default")
            .join(&id)
            .join("log.json")
            .to_str()
            .unwrap(),
        "{e}"
    );
    assert_eq!(e["last_error"], serde_json::Value::Null, "{e}");
}

#[test]
#[ignore = "needs root, containerd, ctr, runc, busybox-static, python3: \
            CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: -- --ignored"]
fn scan_state_root_finds_the_live_bundle_not_residue() {
    let d = Containerd::start();
    let id = live(&d, "scanstate");
    // The containerd state root (`/run/containerd` on a node), not the task directory.
    let (_, v) = scan(&[], &d.dir().join("state"));
    let e = entry(&v, &id);
    assert_eq!(e["namespace"], "default", "{e}");
    assert_eq!(e["residue"], false, "{e}");
}

#[test]
#[ignore = "needs root, containerd, ctr, runc, busybox-static, python3: \
            CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: -- --ignored"]
fn scan_cap_on_a_live_bundle() {
    let d = Containerd::start();
    let id = live(&d, "cap");
    let json = d.tasks().join("default").join(&id).join("log.json");
    // runc's records: an old error, then many newer warnings (a hook warning on every exec).
    let mut f = fs::OpenOptions::new().append(true).open(&json).unwrap();
    let rec = |level: &str, msg: &str| {
        format!("{{\"level\":\"{level}\",\"msg\":\"{msg}\",\"time\":\"2026-01-01T00:00:00Z\"}}\n")
    };
    f.write_all(rec("error", "the old error").as_bytes())
        .unwrap();
    for i in 0..5000 {
        f.write_all(rec("warning", &format!("hook warning {i:05}")).as_bytes())
            .unwrap();
    }
    drop(f);
    let size = fs::metadata(&json).unwrap().len();
    assert!(size > 100_000, "{size}");
    scan(&["--cap", "10k"], &d.tasks());
    let kept = fs::read_to_string(&json).unwrap();
    assert!(kept.len() <= 10_000 + 200, "{} bytes kept", kept.len());
    // Whole records only, the newest kept, and the last error (what containerd reports).
    for l in kept.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
    }
    assert!(
        kept.ends_with(&rec("warning", "hook warning 04999")),
        "{kept}"
    );
    assert!(kept.contains("the old error"), "{kept}");
    // The task lives on, and runc appends to the capped file: a failing exec's error.
    let out = d.ctr(&[
        "tasks",
        "exec",
        "--exec-id",
        "x",
        &id,
        "/bin/no-such-program",
    ]);
    assert!(!out.status.success(), "{out:?}");
    let out = run(
        Command::new(BIN)
            .args(["last-error", "--compat"])
            .arg(&json),
        "last-error --compat",
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("no-such-program"),
        "{out:?}"
    );
    let ls = d.ctr(&["tasks", "ls"]);
    let ls = String::from_utf8_lossy(&ls.stdout).into_owned();
    assert!(
        ls.lines()
            .any(|l| l.starts_with(&id) && l.contains("RUNNING")),
        "{ls}"
    );
}
