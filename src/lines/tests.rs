use super::*;
use std::io::Write;

/// Lines with offsets, overlong lines (offset, length), peak buffer capacity.
type Scan = (Vec<(u64, Vec<u8>)>, Vec<(u64, u64)>, usize);

fn push(item: LineItem<'_>, lines: &mut Vec<(u64, Vec<u8>)>, long: &mut Vec<(u64, u64)>) {
    match item {
        LineItem::Line { offset, bytes } => lines.push((offset, bytes.to_vec())),
        LineItem::Overlong { offset, len } => long.push((offset, len)),
    }
}

fn forward<R: ReadAt + ?Sized>(src: &R, read_size: usize, max: usize) -> Scan {
    let mut c = LineBuffer::new(0, read_size, max);
    let (mut lines, mut long, mut peak) = (Vec::new(), Vec::new(), 0);
    loop {
        while let Some(item) = c.next_line() {
            push(item, &mut lines, &mut long);
        }
        peak = peak.max(c.buffer_capacity());
        if c.fill_at(src).unwrap() == 0 {
            break;
        }
    }
    (lines, long, peak)
}

fn backward<R: ReadAt>(src: R, size: u64, block: usize, max: usize) -> Scan {
    let mut b = BackScanner::new(src, size, block, max).unwrap();
    let (mut lines, mut long, mut peak) = (Vec::new(), Vec::new(), 0);
    while let Some(item) = b.prev().unwrap() {
        push(item, &mut lines, &mut long);
        peak = peak.max(b.buffer_capacity());
    }
    lines.reverse();
    long.reverse();
    (lines, long, peak)
}

#[test]
fn memory_is_capped_and_overlong_lines_skipped_both_ways() {
    let mut data = b"a\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', 1 << 20));
    data.extend_from_slice(b"\nbb\ncc\nunterminated");
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(&data).unwrap();
    let max = 4096;
    let (lines, long, peak) = forward(&f, 512, max);
    assert_eq!(
        lines,
        vec![
            (0, b"a\n".to_vec()),
            (1_048_579, b"bb\n".to_vec()),
            (1_048_582, b"cc\n".to_vec())
        ]
    );
    assert_eq!(long, vec![(2, 1 << 20)]);
    assert!(peak <= max + 512, "forward buffer grew to {peak}");
    let (blines, blong, bpeak) = backward(&f, data.len() as u64, 512, max);
    assert_eq!(blines, lines);
    assert_eq!(blong, long);
    assert!(bpeak <= 4 * (max + 512), "backward buffer grew to {bpeak}");
    // The same through a byte slice and a cursor: no file needed.
    assert_eq!(
        forward(&data[..], 512, max),
        (lines.clone(), long.clone(), peak)
    );
    let cur = Cursor::new(&data);
    assert_eq!(backward(&cur, data.len() as u64, 512, max).0, lines);
}

#[test]
fn backward_equals_forward_for_every_block_size() {
    let data = b"one\n\ntwo two\nthree three three\n\n\nfour\nx";
    let (want, _, _) = forward(&data[..], 16, 1 << 20);
    for block in 16..40 {
        assert_eq!(
            backward(&data[..], data.len() as u64, block, 1 << 20).0,
            want,
            "block {block}"
        );
    }
}

#[test]
fn overlong_lengths_agree_both_ways_at_every_block_size() {
    let data = b"short\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nyyyyyyyyyyyyyyyy\nok\n";
    for block in 16..40 {
        let f = forward(&data[..], block, 16);
        let b = backward(&data[..], data.len() as u64, block, 16);
        assert_eq!(f.1, vec![(6, 42), (49, 16)], "block {block}");
        assert_eq!((&b.0, &b.1), (&f.0, &f.1), "block {block}");
    }
}

#[test]
fn finish_hands_out_the_tail_or_the_overlong_line() {
    let mut lb = LineBuffer::new(10, 16, 16);
    lb.fill_from(&mut &b"a\nbc"[..]).unwrap();
    assert_eq!(
        lb.finish(),
        Some(LineItem::Line {
            offset: 10,
            bytes: b"a\n"
        })
    );
    assert_eq!(
        lb.finish(),
        Some(LineItem::Line {
            offset: 12,
            bytes: b"bc"
        })
    );
    assert_eq!(lb.finish(), None);
    let mut lb = LineBuffer::new(0, 16, 16);
    let data = [b'z'; 40];
    let mut src = &data[..];
    while lb.fill_from(&mut src).unwrap() > 0 {
        assert_eq!(lb.next_line(), None);
    }
    assert_eq!(lb.finish(), Some(LineItem::Overlong { offset: 0, len: 40 }));
    assert_eq!(lb.finish(), None);
}

