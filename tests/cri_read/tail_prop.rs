//! Property tests of the line framers: [`BackScanner`] and [`LineBuffer`] against a naive
//! split on `\n` (the tail counters' own property tests are unit tests in
//! `src/cri/read/tail_tests.rs`: they are crate-private).

use std::io::Write;

use ctrlog::lines::{BackScanner, LineBuffer, LineItem};
use proptest::prelude::*;

/// Complete lines of `data` (with offsets), lines of `max` bytes or more (without their
/// `\n`) as `None`; the unterminated end left out.
fn naive_lines(data: &[u8], max: usize) -> Vec<(u64, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut at = 0u64;
    for l in data.split_inclusive(|&b| b == b'\n') {
        if l.ends_with(b"\n") {
            out.push((at, (l.len() - 1 < max).then(|| l.to_vec())));
        }
        at += l.len() as u64;
    }
    out
}

/// A framer's item as [`naive_lines`] gives it: the line, or `None` for an overlong one.
fn naive_item(item: LineItem<'_>) -> (u64, Option<Vec<u8>>) {
    match item {
        LineItem::Line { offset, bytes } => (offset, Some(bytes.to_vec())),
        LineItem::Overlong { offset, .. } => (offset, None),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn back_scanner_and_line_buffer_equal_a_naive_split(
        data in prop::collection::vec(prop_oneof![3 => Just(b'a'), 1 => Just(b'\n')], 0..400),
        block in 16usize..48,
        max in 16usize..80,
    ) {
        let want = naive_lines(&data, max);
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&data).unwrap();
        let mut back = Vec::new();
        let mut b = BackScanner::new(&f, data.len() as u64, block, max).unwrap();
        while let Some(item) = b.prev().unwrap() {
            back.push(naive_item(item));
        }
        back.reverse();
        prop_assert_eq!(&back, &want);
        // The same over the bytes themselves: no file needed.
        let mut back = Vec::new();
        let mut b = BackScanner::new(&data[..], data.len() as u64, block, max).unwrap();
        while let Some(item) = b.prev().unwrap() {
            back.push(naive_item(item));
        }
        back.reverse();
        prop_assert_eq!(&back, &want);
        // Forwards, from a reader that returns a few bytes at a time.
        let mut fwd = Vec::new();
        let mut lb = LineBuffer::new(0, block, max);
        let mut src = &data[..];
        let mut trickle = std::iter::repeat([1usize, 7, 3, 16]).flatten();
        loop {
            while let Some(item) = lb.next_line() {
                fwd.push(naive_item(item));
            }
            let k = trickle.next().unwrap().min(src.len());
            let mut piece = &src[..k];
            src = &src[k..];
            if lb.fill_from(&mut piece).unwrap() == 0 {
                break;
            }
        }
        prop_assert_eq!(&fwd, &want);
    }
}
