//! Rotating writer benchmarks.
//!
//! 1. `rotate/short_lines/*`: the lines of `short.txt` (first 20 MB), one record per `write`,
//!    to a plain `File` and through `RotatingFile` with Docker's `max-size=10m`, `max-file=5`.
//! 2. Rotation latency (printed after the criterion groups): p50/p99/max time of the `write`
//!    calls that rotate, with and without compression, against the p99 of ordinary writes.
//!
//! `cargo bench --bench rotate` (set `CTRLOG_WORKLOADS=/work/workloads` for the full files).

#[path = "common/mod.rs"]
mod common;

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
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
        let opts = RotateOptions {
            durability,
            ..RotateOptions::from_docker(Some("10m"), Some("5"), compress).unwrap()
        };
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
    for (name, compress) in [("plain", false), ("gzip", true)] {
        if compress && !cfg!(feature = "gzip") {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let opts = RotateOptions {
            max_size: Some(1_000_000),
            backups: Backups::Count(4),
            compress,
            ..RotateOptions::default()
        };
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
            "rotate/latency/{name}: 1 MB files, 4 backups, sync on rotate: rotating write \
             p50 {p50:?} p99 {p99:?} max {max:?} ({} rotations); ordinary write p99 {o99:?}",
            rotating.len()
        );
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench_short_lines(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        rotation_latency();
    }
}