#[test]
#[should_panic(expected = "consumed more than is buffered")]
fn consuming_more_than_is_buffered_is_a_bug() {
    let mut lb = LineBuffer::new(0, 16, 16);
    lb.fill_from(&mut &b"ab"[..]).unwrap();
    lb.consume(3);
}

/// Lines with offsets, overlong lines (offset, length).
type Framed = (Vec<(u64, Vec<u8>)>, Vec<(u64, u64)>);

/// What every framer must hand out: lines split on `\n` with their offsets, a line of `max`
/// bytes or more (its `\n` not counted) as overlong, the unterminated tail last.
fn naive(data: &[u8], max: usize) -> Framed {
    let (mut lines, mut long) = (Vec::new(), Vec::new());
    let mut off = 0;
    for seg in data.split_inclusive(|&b| b == b'\n') {
        let len = seg.len() - usize::from(seg.ends_with(b"\n"));
        if len >= max {
            long.push((off as u64, len as u64));
        } else {
            lines.push((off as u64, seg.to_vec()));
        }
        off += seg.len();
    }
    (lines, long)
}

/// `LineBuffer` driven by `fill_from` + `next_line`, then `finish`.
fn forward_read(data: &[u8], read_size: usize, max: usize) -> Framed {
    let mut lb = LineBuffer::new(0, read_size, max);
    let (mut lines, mut long) = (Vec::new(), Vec::new());
    let mut src = data;
    loop {
        while let Some(item) = lb.next_line() {
            push(item, &mut lines, &mut long);
        }
        if lb.fill_from(&mut src).unwrap() == 0 {
            break;
        }
    }
    while let Some(item) = lb.finish() {
        push(item, &mut lines, &mut long);
    }
    (lines, long)
}

/// `LineBuffer` over a `BufRead` with `cap`-byte fills, one line at a time or in bulk (bulk
/// runs split into lines and capped here, as their consumers do).
fn forward_in(data: &[u8], cap: usize, max: usize, bulk: bool) -> Framed {
    let mut src = io::BufReader::with_capacity(cap, data);
    let mut lb = LineBuffer::new(0, 16, max);
    let (mut lines, mut long) = (Vec::new(), Vec::new());
    loop {
        let item = if bulk {
            lb.next_lines_in(&mut src)
        } else {
            lb.next_line_in(&mut src)
        };
        match item.unwrap() {
            None => break,
            Some(LineItem::Line { offset, bytes }) if bulk => {
                let mut off = offset;
                for seg in bytes.split_inclusive(|&b| b == b'\n') {
                    let len = seg.len() - usize::from(seg.ends_with(b"\n"));
                    if len >= max {
                        long.push((off, len as u64));
                    } else {
                        lines.push((off, seg.to_vec()));
                    }
                    off += seg.len() as u64;
                }
            }
            Some(item) => push(item, &mut lines, &mut long),
        }
    }
    // Called again at the end: still the end.
    assert_eq!(lb.next_line_in(&mut src).unwrap(), None);
    (lines, long)
}

