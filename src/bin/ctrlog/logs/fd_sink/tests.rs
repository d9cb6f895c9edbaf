//! The queue of window ranges and owned bytes against the plain model: every byte, in call
//! order, per output.

use super::*;
use proptest::prelude::*;

/// A writer taking at most `max` bytes per call (at least one slice's worth may be cut), as
/// a pipe or a signal-interrupted `writev` returns short.
#[derive(Debug, Default)]
struct Short {
    out: Vec<u8>,
    max: usize,
    calls: usize,
}

impl Write for Short {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        let n = buf.len().min(self.max);
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.calls += 1;
        let mut n = 0;
        for b in bufs {
            let take = b.len().min(self.max - n);
            self.out.extend_from_slice(&b[..take]);
            n += take;
            if n == self.max {
                break;
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// `write_stream` (stderr?, bytes).
    Copy(bool, Vec<u8>),
    /// `write_stream_at` of bytes put into the window, after a gap (a header) of this many.
    Keep(bool, Vec<u8>, usize),
    Release,
}

fn op() -> impl Strategy<Value = Op> {
    let bytes = prop::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        3 => (any::<bool>(), bytes.clone()).prop_map(|(e, b)| Op::Copy(e, b)),
        5 => (any::<bool>(), bytes, 0usize..3).prop_map(|(e, b, g)| Op::Keep(e, b, g)),
        1 => Just(Op::Release),
    ]
}

/// Runs `ops` on a sink keeping ranges from `min_keep` bytes; returns (stdout, stderr,
/// what the model wrote to each).
fn run(ops: &[Op], merged: bool, max: usize, min_keep: usize) -> ([Vec<u8>; 2], [Vec<u8>; 2]) {
    let w = || Short {
        max,
        ..Short::default()
    };
    let mut sink = QueueSink::new(w(), w(), merged).with_min_keep(min_keep);
    let mut model = [Vec::new(), Vec::new()];
    let mut window = Vec::new();
    for op in ops {
        match op {
            Op::Copy(e, b) => {
                let s = if *e { Stream::Stderr } else { Stream::Stdout };
                sink.write_stream(s, b).unwrap();
                model[usize::from(*e && !merged)].extend_from_slice(b);
            }
            Op::Keep(e, b, gap) => {
                let s = if *e { Stream::Stderr } else { Stream::Stdout };
                window.extend(std::iter::repeat_n(b'#', *gap));
                let at = window.len();
                window.extend_from_slice(b);
                sink.write_stream_at(s, b, at).unwrap();
                model[usize::from(*e && !merged)].extend_from_slice(b);
            }
            Op::Release => {
                sink.release(&window).unwrap();
                // What was kept is written: the buffer may now change.
                window.fill(b'X');
                window.clear();
            }
        }
    }
    sink.release(&window).unwrap();
    sink.flush().unwrap();
    let [a, b] = sink.into_writers();
    ([a.out, b.out], model)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn queue_writes_every_byte_in_order(
        ops in prop::collection::vec(op(), 0..60),
        merged in any::<bool>(),
        max in 1usize..64,
        min_keep in prop_oneof![Just(1usize), 1usize..20],
    ) {
        let (got, model) = run(&ops, merged, max, min_keep);
        prop_assert_eq!(got, model);
    }
}

#[test]
fn adjacent_ranges_are_one_slice() {
    let mut sink = QueueSink::new(Vec::new(), Vec::new(), false).with_min_keep(1);
    let window = b"hdr abc\nhdr de\n";
    sink.write_stream_at(Stream::Stdout, b"abc", 4).unwrap();
    sink.write_stream_at(Stream::Stdout, b"\n", 7).unwrap();
    sink.write_stream_at(Stream::Stdout, b"de\n", 12).unwrap();
    assert_eq!(
        sink.outs[0].segs,
        [Seg::Window(4..8), Seg::Window(12..15)],
        "content and newline merged; a header between keeps two"
    );
    sink.release(window).unwrap();
    assert!(sink.outs[0].segs.is_empty());
    sink.flush().unwrap();
    assert_eq!(sink.into_writers()[0], b"abc\nde\n");
}

#[test]
fn past_max_segs_content_is_copied_in_order() {
    let mut sink = QueueSink::new(Vec::new(), Vec::new(), true).with_min_keep(1);
    let mut window = Vec::new();
    let mut want = Vec::new();
    for i in 0..(MAX_SEGS + 100) {
        let b = [b'a' + (i % 26) as u8];
        window.push(b'#');
        let at = window.len();
        window.push(b[0]);
        if i % 7 == 0 {
            sink.write_stream(Stream::Stderr, b"+").unwrap();
            want.push(b'+');
        }
        sink.write_stream_at(Stream::Stdout, &b, at).unwrap();
        want.push(b[0]);
    }
    assert!(
        sink.outs[0].segs.len() <= MAX_SEGS + 1,
        "the queue is bounded"
    );
    sink.release(&window).unwrap();
    sink.flush().unwrap();
    assert_eq!(sink.into_writers()[0], want);
}

#[test]
fn owned_bytes_are_buffered_until_buf() {
    let w = || Short {
        max: usize::MAX,
        ..Short::default()
    };
    let mut sink = QueueSink::new(w(), w(), false);
    for _ in 0..1000 {
        sink.write_stream(Stream::Stdout, &[b'x'; 100]).unwrap();
    }
    assert_eq!(sink.outs[0].w.calls, 0, "100 KB stay buffered");
    for _ in 0..2000 {
        sink.write_stream(Stream::Stdout, &[b'x'; 100]).unwrap();
    }
    assert_eq!(sink.outs[0].w.calls, 1, "written once past {BUF} bytes");
    sink.flush().unwrap();
    assert_eq!(sink.into_writers()[0].out.len(), 300_000);
}

#[test]
fn short_content_is_copied() {
    let mut sink = QueueSink::new(Vec::new(), Vec::new(), false);
    let window = vec![b'x'; 3 * MIN_KEEP];
    sink.write_stream_at(Stream::Stdout, &window[..MIN_KEEP - 1], 0)
        .unwrap();
    assert!(sink.outs[0].segs.is_empty(), "copied");
    sink.write_stream_at(Stream::Stdout, &window[MIN_KEEP..], MIN_KEEP)
        .unwrap();
    assert_eq!(
        sink.outs[0].segs,
        [
            Seg::Own(0..MIN_KEEP - 1),
            Seg::Window(MIN_KEEP..3 * MIN_KEEP)
        ]
    );
    sink.release(&window).unwrap();
    sink.flush().unwrap();
    assert_eq!(sink.into_writers()[0].len(), 3 * MIN_KEEP - 1);
}
