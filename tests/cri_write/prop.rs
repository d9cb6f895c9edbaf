//! Property tests: write then parse gives the input lines back; the chunked state machine
//! equals the whole-input oracle; the Docker escaper round-trips through serde_json.

use crate::util;

use ctrlog::cri::write::{CrPolicy, DockerJsonEncoder, LogWriter, MaxLen, WriterOptions};
// The fuzz bodies and the whole-input oracle are test support compiled with the `__fuzz`
// feature (CI: --all-features).
#[cfg(feature = "__fuzz")]
use ctrlog::cri::write::{fuzz_json_encode, fuzz_split, split_oracle, LineSplitter, SplitOptions};
use ctrlog::cri::Stream;
use ctrlog::time::{FixedClock, Timestamp};
use proptest::prelude::*;
use util::{join_lines, parse_cri, pieces};

/// Bytes rich in the interesting ones: '\n', '\r', ' ', NUL, high bytes.
fn log_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            3 => Just(b'\n'),
            2 => Just(b'\r'),
            1 => Just(b' '),
            6 => b'a'..=b'z',
            1 => any::<u8>(),
        ],
        0..400,
    )
}

/// The input's lines: (content, terminated?); one '\r' before '\n' dropped.
fn expected_lines(input: &[u8]) -> Vec<(Vec<u8>, bool)> {
    let mut lines = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &rest[..i];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                lines.push((line.to_vec(), true));
                rest = &rest[i + 1..];
            }
            None => {
                lines.push((rest.to_vec(), false));
                rest = &[];
            }
        }
    }
    lines
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn write_parse_join_gives_the_lines_back(
        input in log_bytes(),
        m in 1i64..40,
        chunk in 1usize..64,
    ) {
        let out = util::write_cri(&input, m, Stream::Stderr, chunk);
        let recs = parse_cri(&out);
        for r in &recs {
            prop_assert!(r.content.len() <= m as usize);
            prop_assert_eq!(r.stream, Stream::Stderr);
        }
        prop_assert_eq!(join_lines(&pieces(&recs)), expected_lines(&input));
    }

    #[test]
    fn unlimited_gives_one_record_per_line(input in log_bytes(), chunk in 1usize..64) {
        let recs = parse_cri(&util::write_cri(&input, -1, Stream::Stdout, chunk));
        let want = expected_lines(&input);
        prop_assert_eq!(recs.len(), want.len());
        prop_assert_eq!(join_lines(&pieces(&recs)), want);
    }

    #[cfg(feature = "__fuzz")]
    #[test]
    fn chunked_splitter_equals_oracle(data in prop::collection::vec(any::<u8>(), 0..300)) {
        // fuzz_split checks one-shot, byte-by-byte and random chunks against the oracle.
        fuzz_split(&data);
    }

    #[cfg(feature = "__fuzz")]
    #[test]
    fn chunked_splitter_equals_oracle_on_line_rich_input(
        input in log_bytes(),
        m in 1usize..20,
        cuts in prop::collection::vec(0usize..400, 0..6),
        keep in any::<bool>(),
    ) {
        let cr = if keep { CrPolicy::Keep } else { CrPolicy::Strip };
        let mut so = SplitOptions::default();
        so.max_len = MaxLen::from_signed(m as i64);
        so.cr_policy = cr;
        let mut s = LineSplitter::with_options(so);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        cuts.push(0);
        cuts.push(input.len());
        cuts.sort_unstable();
        let mut got = Vec::new();
        for w in cuts.windows(2) {
            s.for_each(&input[w[0]..w[1]], |t, c| got.push((t, c.to_vec())));
        }
        s.finish_each(|t, c| got.push((t, c.to_vec())));
        prop_assert_eq!(got, split_oracle(&input, m, cr));
    }

    #[cfg(feature = "__fuzz")]
    #[test]
    fn docker_escaper_round_trips(data in prop::collection::vec(any::<u8>(), 0..200)) {
        fuzz_json_encode(&data);
    }

    #[cfg(feature = "__fuzz")]
    #[test]
    fn docker_escaper_round_trips_mostly_ascii(
        data in prop::collection::vec(prop_oneof![12 => 0x20u8..0x7f, 1 => any::<u8>()], 0..300)
    ) {
        // Long plain runs exercise the word-at-a-time skip; the oracle checks every byte.
        fuzz_json_encode(&data);
    }

    #[test]
    fn docker_records_reassemble_valid_utf8(
        text in "[a-z \\t\\r\\n<>&\"\\\\\u{e9}\u{2028}\u{1f600}]{0,200}",
        chunk in 1usize..50,
    ) {
        // The limit is larger than any line here, so no character is cut.
        let mut opts = WriterOptions::default();
        opts.split.max_len = MaxLen::from_signed(1000);
        opts.split.cr_policy = CrPolicy::Keep;
        opts.read_size = chunk;
        opts.flush_size = 100;
        let mut w = LogWriter::with_options(Stream::Stdout, DockerJsonEncoder::new(), Vec::new(), opts)
            .with_clock(FixedClock(Timestamp::new(0, 0)));
        w.copy_from(text.as_bytes()).unwrap();
        let out = w.into_inner();
        let mut joined = String::new();
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(line).unwrap();
            prop_assert_eq!(v["stream"].as_str(), Some("stdout"));
            prop_assert_eq!(v["time"].as_str(), Some("1970-01-01T00:00:00Z"));
            joined.push_str(v["log"].as_str().unwrap_or(""));
        }
        prop_assert_eq!(joined, text);
    }
}
