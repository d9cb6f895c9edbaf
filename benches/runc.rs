//! runc log.json: last error (tail-first, forward stream, containerd-compatible), full decode
//! and summary on the NVIDIA-spam workloads (`nvidia-*.json`, 32 MiB at full scale).
use std::fs::File;
use std::hint::black_box;
use std::io::{BufReader, Cursor};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ctrlog::runc::{
    last_error, last_error_compat, last_error_stream, summarize, Decoder, OwnedEntry,
    SummaryOptions,
};

mod common;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("runc");
    g.sample_size(10);
    for name in [
        "nvidia-err-end.json",
        "nvidia-err-start.json",
        "nvidia-noerr.json",
    ] {
        let path = common::workload(name);
        let data = std::fs::read(&path).expect("read workload");
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(format!("last_error_file/{name}"), |b| {
            b.iter(|| black_box(last_error(File::open(&path).unwrap()).unwrap()))
        });
        g.bench_function(format!("last_error_mem_tail_first/{name}"), |b| {
            b.iter(|| black_box(last_error(Cursor::new(&data[..])).unwrap()))
        });
        g.bench_function(format!("last_error_stream/{name}"), |b| {
            b.iter(|| black_box(last_error_stream(&data[..]).unwrap()))
        });
        g.bench_function(format!("last_error_compat/{name}"), |b| {
            b.iter(|| black_box(last_error_compat(&data[..]).unwrap()))
        });
        if name == "nvidia-noerr.json" {
            g.bench_function(format!("decode_all/{name}"), |b| {
                b.iter(|| {
                    let mut d = Decoder::new(&data[..]);
                    let mut n = 0usize;
                    while let Some(r) = d.next_record().unwrap() {
                        n += r.entry.msg().len();
                    }
                    black_box(n)
                })
            });
            // The same decode into one reused entry (no per-record allocation).
            g.bench_function(format!("decode_all_read_entry/{name}"), |b| {
                b.iter(|| {
                    let mut d = Decoder::new(&data[..]);
                    let mut e = OwnedEntry::default();
                    let mut n = 0usize;
                    while d.read_entry(&mut e).unwrap() {
                        n += e.msg.as_ref().map_or(0, String::len);
                    }
                    black_box(n)
                })
            });
            g.bench_function(format!("summary/{name}"), |b| {
                b.iter(|| {
                    let r = BufReader::with_capacity(256 * 1024, &data[..]);
                    black_box(summarize(r, SummaryOptions::default()).unwrap())
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
