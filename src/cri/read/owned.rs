//! [`OwnedLogRecord`]: a [`LogRecord`] that owns its content, to keep past the buffer it was
//! parsed from (a channel, a tokio stream, serde).

use bytes::Bytes;

use super::record::LogRecord;
use crate::cri::{Stream, Tag};
use crate::time::Timestamp;

/// A parsed CRI or Docker json-file record that owns its content.
///
/// The content is [`Bytes`]: cut from a shared buffer, it costs no copy (the tokio decoders
/// hand out records this way). With feature `serde` it serializes as
/// `{"timestamp","utc_offset","stream","tag","content"}`, the timestamp as RFC3339Nano text,
/// the tag as `"P"`/`"F"` and the content as a string when it is UTF-8, else as an array of
/// bytes; both forms deserialize, so any content round-trips byte-exact.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct OwnedLogRecord {
    /// When the runtime read the bytes.
    pub timestamp: Timestamp,
    /// The zone offset (seconds east of UTC) the timestamp was written with.
    pub utc_offset: i32,
    /// `stdout` or `stderr`.
    pub stream: Stream,
    /// Partial piece or end of line.
    pub tag: Tag,
    /// The content, byte-exact, without the record's line terminator.
    #[cfg_attr(feature = "serde", serde(with = "content_serde"))]
    pub content: Bytes,
}

impl OwnedLogRecord {
    /// A record from its parts.
    pub fn new(timestamp: Timestamp, stream: Stream, tag: Tag, content: impl Into<Bytes>) -> Self {
        OwnedLogRecord {
            timestamp,
            utc_offset: 0,
            stream,
            tag,
            content: content.into(),
        }
    }

    /// The borrowed form, for the encoders and the merger.
    pub fn as_record(&self) -> LogRecord<'_> {
        LogRecord {
            timestamp: self.timestamp,
            utc_offset: self.utc_offset,
            stream: self.stream,
            tag: self.tag,
            content: &self.content,
        }
    }
}

impl LogRecord<'_> {
    /// A copy that owns its content.
    ///
    /// ```
    /// use ctrlog::cri::read::parse_cri_record;
    /// let owned = parse_cri_record(b"2024-01-01T00:00:00Z stdout F hi\n")?.to_owned_record();
    /// assert_eq!(&owned.content[..], b"hi");
    /// # Ok::<(), ctrlog::cri::read::ParseError>(())
    /// ```
    pub fn to_owned_record(&self) -> OwnedLogRecord {
        OwnedLogRecord {
            timestamp: self.timestamp,
            utc_offset: self.utc_offset,
            stream: self.stream,
            tag: self.tag,
            content: Bytes::copy_from_slice(self.content),
        }
    }
}

/// Content as serde sees it: a string when it is UTF-8, else bytes (an array of numbers in
/// JSON); both forms deserialize, so any content round-trips byte-exact.
#[cfg(feature = "serde")]
pub(crate) mod content_serde {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer, T: AsRef<[u8]>>(b: &T, s: S) -> Result<S::Ok, S::Error> {
        let b = b.as_ref();
        match std::str::from_utf8(b) {
            Ok(text) => s.serialize_str(text),
            Err(_) => s.serialize_bytes(b),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>, T: From<Vec<u8>>>(d: D) -> Result<T, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or bytes")
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Vec<u8>, E> {
                Ok(v.as_bytes().to_vec())
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        // serde_json lends a string or an array of numbers here; binary formats their bytes.
        d.deserialize_byte_buf(Visit).map(T::from)
    }
}
