//! One log.json record: `{"level":…,"msg":…,"time":…, …}` decoded with serde_json, borrowing.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::time::{parse_rfc3339nano, ParseTimeError, Timestamp};

/// One decoded record. String fields borrow from the input line when they hold no escapes.
///
/// `level`, `msg` and `time` are `None` when the key is absent or its value is `null`. Keys
/// are matched exactly (lowercase, as runc, crun and youki write them); a repeated key keeps
/// its last value. Every other key is kept in [`fields`](Entry::fields) with its raw JSON
/// value, in input order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Entry<'a> {
    /// `level` (`debug`, `info`, `warning`, `error`, `fatal`, `panic`, ...).
    pub level: Option<Cow<'a, str>>,
    /// `msg`, unescaped, not trimmed.
    pub msg: Option<Cow<'a, str>>,
    /// `time`, as written (RFC 3339 from runc/crun); see [`Entry::timestamp`].
    pub time: Option<Cow<'a, str>>,
    /// Other keys (`file`, `func`, `pid`, ...) with their raw JSON values.
    pub fields: Vec<(Cow<'a, str>, &'a str)>,
}

impl<'a> Entry<'a> {
    /// The level, `""` when absent.
    pub fn level(&self) -> &str {
        self.level.as_deref().unwrap_or("")
    }

    /// The message, `""` when absent.
    pub fn msg(&self) -> &str {
        self.msg.as_deref().unwrap_or("")
    }

    /// Whether the level is exactly `error` (the level containerd reports).
    pub fn is_error(&self) -> bool {
        self.level() == "error"
    }

    /// The parsed `time`, if there is one (RFC 3339, any fraction, `Z` or `±hh:mm`).
    pub fn timestamp(&self) -> Option<Result<Timestamp, ParseTimeError>> {
        self.time
            .as_deref()
            .map(|t| parse_rfc3339nano(t.as_bytes()))
    }

    /// The raw JSON value of another key (the last one if repeated).
    pub fn field(&self, key: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }

    /// A copy that owns its strings, to keep past the decoder's next call.
    pub fn to_owned_entry(&self) -> OwnedEntry {
        OwnedEntry {
            level: self.level.as_deref().map(str::to_owned),
            msg: self.msg.as_deref().map(str::to_owned),
            time: self.time.as_deref().map(str::to_owned),
            fields: self
                .fields
                .iter()
                .map(|(k, v)| (k.to_string(), (*v).to_owned()))
                .collect(),
        }
    }
}

/// An [`Entry`] that owns its data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedEntry {
    /// See [`Entry::level`].
    pub level: Option<String>,
    /// See [`Entry::msg`].
    pub msg: Option<String>,
    /// See [`Entry::time`].
    pub time: Option<String>,
    /// Other keys with their raw JSON values.
    pub fields: Vec<(String, String)>,
}

/// Why one record did not decode. Small and `Copy`; `at` is the byte offset in the record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// Not valid JSON (bad byte, bad escape, invalid UTF-8 in a string, nesting over 128).
    #[error("invalid JSON at byte {at} of the record")]
    Syntax {
        /// Byte offset within the record.
        at: usize,
    },
    /// The record ends inside the JSON value (torn record).
    #[error("record ends inside its JSON value (torn) at byte {at}")]
    Truncated {
        /// Byte offset within the record.
        at: usize,
    },
    /// Valid JSON, but not an object, or `level`/`msg`/`time` is not a string or `null`.
    #[error("record is not a log object (wrong JSON type) at byte {at}")]
    Type {
        /// Byte offset within the record.
        at: usize,
    },
}

impl EntryError {
    fn from_serde(e: &serde_json::Error) -> Self {
        // A record holds no newline, so serde_json's column is the 1-based byte position.
        let at = e.column().saturating_sub(1);
        match e.classify() {
            serde_json::error::Category::Eof => EntryError::Truncated { at },
            serde_json::error::Category::Data => EntryError::Type { at },
            _ => EntryError::Syntax { at },
        }
    }

    /// Whether the record was cut short (torn) rather than corrupt.
    pub fn is_truncated(&self) -> bool {
        matches!(self, EntryError::Truncated { .. })
    }
}

