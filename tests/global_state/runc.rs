//! Proves the memory caps: a counting global allocator measures the peak heap while each
//! reader walks a synthetic 64 MiB record that is never materialised.

use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::sync::atomic::Ordering;

use ctrlog::runc::{
    last_error_compat, last_error_stream_with, last_error_with, summarize, Decoder, DecoderOptions,
    ErrorPolicy, LastErrorOptions, OwnedEntry, SummaryOptions,
};

use crate::{allocs_so_far, CUR, PEAK, SERIAL};

/// Heap growth (bytes) while `f` runs.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CUR.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let r = f();
    (r, PEAK.load(Ordering::SeqCst).saturating_sub(base))
}

/// `{"level":"info","msg":"hello"}\n` + `{"level":"error","msg":"xxxx…(n)"}\n` + tail, generated
/// on the fly (seekable).
struct Synthetic {
    head: Vec<u8>,
    n: u64,
    tail: Vec<u8>,
    pos: u64,
}

impl Synthetic {
    fn new(n: u64, tail: &[u8]) -> Self {
        Synthetic {
            head: b"{\"level\":\"error\",\"msg\":\"before\"}\n{\"level\":\"error\",\"msg\":\""
                .to_vec(),
            n,
            tail: [&b"\"}\n"[..], tail].concat(),
            pos: 0,
        }
    }
    fn len(&self) -> u64 {
        self.head.len() as u64 + self.n + self.tail.len() as u64
    }
}

impl Read for Synthetic {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let h = self.head.len() as u64;
        let mut done = 0;
        while done < buf.len() && self.pos < self.len() {
            let b = if self.pos < h {
                self.head[self.pos as usize]
            } else if self.pos < h + self.n {
                b'x'
            } else {
                self.tail[(self.pos - h - self.n) as usize]
            };
            buf[done] = b;
            done += 1;
            self.pos += 1;
        }
        Ok(done)
    }
}

impl Seek for Synthetic {
    fn seek(&mut self, p: SeekFrom) -> io::Result<u64> {
        self.pos = match p {
            SeekFrom::Start(x) => x,
            SeekFrom::End(d) => (self.len() as i64 + d) as u64,
            SeekFrom::Current(d) => (self.pos as i64 + d) as u64,
        };
        Ok(self.pos)
    }
}

const BIG: u64 = 64 << 20;
const MIB: usize = 1 << 20;

#[test]
fn last_error_tail_first_heap_is_capped() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (r, peak) = peak_during(|| {
        last_error_with(Synthetic::new(BIG, b""), LastErrorOptions::default()).unwrap()
    });
    assert_eq!(r.unwrap().msg, "before");
    // cap (1 MiB) + largest block (1 MiB) + small change.
    assert!(peak <= 2 * MIB + 64 * 1024, "peak heap {peak}");
}

#[test]
fn last_error_tail_first_heap_follows_the_data_not_the_cap() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tail = b"{\"level\":\"error\",\"msg\":\"last\"}\n";
    let mut opts = LastErrorOptions::default();
    opts.max_record_len = usize::MAX / 2;
    // A huge cap on a 64 MiB file whose answer is in the last block: one block of heap, not
    // a buffer the size of the file.
    let (r, peak) = peak_during(|| last_error_with(Synthetic::new(BIG, tail), opts).unwrap());
    assert_eq!(r.unwrap().msg, "last");
    assert!(peak <= 256 * 1024, "peak heap {peak}");
    // A 1 TiB (virtual) file: no attempt to allocate a buffer of its size (that aborted).
    let (r, peak) = peak_during(|| last_error_with(Synthetic::new(1 << 40, tail), opts).unwrap());
    assert_eq!(r.unwrap().msg, "last");
    assert!(peak <= 256 * 1024, "peak heap {peak}");
}

#[test]
fn last_error_stream_heap_is_capped() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (r, peak) = peak_during(|| {
        let rd = BufReader::with_capacity(64 * 1024, Synthetic::new(BIG, b""));
        last_error_stream_with(rd, LastErrorOptions::default()).unwrap()
    });
    assert_eq!(r.unwrap().msg, "before");
    assert!(peak <= MIB + 256 * 1024, "peak heap {peak}");
}

#[test]
fn decoder_and_summary_heap_is_capped() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (n, peak) = peak_during(|| {
        let rd = BufReader::with_capacity(
            64 * 1024,
            Synthetic::new(BIG, b"{\"level\":\"info\",\"msg\":\"after\"}\n"),
        );
        let mut d = Decoder::with_options(rd, DecoderOptions::default());
        let mut n = 0;
        while d.next_record().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(d.stats().overlong, 1);
        n
    });
    assert_eq!(n, 2);
    assert!(peak <= MIB + 256 * 1024, "peak heap {peak}");
    let (s, peak) = peak_during(|| {
        let rd = BufReader::with_capacity(64 * 1024, Synthetic::new(BIG, b""));
        summarize(rd, SummaryOptions::default()).unwrap()
    });
    assert_eq!(s.stats.records, 1);
    assert!(peak <= MIB + 256 * 1024, "peak heap {peak}");
}

