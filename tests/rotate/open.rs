//! What `RotatingFile::open` (and its re-opens) refuse, and what recovery never cuts
//! (issue 9, items 8, 10 and 17): symlinks, FIFOs, files without a record boundary, missing
//! parent directories; and the time-based check for a deleted or renamed live file.

use crate::rotate_common;

use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use ctrlog::rotate::{Backups, Naming, RecordEnd, RotateError, RotateOptions, RotatingFile};
use rotate_common::*;

fn newline_opts(max_size: Option<u64>) -> RotateOptions {
    let mut o = opts(max_size, Backups::Count(2), Naming::Ctrlog);
    o.record_end = RecordEnd::Newline;
    o
}

/// Runs `f` in a thread and fails the test if it does not return within 30 s (an `open` that
/// blocks must fail the test, not hang it).
fn within_timeout<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("blocked (no answer in 30 s)")
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// The library side of `ln -s victim c.log; echo hi | ctrlog write -o c.log --max-size 1m`:
/// the victim's tail after its last newline used to be cut by the torn-record recovery.
#[test]
fn symlink_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"keep\nthis tail").unwrap();
    let path = dir.path().join("c.log");
    std::os::unix::fs::symlink(&victim, &path).unwrap();
    let err = RotatingFile::open(&path, newline_opts(Some(1 << 20))).unwrap_err();
    assert!(matches!(err, RotateError::Symlink { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: is a symbolic link, refusing to write through it",
            path.display()
        )
    );
    assert_eq!(read(&victim), b"keep\nthis tail");
    // A dangling link is refused too (it would create the target).
    std::fs::remove_file(&victim).unwrap();
    let err = RotatingFile::open(&path, newline_opts(None)).unwrap_err();
    assert!(matches!(err, RotateError::Symlink { .. }), "{err:?}");
    assert!(!victim.exists());
}

#[test]
fn fifo_and_directory_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("c.log");
    mkfifo(&fifo);
    let f = fifo.clone();
    let err = within_timeout(move || RotatingFile::open(&f, newline_opts(None)).unwrap_err());
    assert!(matches!(err, RotateError::NotRegular { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("{}: is a FIFO, not a regular file", fifo.display())
    );
    let sub = dir.path().join("d.log");
    std::fs::create_dir(&sub).unwrap();
    let err = RotatingFile::open(&sub, newline_opts(None)).unwrap_err();
    assert!(
        err.to_string()
            .contains("is a directory, not a regular file"),
        "{err}"
    );
}

/// A non-empty file without any newline holds no record boundary: it is not a log of
/// newline-ended records, so it is refused and left as it is (it used to be emptied).
#[test]
fn file_without_newline_is_refused_never_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let big = vec![b'z'; 200_000];
    std::fs::write(&path, &big).unwrap();
    let err = RotatingFile::open(&path, newline_opts(Some(1 << 20))).unwrap_err();
    assert!(
        matches!(err, RotateError::NoRecordBoundary { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.starts_with(&path.display().to_string()) && msg.contains("no newline"),
        "{msg}"
    );
    assert_eq!(read(&path), big);
    // The lock was released: the same file opens with opaque records.
    let mut o = newline_opts(None);
    o.record_end = RecordEnd::Any;
    let mut l = RotatingFile::open(&path, o).unwrap();
    l.write_all(b"x").unwrap();
    drop(l);
    assert_eq!(read(&path).len(), 200_001);
}

/// Only a tail after a record boundary is a torn record; an empty file is fine.
#[test]
fn torn_tail_after_a_boundary_is_still_cut() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let mut data = b"whole\n".to_vec();
    data.extend_from_slice(&[b'z'; 150_000]);
    std::fs::write(&path, &data).unwrap();
    drop(RotatingFile::open(&path, newline_opts(None)).unwrap());
    assert_eq!(read(&path), b"whole\n");
    std::fs::write(&path, b"").unwrap();
    drop(RotatingFile::open(&path, newline_opts(None)).unwrap());
    assert_eq!(read(&path), b"");
}

/// Item 17: parent directories are not created (like containerd's CRI logger in the flow where
/// kubelet made the directory, and Docker's json-file, whose container directory exists).
#[test]
fn missing_parent_is_an_error_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo").join("c.log");
    let err = RotatingFile::open(&path, newline_opts(Some(100))).unwrap_err();
    assert!(matches!(err, RotateError::NoParent { .. }), "{err:?}");
    assert!(
        err.to_string().contains("does not exist"),
        "{err}: names the directory"
    );
    assert!(!dir.path().join("typo").exists());
}

/// Item 10: the identity check runs on time, not on a count of records. With a zero interval
/// the record after a rename lands in a new file at the path; the renamed file keeps what was
/// written before.
#[test]
fn renamed_live_file_is_noticed_at_the_next_write_with_zero_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let mut o = newline_opts(None);
    o.check_interval = Duration::ZERO;
    let mut l = RotatingFile::open(&path, o).unwrap();
    l.write_all(b"one\n").unwrap();
    std::fs::rename(&path, dir.path().join("moved")).unwrap();
    l.write_all(b"two\n").unwrap();
    assert_eq!(read(&path), b"two\n");
    assert_eq!(read(&dir.path().join("moved")), b"one\n");
    assert_eq!(l.stats().reopens, 1);
    // A symlink put at the path is never followed: writing goes on into the current file.
    std::fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink(dir.path().join("moved"), &path).unwrap();
    l.write_all(b"three\n").unwrap();
    assert_eq!(read(&dir.path().join("moved")), b"one\n");
    assert_eq!(l.stats().reopens, 1);
}

/// The documented bound: before the interval has passed, records still go to the deleted
/// file; a rotation checks the path whatever the interval.
#[test]
fn deletion_is_noticed_at_rotation_whatever_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let mut o = newline_opts(Some(10));
    o.check_interval = Duration::from_secs(3600);
    let mut l = RotatingFile::open(&path, o).unwrap();
    l.write_all(b"one\n").unwrap();
    std::fs::remove_file(&path).unwrap();
    l.write_all(b"two\n").unwrap();
    assert!(!path.exists(), "checked before the interval passed");
    // 8 + 4 > 10: rotates, and the rotation finds the path gone.
    l.write_all(b"six\n").unwrap();
    assert_eq!(read(&path), b"six\n");
    assert_eq!(names(dir.path()), ["c.log"]);
}
