//! Rotated sets, follow across rotation/truncation, caps, pod log paths.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctrlog::cri::read::{
    base_log_in_dir, parse_rotation_suffix, rotated_set, ContainerLogLink, LogReader, LogSink,
    PodLogPath, PodPathError, ReadOptions, ReadStats, SplitSink,
};
use ctrlog::cri::Stream;
use ctrlog::rotate::{BackupName, Naming};

fn cri(stream: &str, tag: &str, c: &str) -> String {
    format!("2024-01-01T00:00:00Z {stream} {tag} {c}\n")
}

#[test]
fn rotation_suffixes() {
    let name = |naming, key| Some((BackupName { naming, key }, false));
    let gz = |naming, key| Some((BackupName { naming, key }, true));
    // Docker's `name.N` has the order key `u64::MAX - N` (larger is newer).
    assert_eq!(
        parse_rotation_suffix("1"),
        name(Naming::Docker, u64::MAX - 1)
    );
    assert_eq!(
        parse_rotation_suffix("12.gz"),
        gz(Naming::Docker, u64::MAX - 12)
    );
    assert_eq!(
        parse_rotation_suffix("20240102-030405"),
        name(Naming::Kubelet, 20240102030405)
    );
    assert_eq!(
        parse_rotation_suffix("20240102-030405.gz"),
        gz(Naming::Kubelet, 20240102030405)
    );
    assert_eq!(parse_rotation_suffix("s00000042"), name(Naming::Ctrlog, 42));
    for bad in [
        "0",
        "",
        "x",
        "20240102-030405.tmp",
        "20240102-030405.gz.tmp",
        "s",
        "sx1",
        "1.bz2",
        "2024010-030405",
        // Names no writer gives (issue 10 item 2: one grammar with the writer).
        "01",
        "s1",
        "s0000042",
    ] {
        assert_eq!(parse_rotation_suffix(bad), None, "{bad:?}");
    }
}

fn names(files: &[ctrlog::cri::read::LogFile]) -> Vec<String> {
    files
        .iter()
        .map(|f| f.path.file_name().unwrap().to_str().unwrap().to_owned())
        .collect()
}

#[test]
fn rotated_set_order() {
    let d = tempfile::tempdir().unwrap();
    for n in [
        "c.log",
        "c.log.1",
        "c.log.2.gz",
        "c.log.3.gz",
        "c.log.1.gz",
        "other.log",
        "c.log.x",
        // Not names any writer gives (issue 10 item 2): the writer never prunes them, so
        // the reader does not read them either.
        "c.log.01",
        "c.log.s1",
    ] {
        fs::write(d.path().join(n), "").unwrap();
    }
    let set = rotated_set(&d.path().join("c.log")).unwrap();
    // c.log.1 exists plain and compressed (Docker mid-compression): the plain one is read.
    assert_eq!(
        names(&set),
        ["c.log.3.gz", "c.log.2.gz", "c.log.1", "c.log"]
    );

    let d = tempfile::tempdir().unwrap();
    for n in [
        "0.log",
        "0.log.20240102-000000.gz",
        "0.log.20240101-235959",
        "0.log.20240103-000000.tmp",
    ] {
        fs::write(d.path().join(n), "").unwrap();
    }
    let set = rotated_set(&d.path().join("0.log")).unwrap();
    assert_eq!(
        names(&set),
        ["0.log.20240101-235959", "0.log.20240102-000000.gz", "0.log"]
    );

    let d = tempfile::tempdir().unwrap();
    for n in ["a", "a.s00000010", "a.s00000009", "a.s00000011.gz"] {
        fs::write(d.path().join(n), "").unwrap();
    }
    assert_eq!(
        names(&rotated_set(&d.path().join("a")).unwrap()),
        ["a.s00000009", "a.s00000010", "a.s00000011.gz", "a"]
    );
}

#[test]
fn directory_with_one_set_or_restarts() {
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("c.log"), "").unwrap();
    fs::write(d.path().join("c.log.1"), "").unwrap();
    assert_eq!(base_log_in_dir(d.path()).unwrap(), d.path().join("c.log"));
    // kubelet's restart files: the highest restart wins.
    let d = tempfile::tempdir().unwrap();
    for n in ["0.log", "1.log", "2.log", "1.log.20240101-000000"] {
        fs::write(d.path().join(n), "").unwrap();
    }
    assert_eq!(base_log_in_dir(d.path()).unwrap(), d.path().join("2.log"));
    // Two unrelated logs: a clear error.
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("a.log"), "").unwrap();
    fs::write(d.path().join("b.log"), "").unwrap();
    let e = base_log_in_dir(d.path()).unwrap_err().to_string();
    assert!(e.contains("2 logs (a.log, b.log)"), "{e}");
    let d = tempfile::tempdir().unwrap();
    assert!(base_log_in_dir(d.path())
        .unwrap_err()
        .to_string()
        .contains("no log file"));
}

