//! The `rotate_ops` fuzz function on random operation sequences (its corpus is replayed by
//! `tests/fuzz_corpus.rs`).

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn rotate_ops_random(data in proptest::collection::vec(any::<u8>(), 2..120)) {
        ctrlog::rotate::fuzz_rotate_ops(&data);
    }
}
