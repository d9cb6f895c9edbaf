//! Reads through the in-line Docker decoding (a record found and decoded in one pass, see
//! `Pipeline::line_in`) held to the same reads through the framed path only: a custom
//! decoder ([`ReadFormat::Custom`]) never decodes in line, and a [`RecordParser`] or
//! [`DockerJsonDecoder`] behind one decodes each framed line as the built-in formats do.
//! Logs mix dockerd's records (escapes, raw newlines in values, other member orders, CRLF),
//! CRI records, garbage, empty and overlong lines, read in small pieces so that records
//! straddle the reads; output (through a zero-copy sink, [`RecordingSink`]) and stats must be
//! identical.

use proptest::prelude::*;

use super::recording_sink::RecordingSink;
use super::{DockerJsonDecoder, LogReader, ReadFormat, ReadOptions, ReadStats, RecordParser};
use crate::cri::Stream;

/// Bytes written per stream run, in order.
type Out = Vec<(Stream, Vec<u8>)>;

/// One line of the log (without or with its `\n`, as the shape says).
fn line() -> impl Strategy<Value = Vec<u8>> {
    let text = prop::collection::vec(
        prop::sample::select(vec![
            "a",
            "bcd",
            "\"",
            "\\",
            "/",
            "\n",
            "\t",
            "\u{1}",
            "é",
            "🙂",
            "xxxxxxxxxxxxxxxx",
        ]),
        0..24,
    )
    .prop_map(|v| v.concat());
    let time = prop::sample::select(vec![
        "2024-06-19T15:02:45.5Z",
        "2024-06-19T15:02:45.123456789Z",
        "2024-06-19T15:02:46+02:00",
        "2024-06-19T5:02:45Z",
        "bad",
    ]);
    // Mostly dockerd's records (0 to 3), so that the in-line path runs between the others.
    (
        text,
        prop_oneof![6 => 0u8..4, 4 => 4u8..10],
        any::<bool>(),
        time,
    )
        .prop_map(|(t, shape, err, time)| {
            let stream = if err { "stderr" } else { "stdout" };
            let log = serde_json::to_string(&t).unwrap();
            let s = match shape {
                0..=3 => format!("{{\"log\":{log},\"stream\":\"{stream}\",\"time\":\"{time}\"}}\n"),
                // A raw newline in the value: two lines, neither a record.
                4 => format!(
                    "{{\"log\":{},\"stream\":\"{stream}\",\"time\":\"{time}\"}}\n",
                    log.replacen('a', "\n", 1)
                ),
                5 => format!("{{\"stream\":\"{stream}\",\"log\":{log},\"time\":\"{time}\"}}\n"),
                6 => format!("{{\"log\":{log},\"stream\":\"{stream}\",\"time\":\"{time}\"}}\r\n"),
                7 => format!(
                    "{time} {stream} {} {}\n",
                    if err { "P" } else { "F" },
                    t.replace('\n', " ")
                ),
                8 => "\n".to_string(),
                _ => format!("{{\"log\":{log},\"stream\":\"{stream}\",\"time\":\"{time}\"}}"),
            };
            s.into_bytes()
        })
}

fn read(path: &std::path::Path, opts: &ReadOptions) -> (Out, Vec<Stream>, ReadStats) {
    let mut sink = RecordingSink::zero_copy();
    let stats = LogReader::open_single(path, opts.clone())
        .expect("open")
        .read_to(&mut sink)
        .expect("read");
    assert_eq!(sink.unreleased(), 0, "ranges left unreleased");
    (sink.out, sink.ends, stats)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn in_line_reads_equal_framed_reads(
        lines in prop::collection::vec(line(), 0..80),
        read_size in 16usize..400,
        max_record in 16usize..600,
        limit in prop::option::of(0u64..3000),
        docker_only in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, lines.concat()).unwrap();
        // Fields set by assignment (the crate's conventions: the options are non_exhaustive).
        #[allow(clippy::field_reassign_with_default)]
        let opts = {
            let mut opts = ReadOptions::default();
            opts.read_size = read_size;
            opts.max_record_len = max_record;
            opts.output.limit_bytes = limit;
            opts
        };
        let mut opts = opts;
        let mut framed = opts.clone();
        if docker_only {
            opts.format = ReadFormat::DockerJson;
            framed.format = ReadFormat::custom(DockerJsonDecoder::default);
        } else {
            framed.format = ReadFormat::custom(RecordParser::new);
        }
        prop_assert_eq!(read(&path, &opts), read(&path, &framed));
    }
}
