//! [`RecordDecoder`]: one line back into a record, the read-side counterpart of
//! [`RecordEncoder`](crate::cri::write::RecordEncoder), so a custom format written by ctrlog
//! can be read back by ctrlog.

use super::record::{parse_cri_record, parse_docker_record, LogRecord, ParseError, RecordParser};

/// Parses one line of a log into a [`LogRecord`].
///
/// The readers call it once per line; the record may borrow from the line or from the
/// decoder itself (a scratch buffer for unescaped content), and lives until the next call.
/// [`RecordParser`] (CRI or Docker json-file, decided per line) is the default; [`CriDecoder`]
/// and [`DockerJsonDecoder`] accept one format only. A custom format reports what it cannot
/// parse with [`ParseError::Other`].
///
/// A custom format, written by a [`RecordEncoder`](crate::cri::write::RecordEncoder) and read
/// back by its decoder (`<unix seconds>|<o|e>|<P|F>|<content>`):
///
/// ```
/// use ctrlog::cri::read::{LogRecord, ParseError, RecordDecoder};
/// use ctrlog::cri::{Stream, Tag};
/// use ctrlog::time::Timestamp;
///
/// struct Pipes;
/// impl RecordDecoder for Pipes {
///     fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
///         let line = line.strip_suffix(b"\n").unwrap_or(line);
///         let mut f = line.splitn(4, |&b| b == b'|');
///         let mut next = || f.next().ok_or(ParseError::Other("expected 4 fields"));
///         let secs = std::str::from_utf8(next()?).ok().and_then(|s| s.parse().ok())
///             .ok_or(ParseError::Other("bad seconds"))?;
///         let stream = match next()? { b"o" => Stream::Stdout, b"e" => Stream::Stderr,
///             _ => return Err(ParseError::BadStream) };
///         let tag = if next()? == b"P" { Tag::Partial } else { Tag::Full };
///         Ok(LogRecord { timestamp: Timestamp::new(secs, 0), utc_offset: 0, stream, tag,
///             content: next()? })
///     }
/// }
/// let mut pipes = Pipes;
/// let r = pipes.decode(b"1700000000|e|F|oops\n").unwrap();
/// assert_eq!((r.stream, r.content), (Stream::Stderr, &b"oops"[..]));
/// assert_eq!(pipes.decode(b"1700000000|o"), Err(ParseError::Other("expected 4 fields")));
/// ```
pub trait RecordDecoder {
    /// Parses one line, with or without its `\n`.
    fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError>;
}

impl<D: RecordDecoder + ?Sized> RecordDecoder for &mut D {
    fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
        (**self).decode(line)
    }
}

impl<D: RecordDecoder + ?Sized> RecordDecoder for Box<D> {
    fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
        (**self).decode(line)
    }
}

/// Either format, per line.
impl RecordDecoder for RecordParser {
    #[inline]
    fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
        self.parse(line).map(|(_, r)| r)
    }
}

/// CRI records only ([`parse_cri_record`]); a json-file line is an error.
#[derive(Clone, Copy, Debug, Default)]
pub struct CriDecoder;

impl RecordDecoder for CriDecoder {
    #[inline]
    fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
        parse_cri_record(line)
    }
}

/// Docker json-file records only ([`parse_docker_record`]), unescaping into its own buffer.
#[derive(Clone, Debug, Default)]
pub struct DockerJsonDecoder {
    scratch: Vec<u8>,
}

impl RecordDecoder for DockerJsonDecoder {
    #[inline]
    fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
        parse_docker_record(line, &mut self.scratch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_format_decoders_refuse_the_other_format() {
        let cri = b"2024-01-01T00:00:00Z stdout F hi\n";
        let json = br#"{"log":"hi\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}"#;
        assert_eq!(CriDecoder.decode(cri).unwrap().content, b"hi");
        assert!(CriDecoder.decode(json).is_err());
        let mut d = DockerJsonDecoder::default();
        assert_eq!(d.decode(json).unwrap().content, b"hi");
        assert!(d.decode(cri).is_err());
        let mut p = RecordParser::new();
        assert_eq!(p.decode(cri).unwrap(), CriDecoder.decode(cri).unwrap());
        assert_eq!(p.decode(json).unwrap().content, b"hi");
    }
}
