//! Replays the `rotate_ops` fuzz corpus through the same function, and runs it on random
//! operation sequences with proptest.

use std::path::Path;

use proptest::prelude::*;

#[test]
fn rotate_ops_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/rotate_ops");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        ctrlog::rotate::fuzz_rotate_ops(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn rotate_ops_random(data in proptest::collection::vec(any::<u8>(), 2..120)) {
        ctrlog::rotate::fuzz_rotate_ops(&data);
    }
}
