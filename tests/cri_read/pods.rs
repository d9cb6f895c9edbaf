//! Pods by name (issue 14): lookup, `-c`/`-p` rules, the merge of `--all-containers`,
//! the inventory of `ctrlog pods` and the growth of `ctrlog top`, on the synthetic tree of
//! `pods_tree.rs`.

use std::fs;
use std::io::Write;
use std::time::Duration;

use ctrlog::cri::read::{
    count_newlines, find_pod, inventory, list_pods, read_containers, stat_container, ContainerKey,
    ContainerSource, GrowthSampler, LinkState, LogReader, LogSink, PodDir, PodError, ReadOptions,
};
use ctrlog::cri::Stream;

use super::pods_tree::{self as tree, WEB0_CONTAINERS, WEB0_UID};

#[test]
fn a_pod_is_found_by_exact_name_in_its_namespace() {
    let t = tree::build();
    let pod = find_pod(&t.pods, "default", "web-0").unwrap();
    assert_eq!(pod.name.uid, WEB0_UID);
    assert_eq!(pod.container_names(), WEB0_CONTAINERS);
    for c in &pod.containers {
        assert_eq!(c.restarts, [0, 1, 2], "{}", c.name);
        assert!(c.ignored.is_empty(), "{:?}", c.ignored);
    }
    // web-0 is a prefix of web-01: the exact name wins.
    let pod = find_pod(&t.pods, "default", "web-01").unwrap();
    assert_eq!(pod.name.uid, "9a8b-web01");
    // Namespaces are separate.
    let e = find_pod(&t.pods, "kube-system", "web-0").unwrap_err();
    assert!(matches!(e, PodError::NotFound { .. }), "{e}");
    assert_eq!(
        find_pod(&t.pods, "kube-system", "coredns-5d78")
            .unwrap()
            .container(None)
            .unwrap()
            .name,
        "coredns"
    );
}

#[test]
fn a_prefix_of_pod_names_is_an_error_listing_them() {
    let t = tree::build();
    let e = find_pod(&t.pods, "default", "web").unwrap_err();
    match &e {
        PodError::Prefix { candidates, .. } => assert_eq!(candidates, &["web-0", "web-01"]),
        _ => panic!("{e}"),
    }
    assert!(e.to_string().contains("[web-0 web-01]"), "{e}");
}

#[test]
fn container_choice_follows_kubectl() {
    let t = tree::build();
    let pod = find_pod(&t.pods, "default", "web-0").unwrap();
    let e = pod.container(None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "a container name must be specified for pod web-0, choose one of: [app init-db sidecar]"
    );
    let e = pod.container(Some("db")).unwrap_err();
    assert!(matches!(e, PodError::NoContainer { .. }), "{e}");
    let side = pod.container(Some("sidecar")).unwrap();
    assert_eq!(side.current("web-0").unwrap(), side.path.join("2.log"));
    assert_eq!(side.previous("web-0").unwrap(), side.path.join("1.log"));
    let single = find_pod(&t.pods, "default", "web-01").unwrap();
    let app = single.container(None).unwrap();
    assert_eq!(
        app.previous("web-01").unwrap_err().to_string(),
        "previous terminated container \"app\" in pod \"web-01\" not found"
    );
}

#[test]
fn unparsable_names_are_listed_not_skipped() {
    let t = tree::build();
    let list = list_pods(&t.pods).unwrap();
    let names: Vec<_> = list
        .unparsed
        .iter()
        .map(|p| p.file_name().unwrap())
        .collect();
    assert_eq!(names, ["default_linked_5c5c", "garbage_dir", "lost+found"]);
    assert_eq!(list.pods.len(), 3);
    let e = PodDir::open(&t.pods.join("garbage_dir")).unwrap_err();
    assert!(matches!(e, PodError::NotPodDir { .. }), "{e}");
}

/// Both streams in order, each line tagged with its stream.
#[derive(Default)]
struct Tagged(Vec<u8>, Option<Stream>);

impl LogSink for Tagged {
    fn write_stream(&mut self, s: Stream, data: &[u8]) -> std::io::Result<()> {
        if self.1.take().is_some() {
            self.0.extend_from_slice(format!("{s}|").as_bytes());
        }
        self.0.extend_from_slice(data);
        Ok(())
    }
    fn line_start(&mut self, s: Stream, _: ctrlog::time::Timestamp) {
        self.1 = Some(s);
    }
}

