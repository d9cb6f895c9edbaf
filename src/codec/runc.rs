//! [`RuncCodec`]: runc's log.json records over `BytesMut`.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::frame::{Frame, Framer};
use super::CodecError;
use crate::runc::{encode_entry, DecodeStats, Entry, FieldValue, OwnedEntry};
use crate::time::Offset;

/// A tokio-util codec for runc's (and crun's) log.json: one JSON object per line.
///
/// **Decoding** yields an [`OwnedEntry`] per record with the same key rules as
/// [`Decoder`](crate::runc::Decoder) in its lenient policy: blank lines, malformed records,
/// records longer than `max_record_len` bytes (dropped as they stream, the
/// [`Decoder`](crate::runc::Decoder)'s cap) and a torn last record
/// are skipped and counted in [`RuncCodec::stats`], never an error.
///
/// **Encoding** writes an [`Entry`] as runc does (logrus's `JSONFormatter`: keys sorted, time
/// in whole seconds, via [`encode_entry`]) in the codec's zone. The entry's `time` must parse
/// ([`CodecError::BadTime`] otherwise); its other fields are written as the raw JSON they hold.
///
/// ```
/// use bytes::BytesMut;
/// use tokio_util::codec::{Decoder, Encoder};
/// use ctrlog::codec::RuncCodec;
///
/// let mut codec = RuncCodec::new(ctrlog::time::Offset::Utc);
/// let mut buf = BytesMut::from(&br#"{"level":"error","msg":"exec failed","time":"2026-01-01T00:00:00Z"}
/// not json
/// "#[..]);
/// let e = codec.decode(&mut buf)?.unwrap();
/// assert!(e.as_entry().is_error());
/// assert!(codec.decode_eof(&mut buf)?.is_none());
/// assert_eq!(codec.stats().malformed, 1);
///
/// let mut out = BytesMut::new();
/// codec.encode(&e.as_entry(), &mut out)?;
/// assert_eq!(&out[..], br#"{"level":"error","msg":"exec failed","time":"2026-01-01T00:00:00Z"}
/// "#);
/// # Ok::<(), ctrlog::codec::CodecError>(())
/// ```
#[derive(Debug)]
pub struct RuncCodec {
    framer: Framer,
    offset: Offset,
    stats: DecodeStats,
    scratch: Vec<u8>,
}

impl RuncCodec {
    /// Encodes times in `offset` (runc writes the node's local zone); records capped at
    /// [`DEFAULT_MAX_RECORD_LEN`](crate::runc::DEFAULT_MAX_RECORD_LEN).
    pub fn new(offset: Offset) -> Self {
        Self::new_with_max_length(offset, crate::runc::DEFAULT_MAX_RECORD_LEN)
    }

    /// Records longer than `max_record_len` bytes (without their `\n`) are skipped and
    /// counted, as by [`DecoderOptions::max_record_len`](crate::runc::DecoderOptions::max_record_len).
    pub fn new_with_max_length(offset: Offset, max_record_len: usize) -> Self {
        RuncCodec {
            framer: Framer::new(max_record_len.saturating_add(1)),
            offset,
            stats: DecodeStats::default(),
            scratch: Vec::new(),
        }
    }

    /// Records decoded and lines skipped so far.
    pub fn stats(&self) -> DecodeStats {
        self.stats
    }

    fn take(&mut self, buf: &mut BytesMut, end: bool) -> Option<OwnedEntry> {
        loop {
            match self.framer.step(buf, end) {
                Frame::NeedMore => return None,
                Frame::Overlong { .. } => self.stats.overlong += 1,
                Frame::Line { len, .. } => {
                    let line = buf.split_to(len);
                    let terminated = line.last() == Some(&b'\n');
                    if line
                        .iter()
                        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                    {
                        self.stats.blank += 1;
                        continue;
                    }
                    let mut e = OwnedEntry::default();
                    match crate::runc::parse_entry_into(&line, &mut e) {
                        Ok(()) => {
                            self.stats.records += 1;
                            return Some(e);
                        }
                        Err(_) if terminated => self.stats.malformed += 1,
                        Err(_) => self.stats.torn += 1,
                    }
                }
            }
        }
    }
}

impl Decoder for RuncCodec {
    type Item = OwnedEntry;
    type Error = CodecError;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<OwnedEntry>, CodecError> {
        Ok(self.take(buf, false))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<OwnedEntry>, CodecError> {
        Ok(self.take(buf, true))
    }
}

impl Encoder<&Entry<'_>> for RuncCodec {
    type Error = CodecError;

    fn encode(&mut self, e: &Entry<'_>, dst: &mut BytesMut) -> Result<(), CodecError> {
        let time = match e.timestamp() {
            Some(Ok(t)) => t,
            _ => return Err(CodecError::BadTime),
        };
        let fields: Vec<(&str, FieldValue<'_>)> = e
            .fields
            .iter()
            .map(|(k, v)| (k.as_ref(), FieldValue::Raw(v)))
            .collect();
        self.scratch.clear();
        encode_entry(
            e.level(),
            e.msg(),
            time,
            self.offset,
            &fields,
            &mut self.scratch,
        );
        dst.extend_from_slice(&self.scratch);
        Ok(())
    }
}
