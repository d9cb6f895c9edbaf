//! [`RecordCodec`]: CRI and Docker json-file records over `BytesMut`.

use bytes::{Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::frame::{Frame, Framer};
use super::CodecError;
use crate::cri::read::{LogRecord, OwnedLogRecord, RecordDecoder, RecordParser, SkipReason};
use crate::cri::write::{CriEncoder, DockerJsonEncoder, RecordEncoder};
use crate::time::Offset;

/// Default [`RecordCodec`] record cap, as the file reader's
/// [`ReadOptions::max_record_len`](crate::cri::read::ReadOptions::max_record_len): 4 MiB.
pub const DEFAULT_MAX_RECORD_LEN: usize = 4 << 20;

/// What a decoder skipped: how many lines, and the first one's offset and reason.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkipCounts {
    /// Records decoded.
    pub records: u64,
    /// Lines that were not records, or too long.
    pub skipped: u64,
    /// The first skipped line: its offset in the stream and why.
    pub first_skipped: Option<(u64, SkipReason)>,
}

impl SkipCounts {
    fn skip(&mut self, offset: u64, why: SkipReason) {
        self.skipped += 1;
        self.first_skipped.get_or_insert((offset, why));
    }
}

/// A tokio-util codec for container log records, the `kubectl logs` reader's rules over a
/// byte stream.
///
/// **Decoding** yields one [`OwnedLogRecord`] per record, CRI or Docker json-file, decided
/// per line as [`RecordParser`] does (or any [`RecordDecoder`]: [`RecordCodec::with_decoder`]). Partial records stay partial
/// ([`Tag::Partial`](crate::cri::Tag::Partial)): join them with a [`PartialMerger`](crate::cri::read::PartialMerger)
/// or read [`OwnedLogRecord::tag`]. A CRI record's content shares the read buffer (no
/// copy). Lines that are not records, and lines of `max_record_len` bytes or more (the
/// overlong policy is the codec's, as in tokio-util's `LinesCodec::new_with_max_length`;
/// such a line is dropped as it streams, never buffered whole), are skipped and counted in
/// [`RecordCodec::counts`], never an error: a stream of records ends only with its input.
/// An unterminated last line is a record, as kubelet prints it.
///
/// **Encoding** writes one record with the encoder it was made with ([`CriEncoder`] for
/// containerd's format, [`DockerJsonEncoder`] for dockerd's), at the record's own time and
/// stream; content holding a `\n` is refused ([`CodecError::NewlineInContent`]): a record is
/// one line. To turn a container's raw output into records, see
/// [`copy_streams`](super::copy_streams).
///
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::{Decoder, Encoder};
/// use ctrlog::codec::RecordCodec;
/// use ctrlog::cri::{Stream, Tag};
///
/// let mut codec = RecordCodec::cri_utc();
/// let mut buf = BytesMut::from(&b"2024-01-01T00:00:00Z stdout P hel\n2024-01-01T00:00:00Z std"[..]);
/// let first = codec.decode(&mut buf)?.unwrap();
/// assert_eq!((first.stream, first.tag, &first.content[..]), (Stream::Stdout, Tag::Partial, &b"hel"[..]));
/// assert!(codec.decode(&mut buf)?.is_none()); // the second record is not whole yet
///
/// let mut out = BytesMut::new();
/// codec.encode(&first, &mut out)?;
/// assert_eq!(&out[..], b"2024-01-01T00:00:00Z stdout P hel\n");
/// # Ok::<(), ctrlog::codec::CodecError>(())
/// ```
#[derive(Debug)]
pub struct RecordCodec<E = CriEncoder, D = RecordParser> {
    framer: Framer,
    parser: D,
    encoder: E,
    scratch: Vec<u8>,
    counts: SkipCounts,
}

impl RecordCodec<CriEncoder> {
    /// Decodes either format; encodes CRI records with times in `offset` (containerd writes
    /// the node's local zone, [`Offset::Local`]).
    pub fn cri(offset: Offset) -> Self {
        Self::new(CriEncoder::new(offset))
    }

    /// [`RecordCodec::cri`] in UTC.
    pub fn cri_utc() -> Self {
        Self::cri(Offset::Utc)
    }
}

