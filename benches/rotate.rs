//! Rotating writer benchmarks.
//!
//! 0. `rotate/tmpfs/*` and `rotate/paired_tmpfs`: the writer's own cost, 100,000 records to a
//!    file on tmpfs (`/dev/shm`), plain `File` against a never-rotating `RotatingFile`.
//! 1. `rotate/short_lines/*`: the lines of `short.txt` (first 20 MB), one record per `write`,
//!    to a plain `File` and through `RotatingFile` with Docker's `max-size=10m`, `max-file=5`.
//! 2. `rotate/paired` (printed after the criterion groups): the same comparison with the
//!    passes interleaved and the minimum kept, which holds up when the CPU is shared.
//! 3. `rotate/latency/*`: p50/p99/max time of the `write` calls that rotate (no sync, sync on
//!    rotate, sync on rotate with compression), against the p99 of ordinary writes.
//!
//! `cargo bench --bench rotate` (set `CTRLOG_WORKLOADS=/work/workloads` for the full files).

#[path = "common/mod.rs"]
mod common;

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use ctrlog::rotate::{Backups, Durability, RotateOptions, RotatingFile};

const PREFIX: u64 = 20_000_000;

fn lines() -> Vec<Vec<u8>> {
    let path = common::workload("short.txt");
    let mut data = Vec::new();
    std::fs::File::open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .take(PREFIX)
        .read_to_end(&mut data)
        .unwrap();
    let mut out: Vec<Vec<u8>> = data
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    if out.last().is_some_and(|l| !l.ends_with(b"\n")) {
        out.pop();
    }
    out
}

fn bench_short_lines(c: &mut Criterion) {
    let lines = lines();
    let bytes: usize = lines.iter().map(Vec::len).sum();
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("rotate/short_lines");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.throughput(Throughput::Bytes(bytes as u64));

    let plain = dir.path().join("plain.log");
    g.bench_function("plain_file", |b| {
        b.iter(|| {
            let mut f = OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&plain)
                .unwrap();
            for l in &lines {
                f.write_all(l).unwrap();
            }
        })
    });
    let _ = std::fs::remove_file(&plain);

    for (name, durability, compress) in [
        ("rotating_10m_5_sync_on_rotate", Durability::OnRotate, false),
        ("rotating_10m_5_no_sync", Durability::None, false),
        ("rotating_10m_5_gzip", Durability::OnRotate, true),
    ] {
        if compress && !cfg!(feature = "gzip") {
            continue;
        }
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let mut opts = RotateOptions::from_docker(Some("10m"), Some("5"), compress).unwrap();
        opts.durability = durability;
        let mut w = RotatingFile::open(sub.join("c.log"), opts).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                for l in &lines {
                    w.write_all(l).unwrap();
                }
            })
        });
        w.close().unwrap();
    }
    g.finish();
}

/// The writer's own cost per record, without the file system: the same records to
/// A scratch file for the "writer's own cost" benchmarks: on tmpfs (`/dev/shm`) when there is
/// one, so the file system costs little. It used to be `/dev/null`, which the writer now
/// refuses (only regular files are log files); each pass starts from an empty file.
fn scratch() -> (tempfile::TempDir, std::path::PathBuf) {
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap_or_else(|_| tempfile::tempdir().unwrap())
    } else {
        tempfile::tempdir().unwrap()
    };
    let path = dir.path().join("c.log");
    (dir, path)
}

fn never_rotating() -> RotateOptions {
    let mut o = RotateOptions::default();
    o.max_size = Some(u64::MAX);
    o.durability = Durability::None;
    o
}

