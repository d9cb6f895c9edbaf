//! The writer's two compiled loops (baseline and AVX2) give the same bytes. The property
//! tests (`tests/cri_write/prop.rs`) check `write_chunk` against the oracle, but on a CPU with
//! AVX2 it only takes the AVX2 loop; this calls each loop directly, so the baseline one is
//! held to the AVX2 one, and both to the record-at-a-time path.

use super::*;
use crate::cri::write::{CriEncoder, DockerJsonEncoder, MaxLen, Split};
use crate::time::{Offset, SteppingClock, Timestamp};

/// A small xorshift: reproducible inputs without a dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Lines of 0..300 bytes (some over the 100-byte limit used below, some with `\r`, `<`, `"`
/// and non-ASCII bytes), the last one unterminated.
fn input(seed: u64) -> Vec<u8> {
    let mut s = seed;
    let mut out = Vec::new();
    // Miri (which checks the encoders' `set_len` writes) runs a few lines only.
    for _ in 0..if cfg!(miri) { 12 } else { 400 } {
        let len = (next(&mut s) % 300) as usize;
        for _ in 0..len {
            out.push(match next(&mut s) % 16 {
                0 => b'\r',
                1 => b'<',
                2 => b'"',
                3 => 0xe2,
                4 => 0x80,
                _ => b'a' + (next(&mut s) % 26) as u8,
            });
        }
        out.push(b'\n');
    }
    out.extend_from_slice(b"tail");
    out
}

/// The records of `data` fed in chunks of `chunk` bytes, through the baseline loop or (with
/// `wide`) the AVX2 one; with `per_record`, the clock (a stepping one) is read per record.
fn encode<F: RecordEncoder>(
    format: F,
    data: &[u8],
    chunk: usize,
    wide: bool,
    per_record: bool,
) -> Vec<u8> {
    let mut opts = WriterOptions::default();
    opts.split.max_len = MaxLen::from_signed(100);
    opts.flush_size = 1000;
    let mut w = LogWriter::with_options(stream(per_record), format, Vec::new(), opts)
        .with_clock(SteppingClock::new(START, STEP));
    for piece in data.chunks(chunk) {
        if !per_record {
            w.format.start_batch(w.clock.now(), w.stream);
        }
        #[cfg(target_arch = "x86_64")]
        if let (true, Some(avx2)) = (wide, Avx2Newlines::detect()) {
            // SAFETY: `avx2` exists, so the CPU has AVX2.
            unsafe {
                if per_record {
                    w.split_encode_avx2::<true>(avx2, piece).unwrap();
                } else {
                    w.split_encode_avx2::<false>(avx2, piece).unwrap();
                }
            }
            w.out.flush().unwrap();
            continue;
        }
        if per_record {
            w.split_encode::<_, true>(Baseline, piece).unwrap();
        } else {
            w.split_encode::<_, false>(Baseline, piece).unwrap();
        }
        w.out.flush().unwrap();
    }
    // The unterminated tail, with one more clock reading.
    w.timestamps = if per_record {
        TimestampPolicy::PerRecord
    } else {
        TimestampPolicy::PerRead
    };
    w.finish().unwrap();
    w.into_inner()
}

/// The clock of [`encode`] and [`one_at_a_time`]: its readings change length from one to the
/// next (whole seconds, 1 to 9 fraction digits), so that a record's prefix or suffix left
/// over from a longer time would show in the next one.
const START: Timestamp = Timestamp::new(1_700_000_000, 0);
const STEP: i128 = 333_333_337;

/// The records' stream: stderr with a clock reading per record, so that both streams' pieces
/// are covered.
fn stream(per_record: bool) -> Stream {
    if per_record {
        Stream::Stderr
    } else {
        Stream::Stdout
    }
}

/// The same records from [`LineSplitter::split`] and [`RecordEncoder::encode`], one at a
/// time, with a clock reading per chunk (or per record) and one for the tail.
fn one_at_a_time<F: RecordEncoder>(
    mut format: F,
    data: &[u8],
    chunk: usize,
    per_record: bool,
) -> Vec<u8> {
    let mut splitter = LineSplitter::with_options(SplitOptions {
        max_len: MaxLen::from_signed(100),
        ..SplitOptions::default()
    });
    let clock = SteppingClock::new(START, STEP);
    let mut out = Vec::new();
    for piece in data.chunks(chunk) {
        if !per_record {
            format.start_batch(clock.now(), stream(per_record));
        }
        let mut pos = 0;
        while let (Split::Record(tag, content), used) = splitter.split(&piece[pos..]) {
            if per_record {
                format.start_batch(clock.now(), stream(per_record));
            }
            format.encode(tag, content, &mut out);
            pos += used;
        }
    }
    if !per_record {
        format.start_batch(clock.now(), stream(per_record));
    }
    while let Some((tag, content)) = splitter.finish() {
        if per_record {
            format.start_batch(clock.now(), stream(per_record));
        }
        format.encode(tag, content, &mut out);
    }
    out
}

#[test]
fn both_loops_write_the_same_records() {
    #[cfg(target_arch = "x86_64")]
    let wide = std::arch::is_x86_feature_detected!("avx2");
    #[cfg(not(target_arch = "x86_64"))]
    let wide = false;
    for seed in 1..if cfg!(miri) { 2 } else { 6 } {
        let data = input(seed);
        for chunk in [1, 7, 64, 333, 4096, data.len()] {
            for per_record in [false, true] {
                let cri = || CriEncoder::new(Offset::Utc);
                let json = DockerJsonEncoder::new;
                let got = encode(cri(), &data, chunk, false, per_record);
                let want = one_at_a_time(cri(), &data, chunk, per_record);
                if per_record {
                    // Distinct times: the clock was read per record.
                    let second: &[u8] = b"2023-11-14T22:13:20.333333337Z stderr ";
                    assert!(want.windows(second.len()).any(|w| w == second));
                }
                assert_eq!(got, want);
                let got_json = encode(json(), &data, chunk, false, per_record);
                assert_eq!(got_json, one_at_a_time(json(), &data, chunk, per_record));
                if wide {
                    assert_eq!(encode(cri(), &data, chunk, true, per_record), got);
                    assert_eq!(encode(json(), &data, chunk, true, per_record), got_json);
                }
            }
        }
    }
}
