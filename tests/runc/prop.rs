//! Property tests: tail-first last error == forward scan == naive oracle, under any block
//! size, buffer size and cap; compat scanner independent of chunking; writer round trips.

use std::io::{BufReader, Cursor};

use proptest::prelude::*;

use ctrlog::runc::{
    last_error_compat, last_error_stream_with, last_error_with, CompatOptions, CompatScanner,
    Decoder, DecoderOptions, EntryWriter, LastErrorOptions,
};
use ctrlog::time::Timestamp;

/// Pieces log.json files are made of, including the nasty ones.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    let msg = prop::sample::select(vec![
        "a",
        " spaced ",
        "",
        "\\\"error\\\"",
        "x\\u003cy",
        "\\ud800",
        "日志",
        "error",
        "\\n",
    ]);
    let level = prop::sample::select(vec![
        "error",
        "info",
        "warning",
        "Error",
        "\\u0065rror",
        "debug",
    ]);
    prop_oneof![
        4 => (level, msg, any::<bool>()).prop_map(|(l, m, t)| {
            let time = if t { ",\"time\":\"2026-11-23T08:27:21Z\"" } else { "" };
            format!("{{\"level\":\"{l}\",\"msg\":\"{m}\"{time}}}\n").into_bytes()
        }),
        1 => (1usize..120).prop_map(|n| format!("{{\"level\":\"error\",\"msg\":\"{}\"}}\n", "L".repeat(n)).into_bytes()),
        1 => Just(b"{\"msg\":\"m\",\"level\":\"error\"}".to_vec()),
        1 => Just(b"\n".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        1 => Just(b"not json \"error\"\n".to_vec()),
        1 => Just(b"{\"level\":\"err".to_vec()),
        1 => Just(b"{\"level\":\"error\"}{\"level\":\"error\",\"msg\":\"b\"}\n".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ]
}

fn log() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(piece(), 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn tail_first_equals_forward_equals_naive(data in log(), cap in 8usize..200, block in 1usize..64, bufcap in 1usize..64) {
        let mut opts = LastErrorOptions::default();
        opts.max_record_len = cap;
        opts.block_size = block;
        let back = last_error_with(Cursor::new(&data[..]), opts).unwrap();
        let fwd = last_error_stream_with(BufReader::with_capacity(bufcap, &data[..]), opts).unwrap();
        prop_assert_eq!(&back, &fwd);
        // The naive oracle is test support compiled with the `__fuzz` feature (CI: --all-features).
        #[cfg(feature = "__fuzz")]
        prop_assert_eq!(&fwd, &ctrlog::runc::last_error_naive(&data, cap));
    }

    #[test]
    fn decoder_independent_of_buffering(data in log(), cap in 8usize..200, bufcap in 1usize..64) {
        let mut opts = DecoderOptions::default();
        opts.max_record_len = cap;
        let run = |bc: usize| {
            let mut d = Decoder::with_options(BufReader::with_capacity(bc, &data[..]), opts);
            let mut v = Vec::new();
            while let Some(r) = d.next_record().unwrap() {
                v.push((r.offset, r.entry.to_owned_entry()));
            }
            (v, d.stats())
        };
        prop_assert_eq!(run(bufcap), run(1 << 16));
    }

    #[test]
    fn compat_independent_of_chunking(data in log(), step in 1usize..17) {
        let whole = last_error_compat(&data[..]).ok();
        let mut s = CompatScanner::new(CompatOptions::default());
        let mut ok = true;
        for c in data.chunks(step) {
            if s.feed(c).is_err() { ok = false; break; }
        }
        let chunked = if ok { s.finish().ok() } else { None };
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn writer_round_trip(msgs in prop::collection::vec(("(info|error|warning)", any::<String>()), 1..8)) {
        let mut w = EntryWriter::new(Vec::new());
        for (i, (l, m)) in msgs.iter().enumerate() {
            w.write_entry(l, m, Timestamp::new(i as i64 * 1000, 0)).unwrap();
        }
        let out = w.into_inner();
        let mut d = Decoder::new(&out[..]);
        let mut got = Vec::new();
        while let Some(r) = d.next_record().unwrap() {
            got.push((r.entry.level().to_owned(), r.entry.msg().to_owned()));
        }
        prop_assert_eq!(&got, &msgs);
        // containerd agrees with the robust reader on writer output.
        let want = msgs.iter().rev().find(|(l, _)| l == "error").map(|(_, m)| m.trim().to_owned());
        prop_assert_eq!(last_error_compat(&out[..]).ok(), Some(want.clone().unwrap_or_default()));
        let robust = last_error_with(Cursor::new(&out[..]), LastErrorOptions::default()).unwrap().map(|e| e.msg);
        prop_assert_eq!(robust, want);
    }
}