/// Decodes one record (one line without its `\n`; surrounding JSON whitespace is allowed).
///
/// ```
/// use ctrlog::runc::parse_entry;
/// let e = parse_entry(br#"{"level":"error","msg":"container not running","time":"2026-11-23T08:27:21Z"}"#).unwrap();
/// assert!(e.is_error());
/// assert_eq!(e.msg(), "container not running");
/// ```
pub fn parse_entry(line: &[u8]) -> Result<Entry<'_>, EntryError> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let entry = de
        .deserialize_map(EntryVisitor)
        .map_err(|e| EntryError::from_serde(&e))?;
    de.end().map_err(|e| EntryError::from_serde(&e))?;
    Ok(entry)
}

struct CowStr<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for CowStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CowStrVisitor)
    }
}

struct CowStrVisitor;

impl<'de> Visitor<'de> for CowStrVisitor {
    type Value = CowStr<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(CowStr(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(CowStr(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(CowStr(Cow::Owned(v)))
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = Entry<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entry<'de>, A::Error> {
        let mut e = Entry::default();
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            match &*key {
                "level" => e.level = map.next_value::<Option<CowStr<'de>>>()?.map(|c| c.0),
                "msg" => e.msg = map.next_value::<Option<CowStr<'de>>>()?.map(|c| c.0),
                "time" => e.time = map.next_value::<Option<CowStr<'de>>>()?.map(|c| c.0),
                _ => {
                    let raw: &'de RawValue = map.next_value()?;
                    e.fields.push((key, raw.get()));
                }
            }
        }
        Ok(e)
    }
}

/// An [`Entry`] with its borrowed parts recorded as byte ranges of the line, so a decoder can
/// drop the borrow inside its loop and take it again to return the entry.
pub(crate) struct Detached {
    level: Option<Piece>,
    msg: Option<Piece>,
    time: Option<Piece>,
    fields: Vec<(Piece, (usize, usize))>,
}

enum Piece {
    Span(usize, usize),
    Owned(String),
}

fn span_of(base: &[u8], s: &str) -> (usize, usize) {
    let start = (s.as_ptr() as usize).saturating_sub(base.as_ptr() as usize);
    (start, start.saturating_add(s.len()))
}

fn piece(base: &[u8], c: Cow<'_, str>) -> Piece {
    match c {
        Cow::Borrowed(s) => {
            let (a, b) = span_of(base, s);
            Piece::Span(a, b)
        }
        Cow::Owned(s) => Piece::Owned(s),
    }
}

fn attach_str(base: &[u8], a: usize, b: usize) -> Option<&str> {
    std::str::from_utf8(base.get(a..b)?).ok()
}

fn attach_piece(base: &[u8], p: Piece) -> Option<Cow<'_, str>> {
    Some(match p {
        Piece::Span(a, b) => Cow::Borrowed(attach_str(base, a, b)?),
        Piece::Owned(s) => Cow::Owned(s),
    })
}

impl Detached {
    pub(crate) fn new(e: Entry<'_>, base: &[u8]) -> Detached {
        Detached {
            level: e.level.map(|c| piece(base, c)),
            msg: e.msg.map(|c| piece(base, c)),
            time: e.time.map(|c| piece(base, c)),
            fields: e
                .fields
                .into_iter()
                .map(|(k, v)| (piece(base, k), span_of(base, v)))
                .collect(),
        }
    }

    /// Rebuilds the entry over the same line; `None` only if `base` is not that line.
    pub(crate) fn attach(self, base: &[u8]) -> Option<Entry<'_>> {
        let mut fields = Vec::with_capacity(self.fields.len());
        for (k, (a, b)) in self.fields {
            fields.push((attach_piece(base, k)?, attach_str(base, a, b)?));
        }
        Some(Entry {
            level: match self.level {
                Some(p) => Some(attach_piece(base, p)?),
                None => None,
            },
            msg: match self.msg {
                Some(p) => Some(attach_piece(base, p)?),
                None => None,
            },
            time: match self.time {
                Some(p) => Some(attach_piece(base, p)?),
                None => None,
            },
            fields,
        })
    }
}
