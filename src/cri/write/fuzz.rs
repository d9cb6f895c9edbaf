//! Fuzz target bodies and the whole-input oracles they check against: compiled only with the
//! `__fuzz` feature (the fuzz crate in `fuzz/` and the tests turn it on), so none of this is
//! in a user's build or in the crate's semver surface.

use super::{
    escape_docker_json, CrPolicy, CriEncoder, DockerJsonEncoder, LineSplitter, LogWriter, MaxLen,
    RecordEncoder, SplitOptions, WriterOptions, DEFAULT_MAX_LEN,
};
use crate::cri::{Stream, Tag};
use crate::go_utf8;
use crate::time::{FixedClock, Offset, Timestamp};

/// The splitting rules applied to a whole input at once (slow, obviously right): the oracle the
/// state machine is tested against.
pub fn split_oracle(input: &[u8], max: usize, cr: CrPolicy) -> Vec<(Tag, Vec<u8>)> {
    let max = max.max(1);
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let (line, complete, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], true, &rest[i + 1..]),
            None => (rest, false, &[][..]),
        };
        let content = match (complete, cr, line.split_last()) {
            (true, CrPolicy::Strip, Some((b'\r', r))) => r,
            _ => line,
        };
        if content.is_empty() {
            out.push((Tag::Full, Vec::new()));
        }
        let pieces: Vec<&[u8]> = content.chunks(max).collect();
        let last = pieces.len().saturating_sub(1);
        for (k, p) in pieces.into_iter().enumerate() {
            let tag = if complete && k == last {
                Tag::Full
            } else {
                Tag::Partial
            };
            out.push((tag, p.to_vec()));
        }
        rest = next;
    }
    out
}

/// Runs `input` through a [`LineSplitter`] in the given chunk sizes and collects the records.
fn split_chunked(
    input: &[u8],
    max: usize,
    cr: CrPolicy,
    mut next_chunk: impl FnMut() -> usize,
) -> Vec<(Tag, Vec<u8>)> {
    let max_len = MaxLen::from_signed(i64::try_from(max).unwrap_or(i64::MAX));
    let mut s = LineSplitter::with_options(SplitOptions {
        max_len,
        cr_policy: cr,
        ..SplitOptions::default()
    });
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        let n = next_chunk().clamp(1, rest.len());
        let (chunk, tail) = rest.split_at(n);
        s.for_each(chunk, |t, c| out.push((t, c.to_vec())));
        rest = tail;
    }
    s.finish_each(|t, c| out.push((t, c.to_vec())));
    out
}

/// Fuzz target `split`: any chunking of any input gives the oracle's records.
///
/// Byte 0 picks `M` (1..=64, or 16384 when 0), byte 1 the `\r` policy and a chunking seed,
/// the rest is the input. The input then goes through a [`LogWriter`] with each encoder,
/// against the oracle's records written out by hand.
pub fn fuzz_split(data: &[u8]) {
    let (head, input) = data.split_at(data.len().min(2));
    let m = match head.first() {
        None | Some(0) => DEFAULT_MAX_LEN,
        Some(&b) => usize::from(b % 64) + 1,
    };
    let seed = head.get(1).copied().unwrap_or(0);
    let cr = if seed & 1 == 0 {
        CrPolicy::Strip
    } else {
        CrPolicy::Keep
    };
    let expected = split_oracle(input, m, cr);
    for r in &expected {
        assert!(r.1.len() <= m, "record longer than M");
    }
    assert_eq!(
        split_chunked(input, m, cr, || usize::MAX),
        expected,
        "one shot"
    );
    assert_eq!(split_chunked(input, m, cr, || 1), expected, "byte by byte");
    // A small xorshift drives irregular chunk sizes around M.
    let mut x = u32::from(seed) | 0x9e37_0000;
    let chunked = split_chunked(input, m, cr, || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x as usize) % (m + 3) + 1
    });
    assert_eq!(chunked, expected, "random chunks");
    // The writer's own loop (compiled for AVX2 where the CPU has it) and the encoders'
    // `encode_ahead`, which read the chunk after the content: the oracle's records, written
    // out by hand.
    let mut x = u32::from(seed) | 0x7f4a_0000;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        (x as usize) % (2 * m + 200) + 1
    };
    assert_eq!(
        write_chunked(CriEncoder::new(Offset::Utc), input, m, cr, &mut next),
        cri_oracle(&expected),
        "CRI writer"
    );
    assert_eq!(
        write_chunked(DockerJsonEncoder::new(), input, m, cr, &mut next),
        json_oracle(&expected),
        "json-file writer"
    );
}

