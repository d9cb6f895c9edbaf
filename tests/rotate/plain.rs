//! The writers' shared open, watch and recovery rules as the library gives them (adversarial
//! pass on issue 9): `PlainFile` notices a deleted file and cuts a torn tail like
//! `RotatingFile`; links planted at backup names neither stop rotation nor get written
//! through; a failed rotation is kept for the report.

use crate::rotate_common;

use std::io::Write;
use std::time::Duration;

use ctrlog::rotate::{
    Backups, Naming, PlainFile, RecordEnd, RotateError, RotateOptions, RotatingFile,
};
use rotate_common::*;

fn plain_opts(check_interval: Duration) -> RotateOptions {
    let mut o = RotateOptions::default();
    o.check_interval = check_interval;
    o
}

/// A deleted plain output is replaced at the next write once the interval has passed (zero:
/// every write checks); a renamed one too, and the renamed file keeps what it had.
#[test]
fn plain_file_replaces_a_deleted_or_renamed_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let mut f = PlainFile::open_with(&path, &plain_opts(Duration::ZERO)).unwrap();
    f.write_all(b"one\n").unwrap();
    std::fs::remove_file(&path).unwrap();
    f.write_all(b"two\n").unwrap();
    assert_eq!(read(&path), b"two\n");
    std::fs::rename(&path, dir.path().join("moved")).unwrap();
    f.write_all(b"three\n").unwrap();
    assert_eq!(read(&path), b"three\n");
    assert_eq!(read(&dir.path().join("moved")), b"two\n");
    assert_eq!(f.reopens(), 2);
    // The new file is locked like the first one.
    assert!(matches!(
        PlainFile::open(&path, 0o640),
        Err(RotateError::Locked { .. })
    ));
}

/// With a long interval the old file keeps the records (the documented bound) until a check.
#[test]
fn plain_file_checks_only_once_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let mut f = PlainFile::open_with(&path, &plain_opts(Duration::from_secs(3600))).unwrap();
    std::fs::remove_file(&path).unwrap();
    f.write_all(b"lost to the old inode\n").unwrap();
    assert!(!path.exists());
    f.refresh().unwrap();
    f.write_all(b"new\n").unwrap();
    assert_eq!(read(&path), b"new\n");
}

/// The rotating writer's recovery rules at open: a torn tail is cut, a file without a newline
/// is refused untouched, `RecordEnd::Any` leaves the file as it is.
#[test]
fn plain_file_cuts_a_torn_tail_and_refuses_a_file_without_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    std::fs::write(&path, b"whole\ntor").unwrap();
    let mut f = PlainFile::open(&path, 0o640).unwrap();
    f.write_all(b"next\n").unwrap();
    drop(f);
    assert_eq!(read(&path), b"whole\nnext\n");

    std::fs::write(&path, b"no newline at all").unwrap();
    assert!(matches!(
        PlainFile::open(&path, 0o640),
        Err(RotateError::NoRecordBoundary { size: 17, .. })
    ));
    assert_eq!(read(&path), b"no newline at all");
    let mut any = RotateOptions::default();
    any.record_end = RecordEnd::Any;
    drop(PlainFile::open_with(&path, &any).unwrap());
    assert_eq!(read(&path), b"no newline at all");
}

/// Links planted at backup names (Docker naming: the names a shift renames onto) are unlinked
/// at open and at rotation, never followed: rotation goes on and the target is untouched.
#[test]
fn planted_links_at_backup_names_are_unlinked_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let victim = d.join("victim");
    std::fs::write(&victim, b"precious\n").unwrap();
    let path = d.join("c.log");
    let mut l =
        RotatingFile::open(&path, opts(Some(10), Backups::Count(2), Naming::Docker)).unwrap();
    // Planted after open: the rotation itself must cope.
    for name in ["c.log.1", "c.log.2", "c.log.1.gz.tmp"] {
        std::os::unix::fs::symlink(&victim, d.join(name)).unwrap();
    }
    l.write_all(b"first\n").unwrap();
    l.write_all(b"second\n").unwrap();
    l.write_all(b"third\n").unwrap();
    assert_eq!(l.stats().rotation_failures, 0, "{:?}", l.rotation_error());
    assert_eq!(l.stats().rotations, 2);
    assert_eq!(read(&d.join("c.log.2")), b"first\n");
    assert_eq!(read(&d.join("c.log.1")), b"second\n");
    assert_eq!(read(&path), b"third\n");
    assert_eq!(read(&victim), b"precious\n");
    assert!(!d.join("c.log.1.gz.tmp").exists());
    drop(l);
    // And at open (recovery).
    std::os::unix::fs::symlink(&victim, d.join("c.log.3")).unwrap();
    drop(RotatingFile::open(&path, opts(Some(10), Backups::Count(2), Naming::Docker)).unwrap());
    assert!(std::fs::symlink_metadata(d.join("c.log.3")).is_err());
    assert_eq!(read(&victim), b"precious\n");
}

/// A failed rotation is counted and its reason kept (file and OS error) while the records go
/// on into the live file.
#[test]
fn failed_rotation_is_kept_for_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("c.log");
    // A directory at the only Docker backup name: the rename fails.
    std::fs::create_dir(d.join("c.log.1")).unwrap();
    std::fs::write(d.join("c.log.1/x"), b"x").unwrap();
    let mut l =
        RotatingFile::open(&path, opts(Some(4), Backups::Count(1), Naming::Docker)).unwrap();
    assert!(l.rotation_error().is_none());
    l.write_all(b"abc\n").unwrap();
    l.write_all(b"def\n").unwrap();
    assert_eq!(read(&path), b"abc\ndef\n");
    assert_eq!(l.stats().rotation_failures, 1);
    let why = l.rotation_error().expect("no reason kept");
    assert!(why.contains("c.log") && why.contains("rename"), "{why}");
}

/// A rotation makes the next live file under a hidden name, locked, before renaming it into
/// place; one left by a writer killed mid-rotation is removed at open, and none remains after
/// a rotation.
#[test]
fn next_live_file_leftover_is_removed_and_never_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("c.log");
    std::fs::write(d.join(".c.log.ctrlog-next"), b"").unwrap();
    let mut l =
        RotatingFile::open(&path, opts(Some(4), Backups::Count(1), Naming::Docker)).unwrap();
    assert_eq!(names(d), ["c.log"]);
    l.write_all(b"abc\n").unwrap();
    l.write_all(b"def\n").unwrap();
    assert_eq!(l.stats().rotations, 1);
    assert_eq!(names(d), ["c.log", "c.log.1"]);
    // The new live file carries the lock.
    assert!(matches!(
        PlainFile::open(&path, 0o640),
        Err(RotateError::Locked { .. })
    ));
}
