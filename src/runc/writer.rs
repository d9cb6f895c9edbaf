//! Writes runc-format records: logrus's `JSONFormatter` output.

use std::io::{self, Write};

use crate::time::{format_rfc3339nano, Offset, Timestamp};

/// Appends `s` as the inside of a JSON string exactly as logrus's encoder writes it (Go
/// `encoding/json` with HTML escaping), without the surrounding quotes.
///
/// * `"` `\\` `\n` `\r` `\t` get their short forms, other bytes below 0x20 become `\u00XX`;
/// * `<` `>` `&` become `\u003c` `\u003e` `\u0026`, U+2028/U+2029 `\u2028`/`\u2029`.
///
/// The crate's JSON escapers share one convention: they append the string's contents and the
/// caller writes the quotes (the Docker encoder puts a `\n` inside the string after the
/// content, see [`escape_docker_json`](crate::cri::write::escape_docker_json), which differs
/// from this one in dockerd's rules: tab as `\u0009`, and invalid UTF-8 as U+FFFD, which a
/// `&str` cannot hold).
///
/// ```
/// let mut out = Vec::new();
/// ctrlog::runc::escape_logrus_json("a\t\"<b>\u{2028}", &mut out);
/// assert_eq!(out, br#"a\t\"\u003cb\u003e\u2028"#);
/// ```
pub fn escape_logrus_json(s: &str, out: &mut Vec<u8>) {
    // A `&str` is valid UTF-8 throughout: only U+2028/U+2029 need work among non-ASCII.
    crate::json_bytes::escape(s.as_bytes(), out, &crate::json_bytes::LOGRUS, s.len());
}

