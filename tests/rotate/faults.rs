//! Failure handling of the rotating writer with real errors: external deletion, truncation and
//! renaming, a second writer, a failing rename, a torn record, EFBIG from `RLIMIT_FSIZE`, and
//! SIGKILL at random moments (the crash test).
#![cfg(feature = "gzip")]

use crate::rotate_common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ctrlog::rotate::{
    classify, Backups, CtrlogNaming, Durability, EntryKind, Naming, RecordEnd, RotateError,
    RotateOptions, RotatingFile,
};
use rotate_common::*;

#[test]
fn reopen_below_cap_appends_and_never_rotates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    for i in 0..3 {
        let mut l =
            RotatingFile::open(&path, opts(Some(100), Backups::Count(2), Naming::Ctrlog)).unwrap();
        assert_eq!(l.size(), i * 10);
        l.write_all(b"123456789\n").unwrap();
        l.close().unwrap();
    }
    assert_eq!(names(dir.path()), ["c.log"]);
    assert_eq!(read(&path).len(), 30);
}

#[test]
fn never_rotates_without_max_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let mut l = RotatingFile::open(&path, opts(None, Backups::Unlimited, Naming::Ctrlog)).unwrap();
    for _ in 0..1000 {
        l.write_all(&[b'x'; 1000]).unwrap();
    }
    assert_eq!(names(dir.path()), ["c.log"]);
    assert_eq!(l.size(), 1_000_000);
}

#[test]
fn second_writer_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let o = || opts(Some(10), Backups::Count(1), Naming::Ctrlog);
    let mut l = RotatingFile::open(&path, o()).unwrap();
    let err = RotatingFile::open(&path, o()).unwrap_err();
    assert!(matches!(err, RotateError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked by another writer"));
    // Still locked after a rotation (the new live file is locked too).
    l.write_all(b"0123456789").unwrap();
    l.write_all(b"x").unwrap();
    assert!(matches!(
        RotatingFile::open(&path, o()),
        Err(RotateError::Locked { .. })
    ));
    drop(l);
    RotatingFile::open(&path, o()).unwrap();
}

#[test]
fn external_deletion_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let mut o = opts(Some(100), Backups::Count(1), Naming::Ctrlog);
    o.check_interval = Duration::ZERO;
    let mut l = RotatingFile::open(&path, o).unwrap();
    l.write_all(b"one\n").unwrap();
    std::fs::remove_file(&path).unwrap();
    l.write_all(b"two\n").unwrap();
    assert_eq!(read(&path), b"two\n");
    assert_eq!(l.stats().reopens, 1);
    assert_eq!(mode(&path), 0o640);
}

#[test]
fn external_truncation_resyncs_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    let mut o = opts(Some(20), Backups::Count(1), Naming::Ctrlog);
    o.check_interval = Duration::ZERO;
    let mut l = RotatingFile::open(&path, o).unwrap();
    l.write_all(b"0123456789\n").unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(0)
        .unwrap();
    // 11 + 15 would cross 20; after the re-sync the file holds 0 + 15.
    l.write_all(b"abcdefghijklmn\n").unwrap();
    assert_eq!(read(&path), b"abcdefghijklmn\n");
    assert_eq!(l.size(), 15);
    assert_eq!(names(dir.path()), ["c.log"]);
}

/// kubelet's flow: the file is renamed away by someone else, then `ReopenContainerLog`.
#[test]
fn reopen_after_external_rename() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("c.log");
    let mut l = RotatingFile::open(&path, opts(None, Backups::Unlimited, Naming::Kubelet)).unwrap();
    l.write_all(b"before\n").unwrap();
    std::fs::rename(&path, d.join("c.log.20180101-000000")).unwrap();
    l.write_all(b"still old\n").unwrap();
    l.reopen().unwrap();
    l.write_all(b"after\n").unwrap();
    assert_eq!(
        read(&d.join("c.log.20180101-000000")),
        b"before\nstill old\n"
    );
    assert_eq!(read(&path), b"after\n");
    // A reopen with nothing renamed is a no-op.
    l.reopen().unwrap();
    l.write_all(b"more\n").unwrap();
    assert_eq!(read(&path), b"after\nmore\n");
    assert_eq!(l.stats().reopens, 1);
}