fn merged_text(r: u32) -> String {
    tree::merged(r)
        .into_iter()
        .map(|(secs, stream, c)| format!("{stream}|{} {c}\n", tree::ts(secs)))
        .collect()
}

fn read_all(t: &tree::Tree, previous: bool, opts: ReadOptions, prefix: bool) -> String {
    let pod = find_pod(&t.pods, "default", "web-0").unwrap();
    let sources = pod
        .containers
        .iter()
        .map(|c| {
            let path = if previous {
                c.previous("web-0").unwrap()
            } else {
                c.current("web-0").unwrap()
            };
            ContainerSource::new(
                "web-0",
                &c.name,
                LogReader::open(path, opts.clone()).unwrap(),
            )
        })
        .collect();
    let mut sink = Tagged::default();
    let stats = read_containers(sources, prefix, None, &mut sink).unwrap();
    assert_eq!(stats.skipped + stats.files_skipped, 0);
    String::from_utf8(sink.0).unwrap()
}

#[test]
fn all_containers_merge_by_timestamp_with_backups() {
    let t = tree::build();
    let mut opts = ReadOptions::default();
    opts.output.timestamps = true;
    let got = read_all(&t, false, opts.clone(), false);
    assert_eq!(got, merged_text(2));
    // The times printed are in order (the sidecar's two-piece line by its first piece).
    let times: Vec<&str> = got.lines().map(|l| &l[7..37]).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{got}");
    // The previous restarts, through the compressed backups.
    #[cfg(feature = "gzip")]
    assert_eq!(read_all(&t, true, opts, false), merged_text(1));
}

#[test]
fn all_containers_tail_per_container_and_prefix() {
    let t = tree::build();
    let mut opts = ReadOptions::default();
    opts.tail = Some(1);
    let got = read_all(&t, false, opts, true);
    assert_eq!(
        got,
        "stdout|[pod/web-0/app] app r2 l3\n\
         stderr|[pod/web-0/init-db] init-db r2 l3\n\
         stdout|[pod/web-0/sidecar] sidecar r2 l3\n"
    );
}