impl RecordCodec<DockerJsonEncoder> {
    /// Decodes either format; encodes Docker json-file records (UTC, as dockerd).
    pub fn docker_json() -> Self {
        Self::new(DockerJsonEncoder::new())
    }
}

impl<E: RecordEncoder> RecordCodec<E> {
    /// Encodes with `encoder` (any [`RecordEncoder`], a custom one too), records capped at
    /// [`DEFAULT_MAX_RECORD_LEN`].
    pub fn new(encoder: E) -> Self {
        Self::new_with_max_length(encoder, DEFAULT_MAX_RECORD_LEN)
    }

    /// Lines of `max_record_len` bytes or more (without their `\n`) are skipped and counted.
    pub fn new_with_max_length(encoder: E, max_record_len: usize) -> Self {
        Self::with_decoder(encoder, RecordParser::new(), max_record_len)
    }
}

impl<E: RecordEncoder, D: RecordDecoder> RecordCodec<E, D> {
    /// Encodes with `encoder` and decodes with `decoder`: a custom format both ways.
    pub fn with_decoder(encoder: E, decoder: D, max_record_len: usize) -> Self {
        RecordCodec {
            framer: Framer::new(max_record_len),
            parser: decoder,
            encoder,
            scratch: Vec::new(),
            counts: SkipCounts::default(),
        }
    }

    /// Records decoded and lines skipped so far.
    pub fn counts(&self) -> SkipCounts {
        self.counts
    }

    fn take(&mut self, buf: &mut BytesMut, end: bool) -> Option<OwnedLogRecord> {
        loop {
            match self.framer.step(buf, end) {
                Frame::NeedMore => return None,
                Frame::Overlong { offset, .. } => self.counts.skip(offset, SkipReason::Overlong),
                Frame::Line { offset, len } => {
                    let line = buf.split_to(len).freeze();
                    match self.parser.decode(&line) {
                        Ok(r) => {
                            self.counts.records += 1;
                            return Some(own(&line, r));
                        }
                        Err(e) => self.counts.skip(offset, SkipReason::Unparsable(e)),
                    }
                }
            }
        }
    }
}

/// `r` owned: its content shares `line` when it is a slice of it (a CRI record, a json-file
/// record without escapes), else it is copied (unescaped json-file content).
fn own(line: &Bytes, r: LogRecord<'_>) -> OwnedLogRecord {
    let within = line.as_ptr_range();
    let c = r.content.as_ptr_range();
    let content = if within.start <= c.start && c.end <= within.end {
        line.slice_ref(r.content)
    } else {
        Bytes::copy_from_slice(r.content)
    };
    let mut owned = OwnedLogRecord::new(r.timestamp, r.stream, r.tag, content);
    owned.utc_offset = r.utc_offset;
    owned
}

impl<E: RecordEncoder, D: RecordDecoder> Decoder for RecordCodec<E, D> {
    type Item = OwnedLogRecord;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<OwnedLogRecord>, CodecError> {
        Ok(self.take(buf, false))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<OwnedLogRecord>, CodecError> {
        Ok(self.take(buf, true))
    }
}

impl<E: RecordEncoder, D: RecordDecoder> Encoder<LogRecord<'_>> for RecordCodec<E, D> {
    type Error = CodecError;

    fn encode(&mut self, r: LogRecord<'_>, dst: &mut BytesMut) -> Result<(), CodecError> {
        if memchr::memchr(b'\n', r.content).is_some() {
            return Err(CodecError::NewlineInContent);
        }
        self.scratch.clear();
        self.encoder.start_batch(r.timestamp, r.stream);
        self.encoder.encode(r.tag, r.content, &mut self.scratch);
        dst.extend_from_slice(&self.scratch);
        Ok(())
    }
}

impl<E: RecordEncoder, D: RecordDecoder> Encoder<&OwnedLogRecord> for RecordCodec<E, D> {
    type Error = CodecError;

    fn encode(&mut self, r: &OwnedLogRecord, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(r.as_record(), dst)
    }
}

impl<E: RecordEncoder, D: RecordDecoder> Encoder<OwnedLogRecord> for RecordCodec<E, D> {
    type Error = CodecError;

    fn encode(&mut self, r: OwnedLogRecord, dst: &mut BytesMut) -> Result<(), CodecError> {
        self.encode(r.as_record(), dst)
    }
}
