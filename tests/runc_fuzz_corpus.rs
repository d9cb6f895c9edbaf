//! Replays the runc fuzz corpora through the same functions the fuzz targets call.

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
fn runc_decode_corpus() {
    replay("runc_decode", ctrlog::runc::fuzz_runc_decode);
}

#[test]
fn runc_last_error_corpus() {
    replay("runc_last_error", ctrlog::runc::fuzz_runc_last_error);
}
