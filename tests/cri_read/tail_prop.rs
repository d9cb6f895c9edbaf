//! Property tests of the tail machinery: [`ForwardTail`] (data read forwards: `.gz`, pipes)
//! against [`TailCounter`] fed every record backwards, with bounded memory; [`BackScanner`]
//! and [`LineBuffer`] against a naive split on `\n`.

use std::io::Write;

use ctrlog::cri::read::{ForwardTail, TailCounter, TailMode};
use ctrlog::cri::{Stream, Tag};
use ctrlog::lines::{BackScanner, LineBuffer, LineItem};
use proptest::prelude::*;

type Rec = Option<(Stream, Tag)>;

/// Records where stderr has weight `err` against stdout's 8 and partial pieces `p` against
/// full records' 8: a rare stream and long partial lines are what the trimming must get
/// right.
fn rec(err: u32, p: u32) -> impl Strategy<Value = Rec> {
    prop_oneof![
        1 => Just(None),
        8 => (0..8 + err, 0..8 + p).prop_map(move |(e, t)| Some((
            if e >= 8 { Stream::Stderr } else { Stream::Stdout },
            if t >= 8 { Tag::Partial } else { Tag::Full },
        ))),
    ]
}

fn recs(max: usize) -> impl Strategy<Value = Vec<Rec>> {
    (0u32..16, 0u32..24).prop_flat_map(move |(e, p)| prop::collection::vec(rec(e, p), 0..max))
}

fn mode() -> impl Strategy<Value = TailMode> {
    prop_oneof![Just(TailMode::Lines), Just(TailMode::Records)]
}

/// The counter after `newer` (file 1) was fed backwards, as the reader does before it gets
/// to an older file.
fn base(n: u64, mode: TailMode, newer: &[Rec]) -> TailCounter {
    let mut t = TailCounter::new(n, mode);
    for (i, r) in newer.iter().enumerate().rev() {
        if t.done() {
            break;
        }
        t.push(*r, (1, i as u64));
    }
    t
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn forward_tail_equals_backward_counter(
        n in 0u64..12,
        mode in mode(),
        older in recs(700),
        newer in recs(6),
    ) {
        let t = base(n, mode, &newer);
        let mut want = t.clone();
        for (i, r) in older.iter().enumerate().rev() {
            if want.done() {
                break;
            }
            want.push(*r, (0, i as u64));
        }
        let mut f = ForwardTail::new(t);
        for (i, r) in older.iter().enumerate() {
            f.push((0, i as u64), *r);
        }
        let got = f.finish();
        prop_assert_eq!(got.finish(), want.finish());
        prop_assert_eq!(got.done(), want.done());
    }
}

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

#[test]
fn forward_tail_memory_is_bounded_by_n() {
    for mode in [TailMode::Lines, TailMode::Records] {
        for n in [0u64, 1, 10, 100] {
            let mut f = ForwardTail::new(TailCounter::new(n, mode));
            let mut peak = 0;
            for i in 0..200_000u64 {
                let s = if i % 3 == 0 {
                    Stream::Stderr
                } else {
                    Stream::Stdout
                };
                let tag = if i % 5 == 0 { Tag::Partial } else { Tag::Full };
                f.push((0, i), Some((s, tag)));
                peak = peak.max(f.kept_len());
            }
            let bound = 2 * (2 * n as usize + 4).max(64);
            assert!(peak <= bound, "{mode:?} n={n}: kept {peak} > {bound}");
        }
    }
}
