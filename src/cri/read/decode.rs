//! [`RecordDecoder`]: one line back into a record, the read-side counterpart of
//! [`RecordEncoder`](crate::cri::write::RecordEncoder), so a custom format written by ctrlog
//! can be read back by ctrlog.

use super::record::{
    cri_record, docker_record, docker_record_in_line, InLine, LogRecord, ParseError, RecordParser,
};
use crate::time::TimestampParser;

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
        self.record(line)
    }
}

/// CRI records only ([`parse_cri_record`](super::parse_cri_record)); a json-file line is an
/// error. Keeps the last timestamp's second ([`TimestampParser`]), as [`RecordParser`] does.
#[derive(Clone, Debug, Default)]
pub struct CriDecoder {
    times: TimestampParser,
}

impl RecordDecoder for CriDecoder {
    #[inline]
    fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
        cri_record(line, &mut self.times)
    }
}

/// Docker json-file records only ([`parse_docker_record`](super::parse_docker_record)),
/// unescaping into its own buffer, with a timestamp cache.
#[derive(Clone, Debug, Default)]
pub struct DockerJsonDecoder {
    scratch: Vec<u8>,
    times: TimestampParser,
}

impl RecordDecoder for DockerJsonDecoder {
    #[inline]
    fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
        docker_record(line, &mut self.scratch, &mut self.times)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_format_decoders_refuse_the_other_format() {
        let cri = b"2024-01-01T00:00:00Z stdout F hi\n";
        let json = br#"{"log":"hi\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}"#;
        let mut c = CriDecoder::default();
        assert_eq!(c.decode(cri).unwrap().content, b"hi");
        assert!(c.decode(json).is_err());
        let mut d = DockerJsonDecoder::default();
        assert_eq!(d.decode(json).unwrap().content, b"hi");
        assert!(d.decode(cri).is_err());
        let mut p = RecordParser::new();
        assert_eq!(p.decode(cri).unwrap(), c.decode(cri).unwrap());
        assert_eq!(p.decode(json).unwrap().content, b"hi");
    }
}

/// The record format a [`LogReader`](super::LogReader) reads
/// ([`ReadOptions::format`](super::ReadOptions::format)): either built-in format decided per line (the default, as
/// `kubectl logs` reads both), one of them only, or a custom [`RecordDecoder`].
///
/// ```
/// use ctrlog::cri::read::{CriDecoder, ReadFormat, ReadOptions};
/// let mut opts = ReadOptions::default();
/// opts.format = ReadFormat::custom(CriDecoder::default); // any RecordDecoder, made per pass
/// assert_ne!(opts.format, ReadFormat::Auto);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReadFormat {
    /// CRI or Docker json-file, decided per line ([`RecordParser`]).
    #[default]
    Auto,
    /// CRI records only.
    Cri,
    /// Docker json-file records only.
    DockerJson,
    /// A custom format: a decoder made by the factory for each pass over the files (a read,
    /// a tail scan).
    Custom(DecoderFactory),
}

impl ReadFormat {
    /// A custom format whose decoders `make` builds.
    pub fn custom<D, F>(make: F) -> Self
    where
        D: RecordDecoder + Send + 'static,
        F: Fn() -> D + Send + Sync + 'static,
    {
        ReadFormat::Custom(DecoderFactory(std::sync::Arc::new(move || {
            Box::new(make()) as Box<dyn RecordDecoder + Send>
        })))
    }

    /// A decoder for one pass.
    // Off Unix nothing reads files yet (the reader is Unix-only).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn decoder(&self) -> AnyDecoder {
        match self {
            ReadFormat::Auto => AnyDecoder::Auto(RecordParser::new()),
            ReadFormat::Cri => AnyDecoder::Cri(CriDecoder::default()),
            ReadFormat::DockerJson => AnyDecoder::Docker(DockerJsonDecoder::default()),
            ReadFormat::Custom(f) => AnyDecoder::Custom((f.0)()),
        }
    }
}

/// Makes the decoders of a [`ReadFormat::Custom`]. Compared by identity (two factories are
/// equal when they are clones of one).
#[derive(Clone)]
pub struct DecoderFactory(
    #[allow(clippy::type_complexity)]
    std::sync::Arc<dyn Fn() -> Box<dyn RecordDecoder + Send> + Send + Sync>,
);

impl std::fmt::Debug for DecoderFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecoderFactory(..)")
    }
}

impl PartialEq for DecoderFactory {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for DecoderFactory {}

/// The decoder a read uses: the built-in ones dispatched statically (the hot path of every
/// read), a custom one through its box.
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) enum AnyDecoder {
    Auto(RecordParser),
    Cri(CriDecoder),
    Docker(DockerJsonDecoder),
    Custom(Box<dyn RecordDecoder + Send>),
}

impl std::fmt::Debug for AnyDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AnyDecoder::Auto(_) => "Auto",
            AnyDecoder::Cri(_) => "Cri",
            AnyDecoder::Docker(_) => "DockerJson",
            AnyDecoder::Custom(_) => "Custom",
        })
    }
}

impl AnyDecoder {
    /// The record at the start of `buf` (a read buffer from a line's start) and its line's
    /// length, `\n` included, when the decoder finds the line's end as it decodes (a Docker
    /// record in dockerd's shape): then the same record [`RecordDecoder::decode`] gives for
    /// that line. `None`: frame the line and decode it.
    #[inline(always)]
    pub(crate) fn decode_in_line<'a>(&'a mut self, buf: &'a [u8]) -> Option<InLine<'a>> {
        match self {
            AnyDecoder::Auto(d) => d.record_in_line(buf),
            AnyDecoder::Docker(d) => docker_record_in_line(buf, &mut d.scratch, &mut d.times),
            AnyDecoder::Cri(_) | AnyDecoder::Custom(_) => None,
        }
    }

    /// Whether [`AnyDecoder::decode_in_line`] can ever accept a line.
    #[inline]
    pub(crate) fn decodes_in_line(&self) -> bool {
        matches!(self, AnyDecoder::Auto(_) | AnyDecoder::Docker(_))
    }
}

impl RecordDecoder for AnyDecoder {
    #[inline]
    fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
        match self {
            AnyDecoder::Auto(d) => d.decode(line),
            AnyDecoder::Cri(d) => d.decode(line),
            AnyDecoder::Docker(d) => d.decode(line),
            AnyDecoder::Custom(d) => d.decode(line),
        }
    }
}
