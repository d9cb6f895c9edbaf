//! Property tests of the tail machinery: [`ForwardTail`] (data read forwards: `.gz`, pipes)
//! against [`TailCounter`] fed every record backwards, with bounded memory.

use ctrlog::cri::read::{ForwardTail, TailCounter, TailMode};
use ctrlog::cri::{Stream, Tag};
use proptest::prelude::*;

type Rec = Option<(Stream, Tag)>;

fn rec() -> impl Strategy<Value = Rec> {
    prop_oneof![
        1 => Just(None),
        4 => (any::<bool>(), any::<bool>()).prop_map(|(e, p)| Some((
            if e { Stream::Stderr } else { Stream::Stdout },
            if p { Tag::Partial } else { Tag::Full },
        ))),
    ]
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
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn forward_tail_equals_backward_counter(
        n in 0u64..12,
        mode in mode(),
        older in prop::collection::vec(rec(), 0..400),
        newer in prop::collection::vec(rec(), 0..6),
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