/// A rename that fails (the target is a directory) keeps appending and never truncates; the
/// rotation succeeds once the obstacle is gone.
#[test]
fn failed_rename_keeps_appending() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = d.join("c.log");
    std::fs::create_dir(d.join("c.log.1")).unwrap();
    std::fs::write(d.join("c.log.1/x"), b"x").unwrap();
    let mut l =
        RotatingFile::open(&path, opts(Some(10), Backups::Count(3), Naming::Docker)).unwrap();
    for i in 0..5 {
        l.write_all(format!("record {i}\n").as_bytes()).unwrap();
    }
    assert_eq!(
        read(&path),
        b"record 0\nrecord 1\nrecord 2\nrecord 3\nrecord 4\n"
    );
    assert!(l.stats().rotation_failures >= 1);
    assert!(l.rotate().is_err());
    std::fs::remove_dir_all(d.join("c.log.1")).unwrap();
    l.write_all(b"record 5\n").unwrap();
    // Still backing off: appended.
    assert_eq!(read(&path).len(), 54);
    l.rotate().unwrap();
    assert_eq!(read(&d.join("c.log.1")).len(), 54);
    l.write_all(b"record 6\n").unwrap();
    assert_eq!(read(&path), b"record 6\n");
}

#[test]
fn torn_record_is_cut_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.log");
    std::fs::write(&path, b"a\nb\nparti").unwrap();
    let mut o = opts(None, Backups::Unlimited, Naming::Ctrlog);
    o.record_end = RecordEnd::Newline;
    let mut l = RotatingFile::open(&path, o.clone()).unwrap();
    assert_eq!(l.size(), 4);
    l.write_all(b"c\n").unwrap();
    drop(l);
    assert_eq!(read(&path), b"a\nb\nc\n");
    // A torn record after the only newline; a big one is read back in chunks.
    let mut big = vec![b'z'; 200_000];
    big.insert(0, b'\n');
    std::fs::write(&path, &big).unwrap();
    drop(RotatingFile::open(&path, o.clone()).unwrap());
    assert_eq!(read(&path), b"\n");
    // A file without any newline has no record boundary: refused and left whole (it used to be
    // emptied; issue 9 item 8).
    std::fs::write(&path, b"no newline").unwrap();
    let err = RotatingFile::open(&path, o).unwrap_err();
    assert!(matches!(err, RotateError::NoRecordBoundary { .. }), "{err}");
    assert_eq!(read(&path), b"no newline");
}

// ---------------------------------------------------------------------------------------------
// Child-process tests: the test binary re-runs itself with an environment variable selecting
// the child's role.

const CHILD_ENV: &str = "CTRLOG_ROTATE_CHILD";

fn child_role() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

