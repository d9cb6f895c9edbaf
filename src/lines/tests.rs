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
