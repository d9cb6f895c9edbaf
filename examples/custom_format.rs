//! A custom record format, end to end: written by `LogWriter` through a rotating set with a
//! custom `RecordEncoder`, read back by `LogReader` (tail and all) with its `RecordDecoder`.
//!
//! The format: `<unix seconds>.<nanoseconds>|<o|e>|<P|F>|<content>\n`.
//!
//! Run: `cargo run --example custom_format`

use ctrlog::cri::read::{
    LogLine, LogReader, LogRecord, ParseError, ReadFormat, ReadOptions, RecordDecoder,
};
use ctrlog::cri::write::{LogWriter, MaxLen, RecordEncoder, SharedWriter, WriterOptions};
use ctrlog::cri::{Stream, Tag};
use ctrlog::rotate::{RotateOptions, RotatingFile};
use ctrlog::time::Timestamp;

/// The write side: one line per record.
#[derive(Clone, Default)]
struct PipeEncoder {
    prefix: Vec<u8>,
}

impl RecordEncoder for PipeEncoder {
    fn start_batch(&mut self, ts: Timestamp, stream: Stream) {
        let s = if stream == Stream::Stdout { 'o' } else { 'e' };
        self.prefix = format!("{}.{:09}|{s}|", ts.secs, ts.nanos).into_bytes();
    }
    fn encode(&self, tag: Tag, content: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(if tag == Tag::Partial { b"P|" } else { b"F|" });
        out.extend_from_slice(content);
        out.push(b'\n');
    }
}

/// The read side: the same fields back.
struct PipeDecoder;

impl RecordDecoder for PipeDecoder {
    fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let mut f = line.splitn(4, |&b| b == b'|');
        let mut field = || f.next().ok_or(ParseError::Other("expected 4 fields"));
        let time = std::str::from_utf8(field()?).map_err(|_| ParseError::Other("bad time"))?;
        let (secs, nanos) = time.split_once('.').ok_or(ParseError::Other("bad time"))?;
        let bad = |_| ParseError::Other("bad time");
        let timestamp = Timestamp::new(secs.parse().map_err(bad)?, nanos.parse().map_err(bad)?);
        let stream = match field()? {
            b"o" => Stream::Stdout,
            b"e" => Stream::Stderr,
            _ => return Err(ParseError::BadStream),
        };
        let tag = if field()? == b"P" {
            Tag::Partial
        } else {
            Tag::Full
        };
        let content = field()?;
        Ok(LogRecord {
            timestamp,
            utc_offset: 0,
            stream,
            tag,
            content,
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("app.log");
    let out = SharedWriter::new(RotatingFile::open(
        &path,
        RotateOptions::from_docker(Some("4k"), Some("5"), false)?,
    )?);
    let mut opts = WriterOptions::default();
    opts.split.max_len = MaxLen::from_signed(64); // long lines become P records
    for (stream, text) in [(Stream::Stdout, "out"), (Stream::Stderr, "err")] {
        let mut w =
            LogWriter::with_options(stream, PipeEncoder::default(), out.clone(), opts.clone());
        let input: String = (0..100)
            .map(|i| format!("{text} {i} |{}\n", "x".repeat(i)))
            .collect();
        w.copy_from(input.as_bytes())?;
    }
    out.try_into_inner().map_err(|_| "shared")?.close()?;
    let files = std::fs::read_dir(dir.path())?.count();

    // Read the set back with the custom decoder: P records merged, lines whole.
    let mut ropts = ReadOptions::default();
    ropts.format = ReadFormat::custom(|| PipeDecoder);
    ropts.tail = Some(3);
    let mut reader = LogReader::open(&path, ropts)?;
    let mut line = LogLine::new();
    let mut last = Vec::new();
    while reader.next_line(&mut line)? {
        last.push(format!(
            "{:?} {}",
            line.stream(),
            String::from_utf8_lossy(line.content())
        ));
    }
    println!("{files} files; the last 3 lines:\n{}", last.join("\n"));
    assert!(files > 1, "rotated");
    assert_eq!(last.len(), 3);
    assert!(
        last[2].starts_with("Stderr err 99 |xxx") && last[2].len() == "Stderr err 99 |".len() + 99
    );
    assert_eq!(reader.stats().map(|s| s.skipped), Some(0));
    Ok(())
}