fn spawn_self(test: &str, role: &str, dir: &Path, extra: &[(&str, String)]) -> std::process::Child {
    // The harness names a test by its module path below the binary's root (`faults::…`).
    let test = match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::{test}"),
        None => test.to_owned(),
    };
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", &test, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, role)
        .env("CTRLOG_ROTATE_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// EFBIG from `RLIMIT_FSIZE` (SIGXFSZ ignored), in a child so the runner is not affected.
#[test]
fn efbig_leaves_no_partial_record() {
    if child_role().as_deref() == Some("efbig") {
        efbig_child();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = spawn_self("efbig_leaves_no_partial_record", "efbig", dir.path(), &[])
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("EFBIG-OK"));
    let mut want = b"record 0\nrecord 1\nrecord 2\n".to_vec();
    want.extend_from_slice(&[b'y'; 99]);
    want.push(b'\n');
    assert_eq!(read(&dir.path().join("c.log")), want);
}

fn efbig_child() {
    let dir = std::path::PathBuf::from(std::env::var_os("CTRLOG_ROTATE_DIR").unwrap());
    let path = dir.join("c.log");
    // SAFETY: setting a signal disposition and resource limits in this single-test process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    std::fs::write(dir.join("c.log.s00000001"), b"backup\n").unwrap();
    let mut l = RotatingFile::open(&path, opts(None, Backups::Unlimited, Naming::Ctrlog)).unwrap();
    for i in 0..3 {
        l.write_all(format!("record {i}\n").as_bytes()).unwrap();
    }
    let size = std::fs::metadata(&path).unwrap().len();
    assert_eq!(size, 27);
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on valid pointers.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut old), 0);
        let lim = libc::rlimit {
            rlim_cur: 37,
            rlim_max: old.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
    let mut rec = vec![b'x'; 99];
    rec.push(b'\n');
    // 10 bytes fit under the limit, then EFBIG: the partial record must be cut.
    let err = l.write(&rec).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EFBIG), "{err}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        27,
        "partial record left"
    );
    // EFBIG is a per-file limit: no backup is deleted for it, and no retry (issue 9).
    assert_eq!(l.stats().space_retries, 0);
    assert!(dir.join("c.log.s00000001").exists(), "backup deleted");
    let err = l.write(&rec).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EFBIG));
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 27);
    // SAFETY: as above; raising the soft limit back to what it was.
    unsafe {
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &old), 0);
    }
    let mut rec = vec![b'y'; 99];
    rec.push(b'\n');
    l.write_all(&rec).unwrap();
    assert_eq!(l.size(), 127);
    l.close().unwrap();
    println!("EFBIG-OK");
}

// ---------------------------------------------------------------------------------------------
// The crash test.

const CRASH_MAX: u64 = 3000;
const CRASH_BACKUPS: u32 = 3;

fn crash_opts() -> RotateOptions {
    let mut o = RotateOptions::default();
    o.max_size = Some(CRASH_MAX);
    o.backups = Backups::Count(CRASH_BACKUPS);
    o.compress = true;
    o.naming = Naming::Ctrlog;
    o.durability = Durability::EveryRecord;
    // Checks often, so that crashes also land in the middle of them.
    o.check_interval = Duration::from_millis(1);
    o
}

/// Record `seq` of run `run`: its length depends on both so that a torn record cannot parse.
fn crash_record(run: u32, seq: u32) -> Vec<u8> {
    let fill = ((run as usize * 7919 + seq as usize * 104_729) % 300) + 10;
    let mut r = format!("R{run:04}:{seq:07}:{fill:03}:").into_bytes();
    r.extend(vec![b'a' + (seq % 26) as u8; fill]);
    r.push(b'\n');
    r
}

fn parse_crash_line(line: &[u8]) -> Option<(u32, u32)> {
    let s = std::str::from_utf8(line).ok()?;
    let mut it = s.splitn(4, ':');
    let run: u32 = it.next()?.strip_prefix('R')?.parse().ok()?;
    let seq: u32 = it.next()?.parse().ok()?;
    let _fill: usize = it.next()?.parse().ok()?;
    let mut want = crash_record(run, seq);
    want.pop();
    (want == line).then_some((run, seq))
}

fn crash_child() {
    let dir = std::path::PathBuf::from(std::env::var_os("CTRLOG_ROTATE_DIR").unwrap());
    let run: u32 = std::env::var("CTRLOG_ROTATE_RUN").unwrap().parse().unwrap();
    let mut l = RotatingFile::open(dir.join("c.log"), crash_opts()).unwrap();
    let stdout = std::io::stdout();
    for seq in 0..1_000_000u32 {
        l.write_all(&crash_record(run, seq)).unwrap();
        let mut o = stdout.lock();
        writeln!(o, "ACK {seq}").unwrap();
        o.flush().unwrap();
    }
}

