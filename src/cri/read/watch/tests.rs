//! Unit tests of the watcher thread.

use super::*;
use crate::rotate::{RotateOptions, RotatingFile};
use std::io::Write;

/// Hang guard of the waits below (never reached when the watcher works).
const DEADLINE: Duration = Duration::from_secs(10);

fn id_of(path: &Path) -> FileId {
    FileId::of_path(path).unwrap()
}

/// The next file the watcher reports, waiting for it (`None` past [`DEADLINE`]); any
/// problem or error reported meanwhile fails the test.
fn next_found(watcher: &Watcher, poll: Duration) -> Option<Found> {
    let t = Instant::now();
    loop {
        let taken = watcher.reports();
        assert!(
            taken.error.is_none() && taken.problems.is_empty(),
            "{taken:?}"
        );
        if let Some(f) = watcher.pop() {
            return Some(f);
        }
        if t.elapsed() > DEADLINE {
            return None;
        }
        watcher.wait(poll);
    }
}

/// Every file the writer creates is found once, in creation order, by inotify and by the
/// polling fallback alike. The writer rotates again only once the watcher reported the
/// file before (no dependence on how fast the watcher thread runs).
#[test]
fn finds_each_new_file_once_in_order() {
    for inotify in [true, false] {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("c.log");
        let opts = RotateOptions::from_docker(Some("1k"), Some("3"), false).unwrap();
        let mut w = RotatingFile::open(&path, opts).unwrap();
        w.write_all(b"first\n").unwrap();
        let first = File::open(&path).unwrap();
        let opened = vec![Listed {
            file: LogFile {
                path: path.clone(),
                backup: None,
                gzip: false,
            },
            handle: Some(first),
            id: id_of(&path),
            mtime: (0, 0),
        }];
        let poll = Duration::from_millis(2);
        let watcher = Watcher::start_with(&path, &opened, poll, inotify, MAX_QUEUED_FILES).unwrap();
        let line = [b'x'; 99];
        for n in 0..20 {
            // 10 records of 100 bytes into a 1000-byte file: one rotation.
            for _ in 0..10 {
                let mut rec = line.to_vec();
                rec.push(b'\n');
                w.write_all(&rec).unwrap();
            }
            let created = id_of(&path);
            let f = next_found(&watcher, poll);
            let f = f.unwrap_or_else(|| panic!("file {n} not found (inotify: {inotify})"));
            assert_eq!(f.id, created, "file {n}, inotify: {inotify}");
            assert!(f.at_live, "file {n}, inotify: {inotify}");
        }
        assert_eq!(w.stats().rotations, 20);
        // Nothing else: no file reported twice.
        watcher.wait(poll * 5);
        assert!(watcher.pop().is_none(), "inotify: {inotify}");
    }
}

/// A set of thousands of backups (`Backups::Unlimited`, kubelet or ctrlog names): each
/// new live file is found once, none of the known backups is taken for new. The known
/// files are a map keyed by (device, inode), so each rescan is linear in the set.
#[test]
fn large_set_new_files_found_once() {
    const BACKUPS: u64 = 3000;
    for inotify in [true, false] {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("c.log");
        let backup = |n: u64| d.path().join(format!("c.log.s{n:08}"));
        for n in 1..=BACKUPS {
            std::fs::write(backup(n), b"old\n").unwrap();
        }
        std::fs::write(&path, b"live\n").unwrap();
        let opened = snapshot(&path, 4).unwrap().files;
        assert_eq!(opened.len() as u64, BACKUPS + 1);
        let poll = Duration::from_millis(5);
        let watcher = Watcher::start_with(&path, &opened, poll, inotify, MAX_QUEUED_FILES).unwrap();
        for n in BACKUPS + 1..BACKUPS + 6 {
            std::fs::rename(&path, backup(n)).unwrap();
            std::fs::write(&path, b"new\n").unwrap();
            let created = id_of(&path);
            let f = next_found(&watcher, poll);
            let f = f.unwrap_or_else(|| panic!("file {n} not found (inotify: {inotify})"));
            assert_eq!(f.id, created, "file {n}, inotify: {inotify}");
        }
        watcher.wait(poll * 5);
        assert!(watcher.pop().is_none(), "inotify: {inotify}");
    }
}

/// The queue of found files is bounded by the open-files limit too: with `ulimit -n 256`
/// it holds 64 (the fixed 512 ran into `EMFILE`, one warning per file).
#[test]
fn queue_cap_follows_the_open_files_limit() {
    assert_eq!(queued_files_cap(Some(256)), 64);
    assert_eq!(queued_files_cap(Some(1 << 20)), MAX_QUEUED_FILES);
    assert_eq!(queued_files_cap(None), MAX_QUEUED_FILES);
    assert_eq!(queued_files_cap(Some(8)), 4);
    assert!(queued_files_cap(crate::regular::nofile_limit()) <= MAX_QUEUED_FILES);
}