/// A field value for [`encode_entry`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// A string, escaped on output.
    Str(&'a str),
    /// Raw JSON written as is (numbers, bools, objects); the caller guarantees it is valid.
    Raw(&'a str),
}

/// Encodes one record as logrus's `JSONFormatter` does: all keys sorted (so `level`, `msg`,
/// `time` in that order, with `file`/`func` before and other fields in between), time in
/// `time.RFC3339` (whole seconds), a trailing `\n`. A field named `level`, `msg` or `time`
/// is renamed `fields.level` etc., like logrus's `prefixFieldClashes`; a repeated field keeps
/// its last value.
///
/// ```
/// use ctrlog::runc::{encode_entry, FieldValue};
/// use ctrlog::time::{Offset, Timestamp};
/// let mut out = Vec::new();
/// let t = Timestamp::new(1795422441, 0);
/// encode_entry("error", "exec: \"x\" <missing>", t, Offset::Utc, &[("pid", FieldValue::Raw("7"))], &mut out);
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     "{\"level\":\"error\",\"msg\":\"exec: \\\"x\\\" \\u003cmissing\\u003e\",\"pid\":7,\"time\":\"2026-11-23T08:27:21Z\"}\n"
/// );
/// ```
pub fn encode_entry(
    level: &str,
    msg: &str,
    time: Timestamp,
    offset: Offset,
    fields: &[(&str, FieldValue<'_>)],
    out: &mut Vec<u8>,
) {
    if fields.is_empty() {
        // The usual record, already in key order, without the two allocations of the
        // general path. The time holds nothing to escape.
        out.extend_from_slice(b"{\"level\":\"");
        escape_logrus_json(level, out);
        out.extend_from_slice(b"\",\"msg\":\"");
        escape_logrus_json(msg, out);
        out.extend_from_slice(b"\",\"time\":\"");
        format_rfc3339nano(Timestamp::new(time.secs, 0), offset, out);
        out.extend_from_slice(b"\"}\n");
        return;
    }
    encode_sorted(level, msg, time, offset, fields, out);
}

/// [`encode_entry`] for any fields: all keys sorted, the last of equal keys kept.
fn encode_sorted(
    level: &str,
    msg: &str,
    time: Timestamp,
    offset: Offset,
    fields: &[(&str, FieldValue<'_>)],
    out: &mut Vec<u8>,
) {
    let mut time_buf = Vec::with_capacity(32);
    format_rfc3339nano(Timestamp::new(time.secs, 0), offset, &mut time_buf);
    let time_str = std::str::from_utf8(&time_buf).unwrap_or("");
    let mut all: Vec<(std::borrow::Cow<'_, str>, FieldValue<'_>)> =
        Vec::with_capacity(fields.len() + 3);
    for (k, v) in fields {
        let key = match *k {
            "level" | "msg" | "time" => std::borrow::Cow::Owned(format!("fields.{k}")),
            k => std::borrow::Cow::Borrowed(k),
        };
        all.push((key, *v));
    }
    all.push(("level".into(), FieldValue::Str(level)));
    all.push(("msg".into(), FieldValue::Str(msg)));
    all.push(("time".into(), FieldValue::Str(time_str)));
    // Stable sort, then keep the last of equal keys (a Go map holds one value per key).
    all.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push(b'{');
    let mut first = true;
    for (i, (k, v)) in all.iter().enumerate() {
        if all.get(i + 1).is_some_and(|n| n.0 == *k) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        escape_logrus_json(k, out);
        out.extend_from_slice(b"\":");
        match v {
            FieldValue::Str(s) => {
                out.push(b'"');
                escape_logrus_json(s, out);
                out.push(b'"');
            }
            FieldValue::Raw(r) => out.extend_from_slice(r.as_bytes()),
        }
    }
    out.extend_from_slice(b"}\n");
}

/// Writes runc-format records to any `Write` (a file opened for append, or ctrlog's rotating
/// writer to keep log.json capped). Each record goes out in one `write_all` call.
///
/// ```
/// use ctrlog::runc::{EntryWriter, last_error_stream};
/// use ctrlog::time::Timestamp;
/// let mut w = EntryWriter::new(Vec::new());
/// w.write_entry("warning", "kernel memory ignored", Timestamp::new(0, 0)).unwrap();
/// w.write_entry("error", "container not running", Timestamp::new(1, 0)).unwrap();
/// let log = w.into_inner();
/// assert!(log.starts_with(b"{\"level\":\"warning\",\"msg\":\"kernel memory ignored\",\"time\":\"1970-01-01T00:00:00Z\"}\n"));
/// assert_eq!(last_error_stream(&log[..]).unwrap().unwrap().msg, "container not running");
/// ```
#[derive(Debug)]
pub struct EntryWriter<W> {
    inner: W,
    offset: Offset,
    buf: Vec<u8>,
}

impl<W: Write> EntryWriter<W> {
    /// A writer stamping times in UTC (`Z`).
    pub fn new(inner: W) -> Self {
        Self::with_offset(inner, Offset::Utc)
    }

    /// A writer stamping times in `offset` (runc uses the local zone).
    pub fn with_offset(inner: W, offset: Offset) -> Self {
        EntryWriter {
            inner,
            offset,
            buf: Vec::with_capacity(256),
        }
    }

    /// Writes `{"level":…,"msg":…,"time":…}\n`.
    pub fn write_entry(&mut self, level: &str, msg: &str, time: Timestamp) -> io::Result<()> {
        self.write_entry_with_fields(level, msg, time, &[])
    }

    /// Writes a record with extra fields (sorted in among the others, as logrus does).
    pub fn write_entry_with_fields(
        &mut self,
        level: &str,
        msg: &str,
        time: Timestamp,
        fields: &[(&str, FieldValue<'_>)],
    ) -> io::Result<()> {
        self.buf.clear();
        encode_entry(level, msg, time, self.offset, fields, &mut self.buf);
        self.inner.write_all(&self.buf)
    }

    /// Flushes the inner writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Unwraps the inner writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_fields_fast_path_equals_the_sorted_path() {
        let msgs = ["", "a", " x\n\"<&>\u{2028}\t\u{1}", "日志", "\\"];
        for offset in [Offset::Utc, Offset::Fixed(3600), Offset::Fixed(-5400)] {
            for secs in [0, 1_795_422_461, -1] {
                for (level, msg) in ["error", "<lvl>"]
                    .iter()
                    .flat_map(|l| msgs.iter().map(move |m| (l, m)))
                {
                    let ts = Timestamp::new(secs, 123);
                    let (mut fast, mut slow) = (Vec::new(), Vec::new());
                    encode_entry(level, msg, ts, offset, &[], &mut fast);
                    encode_sorted(level, msg, ts, offset, &[], &mut slow);
                    assert_eq!(fast, slow, "{level:?} {msg:?} {secs} {offset:?}");
                }
            }
        }
    }
}
