//! Record parsers: one CRI line or one Docker json-file line into a [`LogRecord`].
//!
//! Both parsers are sans-IO: they take one physical line (with or without its `\n`) and
//! borrow the content from it. Docker content that needs unescaping is decoded into the
//! [`RecordParser`]'s scratch buffer, which is reused, so no record allocates.
//!
//! A reader may also hand the Docker parser its read buffer from a line's start
//! (`docker_record_in_line`): a record in dockerd's exact shape is then found and decoded in
//! one pass, its line's end found by the same scan; any other line is framed first and
//! parsed as above, with the same result (property-tested).

use std::borrow::Cow;

use memchr::{memchr, memchr2};

use crate::json_bytes::{self, Unescaped};

use crate::cri::{Stream, Tag};
use crate::time::{ParseTimeError, ParsedTime, Timestamp, TimestampParser};

/// The two record formats a container log file can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// `<time> <stream> <tag> <content>` (containerd's CRI plugin, CRI-O/conmon).
    Cri,
    /// `{"log":…,"stream":…,"time":…}` (Docker's json-file driver).
    DockerJson,
}

/// One parsed record. Docker json-file records decode to the same shape: a `log` value that
/// ends in `\n` is a [`Tag::Full`] record (the `\n` removed), one that does not is a
/// [`Tag::Partial`] piece of a longer line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRecord<'a> {
    /// When the runtime read the bytes.
    pub timestamp: Timestamp,
    /// The zone offset (seconds east of UTC) the timestamp was written with; `0` for `Z`.
    /// Used to print `--timestamps` in the record's own zone, as kubelet does.
    pub utc_offset: i32,
    /// `stdout` or `stderr`.
    pub stream: Stream,
    /// Partial piece or end of line.
    pub tag: Tag,
    /// The content, byte-exact, without the record's line terminator.
    pub content: &'a [u8],
}

/// Why one line is not a record. Small and `Copy`: readers count these and go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// No space after the timestamp field (kubelet: "timestamp is not found").
    #[error("timestamp is not found")]
    MissingTimestamp,
    /// The timestamp field is not RFC 3339.
    #[error("unexpected timestamp format: {0}")]
    BadTimestamp(ParseTimeError),
    /// No space after the stream field (kubelet: "stream type is not found").
    #[error("stream type is not found")]
    MissingStream,
    /// The stream is neither `stdout` nor `stderr`.
    #[error("unexpected stream type")]
    BadStream,
    /// No space after the tag field (kubelet: "log tag is not found").
    #[error("log tag is not found")]
    MissingTag,
    /// Not a JSON object with string `log`/`stream`/`time` members.
    #[error("invalid Docker json-file record")]
    BadJson,
    /// A required Docker member is missing (`stream`).
    #[error("Docker json-file record has no {0:?} member")]
    MissingField(&'static str),
    /// An empty line.
    #[error("empty line")]
    Empty,
    /// A custom format's [`RecordDecoder`](super::RecordDecoder) could not parse the line,
    /// for this reason.
    #[error("{0}")]
    Other(&'static str),
}

fn strip_newline(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\n', rest)) => rest,
        _ => line,
    }
}

/// Parses one CRI record with kubelet's rules (`parseCRILog`).
///
/// The timestamp runs to the first space and must be RFC 3339 (lenient, as kubelet); the
/// stream runs to the next space and must be exactly `stdout` or `stderr`; the tag field runs
/// to the next space, and its first `:`-separated tag decides: `P` is partial, anything else
/// is full. Everything after that space is the content, byte-exact. One trailing `\n` (the
/// record terminator) is removed from the content whatever the tag.
///
/// ```
/// use ctrlog::cri::read::parse_cri_record;
/// use ctrlog::cri::{Stream, Tag};
/// let r = parse_cri_record(b"2016-10-06T00:17:09.669794202Z stdout P log content 1\n").unwrap();
/// assert_eq!((r.stream, r.tag, r.content), (Stream::Stdout, Tag::Partial, &b"log content 1"[..]));
/// ```
pub fn parse_cri_record(line: &[u8]) -> Result<LogRecord<'_>, ParseError> {
    cri_record(line, &mut TimestampParser::default())
}

