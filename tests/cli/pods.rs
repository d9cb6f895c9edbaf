//! `ctrlog logs --pod`, `ctrlog pods` and `ctrlog top` (issue 14) on the synthetic kubelet
//! tree of `cri_read/pods_tree.rs`, running the binary.
#![cfg(feature = "cli")]

use std::process::{Command, Output};

use super::pods_tree::{self as tree, WEB0_UID};

fn ctrlog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ctrlog"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `ctrlog logs --pods-root ROOT ARGS…`: status, stdout, stderr.
fn logs(t: &tree::Tree, args: &[&str]) -> (i32, String, String) {
    let root = t.pods.to_str().unwrap();
    let mut all = vec!["logs", "--pods-root", root];
    all.extend_from_slice(args);
    let out = ctrlog(&all);
    (
        out.status.code().unwrap(),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn logs_pod_needs_a_container_and_lists_them() {
    let t = tree::build();
    let (code, out, err) = logs(&t, &["--pod", "web-0"]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.contains(
            "a container name must be specified for pod web-0, choose one of: [app init-db sidecar]"
        ),
        "{err}"
    );
    let (code, _, err) = logs(&t, &["--pod", "web"]);
    assert_eq!(code, 2);
    assert!(err.contains("[web-0 web-01]"), "{err}");
    let (code, _, err) = logs(&t, &["--pod", "web-0", "-n", "kube-system", "-c", "app"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("not found in namespace \"kube-system\""),
        "{err}"
    );
}

#[test]
fn logs_pod_container_current_and_previous() {
    let t = tree::build();
    // One container: chosen silently; the backup first, then the live file.
    let (code, out, err) = logs(&t, &["--pod", "web-01"]);
    assert_eq!((code, out.as_str()), (0, "web-01 app\n"), "{err}");
    let (code, out, err) = logs(&t, &["--pod", "web-0", "-c", "app"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "app r2 l0\napp r2 l1\napp r2 l2\napp r2 l3\n");
    let (code, out, err) = logs(&t, &["--pod", "web-0", "-c", "app", "-p", "--tail", "2"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "app r1 l2\napp r1 l3\n");
    let (code, out, err) = logs(&t, &["--pod", "web-0", "-c", "app", "--limit-bytes", "12"]);
    assert_eq!((code, out.as_str()), (0, "app r2 l0\nap"), "{err}");
    let (code, _, err) = logs(&t, &["--pod", "web-01", "--previous"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("previous terminated container \"app\" in pod \"web-01\" not found"),
        "{err}"
    );
}

#[test]
fn logs_all_containers_in_time_order_with_prefix() {
    let t = tree::build();
    let (code, out, err) = logs(
        &t,
        &[
            "--pod",
            "web-0",
            "--all-containers",
            "--timestamps",
            "--prefix",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let want: Vec<String> = tree::merged(2)
        .into_iter()
        .filter(|l| l.1 == "stdout")
        .map(|(secs, _, c)| {
            let container = c.split(' ').next().unwrap().to_owned();
            format!("[pod/web-0/{container}] {} {c}", tree::ts(secs))
        })
        .collect();
    assert_eq!(out.lines().collect::<Vec<_>>(), want);
    // The stderr line goes to stderr, prefixed too.
    assert!(err.contains("[pod/web-0/init-db] "), "{err}");
    // The same pod named by its directory, --since keeping the newest lines of each.
    let dir = tree::web0_dir(&t);
    let since = tree::ts(tree::line_time(2, 0, 3));
    let out = ctrlog(&[
        "logs",
        dir.to_str().unwrap(),
        "--all-containers",
        "--since",
        &since,
    ]);
    assert_eq!(text(&out.stdout), "app r2 l3\nsidecar r2 l3\n", "{out:?}");
    assert_eq!(text(&out.stderr), "init-db r2 l3\n");
}

#[test]
fn pod_options_need_a_pod() {
    let t = tree::build();
    let file = tree::web0_dir(&t).join("app/2.log");
    let out = ctrlog(&["logs", file.to_str().unwrap(), "-p"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("need --pod or a pod directory"));
}

#[test]
fn pods_json_has_the_keys_and_states() {
    let t = tree::build();
    let out = ctrlog(&[
        "pods",
        "--pods-root",
        t.pods.to_str().unwrap(),
        "--containers-root",
        t.containers.to_str().unwrap(),
        "--json",
    ]);
    let err = text(&out.stderr);
    // Problems found (bad names, bad links) make it exit 3 after the output.
    assert_eq!(out.status.code(), Some(3), "{err}");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    for r in rows {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "bytes",
                "container",
                "last_record",
                "namespace",
                "pod",
                "restarts",
                "symlink",
                "uid"
            ]
        );
    }
    let app = &rows[0];
    assert_eq!(app["namespace"], "default");
    assert_eq!(app["pod"], "web-0");
    assert_eq!(app["uid"], WEB0_UID);
    assert_eq!(app["container"], "app");
    assert_eq!(app["restarts"], 3);
    assert_eq!(
        app["bytes"],
        tree::bytes_in(&tree::web0_dir(&t).join("app"))
    );
    assert_eq!(
        app["last_record"],
        tree::ts(tree::line_time(2, 0, 3)).as_str()
    );
    let states: Vec<&str> = rows
        .iter()
        .map(|r| r["symlink"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["ok", "dangling", "stale", "missing", "outside"]);
    for needle in ["lost+found", "garbage_dir", "outside", "gone_default_app"] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    // -n: one namespace; the text table names its columns.
    let out = ctrlog(&[
        "pods",
        "--pods-root",
        t.pods.to_str().unwrap(),
        "--containers-root",
        t.containers.to_str().unwrap(),
        "-n",
        "kube-system",
    ]);
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("NAMESPACE"), "{table}");
    assert!(
        lines[1].contains("coredns-5d78") && lines[1].contains("outside"),
        "{table}"
    );
}

/// A writer appending 100-byte records at `RATE` bytes/s to web-0's `app` (catching up on
/// the clock, so a late wake-up does not lower the rate), rotating kubelet's way (rename,
/// new live file) half-way through `top`'s interval.
#[test]
fn top_measures_a_writer_across_a_rotation() {
    use std::fs::{self, OpenOptions};
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    const RATE: f64 = 200_000.0;
    const INTERVAL: f64 = 1.0;
    let t = tree::build();
    let app = tree::web0_dir(&t).join("app");
    let live = app.join("2.log");
    let backup = app.join("2.log.20240501-100100");
    let mut record = format!("{} stdout F ", tree::ts(60)).into_bytes();
    record.resize(99, b'x');
    record.push(b'\n');
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, live, backup) = (Arc::clone(&stop), live.clone(), backup.clone());
        std::thread::spawn(move || {
            let open = || {
                OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(&live)
                    .unwrap()
            };
            let mut f = open();
            let start = Instant::now();
            let mut written = 0u64;
            let mut rotated = false;
            while !stop.load(Ordering::Relaxed) {
                let now = start.elapsed().as_secs_f64();
                if !rotated && now >= INTERVAL / 2.0 {
                    fs::rename(&live, &backup).unwrap();
                    f = open();
                    rotated = true;
                }
                while (written as f64) < RATE * now {
                    f.write_all(&record).unwrap();
                    written += record.len() as u64;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            rotated
        })
    };
    let out = ctrlog(&[
        "top",
        "--pods-root",
        t.pods.to_str().unwrap(),
        "--interval",
        &INTERVAL.to_string(),
        "--count",
        "1",
        "--json",
    ]);
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().unwrap(), "the writer did not rotate");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5, "{rows:?}");
    for r in rows {
        let mut keys: Vec<&str> = r.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "bytes_per_sec",
                "container",
                "lines_per_sec",
                "namespace",
                "pod"
            ]
        );
    }
    let top = &rows[0];
    assert_eq!(
        (&top["namespace"], &top["pod"], &top["container"]),
        (&"default".into(), &"web-0".into(), &"app".into())
    );
    let bytes = top["bytes_per_sec"].as_f64().unwrap();
    let lines = top["lines_per_sec"].as_f64().unwrap();
    assert!(
        (bytes / RATE - 1.0).abs() <= 0.25,
        "{bytes} B/s, want {RATE}"
    );
    assert!(
        (lines / (RATE / 100.0) - 1.0).abs() <= 0.25,
        "{lines} lines/s"
    );
    for r in &rows[1..] {
        assert_eq!(r["bytes_per_sec"], 0.0, "{r}");
    }
    assert!(backup.exists());
}

/// `-f --all-containers`: what is there first (merged by time), then each container's new
/// lines as they are written, prefixed; SIGTERM ends it cleanly.
#[test]
fn logs_all_containers_follow() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::Duration;

    let t = tree::build();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ctrlog"))
        .args(["logs", "--pods-root", t.pods.to_str().unwrap()])
        .args(["--pod", "web-0", "--all-containers", "--prefix", "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(20)).expect("a line");
    let backlog = tree::merged(2).iter().filter(|l| l.1 == "stdout").count();
    let first: Vec<String> = (0..backlog).map(|_| next()).collect();
    // The backlog is merged by time, as without -f.
    let want: Vec<String> = tree::merged(2)
        .into_iter()
        .filter(|l| l.1 == "stdout")
        .map(|(_, _, c)| format!("[pod/web-0/{}] {c}", c.split(' ').next().unwrap()))
        .collect();
    assert_eq!(first, want);
    // Idle, the main thread sleeps until a reader sends: it does not wake on a timer. (When
    // it polled every 10 ms, it switched out about 100 times a second here.) Linux's /proc
    // counts the switches.
    let switches = || {
        let status = std::fs::read_to_string(format!("/proc/{}/task/{0}/status", child.id()))
            .expect("the main thread's status");
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .expect("a voluntary_ctxt_switches line");
        line.trim().parse::<u64>().expect("a count")
    };
    if cfg!(target_os = "linux") {
        let before = switches();
        std::thread::sleep(Duration::from_secs(1));
        let woke = switches() - before;
        assert!(
            woke < 10,
            "the idle main thread woke {woke} times in a second"
        );
    }
    let web0 = tree::web0_dir(&t);
    for (c, text) in [("app", "new app line"), ("sidecar", "new sidecar line")] {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(web0.join(c).join("2.log"))
            .unwrap();
        writeln!(f, "{} stdout F {text}", tree::ts(200)).unwrap();
        assert_eq!(next(), format!("[pod/web-0/{c}] {text}"));
    }
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
    }
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn pods_sparkline_shows_when_bytes_were_written() {
    let t = tree::build();
    // Every file last written at T0, except one container's, written ten minutes later.
    let t0 = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let late = tree::web0_dir(&t).join("app");
    let mut dirs = vec![t.pods.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                dirs.push(e.path());
            } else if ft.is_file() {
                let when = if d == late {
                    t0 + std::time::Duration::from_secs(600)
                } else {
                    t0
                };
                std::fs::File::options()
                    .write(true)
                    .open(e.path())
                    .unwrap()
                    .set_modified(when)
                    .unwrap();
            }
        }
    }
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "pods",
            "--pods-root",
            t.pods.to_str().unwrap(),
            "--containers-root",
            t.containers.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        ctrlog(&a)
    };
    let out = text(&args(&["--sparkline", "always"]).stdout);
    let mut lines = out.lines();
    assert!(
        lines.next().unwrap().trim_end().ends_with("WRITTEN"),
        "{out}"
    );
    let bars = |l: &str| {
        l.split_whitespace()
            .last()
            .unwrap()
            .chars()
            .collect::<Vec<_>>()
    };
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 5, "{out}");
    for r in &rows {
        let b = bars(r);
        // 601 seconds on one grid of at most 32 bars; the first and last bars hold bytes.
        assert!(b.len() > 1 && b.len() <= 32, "{r}");
        let is_late = r.contains(WEB0_UID) && r.split_whitespace().nth(3) == Some("app");
        assert_eq!(b[b.len() - 1] == '█', is_late, "{r}");
        assert_eq!(b[0] == '█', !is_late, "{r}");
        assert!(b[1..b.len() - 1].iter().all(|&c| c == '▁'), "{r}");
    }
    // Not a terminal: plain text, the same columns as before.
    let plain = text(&args(&[]).stdout);
    assert!(
        !plain.contains("WRITTEN") && !plain.contains('█'),
        "{plain}"
    );
}
