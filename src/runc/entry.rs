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
// Serialize only: `fields` borrows raw JSON text, which a deserializer can lend only when it
// holds no escapes. Deserialize an [`OwnedEntry`] instead.
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
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

/// An [`Entry`] that owns its data: what [`Decoder::read_entry`](super::Decoder::read_entry)
/// refills, reusing its strings from one record to the next.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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

impl OwnedEntry {
    /// A borrowing view, with every [`Entry`] accessor (`msg()`, `is_error()`,
    /// `timestamp()`, ...). Allocates only when the record has other keys (the `fields`
    /// vector); in a loop over [`read_entry`](super::Decoder::read_entry), read the fields
    /// directly (`entry.msg.as_deref()`).
    pub fn as_entry(&self) -> Entry<'_> {
        Entry {
            level: self.level.as_deref().map(Cow::Borrowed),
            msg: self.msg.as_deref().map(Cow::Borrowed),
            time: self.time.as_deref().map(Cow::Borrowed),
            fields: self
                .fields
                .iter()
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), v.as_str()))
                .collect(),
        }
    }
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
        // A record holds no newline, so serde_json's column is the 1-based byte position
        // (saturating: it is 0 for an error before the first byte).
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
    decode(line, Entry::default())
}

/// Decodes one record into `out`, reusing its strings and its `fields` vector: what
/// [`Decoder::read_entry`](super::Decoder::read_entry) does for every record. On an error
/// `out` holds part of the record; the caller must not use it.
pub(crate) fn parse_entry_into(line: &[u8], out: &mut OwnedEntry) -> Result<(), EntryError> {
    decode(line, Fill::new(out)).map(Fill::finish)
}

/// The one record decoder: one serde visitor, whose output goes to `sink` (a borrowing
/// [`Entry`], or an [`OwnedEntry`] being refilled), so the key rules exist once.
fn decode<'de, S: Sink<'de>>(line: &'de [u8], sink: S) -> Result<S, EntryError> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let sink = de
        .deserialize_map(EntryVisitor(sink))
        .map_err(|e| EntryError::from_serde(&e))?;
    de.end().map_err(|e| EntryError::from_serde(&e))?;
    Ok(sink)
}

#[derive(Clone, Copy)]
enum Key {
    Level,
    Msg,
    Time,
}

/// A `level`/`msg`/`time` value as serde_json hands it out.
enum Value<'de, 't> {
    Null,
    /// Held no escapes: a slice of the input.
    Borrowed(&'de str),
    /// Unescaped into serde_json's scratch buffer, valid only during the call: a sink that
    /// refills its own string copies it once, with no `String` in between.
    Transient(&'t str),
}

/// Receives the decoded parts of one record, in input order.
trait Sink<'de> {
    /// `level`, `msg` or `time` (a repeated key overwrites).
    fn known(&mut self, key: Key, value: Value<'de, '_>);
    /// Any other key, with its raw JSON value.
    fn other(&mut self, key: Cow<'de, str>, raw: &'de str);
}

impl<'de> Sink<'de> for Entry<'de> {
    fn known(&mut self, key: Key, value: Value<'de, '_>) {
        let value = match value {
            Value::Null => None,
            Value::Borrowed(s) => Some(Cow::Borrowed(s)),
            Value::Transient(s) => Some(Cow::Owned(s.to_owned())),
        };
        match key {
            Key::Level => self.level = value,
            Key::Msg => self.msg = value,
            Key::Time => self.time = value,
        }
    }
    fn other(&mut self, key: Cow<'de, str>, raw: &'de str) {
        self.fields.push((key, raw));
    }
}

/// Refills an [`OwnedEntry`] in place: strings are overwritten, not reallocated, so decoding
/// a stream of similar records allocates nothing once the first has been seen.
struct Fill<'a> {
    out: &'a mut OwnedEntry,
    /// `level`, `msg`, `time` seen in this record (an unseen one becomes `None` at the end).
    seen: [bool; 3],
    /// Fields written so far; `out.fields` beyond this are left over from an earlier record.
    fields: usize,
}

fn overwrite_str(s: &mut String, v: &str) {
    s.clear();
    s.push_str(v);
}

impl<'a> Fill<'a> {
    fn new(out: &'a mut OwnedEntry) -> Self {
        Fill {
            out,
            seen: [false; 3],
            fields: 0,
        }
    }

    fn finish(self) {
        let out = self.out;
        for (seen, slot) in self
            .seen
            .iter()
            .zip([&mut out.level, &mut out.msg, &mut out.time])
        {
            if !seen {
                *slot = None;
            }
        }
        out.fields.truncate(self.fields);
    }
}

impl<'de> Sink<'de> for Fill<'_> {
    fn known(&mut self, key: Key, value: Value<'de, '_>) {
        let slot = match key {
            Key::Level => &mut self.out.level,
            Key::Msg => &mut self.out.msg,
            Key::Time => &mut self.out.time,
        };
        self.seen[key as usize] = true;
        let (Value::Borrowed(v) | Value::Transient(v)) = value else {
            *slot = None;
            return;
        };
        match slot {
            Some(s) => overwrite_str(s, v),
            None => *slot = Some(v.to_owned()),
        }
    }
    fn other(&mut self, key: Cow<'de, str>, raw: &'de str) {
        match self.out.fields.get_mut(self.fields) {
            Some((k, v)) => {
                overwrite_str(k, &key);
                overwrite_str(v, raw);
            }
            None => self.out.fields.push((key.into_owned(), raw.to_owned())),
        }
        self.fields += 1;
    }
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

/// Hands a `level`/`msg`/`time` value (a string or `null`) straight to the sink.
struct KnownSeed<'s, S> {
    sink: &'s mut S,
    key: Key,
}

impl<'de, S: Sink<'de>> de::DeserializeSeed<'de> for KnownSeed<'_, S> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: Sink<'de>> Visitor<'de> for KnownSeed<'_, S> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or null")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.sink.known(self.key, Value::Null);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<(), E> {
        self.sink.known(self.key, Value::Borrowed(v));
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.sink.known(self.key, Value::Transient(v));
        Ok(())
    }
}

struct EntryVisitor<S>(S);

impl<'de, S: Sink<'de>> Visitor<'de> for EntryVisitor<S> {
    type Value = S;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<S, A::Error> {
        let mut sink = self.0;
        while let Some(CowStr(key)) = map.next_key::<CowStr<'de>>()? {
            let known = match &*key {
                "level" => Key::Level,
                "msg" => Key::Msg,
                "time" => Key::Time,
                _ => {
                    let raw: &'de RawValue = map.next_value()?;
                    sink.other(key, raw.get());
                    continue;
                }
            };
            map.next_value_seed(KnownSeed {
                sink: &mut sink,
                key: known,
            })?;
        }
        Ok(sink)
    }
}