fn read_to_end(path: &Path, opts: ReadOptions) -> (Vec<u8>, Vec<u8>, ReadStats) {
    let mut s = SplitSink {
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let st = LogReader::open(path, opts)
        .unwrap()
        .read_to(&mut s)
        .unwrap();
    (s.stdout, s.stderr, st)
}

#[cfg(feature = "gzip")]
fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[cfg(feature = "gzip")]
#[test]
fn reads_docker_set_oldest_first_with_gzip_and_tail_across_files() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c-json.log");
    let dj = |s: &str| {
        format!("{{\"log\":\"{s}\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:00Z\"}}\n")
    };
    fs::write(
        d.path().join("c-json.log.2.gz"),
        gz((dj("one") + &dj("two")).as_bytes()),
    )
    .unwrap();
    // A line split across the rotation: P in the backup, F in the live file.
    fs::write(
        d.path().join("c-json.log.1"),
        cri("stdout", "F", "three") + &cri("stdout", "P", "fo"),
    )
    .unwrap();
    fs::write(&p, cri("stdout", "F", "ur") + &dj("five")).unwrap();
    let (o, e, st) = read_to_end(&p, ReadOptions::default());
    assert_eq!(
        String::from_utf8(o).unwrap(),
        "one\ntwo\nthree\nfour\nfive\n"
    );
    assert!(e.is_empty());
    assert_eq!(st.files_read, 3);
    for (n, want) in [
        (1, "five\n"),
        (2, "four\nfive\n"),
        (4, "two\nthree\nfour\nfive\n"),
        (9, "one\ntwo\nthree\nfour\nfive\n"),
    ] {
        let mut opts = ReadOptions::default();
        opts.tail = Some(n);
        let (o, _, _) = read_to_end(&p, opts);
        assert_eq!(String::from_utf8(o).unwrap(), want, "tail {n}");
    }
    // Only the live file.
    let mut s = SplitSink {
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    LogReader::open_single(&p, ReadOptions::default())
        .unwrap()
        .read_to(&mut s)
        .unwrap();
    assert_eq!(s.stdout, b"ur\nfive\n");
}

#[test]
fn overlong_records_are_skipped_with_bounded_memory() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("0.log");
    let huge = "x".repeat(300_000);
    let data =
        cri("stdout", "F", "before") + &cri("stdout", "F", &huge) + &cri("stderr", "F", "after");
    fs::write(&p, &data).unwrap();
    let mut opts = ReadOptions::default();
    opts.max_record_len = 64 << 10;
    opts.read_size = 4096;
    let (o, e, st) = read_to_end(&p, opts.clone());
    assert_eq!(
        (o.as_slice(), e.as_slice()),
        (&b"before\n"[..], &b"after\n"[..])
    );
    assert_eq!(st.skipped, 1);
    // Tail walks backwards past it too.
    let mut tail2 = opts;
    tail2.tail = Some(2);
    let (o, e, _) = read_to_end(&p, tail2);
    assert_eq!(
        (o.as_slice(), e.as_slice()),
        (&b"before\n"[..], &b"after\n"[..])
    );
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<(Vec<u8>, Vec<u8>)>>);

impl LogSink for Shared {
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> std::io::Result<()> {
        let mut g = self.0.lock().unwrap();
        match stream {
            Stream::Stdout => g.0.extend_from_slice(data),
            Stream::Stderr => g.1.extend_from_slice(data),
        }
        Ok(())
    }
}

impl Shared {
    fn out(&self) -> Vec<u8> {
        self.0.lock().unwrap().0.clone()
    }
}

struct Follower {
    stop: Arc<AtomicBool>,
    out: Shared,
    handle: std::thread::JoinHandle<ReadStats>,
}

