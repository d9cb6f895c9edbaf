//! Adversarial Docker records for the fast path, held to `serde_json`: `log` values with
//! escapes (one-letter, `\u`, surrogate pairs, `\/`) at and around the unescaper's 16-byte
//! block edges, through one [`RecordParser`] whose scratch earlier records left longer or
//! shorter, interleaved with records in other shapes (the `serde_json` path); and the
//! in-line decoder (`docker_record_in_line`) held to the framed path on near-dockerd lines.

use proptest::prelude::*;

use super::*;

/// `s` as a JSON string the way Go's `encoding/json` may write it with every option a
/// writer has: non-ASCII as `\uXXXX` (surrogate pairs above U+FFFF), `/` as `\/`.
fn go_ascii(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04X}"));
                }
            }
        }
    }
    out.push('"');
    out
}

fn text() -> impl Strategy<Value = String> {
    let piece = prop::sample::select(vec![
        "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1f}", "\u{7f}", "é", "\u{2028}", "🙂", "<&>",
    ]);
    let at = prop::sample::select(vec![0usize, 1, 13, 14, 15, 16, 17, 30, 31, 32, 33, 47, 48]);
    (prop::collection::vec((at, piece), 0..4), any::<bool>()).prop_map(|(mut v, nl)| {
        v.sort_by_key(|&(a, _)| a);
        let mut s = String::new();
        for (a, p) in v {
            while s.len() < a {
                s.push('a');
            }
            s.push_str(p);
        }
        if nl {
            s.push('\n');
        }
        s
    })
}

/// `line` (without its `\n`) in dockerd's exact shape with a time the fast parser reads:
/// what decoding in line must accept.
fn fast_shape(line: &[u8]) -> Option<()> {
    let body = line.strip_prefix(LOG_PREFIX)?;
    let (end, _) = json_bytes::unescape_string(body, &mut Vec::new())?;
    let rest = &body[end + 1..];
    let time = rest
        .strip_prefix(&MID_STDOUT[..])
        .or_else(|| rest.strip_prefix(&MID_STDERR[..]))?
        .strip_suffix(b"\"}")?;
    TimestampParser::default().parse(time).ok().map(|_| ())
}

/// What the line means to `serde_json` (the oracle of the fast path).
fn oracle(line: &[u8]) -> (Stream, Tag, Vec<u8>) {
    #[derive(serde::Deserialize)]
    struct Doc {
        log: String,
        stream: String,
    }
    let d: Doc = serde_json::from_slice(line).expect("valid JSON");
    let stream = Stream::from_bytes(d.stream.as_bytes()).expect("stream");
    let (tag, content) = match d.log.as_bytes().split_last() {
        Some((b'\n', rest)) => (Tag::Full, rest.to_vec()),
        _ => (Tag::Partial, d.log.into_bytes()),
    };
    (stream, tag, content)
}

/// A line of a log, in dockerd's shape or near it: other member order, CRLF, a raw
/// newline in the value, a time with a zone or junk after it, cut short.
fn near_docker_line() -> impl Strategy<Value = Vec<u8>> {
    let time = prop::sample::select(vec![
        "2024-06-19T15:02:45.5Z",
        "2024-06-19T15:02:45.123456789Z",
        "2024-06-19T15:02:46Z",
        "2024-06-19T15:02:45.5+02:00",
        "2024-06-19T5:02:45.5Z",
        "2024-06-19T15:02:45.5Zx",
        "2024-06-19T15:02:45.5Z\"",
        "2024-13-19T15:02:45Z",
        "",
    ]);
    let end = prop::sample::select(vec!["\"}\n", "\"}\r\n", "\"}", "\"} \n", "\"}}\n"]);
    (
        text(),
        0u8..6,
        any::<bool>(),
        time,
        end,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(t, shape, stderr, time, end, cut)| {
            let stream = if stderr { "stderr" } else { "stdout" };
            let log = match shape {
                0 | 3 | 4 => serde_json::to_string(&t).unwrap(),
                // A raw newline in the value: the line ends there.
                5 => serde_json::to_string(&t).unwrap().replacen('a', "\n", 1),
                _ => go_ascii(&t),
            };
            let line = match shape {
                3 => format!(r#"{{"stream":"{stream}","log":{log},"time":"{time}{end}"#),
                _ => format!(r#"{{"log":{log},"stream":"{stream}","time":"{time}{end}"#),
            };
            let mut line = line.into_bytes();
            if shape == 4 {
                line.truncate(cut.index(line.len() + 1));
            }
            line
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Decoding in line finds the line the framing finds (its first `\n`, within the
    /// bytes given) and gives the record [`docker_record`] gives for it, through parsers
    /// whose scratch and timestamp cache are shared between both paths as a reader's are;
    /// it refuses only what it must leave to the framed path.
    #[test]
    fn docker_in_line_equals_framed(
        lines in prop::collection::vec(near_docker_line(), 1..8),
    ) {
        let buf = lines.concat();
        let mut p = RecordParser::new();
        let mut framed = RecordParser::new();
        let mut at = 0;
        while at < buf.len() {
            let rest = &buf[at..];
            let line_len = memchr(b'\n', rest).map_or(rest.len(), |n| n + 1);
            let want = framed.record(&rest[..line_len]).map(|r| r.to_owned_record());
            match p.record_in_line(rest) {
                Some(InLine { rec, len, with_newline }) => {
                    prop_assert_eq!(len, line_len);
                    prop_assert_eq!(rest[len - 1], b'\n');
                    if let Some(w) = with_newline {
                        prop_assert_eq!(w, [rec.content, b"\n"].concat());
                        prop_assert_eq!(rec.tag, Tag::Full);
                    }
                    prop_assert_eq!(Ok(rec.to_owned_record()), want);
                }
                // Refused: a line in dockerd's shape, ending in `"}\n`, is never refused.
                None => {
                    let line = &rest[..line_len];
                    let doc = line.strip_suffix(b"\n").and_then(fast_shape);
                    prop_assert!(doc.is_none(), "refused {:?}", String::from_utf8_lossy(line));
                    // The framed path with the parser that refused: the same record.
                    let got = p.record(line).map(|r| r.to_owned_record());
                    prop_assert_eq!(got, want);
                }
            }
            at += line_len;
        }
    }

    #[test]
    fn docker_records_equal_serde_json(
        records in prop::collection::vec((text(), 0u8..4, any::<bool>()), 1..6),
    ) {
        let mut p = RecordParser::new();
        for (t, shape, stderr) in records {
            let stream = if stderr { "stderr" } else { "stdout" };
            let log = match shape {
                0 | 3 => serde_json::to_string(&t).unwrap(),
                _ => go_ascii(&t),
            };
            let line = match shape {
                // Not dockerd's member order: the `serde_json` path.
                3 => format!(r#"{{"stream":"{stream}","log":{log},"time":"2024-06-19T15:02:45.5Z"}}"#),
                _ => format!(r#"{{"log":{log},"stream":"{stream}","time":"2024-06-19T15:02:45.5Z"}}"#),
            };
            let want = oracle(line.as_bytes());
            let got = p.parse(line.as_bytes()).map(|(_, r)| (r.stream, r.tag, r.content.to_vec()));
            prop_assert_eq!(got, Ok(want), "{}", line);
        }
    }
}