/// Every file of the set, oldest first, as (name, contents) with `.gz` decoded.
fn crash_set(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut backups = BTreeMap::new();
    let mut live = None;
    for name in names(dir) {
        if name == "c.log" {
            live = Some(read(&dir.join(&name)));
            continue;
        }
        let (key, kind, _) = classify(&CtrlogNaming, "c.log", &name)
            .unwrap_or_else(|| panic!("unrecognised file {name} in the set"));
        let data = match kind {
            EntryKind::Raw => read(&dir.join(&name)),
            EntryKind::Gz => gunzip(&dir.join(&name)),
            EntryKind::Tmp => panic!("temporary {name} left after recovery"),
        };
        assert!(
            backups.insert(key, (name, data)).is_none(),
            "two files for one backup"
        );
    }
    let mut out: Vec<(String, Vec<u8>)> = backups.into_values().collect();
    out.push(("c.log".into(), live.expect("live file missing")));
    out
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn crash_kill_restart() {
    if child_role().as_deref() == Some("crash") {
        crash_child();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Acknowledged records of every run, in write order.
    let mut acked: Vec<(u32, u32)> = Vec::new();
    let mut total_acked = 0usize;
    let started = std::time::Instant::now();
    let mut runs = 0u32;
    for run in 0..40u32 {
        if started.elapsed() > Duration::from_secs(15) {
            break;
        }
        runs += 1;
        let mut child = spawn_self(
            "crash_kill_restart",
            "crash",
            d,
            &[("CTRLOG_ROTATE_RUN", run.to_string())],
        );
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut acks = Vec::new();
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest prints "test name ... " without a newline before the test runs.
                if let Some((_, n)) = line.rsplit_once("ACK ") {
                    match n.parse::<u32>() {
                        Ok(n) => acks.push(n),
                        Err(_) => break, // a line cut by the kill
                    }
                }
            }
            acks
        });
        std::thread::sleep(Duration::from_millis(5 + rng.next() % 150));
        // SAFETY: signalling our own child by pid.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGKILL);
        }
        let status = child.wait().unwrap();
        let acks = reader.join().unwrap();
        if status.code().is_some() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            panic!("child exited by itself: {status:?}\n{err}");
        }
        for (i, seq) in acks.iter().enumerate() {
            assert_eq!(*seq as usize, i, "acks in order");
        }
        total_acked += acks.len();
        acked.extend(acks.iter().map(|s| (run, *s)));

        // Recovery happens at open; close joins the compressor.
        let l = RotatingFile::open(d.join("c.log"), crash_opts()).unwrap();
        l.close().unwrap();

        let set = crash_set(d);
        assert!(
            set.len() <= CRASH_BACKUPS as usize + 1,
            "too many files: {}",
            set.len()
        );
        let mut present: Vec<(u32, u32)> = Vec::new();
        for (name, data) in &set {
            assert!(data.len() as u64 <= CRASH_MAX, "{name} over the cap");
            assert!(
                data.is_empty() || data.ends_with(b"\n"),
                "{name}: torn record"
            );
            for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let rec = parse_crash_line(line).unwrap_or_else(|| {
                    panic!("{name}: bad record {:?}", String::from_utf8_lossy(line))
                });
                present.push(rec);
            }
        }
        let uniq: BTreeSet<(u32, u32)> = present.iter().copied().collect();
        assert_eq!(uniq.len(), present.len(), "a record appears twice");
        // Records are in write order across the set.
        assert!(
            present.windows(2).all(|w| w[0] < w[1]),
            "records out of order"
        );
        // Every acknowledged record not older than the oldest one kept is present.
        if let Some(oldest) = present.first() {
            for a in acked.iter().filter(|a| *a >= oldest) {
                assert!(
                    uniq.contains(a),
                    "acknowledged record {a:?} lost (run {run})"
                );
            }
        }
        // Unacknowledged records present: at most the one being written when killed.
        let acked_set: BTreeSet<(u32, u32)> = acked.iter().copied().collect();
        for p in &present {
            if !acked_set.contains(p) {
                let last = acked.iter().filter(|a| a.0 == p.0).map(|a| a.1).max();
                assert_eq!(
                    Some(p.1),
                    last.map_or(Some(0), |l| l.checked_add(1)),
                    "{p:?}"
                );
            }
        }
    }
    assert!(runs >= 5, "only {runs} runs");
    assert!(
        total_acked > 100,
        "children wrote too little: {total_acked}"
    );
    eprintln!("crash test: {runs} runs, {total_acked} acknowledged records");
}

