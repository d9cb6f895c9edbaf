//! Fuzz target bodies and the naive oracle they check against: compiled only with the
//! `__fuzz` feature (the fuzz crate in `fuzz/` and `tests/fuzz_corpus/` turn it on), so
//! none of this is in a user's build or in the crate's semver surface.

use super::last_error::error_in_line;
use super::{
    last_error_compat, last_error_stream_with, last_error_with, parse_entry, summarize,
    CompatOptions, CompatScanner, Decoder, DecoderOptions, ErrorPolicy, LastError,
    LastErrorOptions, OwnedEntry, SummaryOptions, DEFAULT_MAX_RECORD_LEN,
};

/// Naive oracle for the last error: split on `\n`, decode every line, keep the last error.
pub fn last_error_naive(data: &[u8], max_record_len: usize) -> Option<LastError> {
    let mut best = None;
    let mut offset = 0u64;
    for line in data.split(|&b| b == b'\n') {
        if line.len() <= max_record_len {
            if let Some(e) = error_in_line(line, offset) {
                best = Some(e);
            }
        }
        offset += line.len() as u64 + 1;
    }
    best
}

/// Fuzz target body: the decoder under both policies, 1-byte and odd chunking, small cap;
/// `read_entry` (reused entry) and `next_record` see the same records.
pub fn fuzz_runc_decode(data: &[u8]) {
    for policy in [ErrorPolicy::Lenient, ErrorPolicy::Strict] {
        let opts = DecoderOptions {
            policy,
            max_record_len: 64,
        };
        let reader = std::io::BufReader::with_capacity(7, data);
        let mut dec = Decoder::with_options(reader, opts);
        let mut reused = Decoder::with_options(data, opts);
        let mut entry = OwnedEntry::default();
        let mut n = 0u64;
        loop {
            let other = reused.read_entry(&mut entry);
            match dec.next_record() {
                Ok(Some(rec)) => {
                    assert!(rec.offset < data.len() as u64);
                    assert_eq!(rec.entry.to_owned_entry(), entry, "reused entry");
                    assert_eq!(reused.record_span().start, rec.offset);
                    n += 1;
                }
                Ok(None) => {
                    assert!(!other.expect("end of input"));
                    break;
                }
                Err(e) => {
                    assert!(e.offset().is_some());
                    assert_eq!(other.err().and_then(|e| e.offset()), e.offset());
                }
            }
        }
        assert_eq!(n, dec.stats().records);
        assert_eq!(dec.stats(), reused.stats());
    }
    let _ = summarize(data, SummaryOptions::default());
    for line in data.split(|&b| b == b'\n') {
        if let Ok(e) = parse_entry(line) {
            let _ = e.timestamp();
        }
    }
}

/// Fuzz target body: `last_error` both ways and compat mode; tail-first == forward == naive.
pub fn fuzz_runc_last_error(data: &[u8]) {
    for (cap, block) in [
        (48usize, 5usize),
        (DEFAULT_MAX_RECORD_LEN, 64 * 1024),
        (16, 3),
    ] {
        let opts = LastErrorOptions {
            max_record_len: cap,
            block_size: block,
        };
        let back = last_error_with(std::io::Cursor::new(data), opts)
            .ok()
            .flatten();
        let fwd =
            last_error_stream_with(std::io::BufReader::with_capacity(block.max(1), data), opts)
                .ok()
                .flatten();
        let naive = last_error_naive(data, cap);
        assert_eq!(back, fwd, "backward vs forward");
        assert_eq!(fwd, naive, "forward vs naive");
    }
    let whole = last_error_compat(data);
    let mut s = CompatScanner::new(CompatOptions::default());
    let mut res = Ok(());
    for b in data.chunks(3) {
        res = s.feed(b);
        if res.is_err() {
            break;
        }
    }
    let chunked = res.and_then(|_| s.finish());
    assert_eq!(whole.ok(), chunked.ok(), "compat chunking");
}
