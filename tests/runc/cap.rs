#![cfg(target_os = "linux")]
//! `ctrlog::runc::cap`: what a cap keeps, what it refuses, and what it leaves untouched.
//! The race against a writer in another process is in `cap_race.rs`.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ctrlog::runc::cap::{cap_log, temp_path, CapError, CapOptions};
use ctrlog::runc::last_error;

fn rec(level: &str, msg: &str) -> String {
    format!("{{\"level\":\"{level}\",\"msg\":\"{msg}\",\"time\":\"2026-11-23T08:27:20Z\"}}\n")
}

fn opts(max_size: u64) -> CapOptions {
    let mut o = CapOptions::default();
    o.max_size = max_size;
    o
}

/// A log.json of `n` info records `info NNNNN` (each 66 bytes).
fn infos(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| rec("info", &format!("info {i:05}")))
        .collect()
}

fn setup(content: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.json");
    fs::write(&path, content).unwrap();
    (dir, path)
}

fn ino(p: &Path) -> u64 {
    fs::metadata(p).unwrap().ino()
}

/// Every line of `kept` is a line of `orig` (whole records only, none invented).
fn whole_lines_of(kept: &str, orig: &str) {
    assert!(kept.is_empty() || kept.ends_with('\n'), "{kept:?}");
    for l in kept.lines() {
        assert!(
            orig.lines().any(|o| o == l),
            "not a record of the original: {l:?}"
        );
    }
}

#[test]
fn a_file_at_or_under_the_cap_is_untouched() {
    let content = infos(0, 10);
    let (_d, path) = setup(&content);
    let before = ino(&path);
    let r = cap_log(&path, &opts(content.len() as u64)).unwrap();
    assert!(!r.capped, "{r:?}");
    assert_eq!((r.before, r.after, r.reclaimed), (660, 660, 0));
    assert_eq!(ino(&path), before);
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
}

#[test]
fn over_the_cap_keeps_the_newest_whole_records_that_fit() {
    let content = infos(0, 100);
    let (_d, path) = setup(&content);
    let before = ino(&path);
    // 10 records are 660 bytes: a cap of 700 keeps 10, not a torn 11th.
    let r = cap_log(&path, &opts(700)).unwrap();
    let kept = fs::read_to_string(&path).unwrap();
    assert_eq!(kept, infos(90, 10));
    assert_ne!(ino(&path), before, "a new file renamed over the old");
    assert!(r.capped && r.settled && !r.kept_last_error, "{r:?}");
    assert_eq!((r.before, r.after, r.reclaimed), (6600, 660, 5940));
    assert_eq!((r.kept_records, r.dropped_records), (10, 90));
    assert!(!temp_path(&path).exists());
    assert!(
        r.to_string().contains("6600 -> 660 bytes, 5940 reclaimed"),
        "{r}"
    );
}

#[test]
fn the_last_error_older_than_the_window_is_kept_first() {
    let err = rec("error", "runc create failed: no such file");
    let content = format!("{}{err}{}", infos(0, 5), infos(5, 100));
    let (_d, path) = setup(&content);
    let old_answer = last_error(File::open(&path).unwrap()).unwrap().unwrap();
    let r = cap_log(&path, &opts(1000)).unwrap();
    let kept = fs::read_to_string(&path).unwrap();
    // 1000 - the error record (89 bytes) leaves room for 13 records of 66 bytes.
    assert_eq!(kept, format!("{err}{}", infos(92, 13)));
    assert!(kept.len() <= 1000);
    assert!(r.kept_last_error && !r.error_over_cap, "{r:?}");
    assert_eq!((r.kept_records, r.dropped_records), (14, 92));
    let new_answer = last_error(File::open(&path).unwrap()).unwrap().unwrap();
    assert_eq!(new_answer.msg, old_answer.msg);
}

#[test]
fn an_error_inside_the_window_is_not_kept_twice() {
    let err = rec("error", "exec failed");
    let content = format!("{}{err}{}", infos(0, 100), infos(100, 3));
    let (_d, path) = setup(&content);
    let r = cap_log(&path, &opts(500)).unwrap();
    let kept = fs::read_to_string(&path).unwrap();
    assert_eq!(kept, format!("{}{err}{}", infos(97, 3), infos(100, 3)));
    assert!(!r.kept_last_error, "{r:?}");
    assert_eq!(r.kept_records, 7);
}

