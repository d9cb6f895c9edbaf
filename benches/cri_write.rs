//! CRI writer: splitter alone, and the whole LogWriter (CRI and Docker json-file) into a
//! discarding sink, on the project workloads (`$CTRLOG_WORKLOADS`, else a small generated set).
use std::hint::black_box;
use std::io;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ctrlog::cri::write::{
    escape_docker_json, CrPolicy, CriEncoder, DockerJsonEncoder, IoWriter, LineSplitter, LogWriter,
    MaxLen, RecordEncoder, SplitOptions, WriterOptions,
};
use ctrlog::cri::Stream;
use ctrlog::time::{FixedClock, Offset, Timestamp};

mod common;

/// At most 32 MiB of a workload, so a bench iteration stays short.
fn load(name: &str) -> Vec<u8> {
    let mut data = std::fs::read(common::workload(name)).expect("workload");
    data.truncate(32 << 20);
    data
}

fn write_all<F: RecordEncoder>(data: &[u8], format: F, split: SplitOptions) -> u64 {
    let mut opts = WriterOptions::default();
    opts.split = split;
    let mut w = LogWriter::with_options(Stream::Stdout, format, IoWriter(io::sink()), opts)
        .with_clock(FixedClock(Timestamp::new(1_700_000_000, 123_456_789)));
    // 256 KiB chunks, as `copy_from` reads them.
    for chunk in data.chunks(256 * 1024) {
        w.write_chunk(chunk).expect("write");
    }
    w.finish().expect("finish").records
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("cri_write");
    g.sample_size(10);
    for name in ["short.txt", "mixed.txt", "long.txt"] {
        let data = load(name);
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.bench_function(format!("split/{name}"), |b| {
            b.iter(|| {
                let mut s = LineSplitter::new(MaxLen::CONTAINERD_DEFAULT);
                let mut n = 0usize;
                for chunk in data.chunks(256 * 1024) {
                    s.for_each(chunk, |_, c| n += c.len());
                }
                s.finish_each(|_, c| n += c.len());
                black_box(n)
            })
        });
        g.bench_function(format!("cri/{name}"), |b| {
            b.iter(|| {
                let s = SplitOptions::default();
                black_box(write_all(&data, CriEncoder::new(Offset::Utc), s))
            })
        });
        g.bench_function(format!("json_file/{name}"), |b| {
            b.iter(|| {
                let mut s = SplitOptions::default();
                s.cr_policy = CrPolicy::Keep;
                black_box(write_all(&data, DockerJsonEncoder::new(), s))
            })
        });
    }
    let data = load("oneline.txt");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("cri_unlimited/oneline.txt", |b| {
        b.iter(|| {
            let mut s = SplitOptions::default();
            s.max_len = MaxLen::Unlimited;
            black_box(write_all(&data, CriEncoder::new(Offset::Utc), s))
        })
    });
    let text = load("mixed.txt");
    let text = &text[..text.len().min(4 << 20)];
    g.throughput(Throughput::Bytes(text.len() as u64));
    let mut out = Vec::with_capacity(text.len() * 2);
    g.bench_function("escape_docker_json/mixed.txt", |b| {
        b.iter(|| {
            out.clear();
            escape_docker_json(black_box(text), &mut out);
            black_box(out.len())
        })
    });
    // The shape the writer calls it in: one short line at a time (escapes every ~23 bytes
    // here, so per-call and per-escape costs show, not the bulk copy).
    let short = load("short.txt");
    let short = &short[..short.len().min(4 << 20)];
    let lines: Vec<&[u8]> = short.split(|&b| b == b'\n').collect();
    g.throughput(Throughput::Bytes(short.len() as u64));
    g.bench_function("escape_docker_json/short.txt per line", |b| {
        b.iter(|| {
            out.clear();
            for l in &lines {
                escape_docker_json(black_box(l), &mut out);
            }
            black_box(out.len())
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