// ---------------------------------------------------------------------------------------------
// Memory: the writer buffers nothing; compression and the torn-record scan use fixed buffers.

fn vm_hwm_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// In a child (a fresh peak-RSS counter): 24 MiB through the writer in 1 MiB records with
/// compression, then a 32 MiB torn tail cut at open. Peak RSS grows by far less than the data.
#[test]
fn memory_is_bounded() {
    if child_role().as_deref() == Some("memory") {
        let dir = std::path::PathBuf::from(std::env::var_os("CTRLOG_ROTATE_DIR").unwrap());
        let path = dir.join("c.log");
        let rec = {
            let mut r = vec![b'm'; 1 << 20];
            if let Some(last) = r.last_mut() {
                *last = b'\n';
            }
            r
        };
        let before = vm_hwm_kib();
        let mut opts = RotateOptions::default();
        opts.max_size = Some(4 << 20);
        opts.backups = Backups::Count(2);
        opts.compress = true;
        opts.durability = Durability::None;
        let mut l = RotatingFile::open(&path, opts.clone()).unwrap();
        for _ in 0..24 {
            l.write_all(&rec).unwrap();
        }
        l.close().unwrap();
        // A 32 MB torn record (no newline) at the end of the live file.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let chunk = vec![b't'; 1 << 20];
        for _ in 0..32 {
            f.write_all(&chunk).unwrap();
        }
        drop(f);
        let l = RotatingFile::open(&path, opts).unwrap();
        assert_eq!(l.size() % (1 << 20), 0);
        drop(l);
        let grew = vm_hwm_kib().saturating_sub(before);
        println!("MEMORY-GREW-KIB {grew}");
        assert!(grew < 8 * 1024, "peak RSS grew by {grew} KiB");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = spawn_self("memory_is_bounded", "memory", dir.path(), &[])
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().find(|l| l.contains("MEMORY-GREW-KIB"));
    assert!(line.is_some(), "{stdout}");
    eprintln!("{}", line.unwrap_or_default());
}

/// A compression that fails (its temporary name is taken by a directory) leaves that backup raw,
/// does not stop the others from being compressed, and never blocks rotation.
#[test]
fn failed_compression_keeps_raw_and_moves_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("c.log.s00000001.gz.tmp")).unwrap();
    let mut o = opts(Some(10), Backups::Unlimited, Naming::Ctrlog);
    o.compress = true;
    let mut l = RotatingFile::open(d.join("c.log"), o).unwrap();
    for r in [
        &b"one 12345\n"[..],
        b"two 12345\n",
        b"three 123\n",
        b"four 1234\n",
    ] {
        l.write_all(r).unwrap();
    }
    l.wait_compressed();
    let st = l.stats();
    assert_eq!(st.rotations, 3);
    assert!(st.compress_failures >= 1);
    assert_eq!(st.compressed, 2);
    l.close().unwrap();
    assert_eq!(read(&d.join("c.log.s00000001")), b"one 12345\n");
    assert_eq!(gunzip(&d.join("c.log.s00000002.gz")), b"two 12345\n");
    assert_eq!(gunzip(&d.join("c.log.s00000003.gz")), b"three 123\n");
    assert_eq!(read(&d.join("c.log")), b"four 1234\n");
}
