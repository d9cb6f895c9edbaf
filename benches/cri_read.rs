//! Readers: record parsing, the full `kubectl logs` pipeline, and tail, on the CRI and
//! Docker json-file workloads (`cri.log`, `docker-json.log`).
use std::hint::black_box;
use std::io;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ctrlog::cri::read::{LogReader, LogSink, ReadOptions, RecordParser};
use ctrlog::cri::Stream;

mod common;

/// Counts bytes, writes nothing.
struct Null(u64);

impl LogSink for Null {
    #[inline]
    fn write_stream(&mut self, _s: Stream, data: &[u8]) -> io::Result<()> {
        self.0 += data.len() as u64;
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    for name in ["cri.log", "docker-json.log"] {
        let path = common::workload(name);
        let len = std::fs::metadata(&path).unwrap().len();
        let mut g = c.benchmark_group(format!("cri_read/{name}"));
        g.sample_size(10).measurement_time(Duration::from_secs(5));

        // Parsing alone over the first 32 MiB held in memory.
        let data = {
            let mut d = std::fs::read(&path).unwrap();
            d.truncate(32 << 20);
            let end = d.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            d.truncate(end);
            d
        };
        g.throughput(Throughput::Bytes(data.len() as u64));
        let mut parser = RecordParser::new();
        g.bench_function("parse_records", |b| {
            b.iter(|| {
                let mut n = 0usize;
                for line in data.split_inclusive(|&b| b == b'\n') {
                    if let Ok((_, r)) = parser.parse(line) {
                        n += r.content.len();
                    }
                }
                black_box(n)
            })
        });

        g.throughput(Throughput::Bytes(len));
        g.bench_function("read_all", |b| {
            b.iter(|| {
                let mut sink = Null(0);
                LogReader::open(&path, ReadOptions::default())
                    .unwrap()
                    .read_to(&mut sink)
                    .unwrap();
                black_box(sink.0)
            })
        });
        g.throughput(Throughput::Elements(1));
        g.bench_function("tail_10", |b| {
            b.iter(|| {
                let mut sink = Null(0);
                let mut opts = ReadOptions::default();
                opts.tail = Some(10);
                LogReader::open(&path, opts)
                    .unwrap()
                    .read_to(&mut sink)
                    .unwrap();
                black_box(sink.0)
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
