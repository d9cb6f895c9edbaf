//! containerd's `getLastRuntimeError`, byte for byte: a streaming scanner that applies Go's
//! `encoding/json` Decoder rules to a reused `struct{Level, Msg string; Time time.Time}`.
//!
//! Sans-IO: [`CompatScanner::feed`] takes any slicing of the input, [`CompatScanner::finish`]
//! returns containerd's string. Memory is bounded: the nesting stack (Go's limit, 10 000
//! levels), the current `msg` and the answer (both capped by
//! [`CompatOptions::max_msg_len`]) and the 64 KiB read buffer. A `msg` is kept raw, up to half
//! the cap, and only decoded when it may be the answer, so at most about 2.5 times the cap is
//! live (a raw half, a decoded `msg`, the previous answer). The cap counts the decoded bytes as
//! Go does, except that an invalid UTF-8 byte counts 1 while it is answered as U+FFFD (3
//! bytes): a message of invalid bytes can reach 3 times the cap in the answer, and about 4.5
//! times the cap can then be live.
//!
//! Two layers, so that each can be read against its Go counterpart on its own:
//!
//! * `scanner`: JSON's grammar as Go's `encoding/json` scanner checks it, byte by byte
//!   (`scanner.go`: literals, numbers, nesting up to `maxNestingDepth`, string escapes), and
//!   the `Decoder`'s top-level stream of values. It knows nothing about the record's fields.
//! * `rules`: what `Unmarshal` into containerd's reused struct does with the values the scanner
//!   finds (`decode.go`): case-insensitive field names, type errors for `level`/`msg`,
//!   `time.Time.UnmarshalJSON`, surrogate pairs, and containerd's `level == "error"` check at
//!   the end of each record.
//!
//! And `fast`: the scanner's shortcuts over a contiguous chunk (a string body 64 bytes at a
//! time with SSE2 masks, a whole record of string values in one pass), each falling back to
//! the byte-at-a-time grammar wherever it could do anything but accept. The tests hold the
//! scanner to a frozen copy of the byte-at-a-time version (`oracle`, test-only).
//!
//! Speed (`ctrlog bench --jobs last-error-compat`, NVIDIA config spam: a 380-byte message with
//! an escape every ~7 bytes in every other record): about 6.5 instructions per byte
//! (cachegrind), against 22.6 for the byte-at-a-time scanner.

use std::io::Read;

use super::RuncError as Error;

mod fast;
#[cfg(test)]
mod oracle;
mod rules;
mod scanner;

pub use scanner::CompatScanner;

/// Default cap on a kept `msg`: 1 MiB.
pub const DEFAULT_MAX_MSG_LEN: usize = 1 << 20;

/// Settings for [`CompatScanner`]; set fields on `default()` (the crate's
/// [conventions](crate#conventions)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompatOptions {
    /// A `msg` longer than this (bytes, after unescaping) is not kept; if it ends up being the
    /// answer, the result is [`CompatErrorKind::MessageTooLong`] instead of the string.
    pub max_msg_len: usize,
}

impl Default for CompatOptions {
    fn default() -> Self {
        CompatOptions {
            max_msg_len: DEFAULT_MAX_MSG_LEN,
        }
    }
}

