use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

use super::carry::{probe, Carry, Probe};
use super::plan::{plan, BLOCK};

fn file_with(content: &[u8]) -> (tempfile::TempDir, File) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.json");
    fs::write(&path, content).unwrap();
    let f = File::open(&path).unwrap();
    (dir, f)
}

/// A line longer than the scanners' block is kept or dropped by its offset alone, never
/// held whole.
#[test]
fn an_overlong_line_counts_by_its_offset() {
    let big = format!("{{\"msg\":\"{}\"}}\n", "x".repeat(BLOCK * 2));
    let content = format!("{{\"a\":1}}\n{big}{{\"b\":2}}\n");
    let (_d, f) = file_with(content.as_bytes());
    let len = content.len() as u64;
    let p = plan(&f, len, len - 1, 1 << 20).unwrap();
    assert_eq!((p.window, p.complete_end), (8, len));
    assert_eq!((p.kept_records, p.dropped_records), (2, 1));
    let p = plan(&f, len, big.len() as u64, 1 << 20).unwrap();
    assert_eq!(
        p.window,
        len - 8,
        "the long line does not fit with the last"
    );
}

/// Only the bytes up to the last `\n` of the snapshot are planned: the rest is the
/// carry-over's.
#[test]
fn the_plan_ends_at_the_last_newline() {
    let content =
        b"{\"level\":\"error\",\"msg\":\"e\"}\n{\"a\":1}\n{\"level\":\"error\",\"msg\":\"t";
    let (_d, f) = file_with(content);
    let p = plan(&f, content.len() as u64, 8, 1 << 20).unwrap();
    assert_eq!(p.complete_end, 36);
    // The error record is the first one (the torn one is no record yet), and alone over
    // the cap: kept alone, the window empty.
    assert_eq!(p.error, Some((0, 28)));
    assert_eq!(p.window, 36);
    assert_eq!(p.kept_bytes(), 28);
    // 30: still older than the window, which the 2 bytes left cannot hold.
    let p = plan(&f, content.len() as u64, 30, 1 << 20).unwrap();
    assert_eq!((p.error, p.window, p.kept_bytes()), (Some((0, 28)), 36, 28));
    // 36: everything fits; the error record is inside the window.
    let p = plan(&f, content.len() as u64, 36, 1 << 20).unwrap();
    assert_eq!((p.error, p.window, p.kept_bytes()), (None, 0, 36));
}

/// The lease is never tried on a file that still has a name: opening it would break the
/// lease and the kernel would kill this process with SIGIO.
#[test]
fn no_lease_on_a_reachable_file() {
    let (_d, f) = file_with(b"{}\n");
    assert_eq!(probe(&f), Probe::Unavailable);
}

#[test]
fn an_open_writer_keeps_the_unnamed_file_busy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.json");
    fs::write(&path, b"{}\n").unwrap();
    let f = File::open(&path).unwrap();
    let w = OpenOptions::new().append(true).open(&path).unwrap();
    fs::remove_file(&path).unwrap();
    // Busy here; Unavailable where the file system has no leases: never NoWriter.
    assert_ne!(probe(&f), Probe::NoWriter);
    drop(w);
    let p = probe(&f);
    assert!(matches!(p, Probe::NoWriter | Probe::Unavailable), "{p:?}");
}

/// Whole records are carried as they complete; a torn tail at the end is dropped, a whole
/// record without `\n` is carried with one.
#[test]
fn carry_copies_whole_records_only() {
    let dir = tempfile::tempdir().unwrap();
    let old_path = dir.path().join("old");
    let mut w = File::create(&old_path).unwrap();
    w.write_all(b"kept\n{\"a\":1}\n{\"b\":").unwrap();
    let old = File::open(&old_path).unwrap();
    let mut new = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(dir.path().join("new"))
        .unwrap();
    let mut c = Carry::new(5, 1 << 20);
    c.pass(&old, &mut new).unwrap();
    assert_eq!((c.bytes, c.records), (8, 1));
    w.write_all(b"2}\n{\"c\":3}").unwrap();
    c.pass(&old, &mut new).unwrap();
    c.finish(&mut new).unwrap();
    let mut got = String::new();
    new.seek(SeekFrom::Start(0)).unwrap();
    new.read_to_string(&mut got).unwrap();
    assert_eq!(got, "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
    assert_eq!((c.records, c.torn_tail), (3, 0));

    let mut c = Carry::new(0, 1 << 20);
    let torn = dir.path().join("torn");
    fs::write(&torn, b"{\"a\":1}\n{\"b\"").unwrap();
    c.pass(&File::open(&torn).unwrap(), &mut new).unwrap();
    c.finish(&mut new).unwrap();
    assert_eq!((c.records, c.torn_tail, c.dropped_bytes), (1, 4, 4));
}

/// A carry-over write cut short by a file-size limit (as by a full disk) leaves no torn
/// record: the part written is cut back off the new file, and the pass fails saying so. Run
/// in a child process (this test binary, under `ulimit -f`): the limit is the process's, and
/// other tests write files meanwhile.
#[test]
fn a_short_carry_write_is_cut_back() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<u8> = (0..100)
        .flat_map(|i| format!("{{\"level\":\"info\",\"msg\":\"record {i:03}\"}}\n").into_bytes())
        .collect();
    fs::write(dir.path().join("old.json"), &records).unwrap();
    // Whole records already in the new file, under any shell's unit for `ulimit -f 2`
    // (1024 or 2048 bytes); the carried 3,600 bytes cross the limit in one write.
    let record = records.len() / 100;
    let before = records[..1000 / record * record].to_vec();
    fs::write(dir.path().join("new.json"), &before).unwrap();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 2 && exec \"$0\" \"$@\"")
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "runc::cap::tests::short_write_child"])
        .args(["--ignored", "--test-threads=1"])
        .env("CTRLOG_CAP_CHILD_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr)
    );
    let said = fs::read_to_string(dir.path().join("said")).unwrap();
    assert_eq!(said, "StorageFull short write (disk full?)");
    let after = fs::read(dir.path().join("new.json")).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&after),
        String::from_utf8_lossy(&before)
    );
}

#[test]
#[ignore = "the child of a_short_carry_write_is_cut_back, which runs it under `ulimit -f`"]
fn short_write_child() {
    let Some(dir) = std::env::var_os("CTRLOG_CAP_CHILD_DIR") else {
        // Run with the ignored tests, outside its parent: do what the parent does (which
        // runs this again as its child).
        return a_short_carry_write_is_cut_back();
    };
    let dir = std::path::PathBuf::from(dir);
    let old = File::open(dir.join("old.json")).unwrap();
    let mut new = OpenOptions::new()
        .append(true)
        .open(dir.join("new.json"))
        .unwrap();
    let mut carry = Carry::new(0, 1 << 20);
    let err = carry.pass(&old, &mut new).unwrap_err();
    fs::write(dir.join("said"), format!("{:?} {err}", err.kind())).unwrap();
}
