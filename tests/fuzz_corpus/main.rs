//! Replays every committed fuzz corpus (`fuzz/corpus/<target>/`) through the same function
//! the fuzz target calls, so `cargo test` keeps every past finding fixed without nightly.
//! It reads the corpus as `testdata/fuzz-corpus/`, a link to `fuzz/corpus/` in the repository
//! and a copy in the packaged crate (which has no `fuzz/`).
//!
//! The fuzz bodies are compiled only with the crate's `__fuzz` feature (not public API), so
//! this file needs `cargo test --features __fuzz` (or `--all-features`, as CI runs it).

#[cfg(not(feature = "__fuzz"))]
#[test]
#[ignore = "the fuzz bodies are compiled only with the `__fuzz` feature: cargo test --features __fuzz"]
fn every_corpus_replays() {}

#[cfg(feature = "__fuzz")]
mod replay {
    use std::fs;
    use std::path::Path;

    /// A fuzz target's entry function.
    type FuzzFn = fn(&[u8]);

    /// Every fuzz target and the crate function it calls.
    const TARGETS: &[(&str, FuzzFn)] = &[
        ("time_parse", ctrlog::time::fuzz_time_parse),
        ("size_parse", ctrlog::size::fuzz_size_parse),
        ("split", ctrlog::cri::write::fuzz_split),
        ("json_encode", ctrlog::cri::write::fuzz_json_encode),
        ("cri_record", ctrlog::cri::read::fuzz_cri_record),
        ("docker_record", ctrlog::cri::read::fuzz_docker_record),
        ("merge_reader", ctrlog::cri::read::fuzz_merge_reader),
        ("runc_decode", ctrlog::runc::fuzz_runc_decode),
        ("runc_last_error", ctrlog::runc::fuzz_runc_last_error),
        ("rotate_ops", ctrlog::rotate::fuzz_rotate_ops),
    ];

    fn replay(name: &str, f: FuzzFn) -> usize {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/fuzz-corpus")
            .join(name);
        let mut n = 0;
        for e in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let data = fs::read(e.unwrap().path()).unwrap();
            f(&data);
            // Truncated inputs too: torn records are the interesting ones for parsers.
            for cut in (0..data.len()).step_by(7) {
                f(&data[..cut]);
            }
            n += 1;
        }
        n
    }

    #[test]
    fn every_corpus_replays() {
        for &(name, f) in TARGETS {
            assert!(replay(name, f) >= 3, "{name}: fewer than 3 seed inputs");
        }
    }

    #[test]
    fn every_fuzz_target_is_replayed() {
        // Every corpus directory belongs to a replayed target (checked in the package too).
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz-corpus");
        for e in fs::read_dir(&corpus).unwrap_or_else(|e| panic!("{}: {e}", corpus.display())) {
            let name = e.unwrap().file_name().into_string().unwrap();
            assert!(
                TARGETS.iter().any(|(t, _)| *t == name),
                "corpus {name} has no replayed target"
            );
        }
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        if !fuzz.is_dir() {
            // The packaged crate: the fuzz targets are not in it.
            eprintln!("skip: no fuzz/ (packaged crate): fuzz targets vs TARGETS not checked");
            return;
        }
        let manifest = fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
        let declared: Vec<&str> = manifest
            .lines()
            .filter_map(|l| l.strip_prefix("name = \""))
            .filter_map(|l| l.strip_suffix('"'))
            .filter(|n| *n != "ctrlog-fuzz")
            .collect();
        assert_eq!(declared.len(), TARGETS.len(), "{declared:?}");
        for name in declared {
            assert!(
                TARGETS.iter().any(|(t, _)| *t == name),
                "fuzz target {name} is not replayed"
            );
            let src = fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/fuzz_targets/{name}.rs")),
            )
            .unwrap();
            assert!(
                src.contains(&format!("fuzz_{name}")),
                "{name}.rs does not call fuzz_{name}"
            );
        }
    }
}