/// `BackScanner` with the unterminated tail, reads growing from `block` to `max_block`, one
/// line at a time or many (split and capped here).
fn backward_tail(data: &[u8], block: usize, max_block: usize, max: usize, bulk: bool) -> Framed {
    let mut opts = BackOptions::new(block, max);
    opts.max_block = max_block;
    opts.unterminated = true;
    let src = SeekAt::new(Cursor::new(data));
    let mut b = BackScanner::with_options(src, data.len() as u64, opts).unwrap();
    let (mut lines, mut long) = (Vec::new(), Vec::new());
    loop {
        let item = if bulk { b.prev_lines() } else { b.prev() };
        match item.unwrap() {
            None => break,
            Some(LineItem::Line { offset, bytes }) => {
                // Split, capped and reversed: pushed last to first.
                let mut off = offset;
                let mut run = Vec::new();
                for seg in bytes.split_inclusive(|&b| b == b'\n') {
                    run.push((off, seg));
                    off += seg.len() as u64;
                }
                for (off, seg) in run.into_iter().rev() {
                    let len = seg.len() - usize::from(seg.ends_with(b"\n"));
                    if len >= max {
                        long.push((off, len as u64));
                    } else {
                        lines.push((off, seg.to_vec()));
                    }
                }
            }
            Some(item) => push(item, &mut lines, &mut long),
        }
    }
    lines.reverse();
    long.reverse();
    (lines, long)
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    /// Short lines, blank lines, and runs long enough to cross the cap and the fills.
    fn input() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                1 => Just(b'\n'),
                8 => Just(b'a'),
                1 => Just(b'\r'),
            ],
            0..300,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_framer_equals_the_naive_split(
            data in input(),
            read_size in 16usize..70,
            cap in 1usize..70,
            max in 16usize..60,
        ) {
            let want = naive(&data, max);
            prop_assert_eq!(&forward_read(&data, read_size, max), &want, "fill_from");
            prop_assert_eq!(&forward_in(&data, cap, max, false), &want, "next_line_in");
            prop_assert_eq!(&forward_in(&data, cap, max, true), &want, "next_lines_in");
            // Backwards: the complete lines only.
            let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let want_back = naive(&data[..end], max);
            let (l, o, _) = backward(&data[..], data.len() as u64, read_size, max);
            prop_assert_eq!((l, o), want_back, "BackScanner");
            // With the unterminated tail and growing reads, one or many lines at a time.
            for bulk in [false, true] {
                prop_assert_eq!(
                    &backward_tail(&data, read_size, cap + read_size, max, bulk),
                    &want,
                    "BackScanner with tail, bulk {}", bulk
                );
            }
        }
    }
}

/// The newline search with its dispatch done once (AVX2 where the CPU has it) and the
/// portable one find the first `\n` where a byte loop does, at every length across
/// `memchr`'s block sizes (32, 64, 128 bytes) and every position of the newline.
#[test]
fn newline_finder_equals_a_byte_loop() {
    let fast = forward::NewlineFinder::new();
    let portable = forward::NewlineFinder::portable();
    let mut hay = vec![b'a'; 300];
    for len in 0..300 {
        for nl in (0..len).chain([usize::MAX]) {
            hay.fill(b'a');
            if nl != usize::MAX {
                hay[nl] = b'\n';
                // A second newline later: the first one still wins.
                if nl + 40 < len {
                    hay[nl + 40] = b'\n';
                }
            }
            // Offset 1: an unaligned start as well.
            for from in [0, 1.min(len)] {
                let h = &hay[from..len];
                let want = h.iter().position(|&b| b == b'\n');
                assert_eq!(fast.find(h), want, "len {len} nl {nl} from {from}");
                assert_eq!(portable.find(h), want, "len {len} nl {nl} from {from}");
            }
        }
    }
}

/// A `BufRead` that breaks the contract: after two calls, `fill_buf` returns fewer bytes
/// although nothing was consumed.
struct Shrinking(usize);

impl Read for Shrinking {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        unreachable!("framed through fill_buf")
    }
}

impl io::BufRead for Shrinking {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.0 += 1;
        Ok(if self.0 <= 1 { b"{}\n{}\n" } else { b"{}" })
    }
    fn consume(&mut self, _: usize) {}
}

#[test]
fn a_reader_breaking_fill_buf_is_an_error_not_short_data() {
    let mut lb = LineBuffer::new(0, 16, 100);
    // Before (runc's own framer): the 2 bytes came back as the line, and the decoder
    // looped on them forever.
    let err = lb.next_lines_in(&mut Shrinking(0)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

/// A source shorter than the size the scan was given (a file truncated while scanned): an
/// `UnexpectedEof` error, never lines with wrong offsets or a cut-off line handed out whole.
#[test]
fn back_scanner_over_a_shrunk_source_is_an_error() {
    let data = b"aaaa\nbbbb\ncccc\n";
    // As if the file had been 20 bytes when its size was taken.
    let mut got = Vec::new();
    let err = BackScanner::new(&data[..], 20, 16, 1024).and_then(|mut b| {
        while let Some(item) = b.prev()? {
            if let LineItem::Line { offset, bytes } = item {
                got.push((offset, bytes.to_vec()));
            }
        }
        Ok(())
    });
    assert_eq!(
        err.unwrap_err().kind(),
        io::ErrorKind::UnexpectedEof,
        "{got:?}"
    );
    for (off, bytes) in &got {
        let o = *off as usize;
        assert_eq!(
            &data[o..o + bytes.len()],
            &bytes[..],
            "line at {off} is not the source's"
        );
    }
}