/// [`parse_cri_record`] with a timestamp cache that lives as long as the caller's stream.
pub(crate) fn cri_record<'a>(
    line: &'a [u8],
    times: &mut TimestampParser,
) -> Result<LogRecord<'a>, ParseError> {
    let line = strip_newline(line);
    let (
        ParsedTime {
            timestamp,
            utc_offset,
            ..
        },
        rest,
    ) = cri_time(line, times)?;
    // Fast path: the stream is six bytes followed by a space.
    let (stream, rest) = match (rest.get(..6).and_then(Stream::from_bytes), rest.get(6)) {
        (Some(s), Some(b' ')) => (s, &rest[7..]),
        _ => {
            let sp = memchr(b' ', rest).ok_or(ParseError::MissingStream)?;
            let s = Stream::from_bytes(&rest[..sp]).ok_or(ParseError::BadStream)?;
            (s, &rest[sp + 1..])
        }
    };
    // Fast path: a one-byte tag.
    let (tag_field, content) = match rest.get(1) {
        Some(b' ') => (&rest[..1], &rest[2..]),
        _ => {
            let sp = memchr(b' ', rest).ok_or(ParseError::MissingTag)?;
            (&rest[..sp], &rest[sp + 1..])
        }
    };
    let first_tag = match memchr(b':', tag_field) {
        Some(i) => &tag_field[..i],
        None => tag_field,
    };
    let tag = if first_tag == b"P" {
        Tag::Partial
    } else {
        Tag::Full
    };
    Ok(LogRecord {
        timestamp,
        utc_offset,
        stream,
        tag,
        content,
    })
}

/// The timestamp field (up to the first space) and what follows that space.
///
/// kubelet finds the space, then parses the field. A timestamp holds no space and its parse
/// does not depend on the bytes after it, so a timestamp parsed at the start of the line and
/// followed by a space is that field's parse: the search is skipped. Anything else is done
/// in kubelet's order, for its errors.
#[inline]
fn cri_time<'a>(
    line: &'a [u8],
    times: &mut TimestampParser,
) -> Result<(ParsedTime, &'a [u8]), ParseError> {
    if let Ok(p) = times.parse_prefix(line) {
        if line.get(p.len) == Some(&b' ') {
            return Ok((p, &line[p.len + 1..]));
        }
    }
    let sp = memchr(b' ', line).ok_or(ParseError::MissingTimestamp)?;
    let p = times.parse(&line[..sp]).map_err(ParseError::BadTimestamp)?;
    Ok((p, &line[sp + 1..]))
}

/// Go's zero `time.Time` (`0001-01-01T00:00:00Z`): what a Docker record without `time` gets.
const GO_ZERO_TIME: Timestamp = Timestamp {
    secs: -62_135_596_800,
    nanos: 0,
};

/// Parses one Docker json-file record, decoding escapes into `scratch` when needed.
///
/// The fast path reads the members in the order dockerd writes them (`log`, `stream`,
/// `time`) without building a JSON value; any other shape (`attrs`, other key order,
/// whitespace) falls back to `serde_json`. A `log` that ends in `\n` is a full record.
///
/// ```
/// use ctrlog::cri::read::parse_docker_record;
/// use ctrlog::cri::{Stream, Tag};
/// let mut scratch = Vec::new();
/// let line = br#"{"log":"say \"hi\"\n","stream":"stderr","time":"2016-10-20T18:39:20.57606443Z"}"#;
/// let r = parse_docker_record(line, &mut scratch).unwrap();
/// assert_eq!((r.stream, r.tag, r.content), (Stream::Stderr, Tag::Full, &b"say \"hi\""[..]));
/// ```
pub fn parse_docker_record<'a>(
    line: &'a [u8],
    scratch: &'a mut Vec<u8>,
) -> Result<LogRecord<'a>, ParseError> {
    docker_record(line, scratch, &mut TimestampParser::default())
}

/// [`parse_docker_record`] with a timestamp cache that lives as long as the caller's stream.
pub(crate) fn docker_record<'a>(
    line: &'a [u8],
    scratch: &'a mut Vec<u8>,
    times: &mut TimestampParser,
) -> Result<LogRecord<'a>, ParseError> {
    let line = strip_newline(line);
    match fast_docker(line, scratch) {
        Fast::Done {
            log_at,
            log,
            stream,
            time,
        } => {
            // Parsed here, where the record is built, not inside `fast_docker`: carried out
            // of it in `Fast`, the parse went through the stack as two 4-byte stores read
            // back as one 8-byte load (a store-forwarding stall on every record).
            let time = match times.parse(time) {
                Ok(t) => t,
                // A valid timestamp holds no `"` or `\`, so only a failed parse needs to
                // look for them (then the line is not in dockerd's shape).
                Err(_) if memchr2(b'"', b'\\', time).is_some() => {
                    return slow_docker(line, scratch, times)
                }
                Err(e) => return Err(ParseError::BadTimestamp(e)),
            };
            Ok(docker_fast_record(line, log_at, log, stream, time, scratch))
        }
        Fast::Fallback => slow_docker(line, scratch, times),
    }
}