/// Where containerd's decoder would have failed. Small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompatErrorKind {
    /// A byte that does not fit JSON's grammar (Go: `invalid character …`).
    #[error("invalid character {} {context}", show_byte(*byte))]
    Syntax {
        /// The byte.
        byte: u8,
        /// What the scanner was looking for.
        context: &'static str,
    },
    /// The input ends inside a value (Go: `unexpected EOF`), e.g. a torn last record.
    #[error("unexpected EOF")]
    UnexpectedEof,
    /// A top-level value that is not an object or `null` (Go: `cannot unmarshal … into Go
    /// value of type struct`).
    #[error("cannot unmarshal a top-level {0} into the log record struct")]
    NotAnObject(&'static str),
    /// `level` or `msg` holds a number, bool, object or array.
    #[error("cannot unmarshal a non-string into the string field {0}")]
    FieldType(&'static str),
    /// `time` is not `null` or an RFC 3339 string (Go's `time.Time.UnmarshalJSON` fails).
    #[error("time is not null or a valid RFC 3339 string")]
    BadTime,
    /// Nesting deeper than 10 000 (Go: `exceeded max depth`).
    #[error("exceeded max depth")]
    MaxDepth,
    /// The answer is longer than [`CompatOptions::max_msg_len`] (ctrlog's cap, not Go's).
    #[error("error message longer than the {0}-byte cap")]
    MessageTooLong(usize),
}

fn show_byte(b: u8) -> String {
    match b {
        b'\'' => "'\\''".to_owned(),
        b'"' => "'\"'".to_owned(),
        0x20..=0x7e => format!("'{}'", b as char),
        _ => format!("{b:#04x}"),
    }
}

/// A JSON syntax error at `byte` (Go: `invalid character … <context>`).
fn syntax(byte: u8, context: &'static str) -> CompatErrorKind {
    CompatErrorKind::Syntax { byte, context }
}

/// containerd's `getLastRuntimeError` over any reader: exactly the string it returns, or an
/// error wherever its `json.Decoder` would fail (a torn last record, a byte-order mark, a
/// text-format log, a bad `time`, ...). Reads the whole input in 64 KiB steps.
///
/// ```
/// let log = b"{\"level\":\"error\",\"msg\":\"container not running\",\"time\":\"2026-11-23T08:27:21Z\"}\n";
/// assert_eq!(ctrlog::runc::last_error_compat(&log[..]).unwrap(), "container not running");
/// // A torn last record discards everything, as in containerd.
/// assert!(ctrlog::runc::last_error_compat(&b"{\"level\":\"error\",\"msg\":\"x\"}\n{\"lev"[..]).is_err());
/// ```
pub fn last_error_compat<R: Read>(reader: R) -> Result<String, Error> {
    last_error_compat_with(reader, CompatOptions::default())
}

/// [`last_error_compat`] with explicit options.
pub fn last_error_compat_with<R: Read>(
    mut reader: R,
    opts: CompatOptions,
) -> Result<String, Error> {
    let mut scanner = CompatScanner::new(opts);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(Error::Io {
                    offset: scanner.offset(),
                    source,
                })
            }
        };
        // A reader claiming more bytes than the buffer holds is broken: its error, not a
        // panic and not silently dropped bytes.
        let Some(chunk) = buf.get(..n) else {
            return Err(Error::Io {
                offset: scanner.offset(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the reader returned more bytes than the buffer holds",
                ),
            });
        };
        scanner.feed(chunk)?;
    }
    scanner.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that claims more bytes than the buffer it was given.
    struct Lying;

    impl Read for Lying {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            Ok(buf.len() + 1)
        }
    }

    /// Fed whole, a string goes through the run and escape shortcuts; fed a byte at a time,
    /// through the byte-by-byte grammar. Both give the same answer, also at the msg cap.
    #[test]
    fn shortcuts_equal_the_byte_at_a_time_path() {
        use proptest::prelude::*;
        let piece = prop::sample::select(vec![
            "a",
            "bc",
            "\\n",
            "\\\"",
            "\\\\",
            "\\/",
            "\\t",
            "\\u00e9",
            "\\ud83d\\ude00",
            "\\ud800",
            "日",
            " ",
            "\\b\\f\\r",
        ]);
        let msg = prop::collection::vec(piece, 0..12).prop_map(|v| v.concat());
        let level = prop::sample::select(vec!["error", "info", "err\\u006fr", "error\\n"]);
        let record = (level, msg, any::<bool>()).prop_map(|(l, m, msg_first)| {
            if msg_first {
                format!(
                    "{{\"msg\":\"{m}\",\"LEVEL\":\"{l}\",\"time\":\"2024-06-19T15:02:45.5Z\"}}\n"
                )
            } else {
                format!("{{\"level\":\"{l}\",\"Msg\":\"{m}\"}}\n")
            }
        });
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &(prop::collection::vec(record, 1..6), 0usize..24),
                |(records, cap)| {
                    let data = records.concat();
                    let opts = CompatOptions { max_msg_len: cap };
                    let mut whole = CompatScanner::new(opts);
                    let whole = whole.feed(data.as_bytes()).and_then(|()| whole.finish());
                    let mut bytes = CompatScanner::new(opts);
                    for b in data.as_bytes() {
                        bytes.feed(std::slice::from_ref(b)).unwrap();
                    }
                    let bytes = bytes.finish();
                    prop_assert_eq!(format!("{whole:?}"), format!("{bytes:?}"), "{}", data);
                    Ok(())
                },
            )
            .unwrap();
    }

    proptest::proptest! {
        /// The scanner's word-at-a-time string scan finds the first byte a naive scan finds.
        #[test]
        fn string_stop_is_the_first_special_byte(
            s in proptest::collection::vec(proptest::prop_oneof![
                proptest::sample::select(&b"a\"\\\x00\x1f\x20\x7f\x80\xff\xe2\x5c\x22\x1e\x21"[..]),
                proptest::prelude::any::<u8>(),
            ], 0..40)
        ) {
            let naive = s.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            proptest::prop_assert_eq!(crate::json_bytes::find_quote_backslash_or_control(&s), naive);
        }
    }

    /// The current scanner and the frozen old one ([`super::oracle`]) over `data` cut at
    /// `cuts` (offsets, any order), with `cap`: the same answer or the same error at the
    /// same offset.
    fn same_as_old(data: &[u8], cuts: &[usize], cap: usize) -> Result<(), String> {
        let (new, old) = oracle::new_and_old(data, cuts, cap);
        if new == old {
            Ok(())
        } else {
            Err(format!(
                "new {new} old {old} cap {cap} cuts {cuts:?} data {:?}",
                String::from_utf8_lossy(data)
            ))
        }
    }

    /// Pieces of runc-like logs, valid and not: keys that do and do not match (escaped,
    /// folded, long), every kind of value, string bodies with every escape (good, bad, cut)
    /// and long runs that cross the 64-byte blocks, whitespace, torn and stray values.
    fn log_piece() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let body_piece = prop::sample::select(vec![
            "a",
            "plain text ",
            "\\n",
            "\\\"",
            "\\\\",
            "\\\\\\\\",
            "\\\\\\\"",
            "\\/",
            "\\b\\f\\r\\t",
            "\\u00e9",
            "\\u00E9",
            "\\ud83d\\ude00",
            "\\ud800",
            "\\udc00x",
            "\\u12",
            "\\u12g4",
            "\\x",
            "\\",
            "\t",
            "\u{1}",
            "\u{7f}",
            "日本",
            "\u{2028}",
            "ſ",
        ]);
        let long = prop::sample::select(vec![30usize, 61, 62, 63, 64, 65, 127, 200]);
        let body = prop_oneof![
            4 => prop::collection::vec(body_piece.clone(), 0..10).prop_map(|v| v.concat()),
            1 => (long, prop::collection::vec(body_piece, 0..4)).prop_map(|(n, v)| {
                // A long run, escapes at and around the block edges.
                let mut s = "x".repeat(n);
                for (k, p) in v.iter().enumerate() {
                    s.insert_str((k * 31 + n / 2).min(s.len()), p);
                }
                s
            }),
        ];
        let key = prop::sample::select(vec![
            "level",
            "LEVEL",
            "Level",
            "msg",
            "MSG",
            "Msg",
            "time",
            "TIME",
            "m\u{17f}g",
            "le\\u0076el",
            "ms\\u0067",
            "msg\\n",
            "other",
            "levellevellevellevel",
            "",
        ]);
        let string = body.clone().prop_map(|b| format!("\"{b}\""));
        let scalar = prop::sample::select(vec![
            "null",
            "true",
            "false",
            "0",
            "-1.5e+3",
            "12",
            "01",
            "-",
            "1.",
            "nul",
            "tru",
            "\"error\"",
            "\"err\\u006fr\"",
            "\"info\"",
            "\"2024-06-19T15:02:45.5Z\"",
            "\"2024-01-20T16:00:29+08:00\"",
            "\"2024-13-01T00:00:00Z\"",
            "\"2024-01-20\\u0054\"",
            "{}",
            "[]",
            "[1,\"a\",{\"msg\":\"x\"}]",
            "{\"level\":\"error\"}",
            "{\"a\":[[]]}",
        ])
        .prop_map(str::to_owned);
        let value = prop_oneof![3 => string, 2 => scalar];
        let ws = prop::sample::select(vec!["", "", "", " ", "\n", " \t\r\n"]);
        let pair = (key, ws.clone(), value, ws.clone())
            .prop_map(|(k, w1, v, w2)| format!("\"{k}\"{w1}:{w2}{v}"));
        let record = (prop::collection::vec(pair, 0..5), ws.clone(), any::<bool>()).prop_map(
            |(pairs, w, comma_bug)| {
                let sep = if comma_bug { ",," } else { "," };
                let sep = if pairs.len() > 2 && comma_bug {
                    sep
                } else {
                    ","
                };
                format!("{{{w}{}{w}}}\n", pairs.join(sep))
            },
        );
        prop_oneof![
            12 => record,
            1 => prop::sample::select(vec![
                "null", "\"str\"", "[]", "12", " ", "\u{feff}", "{", "}", "{\"level\":", "x",
            ])
            .prop_map(str::to_owned),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Held to the old scanner: whole, cut anywhere, and with caps around the sizes of
        /// the messages (raw and decoded).
        #[test]
        fn the_scanner_equals_the_old_one(
            pieces in proptest::collection::vec(log_piece(), 1..6),
            cuts in proptest::collection::vec(0usize..2000, 0..4),
            cap in proptest::prop_oneof![0usize..40, 60usize..300, proptest::strategy::Just(DEFAULT_MAX_MSG_LEN)],
        ) {
            let data = pieces.concat();
            same_as_old(data.as_bytes(), &[], cap).map_err(proptest::test_runner::TestCaseError::fail)?;
            same_as_old(data.as_bytes(), &cuts, cap).map_err(proptest::test_runner::TestCaseError::fail)?;
        }
    }

    /// Every byte of a few real-shaped logs as a cut, and byte at a time.
    #[test]
    fn every_cut_equals_the_old_scanner() {
        let logs: [&[u8]; 4] = [
            br#"{"level":"info","msg":"Running with config:\n{\n  \"Root\": \"\"\n}","time":"2024-01-20T16:00:29+08:00"}
{"level":"error","msg":"exec: \"/bin/healthz\": stat: no such file \u00e9\ud83d\ude00 ","time":"2024-01-20T16:00:30+08:00"}
"#,
            br#"{"level":"error","msg":"a\\\\\"b\/c\u00"}"#,
            b"{\"level\":\"error\",\"msg\":\"tab\there\"}\n",
            br#" {"msg":"kept"} {"LEVEL":"error","time":null,"other":[1,{"x":"\\"}]} "#,
        ];
        for log in logs {
            for cap in [0, 5, 20, DEFAULT_MAX_MSG_LEN] {
                for cut in 0..=log.len() {
                    same_as_old(log, &[cut], cap).unwrap();
                }
                let every: Vec<usize> = (0..log.len()).collect();
                same_as_old(log, &every, cap).unwrap();
            }
        }
    }

    /// The crate's copies of the fuzz corpora and of the real logs (`testdata/`, shipped in
    /// the package), whole and in 3-byte pieces.
    #[test]
    fn corpus_and_real_logs_equal_the_old_scanner() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let mut files = Vec::new();
        let mut dirs = vec![
            root.join("fuzz-corpus/runc_last_error"),
            root.join("fuzz-corpus/runc_decode"),
            root.join("real"),
        ];
        while let Some(dir) = dirs.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        let mut n = 0;
        for f in files {
            let data = std::fs::read(&f).unwrap();
            let threes: Vec<usize> = (0..data.len()).step_by(3).collect();
            for cuts in [&[][..], &threes] {
                same_as_old(&data, cuts, DEFAULT_MAX_MSG_LEN)
                    .unwrap_or_else(|e| panic!("{f:?}: {e}"));
            }
            n += 1;
        }
        assert!(n >= 7, "only {n} files");
    }

    #[test]
    fn a_reader_claiming_too_many_bytes_is_an_error() {
        // Before: its bytes were dropped silently and the scan went on forever.
        let err = last_error_compat(Lying).unwrap_err();
        assert!(
            matches!(err, Error::Io { ref source, .. } if source.kind() == std::io::ErrorKind::InvalidData),
            "{err:?}"
        );
    }
}