fn follow(path: &Path) -> Follower {
    let stop = Arc::new(AtomicBool::new(false));
    let out = Shared::default();
    let handle = {
        let (stop, mut out, path) = (stop.clone(), out.clone(), path.to_path_buf());
        std::thread::spawn(move || {
            let mut opts = ReadOptions::default();
            opts.poll_interval = Duration::from_millis(2);
            LogReader::open(&path, opts)
                .unwrap()
                .follow(&mut out, &stop)
                .unwrap()
        })
    };
    Follower { stop, out, handle }
}

fn wait_until(mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(30), "timed out");
        std::thread::sleep(Duration::from_millis(2));
    }
}

impl Follower {
    fn finish(self) -> (Vec<u8>, ReadStats) {
        self.stop.store(true, Ordering::Relaxed);
        let st = self.handle.join().unwrap();
        (self.out.out(), st)
    }
}

#[test]
fn many_rapid_rotations_lose_and_duplicate_nothing() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("app.log");
    fs::write(&p, "").unwrap();
    let f = follow(&p);
    let mut want = String::new();
    let mut file = OpenOptions::new().append(true).open(&p).unwrap();
    let mut seq = 0;
    for i in 0..3000 {
        // Lines split in two pieces now and then, across rotations too.
        if i % 7 == 0 {
            file.write_all(cri("stdout", "P", &format!("l{i}-")).as_bytes())
                .unwrap();
        }
        file.write_all(cri("stdout", "F", &format!("{i}")).as_bytes())
            .unwrap();
        if i % 7 == 0 {
            want += &format!("l{i}-{i}\n");
        } else {
            want += &format!("{i}\n");
        }
        if i % 50 == 49 {
            seq += 1;
            drop(file);
            fs::rename(&p, d.path().join(format!("app.log.s{seq:08}"))).unwrap();
            file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .unwrap();
        }
        if i % 200 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let n = want.len();
    let t = Instant::now();
    while f.out.out().len() < n && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(30));
    let (out, st) = f.finish();
    let got = String::from_utf8(out).unwrap();
    if got != want {
        let g: Vec<&str> = got.lines().collect();
        let w: Vec<&str> = want.lines().collect();
        let i = g
            .iter()
            .zip(&w)
            .position(|(a, b)| a != b)
            .unwrap_or(g.len().min(w.len()));
        panic!("first difference at line {i}: got {:?} want {:?} (got {} lines, want {}; stats {st:?})",
            &g[i.saturating_sub(2)..(i + 3).min(g.len())], &w[i.saturating_sub(2)..(i + 3).min(w.len())], g.len(), w.len());
    }
    assert_eq!(st.skipped, 0);
    assert!(st.rotations >= 1);
}

#[test]
fn follow_truncation_and_half_written_records() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("0.log");
    fs::write(&p, cri("stdout", "F", "a")).unwrap();
    let f = follow(&p);
    wait_until(|| f.out.out() == b"a\n");
    // Half a record: never printed until its newline arrives.
    let mut file = OpenOptions::new().append(true).open(&p).unwrap();
    file.write_all(b"2024-01-01T00:00:00Z stdout F hal")
        .unwrap();
    std::thread::sleep(Duration::from_millis(40));
    assert_eq!(f.out.out(), b"a\n");
    file.write_all(b"f\n").unwrap();
    wait_until(|| f.out.out() == b"a\nhalf\n");
    // copytruncate: the file shrinks, new records follow from offset 0.
    file.set_len(0).unwrap();
    std::thread::sleep(Duration::from_millis(40));
    file.write_all(cri("stdout", "F", "after truncate").as_bytes())
        .unwrap();
    wait_until(|| f.out.out() == b"a\nhalf\nafter truncate\n");
    let (_, st) = f.finish();
    assert_eq!(st.truncations, 1);
}

#[test]
fn follow_with_tail_starts_at_the_end() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("0.log");
    fs::write(&p, cri("stdout", "F", "old1") + &cri("stdout", "F", "old2")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let out = Shared::default();
    let h = {
        let (stop, mut out, p) = (stop.clone(), out.clone(), p.clone());
        std::thread::spawn(move || {
            let mut opts = ReadOptions::default();
            opts.tail = Some(0);
            opts.poll_interval = Duration::from_millis(2);
            LogReader::open(&p, opts)
                .unwrap()
                .follow(&mut out, &stop)
                .unwrap()
        })
    };
    std::thread::sleep(Duration::from_millis(30));
    let mut file = OpenOptions::new().append(true).open(&p).unwrap();
    file.write_all(cri("stdout", "F", "new").as_bytes())
        .unwrap();
    wait_until(|| out.out() == b"new\n");
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
}