/// The clock of [`write_chunked`]: `2023-11-14T22:13:20.12Z`.
const FUZZ_TIME: Timestamp = Timestamp::new(1_700_000_000, 120_000_000);

/// Runs `input` through a [`LogWriter`] with `format`, in the given chunk sizes.
fn write_chunked<F: RecordEncoder>(
    format: F,
    input: &[u8],
    max: usize,
    cr: CrPolicy,
    mut next_chunk: impl FnMut() -> usize,
) -> Vec<u8> {
    let mut opts = WriterOptions::default();
    opts.split.max_len = MaxLen::from_signed(i64::try_from(max).unwrap_or(i64::MAX));
    opts.split.cr_policy = cr;
    let mut w = LogWriter::with_options(Stream::Stdout, format, Vec::new(), opts)
        .with_clock(FixedClock(FUZZ_TIME));
    let mut rest = input;
    while !rest.is_empty() {
        let (chunk, tail) = rest.split_at(next_chunk().clamp(1, rest.len()));
        w.write_chunk(chunk).expect("a Vec takes every record");
        rest = tail;
    }
    w.finish().expect("a Vec takes every record");
    w.into_inner()
}

/// `records` as CRI lines, written out by hand at [`FUZZ_TIME`].
fn cri_oracle(records: &[(Tag, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, content) in records {
        out.extend_from_slice(b"2023-11-14T22:13:20.12Z stdout ");
        out.extend_from_slice(&[tag.as_byte(), b' ']);
        out.extend_from_slice(content);
        out.push(b'\n');
    }
    out
}

/// `records` as json-file lines, written out by hand at [`FUZZ_TIME`] (content escaped by
/// [`escape_docker_json`], which the `json_encode` target checks).
fn json_oracle(records: &[(Tag, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (tag, content) in records {
        if content.is_empty() && *tag == Tag::Partial {
            out.push(b'{');
        } else {
            out.extend_from_slice(b"{\"log\":\"");
            escape_docker_json(content, &mut out);
            if *tag == Tag::Full {
                out.extend_from_slice(b"\\n");
            }
            out.extend_from_slice(b"\",");
        }
        out.extend_from_slice(b"\"stream\":\"stdout\",\"time\":\"2023-11-14T22:13:20.12Z\"}\n");
    }
    out
}

/// Fuzz target `json_encode`: the Docker escaper's output is a JSON string that decodes to
/// the input (invalid UTF-8 as U+FFFD per byte), with no raw control byte, `<`, `>`, `&`,
/// U+2028 or U+2029 left in it.
pub fn fuzz_json_encode(data: &[u8]) {
    crate::json_bytes::fuzz_json_escape(data);
    let mut out = vec![b'"'];
    escape_docker_json(data, &mut out);
    out.push(b'"');
    let text = std::str::from_utf8(&out).expect("escaped output is UTF-8");
    assert!(!text
        .chars()
        .any(|c| c < ' ' || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}')));
    let decoded: String = serde_json::from_str(text).expect("escaped output is a JSON string");
    // Go's per-byte U+FFFD rule, implemented apart from the escaper's inline scan.
    assert_eq!(decoded, go_utf8::lossy(data));
}
