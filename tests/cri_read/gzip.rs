//! Compressed backups: damaged `.gz` files (issue 9 item 2) and `--tail` without
//! decompressing to disk, reading no more of the set than needed (item 3).
#![cfg(feature = "gzip")]

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use ctrlog::cri::read::{FileWarning, LogReader, LogSink, ReadOptions, ReadStats, TailMode};
use ctrlog::cri::Stream;

fn cri(stream: &str, tag: &str, c: &str) -> String {
    format!("2024-01-01T00:00:00Z {stream} {tag} {c}\n")
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Output (both streams in order, stderr lines marked `E:`) and warnings.
#[derive(Default, Clone)]
struct Rec(Arc<Mutex<(Vec<u8>, Vec<FileWarning>)>>);

impl LogSink for Rec {
    fn write_stream(&mut self, s: Stream, data: &[u8]) -> std::io::Result<()> {
        let mut g = self.0.lock().unwrap();
        if s == Stream::Stderr {
            g.0.extend_from_slice(b"E:");
        }
        g.0.extend_from_slice(data);
        Ok(())
    }
    fn warning(&mut self, w: &FileWarning) {
        self.0.lock().unwrap().1.push(w.clone());
    }
}

impl Rec {
    fn out(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
    }
    fn warnings(&self) -> Vec<FileWarning> {
        self.0.lock().unwrap().1.clone()
    }
}

/// Reads in a thread; fails instead of hanging.
fn read(path: &Path, opts: ReadOptions) -> (Rec, ReadStats) {
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let sink = Rec::default();
        let st = LogReader::open(&path, opts)
            .unwrap()
            .read_to(&mut sink.clone())
            .unwrap();
        let _ = tx.send((sink, st));
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the read took over 60 s")
}

fn tail(n: u64) -> ReadOptions {
    let mut o = ReadOptions::default();
    o.tail = Some(n);
    o
}

/// `c.log.2.gz` holding `lines` (damaged by `damage`), `c.log.1` "old", `c.log` "live".
fn damaged_set(dir: &Path, lines: usize, damage: impl Fn(&mut Vec<u8>)) -> std::path::PathBuf {
    let body: String = (0..lines)
        .map(|i| cri("stdout", "F", &format!("gz {i} {}", "z".repeat(i % 50))))
        .collect();
    let mut z = gz(body.as_bytes());
    damage(&mut z);
    fs::write(dir.join("c.log.2.gz"), z).unwrap();
    fs::write(dir.join("c.log.1"), cri("stdout", "F", "old")).unwrap();
    let p = dir.join("c.log");
    fs::write(&p, cri("stdout", "F", "live")).unwrap();
    p
}

/// The output is "gz 0" … "gz k-1" (k ≥ `min`), then "old", "live".
fn check_prefix(out: &str, min: usize) -> usize {
    let lines: Vec<&str> = out.lines().collect();
    let k = lines.len() - 2;
    assert!(k >= min, "only {k} lines of the damaged .gz delivered");
    for (i, l) in lines[..k].iter().enumerate() {
        assert!(l.starts_with(&format!("gz {i} ")), "line {i}: {l:?}");
    }
    assert_eq!(&lines[k..], ["old", "live"]);
    k
}

#[test]
fn truncated_gz_yields_its_data_up_to_the_cut_then_warns() {
    let d = tempfile::tempdir().unwrap();
    let p = damaged_set(d.path(), 20_000, |z| z.truncate(z.len() / 2));
    let (sink, st) = read(&p, ReadOptions::default());
    check_prefix(&sink.out(), 1000);
    let w = sink.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].path, d.path().join("c.log.2.gz"));
    assert_eq!((st.files_skipped, st.warnings.len()), (1, 1));
    // The record cut by the damage is counted as skipped.
    assert_eq!(st.skipped, 1);
    // Tail reaching into the damaged file: the same lines.
    let (sink, st) = read(&p, tail(1_000_000));
    check_prefix(&sink.out(), 1000);
    assert_eq!(st.files_skipped, 1);
    assert_eq!(sink.warnings().len(), 1);
}