#[test]
fn pod_log_paths() {
    let p = PodLogPath::new(
        "kube-system",
        "coredns-5d78c9869d-abcde",
        "0a1b-2c3d",
        "coredns",
        2,
    )
    .unwrap();
    let path = p.to_path("/var/log/pods");
    assert_eq!(
        path,
        Path::new("/var/log/pods/kube-system_coredns-5d78c9869d-abcde_0a1b-2c3d/coredns/2.log")
    );
    assert_eq!(PodLogPath::parse(&path).unwrap(), p);
    for (bad, kind) in [
        ("/var/log/pods/ns_pod/c/0.log", "pod directory"),
        ("/var/log/pods/ns_pod_uid_x/c/0.log", "pod directory"),
        ("/var/log/pods/ns__uid/c/0.log", "pod directory"),
        (
            "/var/log/pods/ns_pod_uid/c/0.log.20240101-000000",
            "restart count",
        ),
        ("/var/log/pods/ns_pod_uid/c/x.log", "restart count"),
        ("0.log", "expected"),
    ] {
        let e = PodLogPath::parse(bad).unwrap_err().to_string();
        assert!(e.contains(kind), "{bad}: {e}");
    }
    assert!(matches!(
        PodLogPath::new("ns", "a_b", "u", "c", 0),
        Err(PodPathError::Field { field: "pod", .. })
    ));

    let l = ContainerLogLink::new("web-0", "default", "side-car", "0123abcdef").unwrap();
    assert_eq!(l.file_name(), "web-0_default_side-car-0123abcdef.log");
    assert_eq!(
        ContainerLogLink::parse(l.to_path("/var/log/containers")).unwrap(),
        l
    );
    for bad in [
        "web-0_default_nginx.log",
        "web-0_default_nginx-xyz.log",
        "web-0_nginx-0123.log",
        "web-0_default_nginx-0123.txt",
        "a_b_c_d-01.log",
    ] {
        assert!(ContainerLogLink::parse(bad).is_err(), "{bad}");
    }
}

/// Docker's json-file rotation with `compress=true`: `name` -> `name.1`, then `name.1` is
/// compressed to `name.1.gz` (a new inode) and removed, older backups shift. The compressed
/// copy of a file already read must not be read again; nothing may be lost.
#[cfg(feature = "gzip")]
#[test]
fn follow_docker_rotation_with_compression() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("c-json.log");
    fs::write(&p, "").unwrap();
    let f = follow(&p);
    let dj = |i: usize| {
        format!("{{\"log\":\"{i}\\n\",\"stream\":\"stdout\",\"time\":\"2024-01-01T00:00:00.{i:09}Z\"}}\n")
    };
    let mut want = String::new();
    let mut file = OpenOptions::new().append(true).open(&p).unwrap();
    let max_files = 4;
    for i in 0..600 {
        file.write_all(dj(i).as_bytes()).unwrap();
        want += &format!("{i}\n");
        if i % 40 == 39 {
            drop(file);
            let name = |k: usize| d.path().join(format!("c-json.log.{k}.gz"));
            let _ = fs::remove_file(name(max_files - 1));
            for k in (2..max_files).rev() {
                let _ = fs::rename(name(k - 1), name(k));
            }
            let one = d.path().join("c-json.log.1");
            fs::rename(&p, &one).unwrap();
            file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .unwrap();
            if i % 80 == 79 {
                // Give the follower a moment now and then, as a real writer would.
                std::thread::sleep(Duration::from_millis(3));
            }
            let data = fs::read(&one).unwrap();
            fs::write(name(1), gz(&data)).unwrap();
            fs::remove_file(&one).unwrap();
        }
        if i % 13 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let n = want.len();
    let t = Instant::now();
    while f.out.out().len() < n && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(30));
    let (out, _st) = f.finish();
    let got = String::from_utf8(out).unwrap();
    // Backups removed before the follower reached them (max-file=4) may be lost; nothing
    // may be printed twice or out of order.
    let nums: Vec<usize> = got.lines().map(|l| l.parse().unwrap()).collect();
    assert!(
        nums.windows(2).all(|w| w[0] < w[1]),
        "duplicate or out of order: {got:?}"
    );
    assert_eq!(nums.last(), Some(&599));
}