/// The record of a line in dockerd's shape from what [`fast_docker`] found in it (or
/// [`docker_record_in_line`]): the `log` value where [`Unescaped`] says, a final `\n` making
/// it a full line.
#[inline(always)]
fn docker_fast_record<'a>(
    line: &'a [u8],
    log_at: Unescaped,
    log: (usize, usize),
    stream: Stream,
    time: ParsedTime,
    scratch: &'a [u8],
) -> LogRecord<'a> {
    let content: &'a [u8] = match log_at {
        Unescaped::Scratch(len) => &scratch[..len],
        Unescaped::Raw => &line[log.0..log.1],
        // The value ends in `\n`: a full line, whose content is before the escape.
        Unescaped::RawThenNewline => {
            return LogRecord {
                timestamp: time.timestamp,
                utc_offset: time.utc_offset,
                stream,
                tag: Tag::Full,
                content: &line[log.0..log.1 - 2],
            };
        }
    };
    finish_docker(time.timestamp, time.utc_offset, stream, content)
}

/// The longest value of `buf` that [`docker_record_in_line`] reads (a longer line is framed
/// first): what it may make the scratch buffer hold.
pub(crate) const IN_LINE_MAX: usize = 64 << 10;

/// The Docker record at the start of `buf` (a read buffer from the start of a line, running
/// on past it) and the length of its line, `\n` included, found in one pass over the line:
/// the `log` value is scanned for its closing quote and a raw `\n` at once, the members after
/// it are compared, the time parsed, and the line must end right after its `"}`.
///
/// `None` unless the line is in dockerd's exact shape and ends in `\n`: then frame the line
/// and call [`docker_record`], which gives the same record for every line this accepts (the
/// value up to the quote holds no `\n`, so the framed line has the same value, members and
/// time; property-tested below). Reads at most about [`IN_LINE_MAX`] bytes of `buf`.
// Always inlined into the read loop: called, its record went back through memory, and its
// prologue and epilogue cost as much as the members' compare.
#[inline(always)]
pub(crate) fn docker_record_in_line<'a>(
    buf: &'a [u8],
    scratch: &'a mut Vec<u8>,
    times: &mut TimestampParser,
) -> Option<InLine<'a>> {
    let body = buf.strip_prefix(LOG_PREFIX)?;
    let body = &body[..body.len().min(IN_LINE_MAX)];
    let (end, log_at) = json_bytes::unescape_string_in_line(body, scratch)?;
    let rest = &body[end + 1..];
    let mid: &[u8; 27] = rest.get(..MID_STDOUT.len())?.try_into().ok()?;
    let stream = if mid == MID_STDOUT {
        Stream::Stdout
    } else if mid == MID_STDERR {
        Stream::Stderr
    } else {
        return None;
    };
    let tail = &rest[MID_STDOUT.len()..];
    // The framed line's time is what lies between the members and its final `"}`: the
    // timestamp at the start of `tail` when `"}\n` follows it (no timestamp holds a `"`).
    let time = times.parse_prefix(tail).ok()?;
    if tail.get(time.len..time.len + 3) != Some(b"\"}\n") {
        return None;
    }
    let len = LOG_PREFIX.len() + end + 1 + MID_STDOUT.len() + time.len + 3;
    let log = (LOG_PREFIX.len(), LOG_PREFIX.len() + end);
    let scratch: &'a [u8] = scratch;
    let rec = docker_fast_record(buf, log_at, log, stream, time, scratch);
    // A decoded full line's `\n` is still in the scratch buffer, right after the content.
    let with_newline = match log_at {
        Unescaped::Scratch(n) if rec.tag == Tag::Full => Some(&scratch[..n]),
        _ => None,
    };
    Some(InLine {
        rec,
        len,
        with_newline,
    })
}

/// A record decoded in line ([`docker_record_in_line`]).
#[derive(Debug)]
pub(crate) struct InLine<'a> {
    pub rec: LogRecord<'a>,
    /// Its line's length, `\n` included.
    pub len: usize,
    /// The content and a `\n` after it, when they lie together outside the line (a decoded
    /// full line in the scratch buffer): what lets the output write both in one call.
    pub with_newline: Option<&'a [u8]>,
}

