//! Replays the `split` and `json_encode` fuzz corpora through the same functions.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        f(&data);
        n += 1;
    }
    assert!(n > 0, "empty corpus {}", dir.display());
}

#[test]
fn split_corpus() {
    replay("split", ctrlog::cri::write::fuzz_split);
}

#[test]
fn json_encode_corpus() {
    replay("json_encode", ctrlog::cri::write::fuzz_json_encode);
}
