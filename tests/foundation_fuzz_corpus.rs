//! Replays the fuzz corpora of the foundation's targets through the same functions.

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
fn time_parse_corpus() {
    replay("time_parse", ctrlog::time::fuzz_time_parse);
}

#[test]
fn size_parse_corpus() {
    replay("size_parse", ctrlog::size::fuzz_size_parse);
}
