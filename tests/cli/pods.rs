//! `ctrlog logs --pod`, `ctrlog pods` and `ctrlog top` (issue 14) on the synthetic kubelet
//! tree of `cri_read/pods_tree.rs`, running the binary.
#![cfg(feature = "cli")]

use std::process::{Command, Output};

use super::pods_tree as tree;

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