#[test]
fn compat_heap_is_capped() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // The 64 MiB message would be the answer: over the 1 MiB cap -> error, not 64 MiB of heap.
    let (r, peak) = peak_during(|| last_error_compat(Synthetic::new(BIG, b"")));
    assert!(r.is_err());
    // The current msg and the kept answer, each capped at 1 MiB, plus Vec growth and the
    // 64 KiB read buffer.
    assert!(peak <= 3 * MIB, "peak heap {peak}");
    // A message just under the cap that is the answer: kept, still bounded.
    let (r, peak) = peak_during(|| last_error_compat(Synthetic::new(MIB as u64 - 100, b"")));
    assert_eq!(r.unwrap().len(), MIB - 100);
    assert!(peak <= 3 * MIB, "peak heap {peak}");
}

#[test]
fn summary_heap_does_not_grow_with_long_levels() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // 600 records, each with a distinct 8 KiB level and a distinct message: the kept state
    // must not hold a copy of every level (512 tracked messages x 8 KiB).
    let mut log = Vec::new();
    for i in 0..600 {
        let level = format!("{i:08}{}", "l".repeat(8 * 1024));
        log.extend_from_slice(format!("{{\"level\":\"{level}\",\"msg\":\"m{i}\"}}\n").as_bytes());
    }
    let (s, peak) = peak_during(|| {
        let rd = BufReader::with_capacity(64 * 1024, &log[..]);
        summarize(rd, SummaryOptions::default()).unwrap()
    });
    assert_eq!(s.stats.records, 600);
    assert!(peak <= MIB, "peak heap {peak}");
}

/// Allocations while `read_entry` decodes all but the first of 1000 records like `line(i)`
/// (the first sizes the entry's strings).
fn allocs_after_first(line: impl Fn(usize) -> String) -> (usize, OwnedEntry, u64) {
    let log: String = (0..1000).map(line).collect();
    let mut dec = Decoder::new(log.as_bytes());
    let mut e = OwnedEntry::default();
    assert!(dec.read_entry(&mut e).unwrap());
    let before = allocs_so_far();
    let mut n = 1;
    while dec.read_entry(&mut e).unwrap() {
        n += 1;
    }
    let allocs = allocs_so_far() - before;
    assert_eq!(n, 1000);
    (allocs, e, dec.record_span().start)
}

#[test]
fn read_entry_reuses_the_callers_entry() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Same-shaped records with extra keys (as runc's debug records): once the first has sized
    // the strings, the rest decode with no allocation at all (before: an `Entry` with its
    // `fields` vector, then two more vectors to detach and re-attach it, per record).
    let plain = |i: usize| {
        format!(
            "{{\"level\":\"debug\",\"msg\":\"child {i:04}\",\"time\":\"2026-11-23T08:27:21Z\",\"file\":\"signals.go:92\",\"pid\":{}}}\n",
            1000 + i
        )
    };
    let (allocs, e, last) = allocs_after_first(plain);
    assert_eq!(allocs, 0, "allocations for 999 records");
    assert_eq!(e.msg.as_deref(), Some("child 0999"));
    assert_eq!(e.fields[1], ("pid".to_owned(), "1999".to_owned()));
    assert_eq!(last, 999 * plain(0).len() as u64);
    // An escaped message is unescaped by serde_json into its own per-record scratch vector
    // (created per record; one allocation plus at most one growth) and copied from there into
    // the entry, with no `String` in between.
    let (allocs, e, _) =
        allocs_after_first(|i| format!("{{\"level\":\"info\",\"msg\":\"a\\u003e{i:04}\\n\"}}\n"));
    assert_eq!(e.msg.as_deref(), Some("a>0999\n"));
    assert!(allocs <= 2 * 999, "allocations for 999 records: {allocs}");
}

#[test]
fn read_entry_forgets_the_previous_record() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // A reused entry holds exactly the last record: keys it lacks are `None`, no stale fields.
    let log = b"{\"level\":\"error\",\"msg\":\"a\",\"time\":\"t\",\"x\":1,\"y\":2}\nbad\n{\"msg\":\"b\",\"z\":[3]}\n{\"level\":null,\"msg\":\"c\"}\n";
    let mut strict = DecoderOptions::default();
    strict.policy = ErrorPolicy::Strict;
    let mut dec = Decoder::with_options(&log[..], strict);
    let mut e = OwnedEntry::default();
    assert!(dec.read_entry(&mut e).unwrap());
    assert_eq!(e.as_entry().msg(), "a");
    assert!(e.as_entry().is_error());
    assert_eq!(e.fields.len(), 2);
    assert_eq!(dec.record_span(), 0..50);
    // One bad record, one error; the next call goes on at the next line.
    assert_eq!(dec.read_entry(&mut e).unwrap_err().offset(), Some(51));
    assert!(dec.read_entry(&mut e).unwrap());
    let want = OwnedEntry {
        msg: Some("b".into()),
        fields: vec![("z".into(), "[3]".into())],
        ..Default::default()
    };
    assert_eq!(e, want);
    assert_eq!(dec.record_span(), 55..74);
    assert!(dec.read_entry(&mut e).unwrap());
    assert_eq!(
        e,
        OwnedEntry {
            msg: Some("c".into()),
            ..Default::default()
        }
    );
    assert!(!dec.read_entry(&mut e).unwrap());
    assert_eq!(dec.stats().records, 3);
}
