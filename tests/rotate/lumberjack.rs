//! lumberjack's tests (`natefinch/lumberjack` `lumberjack_test.go`, `linux_test.go`), ported to
//! ctrlog's API and naming (`name.s00000001`, larger is newer). lumberjack's `MaxSize` is in
//! megabytes with a test hook setting a megabyte to 1 byte; here sizes are bytes.
#![cfg(feature = "gzip")]

use crate::rotate_common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use ctrlog::rotate::{Backups, Naming, RotateError, RotatingFile};
use rotate_common::*;

fn b1(dir: &std::path::Path, n: u64) -> std::path::PathBuf {
    dir.join(format!("foobar.log.s{n:08}"))
}

#[test]
fn new_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foobar.log");
    let mut l = RotatingFile::open(&path, opts(None, Backups::Unlimited, Naming::Ctrlog)).unwrap();
    assert_eq!(l.write(b"boo!").unwrap(), 4);
    assert_eq!(read(&path), b"boo!");
    assert_eq!(names(dir.path()).len(), 1);
}

#[test]
fn open_existing_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foobar.log");
    std::fs::write(&path, b"foo!").unwrap();
    let mut l = RotatingFile::open(&path, opts(None, Backups::Unlimited, Naming::Ctrlog)).unwrap();
    assert_eq!(l.write(b"boo!").unwrap(), 4);
    assert_eq!(read(&path), b"foo!boo!");
    assert_eq!(names(dir.path()), ["foobar.log"]);
}

/// lumberjack's `TestWriteTooLong` rejects the write; ctrlog writes it whole, alone, in a
/// fresh file (Docker's choice: never drop container output).
#[test]
fn write_too_long_goes_alone_into_a_fresh_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foobar.log");
    let mut l =
        RotatingFile::open(&path, opts(Some(5), Backups::Unlimited, Naming::Ctrlog)).unwrap();
    let big = b"booooooooooooooo!";
    assert_eq!(l.write(big).unwrap(), big.len());
    assert_eq!(read(&path), big);
    assert_eq!(names(dir.path()).len(), 1);
    l.write_all(b"ab").unwrap();
    assert_eq!(read(&path), b"ab");
    assert_eq!(read(&b1(dir.path(), 1)), big);
    // Over the cap with a non-empty live file: rotate first, then alone.
    l.write_all(big).unwrap();
    assert_eq!(read(&path), big);
    assert_eq!(read(&b1(dir.path(), 2)), b"ab");
}

/// lumberjack's `TestMakeLogDir` expects `MkdirAll`; ctrlog never creates directories (a
/// difference on purpose, issue 9 item 17): the open fails naming the directory, and works
/// once the caller has made it.
#[test]
fn make_log_dir() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/foobar.log");
    let o = || opts(None, Backups::Unlimited, Naming::Ctrlog);
    let err = RotatingFile::open(&path, o()).unwrap_err();
    assert!(matches!(err, RotateError::NoParent { .. }), "{err:?}");
    assert!(!dir.path().join("a").exists());
    std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
    let mut l = RotatingFile::open(&path, o()).unwrap();
    l.write_all(b"boo!").unwrap();
    assert_eq!(read(&path), b"boo!");
}

#[test]
fn auto_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foobar.log");
    let mut l =
        RotatingFile::open(&path, opts(Some(10), Backups::Unlimited, Naming::Ctrlog)).unwrap();
    l.write_all(b"boo!").unwrap();
    assert_eq!(read(&path), b"boo!");
    assert_eq!(names(dir.path()).len(), 1);
    l.write_all(b"foooooo!").unwrap();
    assert_eq!(read(&path), b"foooooo!");
    assert_eq!(read(&b1(dir.path(), 1)), b"boo!");
    assert_eq!(names(dir.path()).len(), 2);
}

/// The size is taken from the file at open: a file written by someone else counts.
#[test]
fn first_write_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foobar.log");
    std::fs::write(&path, b"boooooo!").unwrap();
    let mut l =
        RotatingFile::open(&path, opts(Some(10), Backups::Unlimited, Naming::Ctrlog)).unwrap();
    assert_eq!(l.size(), 8);
    l.write_all(b"fooo!").unwrap();
    assert_eq!(read(&path), b"fooo!");
    assert_eq!(read(&b1(dir.path(), 1)), b"boooooo!");
    assert_eq!(names(dir.path()).len(), 2);
}

#[test]
fn max_backups() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("foobar.log");
    let mut l =
        RotatingFile::open(&path, opts(Some(10), Backups::Count(1), Naming::Ctrlog)).unwrap();
    l.write_all(b"boo!").unwrap();
    assert_eq!(names(d).len(), 1);
    l.write_all(b"foooooo!").unwrap();
    assert_eq!(read(&b1(d, 1)), b"boo!");
    assert_eq!(read(&path), b"foooooo!");
    assert_eq!(names(d).len(), 2);
    l.write_all(b"baaaaaar!").unwrap();
    assert_eq!(read(&b1(d, 2)), b"foooooo!");
    assert_eq!(read(&path), b"baaaaaar!");
    assert_eq!(names(d).len(), 2);
    assert!(!b1(d, 1).exists(), "oldest backup deleted");

    // Files and directories that are not backups are never touched: a similar name, and a
    // directory with a backup's name.
    std::fs::write(d.join("foobar.log.foo"), b"data").unwrap();
    std::fs::create_dir(b1(d, 1)).unwrap();
    // A stray compressed file at the next number: ctrlog's next name is one past the largest on
    // disk, so the rotation never overwrites it (lumberjack would), and it counts as a backup.
    std::fs::write(d.join("foobar.log.s00000003.gz"), b"compress").unwrap();
    l.write_all(b"baaaaaaz!").unwrap();
    assert_eq!(read(&path), b"baaaaaaz!");
    assert_eq!(read(&b1(d, 4)), b"baaaaaar!");
    // Count(1): the older backups (s2 and the stray s3.gz) were pruned.
    assert!(!b1(d, 2).exists());
    assert!(!d.join("foobar.log.s00000003.gz").exists());
    assert!(d.join("foobar.log.foo").exists());
    assert!(b1(d, 1).is_dir());
    assert_eq!(
        names(d),
        [
            "foobar.log",
            "foobar.log.foo",
            "foobar.log.s00000001",
            "foobar.log.s00000004"
        ]
    );
}