#[test]
fn corrupt_gz_yields_its_data_up_to_the_damage_then_warns() {
    let d = tempfile::tempdir().unwrap();
    let p = damaged_set(d.path(), 20_000, |z| {
        let mid = z.len() / 2;
        for b in &mut z[mid..mid + 64] {
            *b ^= 0x5a;
        }
    });
    let (sink, st) = read(&p, ReadOptions::default());
    check_prefix(&sink.out(), 100);
    assert_eq!(st.files_skipped, 1);
    assert_eq!(sink.warnings()[0].path, d.path().join("c.log.2.gz"));
    // A gzip that is not one at all: nothing from it, a warning, the rest.
    let p = damaged_set(d.path(), 10, |z| z.iter_mut().for_each(|b| *b = b'x'));
    let (sink, st) = read(&p, ReadOptions::default());
    assert_eq!(sink.out(), "old\nlive\n");
    assert_eq!(st.files_skipped, 1);
}

#[test]
fn tail_from_the_live_file_never_touches_a_damaged_gz() {
    let d = tempfile::tempdir().unwrap();
    let p = damaged_set(d.path(), 100, |z| z.truncate(z.len() / 2));
    fs::write(
        &p,
        cri("stdout", "F", "a") + &cri("stdout", "F", "b") + &cri("stdout", "F", "live"),
    )
    .unwrap();
    for (n, want) in [(1, "live\n"), (2, "b\nlive\n")] {
        let (sink, st) = read(&p, tail(n));
        assert_eq!(sink.out(), want);
        assert!(sink.warnings().is_empty());
        assert_eq!((st.files_read, st.files_skipped), (1, 0));
    }
}

/// With one line in the live file, `--tail 1` must look at the record before it (is "live"
/// the end of a line begun in the backup?): a damaged `.gz` there is a warning, not a
/// failure.
#[test]
fn tail_1_when_the_line_before_is_in_a_damaged_gz() {
    let d = tempfile::tempdir().unwrap();
    let p = damaged_set(d.path(), 100, |z| z.truncate(z.len() / 2));
    fs::remove_file(d.path().join("c.log.1")).unwrap();
    let (sink, st) = read(&p, tail(1));
    assert_eq!(sink.out(), "live\n");
    assert_eq!(sink.warnings().len(), 1);
    assert_eq!(st.files_skipped, 1);
}

