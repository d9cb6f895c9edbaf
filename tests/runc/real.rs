//! The real runc/crun/containerd log.json files of `testdata/real/`, with the
//! expected last errors listed in its README, through every reader of `ctrlog::runc`.

use std::fs::File;
use std::io::{BufReader, Cursor};

use ctrlog::runc::{
    last_error, last_error_compat, last_error_stream, last_error_with, summarize, Decoder,
    DecoderOptions, ErrorPolicy, LastErrorOptions, SummaryOptions,
};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/real/");

const NOT_FOUND: &str = "executable file not found in $PATH";

/// (file, expected last error; "" = none)
fn table() -> Vec<(&'static str, String)> {
    vec![
        ("runc/state-nonexistent.log.json", "container does not exist".into()),
        ("runc/delete-nonexistent.log.json", "container does not exist".into()),
        ("runc/run-missing-exe-path.log.json", format!("runc run failed: unable to start container process: exec: \"no-such-binary\": {NOT_FOUND}")),
        ("runc/run-missing-exe-abs.log.json", "runc run failed: unable to start container process: exec: \"/usr/bin/nope\": stat /usr/bin/nope: no such file or directory".into()),
        ("runc/run-ok-debug.log.json", "".into()),
        ("runc/run-missing-exe-debug.log.json", format!("runc run failed: unable to start container process: exec: \"no-such-binary\": {NOT_FOUND}")),
        ("runc/run-kmem-warning-ok.log.json", "".into()),
        ("runc/run-warning-then-error.log.json", format!("runc run failed: unable to start container process: exec: \"no-such-binary\": {NOT_FOUND}")),
        ("runc/run-bad-mount.log.json", "runc run failed: unable to start container process: error during container init: error mounting \"/tmp/rp/does-not-exist\" to rootfs at \"/data\": stat /tmp/rp/does-not-exist: no such file or directory".into()),
        ("runc/run-invalid-config.log.json", "runc run failed: unexpected EOF".into()),
        ("runc/create-duplicate-id.log.json", "runc create failed: container with given ID already exists".into()),
        ("runc/shim-lifecycle-exec-missing-x5.log.json", "container not running".into()),
        ("crun/state-nonexistent.log.json", "error opening file `/run/crun/nonexistent/status`: No such file or directory".into()),
        ("crun/run-missing-exe-path.log.json", "executable file `no-such-binary` not found in $PATH: No such file or directory".into()),
        ("crun/run-ok-debug-empty.log.json", "".into()),
        ("containerd/bundle-log.json.exec-missing-x5", "exec failed: unable to start container process: exec: \"/bin/no-such-probe\": stat /bin/no-such-probe: no such file or directory".into()),
    ]
}

fn path(name: &str) -> String {
    format!("{DIR}{name}")
}

#[test]
fn real_files_all_modes_agree_with_readme() {
    for (name, want) in table() {
        let p = path(name);
        let data = std::fs::read(&p).unwrap();
        let back = last_error(File::open(&p).unwrap()).unwrap();
        let fwd = last_error_stream(BufReader::new(File::open(&p).unwrap())).unwrap();
        let mut tiny_opts = LastErrorOptions::default();
        tiny_opts.max_record_len = 4096;
        tiny_opts.block_size = 1;
        let tiny = last_error_with(Cursor::new(&data[..]), tiny_opts).unwrap();
        assert_eq!(back, fwd, "{name}");
        assert_eq!(back, tiny, "{name}");
        assert_eq!(
            back.as_ref().map(|e| e.msg.as_str()).unwrap_or(""),
            want,
            "{name}"
        );
        assert_eq!(back.is_some(), !want.is_empty(), "{name}");
        // containerd-compatible mode gives the same string on every real JSON file.
        assert_eq!(
            last_error_compat(&data[..]).unwrap(),
            want,
            "{name} (compat)"
        );
        // Strict decoding: every real file is clean.
        let mut strict = DecoderOptions::default();
        strict.policy = ErrorPolicy::Strict;
        let mut dec = Decoder::with_options(&data[..], strict);
        while dec.next_record().unwrap().is_some() {}
        assert_eq!(
            dec.stats().records as usize,
            data.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            "{name}"
        );
    }
}

