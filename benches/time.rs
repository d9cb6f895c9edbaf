//! Timestamp formatting and parsing: the per-record cost of every writer and reader.
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ctrlog::time::{
    format_rfc3339nano, parse_rfc3339nano, Clock, Offset, SystemClock, Timestamp,
    TimestampFormatter,
};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("time");
    g.throughput(Throughput::Elements(1));
    let base = Timestamp::new(1_700_000_000, 0);
    let mut f = TimestampFormatter::new(Offset::Utc);
    let mut n = 0u32;
    g.bench_function("format_cached_same_second", |b| {
        b.iter(|| {
            n = (n + 7919) % 1_000_000_000;
            black_box(f.format(black_box(Timestamp::new(base.secs, n))).len())
        })
    });
    let mut secs = base.secs;
    g.bench_function("format_cached_new_second", |b| {
        b.iter(|| {
            secs += 1;
            black_box(f.format(black_box(Timestamp::new(secs, 123_456_789))).len())
        })
    });
    let mut out = Vec::with_capacity(64);
    g.bench_function("format_uncached", |b| {
        b.iter(|| {
            out.clear();
            format_rfc3339nano(
                black_box(Timestamp::new(base.secs, 123_456_789)),
                Offset::Utc,
                &mut out,
            );
            black_box(out.len())
        })
    });
    for (name, text) in [
        ("parse_containerd", &b"2026-11-23T08:33:47.339619953Z"[..]),
        ("parse_conmon", &b"2026-11-23T08:33:47.339619953+00:00"[..]),
        ("parse_seconds", &b"2026-11-23T08:27:14Z"[..]),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(parse_rfc3339nano(black_box(text))))
        });
    }
    // The clock read `--timestamp-policy per-record` makes for every record.
    g.bench_function("system_clock_now", |b| {
        b.iter(|| black_box(SystemClock.now()))
    });
    // What `SystemClock` read before it called `clock_gettime` itself: `SystemTime` and the
    // subtraction from the epoch that gives its seconds.
    g.bench_function("system_time_since_epoch", |b| {
        b.iter(|| {
            black_box(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| (d.as_secs(), d.subsec_nanos())),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