/// Past the cap, new files are reported once per scan (with the number in all) and not
/// queued; the queued ones are the oldest found.
#[test]
fn files_past_the_cap_are_reported_not_queued() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("c.log");
    std::fs::write(&path, b"live\n").unwrap();
    let opened = snapshot(&path, 4).unwrap().files;
    let poll = Duration::from_millis(5);
    let watcher = Watcher::start_with(&path, &opened, poll, true, 3).unwrap();
    let mut created = Vec::new();
    for n in 1..=5 {
        std::fs::rename(&path, d.path().join(format!("c.log.s{n:08}"))).unwrap();
        std::fs::write(&path, b"new\n").unwrap();
        created.push(id_of(&path));
    }
    let t = Instant::now();
    let mut problems = Vec::new();
    while !problems.iter().any(|p: &String| p.contains("(2 in all)")) && t.elapsed() < DEADLINE {
        watcher.wait(poll);
        let taken = watcher.reports();
        assert!(taken.error.is_none(), "{taken:?}");
        problems.extend(taken.problems.iter().map(|(_, e)| e.to_string()));
    }
    assert!(
        problems.iter().any(|p| p.contains("more than 3 files")),
        "{problems:?}"
    );
    let found: Vec<_> = std::iter::from_fn(|| watcher.pop()).map(|f| f.id).collect();
    assert_eq!(found, created[..3]);
}

/// Dropping the watcher returns although its thread is stuck (as in `lstat` on a hung
/// NFS mount; here, a thread blocked on a channel): `follow` returns after a stop.
#[test]
fn drop_does_not_wait_for_a_stuck_watcher_thread() {
    use std::sync::mpsc;
    let shared = Arc::new(Shared::default());
    let (release, stuck) = mpsc::channel::<()>();
    let thread = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            let _exited = Exited(shared);
            let _ = stuck.recv();
        })
    };
    let w = Watcher {
        shared,
        quit: Arc::new(AtomicBool::new(false)),
        thread: Some(thread),
        stop_wait: Duration::from_millis(10),
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        drop(w);
        let _ = tx.send(());
    });
    let dropped = rx.recv_timeout(DEADLINE).is_ok();
    let _ = release.send(());
    assert!(dropped, "dropping the watcher waited for its stuck thread");
}

/// A watcher thread that ends in time is joined: nothing is left running.
#[test]
fn drop_joins_a_thread_that_ends() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("c.log");
    std::fs::write(&path, b"live\n").unwrap();
    let opened = snapshot(&path, 4).unwrap().files;
    let w = Watcher::start(&path, &opened, Duration::from_millis(5)).unwrap();
    let shared = w.shared.clone();
    drop(w);
    assert!(shared.lock().exited);
}

/// The watcher's decisions, step by step without sleeps: a rescan at every set event and
/// every poll interval whatever the events; files announced but never found are reported
/// lost once, files found before their event are not.
#[test]
fn watch_state_rescans_and_counts_losses() {
    let poll = Duration::from_millis(100);
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let wake = |rescan, created| notify::Wake {
        rescan,
        changed: false,
        created,
        overflow: false,
    };
    // The first scan found 1 file whose IN_CREATE is still to come.
    let mut s = WatchState::new(poll, 1, t0);
    assert!(!s.woke(&wake(false, 1), at(10)));
    // Data only, but a poll interval since the last scan: scan.
    assert!(s.woke(&wake(false, 0), at(100)));
    assert_eq!(s.scanned(0), None);
    assert!(!s.woke(&wake(false, 0), at(150)));
    // Three files announced, one found: two lost, reported once.
    assert!(s.woke(&wake(true, 3), at(160)));
    let lost = s.scanned(1).expect("a loss is reported");
    assert!(
        lost.starts_with("at least 2 new file(s) of the set (2 in all)"),
        "{lost}"
    );
    assert!(s.woke(&wake(true, 0), at(170)));
    assert_eq!(s.scanned(0), None);
    // The running total grows.
    assert!(s.woke(&wake(true, 1), at(180)));
    let lost = s.scanned(0).expect("a loss is reported");
    assert!(
        lost.starts_with("at least 1 new file(s) of the set (3 in all)"),
        "{lost}"
    );
    // An overflow forgets what was announced: events were lost, so nothing is told lost.
    assert!(s.woke(&wake(true, 5), at(190)));
    assert!(s.woke(&notify::Wake::ALL, at(200)));
    assert_eq!(s.scanned(0), None);
}

/// ctrlog's own rotating writer swaps its new live file in with RENAME_EXCHANGE: no
/// IN_CREATE of the live name, a rename from the hidden name instead, which must count as a
/// new live file (the lost-file counter missed every one of them before).
#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn rotation_swaps_count_as_created_live_files() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("c.log");
    let opts = RotateOptions::from_docker(Some("1k"), Some("3"), false).unwrap();
    let mut w = RotatingFile::open(&path, opts).unwrap();
    let mut ev = notify::Events::new(&path).unwrap();
    let line = [b'x'; 99];
    for _ in 0..30 {
        w.write_all(&line).unwrap();
        w.write_all(b"\n").unwrap();
    }
    let rotations = w.stats().rotations;
    let mut created = 0;
    loop {
        let wake = ev.wait(Duration::from_millis(200)).unwrap();
        created += wake.created;
        if !wake.changed && wake.rescan {
            break;
        }
    }
    assert!(rotations >= 2);
    assert_eq!(
        created, rotations,
        "each rotation's new live file is announced"
    );
}
