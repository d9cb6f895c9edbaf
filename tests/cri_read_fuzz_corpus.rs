//! Replays the committed fuzz corpora through the same functions the fuzz targets call.

use std::fs;
use std::path::Path;

fn replay(name: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut n = 0;
    for e in fs::read_dir(&dir).unwrap() {
        let data = fs::read(e.unwrap().path()).unwrap();
        f(&data);
        // Every prefix too: truncated inputs are the interesting ones for record parsers.
        for cut in (0..data.len()).step_by(7) {
            f(&data[..cut]);
        }
        n += 1;
    }
    assert!(n >= 3, "{name}: corpus has {n} files");
}

#[test]
fn cri_record_corpus() {
    replay("cri_record", ctrlog::cri::read::fuzz_cri_record);
}

#[test]
fn docker_record_corpus() {
    replay("docker_record", ctrlog::cri::read::fuzz_docker_record);
}

#[test]
fn merge_reader_corpus() {
    replay("merge_reader", ctrlog::cri::read::fuzz_merge_reader);
}