#[test]
fn real_error_times_are_parsed() {
    let p = path("runc/shim-lifecycle-exec-missing-x5.log.json");
    let e = last_error(File::open(&p).unwrap()).unwrap().unwrap();
    assert_eq!(e.time.map(|t| t.secs), Some(1795422441)); // 2026-11-23T08:27:21Z
    let p = path("crun/state-nonexistent.log.json");
    let e = last_error(File::open(&p).unwrap()).unwrap().unwrap();
    assert_eq!(
        e.time.map(|t| (t.secs, t.nanos)),
        Some((1795422465, 634_935_000))
    );
    assert_eq!(e.offset, 0);
}

#[test]
fn real_text_log_compat_errors_robust_finds_nothing() {
    let p = path("runc/state-nonexistent.text.log");
    let data = std::fs::read(&p).unwrap();
    let err = last_error_compat(&data[..]).unwrap_err();
    // containerd: "invalid character 'i' in literal true (expecting 'r')".
    assert!(
        err.to_string().contains("invalid character 'i' in literal"),
        "{err}"
    );
    assert_eq!(err.offset(), Some(1));
    assert_eq!(last_error(File::open(&p).unwrap()).unwrap(), None);
    let mut strict = DecoderOptions::default();
    strict.policy = ErrorPolicy::Strict;
    assert!(Decoder::with_options(&data[..], strict)
        .next_record()
        .is_err());
}

#[test]
fn real_debug_entries_decode_with_extra_fields() {
    let data = std::fs::read(path("runc/run-ok-debug.log.json")).unwrap();
    let mut dec = Decoder::new(&data[..]);
    let mut levels = Vec::new();
    let mut last_fields = Vec::new();
    while let Some(r) = dec.next_record().unwrap() {
        levels.push(r.entry.level().to_owned());
        last_fields = r
            .entry
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
    }
    assert_eq!(levels.len(), 26);
    assert!(levels.iter().all(|l| l == "debug"));
    assert_eq!(
        last_fields,
        [
            "file=\"github.com/opencontainers/runc/signals.go:92\"",
            "func=\"main.(*signalHandler).forward\"",
            "pid=14036",
            "status=0"
        ]
    );
    let s = summarize(&data[..], SummaryOptions::default()).unwrap();
    assert_eq!(s.levels, [("debug".to_string(), 26)]);
}

#[test]
fn real_files_torn_at_every_byte() {
    // Cut each real file at every byte: the robust answer equals the naive oracle's and never
    // panics; compat fails exactly when the cut falls inside a record (Go: unexpected EOF).
    for (name, _) in table() {
        let data = std::fs::read(path(name)).unwrap();
        for cut in 0..=data.len() {
            let part = &data[..cut];
            let mut opts = LastErrorOptions::default();
            opts.max_record_len = 1 << 20;
            opts.block_size = 16;
            let back = last_error_with(Cursor::new(part), opts).unwrap();
            // The naive oracle is compiled with the `__fuzz` feature (CI: --all-features);
            // without it, the forward reader is the reference.
            #[cfg(feature = "__fuzz")]
            assert_eq!(
                back,
                ctrlog::runc::last_error_naive(part, 1 << 20),
                "{name} cut {cut}"
            );
            #[cfg(not(feature = "__fuzz"))]
            assert_eq!(
                back,
                ctrlog::runc::last_error_stream(part).unwrap(),
                "{name} cut {cut}"
            );
            let tail_start = part.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let record_complete = cut == data.len() || data[cut] == b'\n';
            let inside = tail_start < cut && !record_complete;
            assert_eq!(last_error_compat(part).is_err(), inside, "{name} cut {cut}");
        }
    }
}