fn docker_time(
    time: Option<&[u8]>,
    times: &mut TimestampParser,
) -> Result<(Timestamp, i32), ParseError> {
    match time {
        None => Ok((GO_ZERO_TIME, 0)),
        Some(t) => {
            let p = times.parse(t).map_err(ParseError::BadTimestamp)?;
            Ok((p.timestamp, p.utc_offset))
        }
    }
}

fn finish_docker(
    timestamp: Timestamp,
    utc_offset: i32,
    stream: Stream,
    log: &[u8],
) -> LogRecord<'_> {
    let (tag, content) = match log.split_last() {
        Some((b'\n', rest)) => (Tag::Full, rest),
        _ => (Tag::Partial, log),
    };
    LogRecord {
        timestamp,
        utc_offset,
        stream,
        tag,
        content,
    }
}

enum Fast<'a> {
    Done {
        /// Where the `log` value is; `log` is its span in the line, escapes included.
        log_at: Unescaped,
        log: (usize, usize),
        stream: Stream,
        /// The `time` value's text (to its closing `"}`), not parsed yet.
        time: &'a [u8],
    },
    Fallback,
}

const LOG_PREFIX: &[u8] = b"{\"log\":\"";
/// What dockerd writes between the end of the `log` value and the start of the `time` value.
const MID_STDOUT: &[u8; 27] = b",\"stream\":\"stdout\",\"time\":\"";
const MID_STDERR: &[u8; 27] = b",\"stream\":\"stderr\",\"time\":\"";

fn fast_docker<'a>(line: &'a [u8], scratch: &mut Vec<u8>) -> Fast<'a> {
    let Some(body) = line.strip_prefix(LOG_PREFIX) else {
        return Fast::Fallback;
    };
    let start = LOG_PREFIX.len();
    let Some((end, log_at)) = json_bytes::unescape_string(body, scratch) else {
        return Fast::Fallback;
    };
    let log = (start, start + end);
    let rest = &body[end + 1..];
    // The members between the two values, compared whole (fixed-size arrays: a few word
    // compares, not one comparison per key and one for the stream).
    let Some(mid) = rest
        .get(..MID_STDOUT.len())
        .and_then(|m| <&[u8; 27]>::try_from(m).ok())
    else {
        return Fast::Fallback;
    };
    let stream = if mid == MID_STDOUT {
        Stream::Stdout
    } else if mid == MID_STDERR {
        Stream::Stderr
    } else {
        return Fast::Fallback;
    };
    let rest = &rest[MID_STDOUT.len()..];
    // The time runs to the line's closing `"}`.
    let Some(time) = rest.strip_suffix(b"\"}") else {
        return Fast::Fallback;
    };
    Fast::Done {
        log_at,
        log,
        stream,
        time,
    }
}

#[derive(serde::Deserialize)]
struct SlowDocker<'a> {
    #[serde(borrow, default)]
    log: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    stream: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
}

#[cold]
fn slow_docker<'a>(
    line: &'a [u8],
    scratch: &'a mut Vec<u8>,
    times: &mut TimestampParser,
) -> Result<LogRecord<'a>, ParseError> {
    let v: SlowDocker<'_> = serde_json::from_slice(line).map_err(|_| ParseError::BadJson)?;
    let stream = match v.stream.as_deref() {
        None => return Err(ParseError::MissingField("stream")),
        Some(s) => Stream::from_bytes(s.as_bytes()).ok_or(ParseError::BadStream)?,
    };
    let (timestamp, utc_offset) = docker_time(v.time.as_deref().map(str::as_bytes), times)?;
    scratch.clear();
    if let Some(log) = &v.log {
        scratch.extend_from_slice(log.as_bytes());
    }
    Ok(finish_docker(timestamp, utc_offset, stream, &scratch[..]))
}

/// Parses records of either format, deciding per record, with a reusable scratch buffer.
///
/// A line whose first byte is `{` is read as Docker json-file, anything else as CRI; a line
/// that is neither is an error for that line only (kubelet decides the format once from the
/// first line and fails the whole file when that line is garbage).
///
/// It keeps the last timestamp's second ([`TimestampParser`]), so a record in the same second
/// as the one before has only its fraction and zone parsed; results are those of the free
/// functions.
#[derive(Debug, Default)]
pub struct RecordParser {
    scratch: Vec<u8>,
    times: TimestampParser,
}