#[test]
fn an_error_record_larger_than_the_cap_is_kept_alone() {
    let err = rec("error", &"x".repeat(300));
    let content = format!("{err}{}", infos(0, 20));
    let (_d, path) = setup(&content);
    let r = cap_log(&path, &opts(200)).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), err);
    assert!(r.kept_last_error && r.error_over_cap, "{r:?}");
    assert_eq!((r.kept_records, r.dropped_records), (1, 20));
    assert!(r.to_string().contains("alone over the cap"), "{r}");
}

#[test]
fn without_an_error_only_the_window_is_kept() {
    let content = infos(0, 50);
    let (_d, path) = setup(&content);
    let r = cap_log(&path, &opts(66 * 3)).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), infos(47, 3));
    assert!(!r.kept_last_error);
    // A cap under one record keeps nothing.
    let r = cap_log(&path, &opts(65)).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "");
    assert_eq!(
        (r.kept_records, r.dropped_records, r.reclaimed),
        (0, 3, 198)
    );
}

#[test]
fn a_torn_final_record_is_dropped_never_kept_torn() {
    let whole = infos(0, 30);
    let content = format!("{whole}{{\"level\":\"info\",\"msg\":\"tor");
    let (_d, path) = setup(&content);
    let r = cap_log(&path, &opts(300)).unwrap();
    let kept = fs::read_to_string(&path).unwrap();
    assert_eq!(kept, infos(26, 4));
    whole_lines_of(&kept, &content);
    assert_eq!(r.torn_tail, 26, "{r:?}");
    assert!(r.to_string().contains("torn final record"), "{r}");
}

#[test]
fn a_whole_final_record_without_newline_is_kept_with_one() {
    let last = rec("error", "killed after its brace");
    let content = format!("{}{}", infos(0, 30), last.trim_end());
    let (_d, path) = setup(&content);
    let r = cap_log(&path, &opts(300)).unwrap();
    let kept = fs::read_to_string(&path).unwrap();
    assert!(kept.ends_with(&last), "{kept}");
    assert_eq!((r.torn_tail, r.carried_records), (0, 1), "{r:?}");
    let e = last_error(File::open(&path).unwrap()).unwrap().unwrap();
    assert_eq!(e.msg, "killed after its brace");
}

#[test]
fn symlinks_fifos_and_hard_links_are_refused() {
    let content = infos(0, 50);
    let (d, target) = setup(&content);
    let link = d.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let e = cap_log(&link, &opts(100)).unwrap_err();
    assert!(matches!(e, CapError::Open { .. }), "{e:?}");
    assert!(e.to_string().contains("symbolic link"), "{e}");
    assert!(e.to_string().contains("link.json"), "{e}");

    let fifo = d.path().join("fifo.json");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let e = cap_log(&fifo, &opts(100)).unwrap_err();
    assert!(e.to_string().contains("FIFO"), "{e}");

    let hard = d.path().join("hard.json");
    fs::hard_link(&target, &hard).unwrap();
    let e = cap_log(&target, &opts(100)).unwrap_err();
    assert!(matches!(e, CapError::HardLinked { nlink: 2, .. }), "{e:?}");
    assert_eq!(fs::read_to_string(&target).unwrap(), content);

    let e = cap_log(&d.path().join("missing.json"), &opts(100)).unwrap_err();
    assert!(e.to_string().contains("missing.json"), "{e}");
}

#[test]
fn mode_and_owner_are_kept() {
    let (_d, path) = setup(&infos(0, 50));
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let (uid, gid) = if root {
        (4321, 8765)
    } else {
        let m = fs::metadata(&path).unwrap();
        (m.uid(), m.gid())
    };
    std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
    let before = ino(&path);
    cap_log(&path, &opts(300)).unwrap();
    let m = fs::metadata(&path).unwrap();
    assert_ne!(m.ino(), before);
    assert_eq!(m.mode() & 0o7777, 0o640);
    assert_eq!((m.uid(), m.gid()), (uid, gid));
}