#[test]
fn follow_starts_despite_a_damaged_gz() {
    let d = tempfile::tempdir().unwrap();
    let p = damaged_set(d.path(), 100, |z| z.truncate(z.len() / 2));
    let stop = Arc::new(AtomicBool::new(false));
    let sink = Rec::default();
    let h = {
        let (p, stop, mut sink) = (p.clone(), Arc::clone(&stop), sink.clone());
        std::thread::spawn(move || {
            let mut opts = ReadOptions::default();
            opts.tail = Some(1);
            opts.poll_interval = Duration::from_millis(10);
            LogReader::open(&p, opts)
                .unwrap()
                .follow(&mut sink, &stop)
                .unwrap()
        })
    };
    let t0 = Instant::now();
    while sink.out() != "live\n" {
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", sink.out());
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
    f.write_all(cri("stdout", "F", "new").as_bytes()).unwrap();
    while !sink.out().ends_with("new\n") {
        assert!(t0.elapsed() < Duration::from_secs(20), "{:?}", sink.out());
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    h.join().unwrap();
    assert_eq!(sink.out(), "live\nnew\n");
}

/// A set of mixed records (both streams, partial lines, garbage) written plain in one
/// directory and with the oldest backup compressed in another: every tail agrees.
#[test]
fn tail_through_a_gz_agrees_with_the_plain_set() {
    let mut recs = Vec::new();
    let mut seed = 7u64;
    let mut rnd = |m: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % m
    };
    for i in 0..3000 {
        let stream = if rnd(3) == 0 { "stderr" } else { "stdout" };
        let tag = if rnd(4) == 0 { "P" } else { "F" };
        if rnd(50) == 0 {
            recs.push("garbage\n".to_string());
        }
        recs.push(cri(stream, tag, &format!("r{i}")));
    }
    let parts = [&recs[..2500], &recs[2500..2990], &recs[2990..]];
    let plain = tempfile::tempdir().unwrap();
    let comp = tempfile::tempdir().unwrap();
    for (dir, compress) in [(plain.path(), false), (comp.path(), true)] {
        let oldest = parts[0].concat();
        if compress {
            fs::write(dir.join("c.log.2.gz"), gz(oldest.as_bytes())).unwrap();
        } else {
            fs::write(dir.join("c.log.2"), oldest).unwrap();
        }
        fs::write(dir.join("c.log.1"), parts[1].concat()).unwrap();
        fs::write(dir.join("c.log"), parts[2].concat()).unwrap();
    }
    for mode in [TailMode::Lines, TailMode::Records] {
        for n in [0, 1, 5, 9, 10, 20, 100, 700, 2000, 2999, 5000] {
            let mut opts = ReadOptions::default();
            opts.tail = Some(n);
            opts.tail_mode = mode;
            let (a, sa) = read(&plain.path().join("c.log"), opts.clone());
            let (b, sb) = read(&comp.path().join("c.log"), opts);
            assert_eq!(a.out(), b.out(), "{mode:?} {n}");
            assert_eq!((sa.lines_out, sa.skipped), (sb.lines_out, sb.skipped));
            assert!(b.warnings().is_empty());
        }
    }
}

#[cfg(feature = "cli")]
#[test]
fn cli_tail_writes_nothing_to_tmpdir() {
    let d = tempfile::tempdir().unwrap();
    let body: String = (0..5000)
        .map(|i| cri("stdout", "F", &format!("{i}")))
        .collect();
    fs::write(d.path().join("c.log.1.gz"), gz(body.as_bytes())).unwrap();
    fs::write(d.path().join("c.log"), cri("stdout", "F", "live")).unwrap();
    // A TMPDIR that cannot be written to: a temporary file would fail the command.
    let tmp = d.path().join("no-such-tmp");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ctrlog"))
        .args(["logs", "--tail", "3"])
        .arg(d.path().join("c.log"))
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_eq!(
        (
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        ("4998\n4999\nlive\n".into(), "".into())
    );
    assert!(o.status.success());
    assert!(!tmp.exists());
}

/// The structured reader over the same damaged sets: the same lines as the byte reader, up to
/// the damage, then the rest of the set, with the warning counted (review: damaged `.gz`
/// through `next_line` had not been tried).
#[test]
fn next_line_over_a_damaged_gz_gives_what_read_to_gives() {
    use ctrlog::cri::read::LogLine;
    let d = tempfile::tempdir().unwrap();
    let halve: fn(&mut Vec<u8>) = |z| z.truncate(z.len() / 2);
    let garble: fn(&mut Vec<u8>) = |z| {
        let mid = z.len() / 2;
        for b in &mut z[mid..mid + 64] {
            *b ^= 0x5a;
        }
    };
    for damage in [halve, garble] {
        let p = damaged_set(d.path(), 20_000, damage);
        let (sink, _) = read(&p, ReadOptions::default());
        let mut r = LogReader::open(&p, ReadOptions::default()).unwrap();
        let mut line = LogLine::new();
        let mut out = String::new();
        while r.next_line(&mut line).unwrap() {
            out.push_str(std::str::from_utf8(line.content()).unwrap());
            if line.complete() {
                out.push('\n');
            }
        }
        assert_eq!(out, sink.out());
        check_prefix(&out, 100);
        assert_eq!(r.stats().map(|s| s.files_skipped), Some(1));
    }
}
