//! The `rotate_ops` fuzz function on random operation sequences (its corpus is replayed by
//! `tests/fuzz_corpus/`).

#[cfg(feature = "__fuzz")]
use proptest::prelude::*;

#[cfg(not(feature = "__fuzz"))]
#[test]
#[ignore = "the rotate_ops fuzz body is compiled only with the internal __fuzz feature (cargo test --all-features)"]
fn rotate_ops_random() {}

#[cfg(feature = "__fuzz")]
proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn rotate_ops_random(data in proptest::collection::vec(any::<u8>(), 2..120)) {
        ctrlog::rotate::fuzz_rotate_ops(&data);
    }
}