/// A tmpfs file through a plain `File` and through `RotatingFile` (which never rotates there).
fn bench_tmpfs(c: &mut Criterion) {
    let lines: Vec<Vec<u8>> = lines().into_iter().take(100_000).collect();
    let mut g = c.benchmark_group("rotate/tmpfs");
    g.sample_size(20);
    g.throughput(Throughput::Elements(lines.len() as u64));
    let (_d1, p1) = scratch();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p1)
        .unwrap();
    let trunc1 = OpenOptions::new().write(true).open(&p1).unwrap();
    g.bench_function("plain_file", |b| {
        b.iter_batched(
            || trunc1.set_len(0).unwrap(),
            |()| {
                for l in &lines {
                    f.write_all(l).unwrap();
                }
            },
            BatchSize::PerIteration,
        )
    });
    let (_d2, p2) = scratch();
    let mut w = RotatingFile::open(&p2, never_rotating()).unwrap();
    let trunc = OpenOptions::new().write(true).open(&p2).unwrap();
    g.bench_function("rotating_file", |b| {
        b.iter_batched(
            || trunc.set_len(0).unwrap(),
            |()| {
                for l in &lines {
                    w.write_all(l).unwrap();
                }
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

/// The tmpfs comparison with interleaved passes (minimum of each).
fn paired_tmpfs() {
    let lines: Vec<Vec<u8>> = lines().into_iter().take(100_000).collect();
    let (_d1, p1) = scratch();
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p1)
        .unwrap();
    let (_d2, p2) = scratch();
    let mut w = RotatingFile::open(&p2, never_rotating()).unwrap();
    let trunc = OpenOptions::new().write(true).open(&p2).unwrap();
    let (mut bp, mut br) = (Duration::MAX, Duration::MAX);
    for _ in 0..40 {
        f.set_len(0).unwrap();
        let t = Instant::now();
        for l in &lines {
            f.write_all(l).unwrap();
        }
        bp = bp.min(t.elapsed());
        trunc.set_len(0).unwrap();
        let t = Instant::now();
        for l in &lines {
            w.write_all(l).unwrap();
        }
        br = br.min(t.elapsed());
    }
    let per = |d: Duration| d.as_nanos() as f64 / lines.len() as f64;
    println!(
        "rotate/paired_tmpfs: plain File {:.0} ns/record, RotatingFile {:.0} ns/record, {:+.1}%",
        per(bp),
        per(br),
        (br.as_secs_f64() / bp.as_secs_f64() - 1.0) * 100.0
    );
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Times every write; the writes that rotated are told apart by the rotation counter.
fn rotation_latency() {
    let line = [b'x'; 127]
        .iter()
        .copied()
        .chain(std::iter::once(b'\n'))
        .collect::<Vec<u8>>();
    for (name, durability, compress) in [
        ("no_sync", Durability::None, false),
        ("sync_on_rotate", Durability::OnRotate, false),
        ("sync_on_rotate_gzip", Durability::OnRotate, true),
    ] {
        if compress && !cfg!(feature = "gzip") {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut opts = RotateOptions::default();
        opts.max_size = Some(1_000_000);
        opts.backups = Backups::Count(4);
        opts.compress = compress;
        opts.durability = durability;
        let mut w = RotatingFile::open(dir.path().join("c.log"), opts).unwrap();
        let mut rotating = Vec::new();
        let mut ordinary = Vec::new();
        let mut rotations = 0;
        while rotating.len() < 300 {
            let t = Instant::now();
            w.write_all(&line).unwrap();
            let e = t.elapsed();
            let r = w.stats().rotations;
            if r != rotations {
                rotations = r;
                rotating.push(e);
            } else {
                ordinary.push(e);
            }
        }
        w.close().unwrap();
        let p50 = percentile(&mut rotating, 0.50);
        let p99 = percentile(&mut rotating, 0.99);
        let max = rotating.last().copied().unwrap_or_default();
        let o99 = percentile(&mut ordinary, 0.99);
        println!(
            "rotate/latency/{name}: 1 MB files, 4 backups: rotating write p50 {p50:?} \
             p99 {p99:?} max {max:?} ({} rotations); ordinary write p99 {o99:?}",
            rotating.len()
        );
    }
}

/// Plain `File` against `RotatingFile` (10m/5), passes interleaved, the minimum of each kept:
/// robust when other jobs share the CPU. The plain file is appended to (not truncated), like
/// a log; it is removed every 5 passes.
fn paired_overhead() {
    let lines = lines();
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.log");
    let mut writers: Vec<(&str, RotatingFile)> = [
        ("sync_on_rotate", Durability::OnRotate, Some("10m")),
        ("no_sync", Durability::None, Some("10m")),
        ("no_max_size_no_sync", Durability::None, None),
    ]
    .into_iter()
    .map(|(name, durability, max)| {
        let sub = dir.path().join(name);
        std::fs::create_dir_all(&sub).unwrap();
        let mut opts = RotateOptions::from_docker(max, Some("5"), false).unwrap();
        opts.durability = durability;
        (name, RotatingFile::open(sub.join("c.log"), opts).unwrap())
    })
    .collect();
    let mut best_plain = Duration::MAX;
    let mut best = vec![Duration::MAX; writers.len()];
    for pass in 0..15 {
        if pass % 5 == 0 {
            let _ = std::fs::remove_file(&plain);
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&plain)
            .unwrap();
        let t = Instant::now();
        for l in &lines {
            f.write_all(l).unwrap();
        }
        best_plain = best_plain.min(t.elapsed());
        drop(f);
        for (i, (_, w)) in writers.iter_mut().enumerate() {
            let t = Instant::now();
            for l in &lines {
                w.write_all(l).unwrap();
            }
            best[i] = best[i].min(t.elapsed());
        }
    }
    let per = |d: Duration| d.as_nanos() as f64 / lines.len() as f64;
    println!(
        "rotate/paired: {} lines, plain File min {best_plain:?} ({:.0} ns/line)",
        lines.len(),
        per(best_plain)
    );
    for ((name, w), b) in writers.into_iter().zip(best) {
        w.close().unwrap();
        println!(
            "rotate/paired/{name}: RotatingFile 10m/5 min {b:?} ({:.0} ns/line), {:+.1}% vs plain",
            per(b),
            (b.as_secs_f64() / best_plain.as_secs_f64() - 1.0) * 100.0
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_tmpfs(&mut c);
    bench_short_lines(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        paired_tmpfs();
        paired_overhead();
        rotation_latency();
    }
}