#[test]
fn a_stale_temporary_file_is_replaced_a_locked_one_is_busy() {
    let content = infos(0, 50);
    let (d, path) = setup(&content);
    let temp = temp_path(&path);
    assert_eq!(temp, d.path().join(".log.json.ctrlog-cap"));
    fs::write(&temp, b"left by a crash").unwrap();
    cap_log(&path, &opts(300)).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), infos(46, 4));
    assert!(!temp.exists());

    // A symlink planted at the temporary name: removed, its target untouched.
    let victim = d.path().join("victim");
    fs::write(&victim, b"keep me").unwrap();
    std::os::unix::fs::symlink(&victim, &temp).unwrap();
    fs::write(&path, &content).unwrap();
    cap_log(&path, &opts(300)).unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"keep me");
    assert_eq!(fs::read_to_string(&path).unwrap(), infos(46, 4));

    // A FIFO there: removed, never opened blocking. A directory: a clean error.
    let st = std::process::Command::new("mkfifo")
        .arg(&temp)
        .status()
        .unwrap();
    assert!(st.success());
    fs::write(&path, &content).unwrap();
    cap_log(&path, &opts(300)).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), infos(46, 4));
    fs::create_dir(&temp).unwrap();
    fs::write(&path, &content).unwrap();
    let e = cap_log(&path, &opts(300)).unwrap_err();
    assert!(e.to_string().contains("a directory is in the way"), "{e}");
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
    fs::remove_dir(&temp).unwrap();

    // Another cap running: its temporary file is locked.
    fs::write(&path, &content).unwrap();
    let held = File::create(&temp).unwrap();
    // SAFETY: the descriptor is owned by `held` and open.
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX) }, 0);
    let e = cap_log(&path, &opts(300)).unwrap_err();
    assert!(matches!(e, CapError::Busy { .. }), "{e:?}");
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
    assert!(temp.exists(), "another cap's file is left alone");
}

#[test]
fn dry_run_writes_nothing_and_reports_the_same() {
    let content = format!("{}{}{}", rec("error", "old"), infos(0, 100), "{\"tor");
    let (d, path) = setup(&content);
    let before = ino(&path);
    let mut o = opts(700);
    o.dry_run = true;
    let dry = cap_log(&path, &o).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
    assert_eq!(ino(&path), before);
    assert_eq!(
        fs::read_dir(d.path()).unwrap().count(),
        1,
        "no temporary file"
    );
    assert!(dry.to_string().starts_with("would cap"), "{dry}");
    o.dry_run = false;
    let real = cap_log(&path, &o).unwrap();
    assert_eq!(
        (dry.kept_records, dry.dropped_records, dry.kept_last_error),
        (
            real.kept_records,
            real.dropped_records,
            real.kept_last_error
        )
    );
    assert_eq!(dry.after, real.after);
    assert_eq!(real.torn_tail, 5);
    assert_eq!(
        real.reclaimed,
        dry.reclaimed + 5,
        "the torn tail dropped too"
    );
}

/// A writer that opened the file before the cap and appends after the snapshot: its record
/// is carried over, and the cap waits for it to close (the lease).
#[test]
fn a_record_appended_through_an_old_descriptor_is_carried_over() {
    let (_d, path) = setup(&infos(0, 100));
    let mut w = OpenOptions::new().append(true).open(&path).unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        w.write_all(rec("error", "late").as_bytes()).unwrap();
        drop(w);
    });
    let mut o = opts(300);
    o.settle_delay = Duration::from_millis(5);
    let r = cap_log(&path, &o).unwrap();
    writer.join().unwrap();
    let kept = fs::read_to_string(&path).unwrap();
    assert!(kept.ends_with(&rec("error", "late")), "{kept}");
    assert!(r.settled && r.lease, "{r:?}");
}

/// A writer that keeps the old file open past the retries: not settled, and said so.
#[test]
fn a_writer_holding_the_old_file_leaves_it_unsettled() {
    let (_d, path) = setup(&infos(0, 100));
    let w = OpenOptions::new().append(true).open(&path).unwrap();
    let mut o = opts(300);
    o.max_retries = 2;
    let r = cap_log(&path, &o).unwrap();
    assert!(!r.settled && !r.lease, "{r:?}");
    assert_eq!(r.retries, 2);
    assert!(r.to_string().contains("NOT settled"), "{r}");
    drop(w);
}

/// Disk full: a small tmpfs (root only), the copy does not fit. A clean error naming the
/// file, the original untouched, no temporary file left.
#[test]
fn disk_full_is_a_clean_error_and_the_original_is_untouched() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let mnt = d.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .status()
        .unwrap();
    if !st.success() {
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    }
    struct Umount(PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Umount(mnt.clone());
    let path = mnt.join("log.json");
    let content = infos(0, 9000); // 639 000 bytes of the 1 MiB
    fs::write(&path, &content).unwrap();
    let e = cap_log(&path, &opts(500_000)).unwrap_err();
    assert!(matches!(e, CapError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("log.json"), "{e}");
    assert!(e.to_string().contains("No space left"), "{e}");
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
    assert!(!temp_path(&path).exists());
}