#[test]
fn cleanup_existing_backups() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(b1(d, 1), b"data").unwrap();
    std::fs::write(d.join("foobar.log.s00000002.gz"), gzip(b"data")).unwrap();
    std::fs::write(b1(d, 3), b"data").unwrap();
    let path = d.join("foobar.log");
    std::fs::write(&path, b"data").unwrap();
    let mut l =
        RotatingFile::open(&path, opts(Some(10), Backups::Count(1), Naming::Ctrlog)).unwrap();
    l.write_all(b"foooooo!").unwrap();
    assert_eq!(names(d), ["foobar.log", "foobar.log.s00000004"]);
    assert_eq!(read(&b1(d, 4)), b"data");
}

#[test]
fn explicit_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("foobar.log");
    let mut l =
        RotatingFile::open(&path, opts(Some(100), Backups::Count(1), Naming::Ctrlog)).unwrap();
    l.write_all(b"boo!").unwrap();
    assert_eq!(names(d).len(), 1);
    l.rotate().unwrap();
    assert_eq!(read(&b1(d, 1)), b"boo!");
    assert_eq!(read(&path), b"");
    assert_eq!(names(d).len(), 2);
    // Rotating an empty file makes an empty backup (lumberjack does the same).
    l.rotate().unwrap();
    assert_eq!(read(&b1(d, 2)), b"");
    assert_eq!(read(&path), b"");
    assert_eq!(names(d).len(), 2);
    l.write_all(b"foooooo!").unwrap();
    assert_eq!(read(&path), b"foooooo!");
    assert_eq!(l.stats().rotations, 2);
}

#[test]
fn compress_on_rotate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("foobar.log");
    let mut o = opts(Some(10), Backups::Unlimited, Naming::Ctrlog);
    o.compress = true;
    let mut l = RotatingFile::open(&path, o).unwrap();
    l.write_all(b"boo!").unwrap();
    l.rotate().unwrap();
    assert_eq!(read(&path), b"");
    l.wait_compressed();
    let gz = d.join("foobar.log.s00000001.gz");
    assert_eq!(gunzip(&gz), b"boo!");
    assert!(!b1(d, 1).exists());
    assert_eq!(names(d).len(), 2);
    assert_eq!(l.stats().compressed, 1);
}

/// A raw backup with an empty (incomplete) `.gz` twin is compressed again at open.
#[test]
fn compress_on_resume() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("foobar.log");
    std::fs::write(b1(d, 1), b"foo!").unwrap();
    std::fs::write(d.join("foobar.log.s00000001.gz"), b"").unwrap();
    let mut o = opts(Some(10), Backups::Unlimited, Naming::Ctrlog);
    o.compress = true;
    let mut l = RotatingFile::open(&path, o).unwrap();
    l.write_all(b"boo!").unwrap();
    assert_eq!(read(&path), b"boo!");
    l.wait_compressed();
    assert_eq!(read(&d.join("foobar.log.s00000001.gz")), gzip(b"foo!"));
    assert!(!b1(d, 1).exists());
    assert_eq!(names(d).len(), 2);
}

/// A complete `.gz` twin wins: the raw copy is removed at open.
#[test]
fn complete_gz_twin_removes_raw_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(b1(d, 1), b"foo!").unwrap();
    std::fs::write(d.join("foobar.log.s00000001.gz"), gzip(b"foo!")).unwrap();
    std::fs::write(d.join("foobar.log.s00000002.gz.tmp"), b"half").unwrap();
    let l = RotatingFile::open(
        d.join("foobar.log"),
        opts(Some(10), Backups::Unlimited, Naming::Ctrlog),
    )
    .unwrap();
    drop(l);
    assert_eq!(names(d), ["foobar.log", "foobar.log.s00000001.gz"]);
}

/// `TestMaintainMode`: the new live file and the backup keep the old file's mode.
#[test]
fn maintain_mode() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("foobar.log");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o770)).unwrap();
    let mut l =
        RotatingFile::open(&path, opts(Some(100), Backups::Count(1), Naming::Ctrlog)).unwrap();
    l.write_all(b"boo!").unwrap();
    l.rotate().unwrap();
    assert_eq!(mode(&path), 0o770);
    assert_eq!(mode(&b1(d, 1)), 0o770);
}

/// New files get 0640 whatever the umask.
#[test]
fn new_file_mode_0640() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("foobar.log");
    let l = RotatingFile::open(&path, opts(None, Backups::Unlimited, Naming::Ctrlog)).unwrap();
    drop(l);
    assert_eq!(mode(&path), 0o640);
}
