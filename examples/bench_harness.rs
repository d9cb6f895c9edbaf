//! A benchmark harness on the crate's workload generator: generate the deterministic files
//! (the ones `ctrlog bench` uses), run a pipeline over them in-process, and report GB/s as a
//! ratio to a floor measured in the same run (a memchr newline count over the same bytes), so
//! figures compare across machines.
//!
//! Run: `cargo run --release --example bench_harness --features bench [SCALE]`

use std::time::{Duration, Instant};

use ctrlog::bench::{generate, GenerateOptions, Workload};
use ctrlog::cri::read::{LogReader, ReadOptions, SplitSink};
use ctrlog::cri::write::{CriEncoder, LogWriter};
use ctrlog::cri::Stream;
use ctrlog::time::Offset;

/// The best of `runs` timings of `f` (the least disturbed by the rest of the machine).
fn best(runs: u32, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut opts = GenerateOptions::default();
    opts.scale = std::env::args().nth(1).map_or(Ok(0.002), |s| s.parse())?;
    let dir = tempfile::tempdir()?;
    let mut files = Vec::new();
    for w in [Workload::Short, Workload::Cri] {
        let path = dir.path().join(w.file_name());
        let bytes = generate(
            w,
            std::io::BufWriter::new(std::fs::File::create(&path)?),
            &opts,
        )?;
        files.push((w, path, bytes));
    }
    println!(
        "{:<28} {:>10} {:>8} {:>8}",
        "job", "bytes", "GB/s", "× floor"
    );
    for (w, path, bytes) in &files {
        let data = std::fs::read(path)?;
        let floor = best(5, || {
            std::hint::black_box(memchr::memchr_iter(b'\n', &data).count());
        });
        let job = match w {
            // What a shim does with a container's stdout.
            Workload::Short => best(5, || {
                let mut w =
                    LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), Vec::new());
                w.copy_from(&data[..]).expect("in memory");
                std::hint::black_box(w.into_inner());
            }),
            // What `kubectl logs` does with the file.
            _ => best(5, || {
                let mut sink = SplitSink {
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                };
                LogReader::open(path, ReadOptions::default())
                    .and_then(|mut r| r.read_to(&mut sink))
                    .expect("generated CRI log");
                std::hint::black_box(sink);
            }),
        };
        let name = format!(
            "{} {}",
            if *w == Workload::Short {
                "cri write"
            } else {
                "cri read"
            },
            w.file_name()
        );
        let gbps = *bytes as f64 / job.as_secs_f64().max(1e-9) / 1e9;
        let ratio = job.as_secs_f64() / floor.as_secs_f64().max(1e-9);
        println!("{name:<28} {bytes:>10} {gbps:>8.3} {ratio:>8.1}");
        assert!(*bytes > 0 && ratio > 0.0);
    }
    Ok(())
}