impl RecordParser {
    /// A parser with an empty scratch buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one line (with or without its `\n`).
    ///
    /// ```
    /// use ctrlog::cri::read::{LogFormat, RecordParser};
    /// let mut p = RecordParser::new();
    /// let (f, r) = p.parse(b"2024-01-01T00:00:00Z stderr F oops\n").unwrap();
    /// assert_eq!((f, r.content), (LogFormat::Cri, &b"oops"[..]));
    /// assert!(p.parse(b"garbage").is_err());
    /// ```
    #[inline]
    pub fn parse<'a>(
        &'a mut self,
        line: &'a [u8],
    ) -> Result<(LogFormat, LogRecord<'a>), ParseError> {
        let format = match line.first() {
            Some(b'{') => LogFormat::DockerJson,
            _ => LogFormat::Cri,
        };
        Ok((format, self.record(line)?))
    }

    /// [`RecordParser::parse`] without the format: what the readers call per line (the
    /// record is returned as it is made, not repacked with its format and unpacked again).
    #[inline]
    pub(crate) fn record<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
        match line.first() {
            None | Some(b'\n') => Err(ParseError::Empty),
            Some(b'{') => docker_record(line, &mut self.scratch, &mut self.times),
            Some(_) => cri_record(line, &mut self.times),
        }
    }

    /// [`docker_record_in_line`] with this parser's scratch and timestamp cache: a record
    /// this accepts is the one [`RecordParser::record`] gives for its framed line.
    #[inline(always)]
    pub(crate) fn record_in_line<'a>(&'a mut self, buf: &'a [u8]) -> Option<InLine<'a>> {
        docker_record_in_line(buf, &mut self.scratch, &mut self.times)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::time::{parse_rfc3339, ParseConfig};

    /// kubelet's order, uncached: find the space, parse the field.
    fn cri_time_reference(line: &[u8]) -> Result<(ParsedTime, &[u8]), ParseError> {
        let sp = memchr(b' ', line).ok_or(ParseError::MissingTimestamp)?;
        let p = parse_rfc3339(&line[..sp], &ParseConfig::kubelet())
            .map_err(ParseError::BadTimestamp)?;
        Ok((p, &line[sp + 1..]))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Skipping the search for the space changes no result, cached or not.
        #[test]
        fn cri_time_equals_kubelet_order(
            lines in prop::collection::vec(
                (
                    "20[0-9]{2}-0[1-9]-[0-2][0-9]T[0-2]?[0-9]:[0-5][0-9]:[0-5][0-9]",
                    "([.,][0-9]{0,11})?(Z|[+-][0-2][0-9]:[0-6][0-9]|z|)",
                    "( |  |x | \\n|\\t |)",
                    "(stdout F a|stderr P|)",
                ),
                1..8,
            ),
        ) {
            let mut times = TimestampParser::default();
            for (head, tail, sep, rest) in lines {
                let line = format!("{head}{tail}{sep}{rest}");
                let line = line.as_bytes();
                prop_assert_eq!(cri_time(line, &mut times), cri_time_reference(line));
                prop_assert_eq!(cri_time(line, &mut TimestampParser::default()), cri_time_reference(line));
            }
        }
    }

    /// The parser's timestamp cache spans records of both formats and gives the free
    /// functions' results, including errors, for records in the same second.
    #[test]
    fn record_parser_equals_the_free_functions() {
        let lines: &[&[u8]] = &[
            b"2024-06-19T15:02:45.1Z stdout F a\n",
            b"2024-06-19T15:02:45.2+02:00 stderr P b\n",
            b"2024-06-19T15:02:45. stdout F bad fraction\n",
            br#"{"log":"c\n","stream":"stdout","time":"2024-06-19T15:02:45.3Z"}"#,
            br#"{"log":"d","stream":"stderr","time":"2024-06-19T15:02:45+01:60"}"#,
            b"2024-06-19T5:02:45.4Z stdout F one-digit hour\n",
            b"2024-06-19T15:02:46Z stdout F next second\n",
            b"2023-02-29T15:02:46Z stdout F no leap day\n",
            br#"{"stream":"stdout","log":"e\n","time":"2024-06-19T15:02:46.5Z"}"#,
        ];
        let mut p = RecordParser::new();
        for line in lines {
            let want = match line[0] {
                b'{' => parse_docker_record(line, &mut Vec::new()).map(|r| r.to_owned_record()),
                _ => parse_cri_record(line).map(|r| r.to_owned_record()),
            };
            let got = p.parse(line).map(|(_, r)| r.to_owned_record());
            assert_eq!(got, want, "{}", String::from_utf8_lossy(line));
        }
        assert!(p.parse(lines[0]).is_ok());
    }
}

// Adversarial Docker records and the in-line decoder, held to `serde_json` and the framed
// path (its own file: this one stays under ~700 lines).
#[cfg(test)]
mod docker_edge_tests;