#[test]
fn inventory_rows_bytes_links_and_problems() {
    let t = tree::build();
    let inv = inventory(&t.pods, Some(&t.containers), None).unwrap();
    let rows: Vec<(&str, &str, &str, u32, &str)> = inv
        .rows
        .iter()
        .map(|r| {
            let state = r.symlink.as_str();
            (
                r.namespace.as_str(),
                r.pod.as_str(),
                r.container.as_str(),
                r.restarts,
                state,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("default", "web-0", "app", 3, "ok"),
            ("default", "web-0", "init-db", 3, "dangling"),
            ("default", "web-0", "sidecar", 3, "stale"),
            ("default", "web-01", "app", 1, "missing"),
            ("kube-system", "coredns-5d78", "coredns", 1, "outside"),
        ]
    );
    let web0 = tree::web0_dir(&t);
    for (r, c) in inv.rows.iter().zip(WEB0_CONTAINERS) {
        assert_eq!(r.bytes, tree::bytes_in(&web0.join(c)), "{c}");
        assert!(r.bytes > 0);
        assert_eq!(r.uid, WEB0_UID);
    }
    // The last record of the newest restart: record 3 (the sidecar's is one piece of a
    // two-piece line, not the last).
    for (k, r) in inv.rows[..3].iter().enumerate() {
        let want = tree::ts(tree::line_time(2, k, 3));
        let want = ctrlog::time::parse_rfc3339nano(want.as_bytes()).unwrap();
        assert_eq!(r.last_record, Some(want), "{}", r.container);
    }
    let problems: Vec<String> = inv.problems.iter().map(|p| p.to_string()).collect();
    let has = |needle: &str, what: &str| {
        assert!(
            problems
                .iter()
                .any(|p| p.contains(needle) && p.contains(what)),
            "{needle} {what}: {problems:#?}"
        )
    };
    has("lost+found", "not <namespace>_<pod>_<uid>");
    has("garbage_dir", "not <namespace>_<pod>_<uid>");
    has("default_linked_5c5c", "symbolic link, not followed");
    has("coredns-5d78_kube-system", "outside");
    has("gone_default_app", "dangling");
    has("web-0_default_init-db", "dangling");
    has("not-a-link-name.log", "not <pod>_<namespace>_<container>");
    // Nothing was read through a link: the file outside the roots is not a log and no
    // record of it shows anywhere.
    assert!(
        !problems.iter().any(|p| p.contains("not a log")),
        "{problems:#?}"
    );
    // -n keeps one namespace.
    let ks = inventory(&t.pods, Some(&t.containers), Some("kube-system")).unwrap();
    assert_eq!(ks.rows.len(), 1);
    assert_eq!(ks.rows[0].symlink, LinkState::Outside);
}
fn key() -> ContainerKey {
    ContainerKey {
        namespace: "default".into(),
        pod: "web-0".into(),
        container: "app".into(),
    }
}

/// Samples the directory: new bytes and newlines since the last call.
fn sample(s: &mut GrowthSampler, dir: &std::path::Path, at: u64) -> Option<(f64, f64)> {
    let files = stat_container(dir).unwrap();
    for g in s.observe(&key(), &files) {
        let n = count_newlines(&g).unwrap();
        s.add_lines(&key(), n);
    }
    let rates = s.finish(Duration::from_secs(at))?;
    Some((rates[0].bytes_per_sec, rates[0].lines_per_sec))
}

#[test]
fn growth_is_counted_across_a_rotation_and_compression() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("0.log");
    let line = |i: u32| format!("2024-05-01T10:00:00Z stdout F line {i:04}\n");
    let mut f = fs::File::create(&live).unwrap();
    for i in 0..10 {
        f.write_all(line(i).as_bytes()).unwrap();
    }
    let mut s = GrowthSampler::new();
    assert_eq!(sample(&mut s, dir.path(), 0), None);
    let len = line(0).len() as f64;
    // 5 lines, then a rotation (rename, new live file) and 7 lines in the new file.
    for i in 10..15 {
        f.write_all(line(i).as_bytes()).unwrap();
    }
    let backup = dir.path().join("0.log.20240501-100000");
    fs::rename(&live, &backup).unwrap();
    let mut g = fs::File::create(&live).unwrap();
    for i in 15..22 {
        g.write_all(line(i).as_bytes()).unwrap();
    }
    assert_eq!(sample(&mut s, dir.path(), 2), Some((12.0 * len / 2.0, 6.0)));
    // Nothing written: zero. Then the backup is compressed (a copy, not new data) and the
    // plain one removed, and 4 more lines.
    assert_eq!(sample(&mut s, dir.path(), 3), Some((0.0, 0.0)));
    fs::write(
        dir.path().join("0.log.20240501-100000.gz"),
        b"compressed copy",
    )
    .unwrap();
    fs::remove_file(&backup).unwrap();
    for i in 22..26 {
        g.write_all(line(i).as_bytes()).unwrap();
    }
    assert_eq!(sample(&mut s, dir.path(), 5), Some((4.0 * len / 2.0, 2.0)));
}

#[test]
fn growth_of_a_truncated_file_is_its_new_size_never_negative() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("0.log");
    fs::write(&live, "a\nb\nc\nd\n").unwrap();
    let mut s = GrowthSampler::new();
    assert_eq!(sample(&mut s, dir.path(), 0), None);
    // copytruncate: the same inode, shorter.
    fs::OpenOptions::new()
        .write(true)
        .open(&live)
        .unwrap()
        .set_len(0)
        .unwrap();
    fs::OpenOptions::new()
        .append(true)
        .open(&live)
        .unwrap()
        .write_all(b"x\n")
        .unwrap();
    assert_eq!(sample(&mut s, dir.path(), 1), Some((2.0, 1.0)));
}

/// A newest restart whose live file is gone, its backup left: the last record is the
/// backup's (adversarial review: it was shown as none).
#[test]
fn last_record_of_a_restart_with_only_a_backup_left() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("default_web_u1").join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("0.log"), "2026-12-01T21:00:00Z stdout F zero\n").unwrap();
    std::fs::write(
        app.join("1.log.20261201-210001"),
        "2026-12-01T21:00:01Z stdout F one-rotated\n",
    )
    .unwrap();
    let inv = ctrlog::cri::read::inventory(dir.path(), None, None).unwrap();
    assert_eq!(inv.rows.len(), 1);
    assert_eq!(inv.rows[0].restarts, 2);
    let want = ctrlog::time::parse_rfc3339nano(b"2026-12-01T21:00:01Z").unwrap();
    assert_eq!(inv.rows[0].last_record, Some(want), "{:?}", inv.problems);
}
