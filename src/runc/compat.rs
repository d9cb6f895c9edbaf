//! containerd's `getLastRuntimeError`, byte for byte: a streaming scanner that applies Go's
//! `encoding/json` Decoder rules to a reused `struct{Level, Msg string; Time time.Time}`.
//!
//! Sans-IO: [`CompatScanner::feed`] takes any slicing of the input, [`CompatScanner::finish`]
//! returns containerd's string. Memory is bounded: the nesting stack (Go's limit, 10 000
//! levels), the current `msg` and the answer (both capped by
//! [`CompatOptions::max_msg_len`]), so about twice that cap plus the 64 KiB read buffer.

use std::io::Read;

use super::RuncError as Error;
use crate::go_utf8;
use crate::time::{parse_rfc3339, ParseConfig};

/// Go's `maxNestingDepth`.
const MAX_DEPTH: usize = 10_000;

/// Default cap on a kept `msg`: 1 MiB.
pub const DEFAULT_MAX_MSG_LEN: usize = 1 << 20;

/// Settings for [`CompatScanner`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompatOptions {
    /// A `msg` longer than this (bytes, after unescaping) is not kept; if it ends up being the
    /// answer, the result is [`CompatErrorKind::MessageTooLong`] instead of the string.
    pub max_msg_len: usize,
}

impl Default for CompatOptions {
    fn default() -> Self {
        CompatOptions {
            max_msg_len: DEFAULT_MAX_MSG_LEN,
        }
    }
}

/// Where containerd's decoder would have failed. Small and `Copy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompatErrorKind {
    /// A byte that does not fit JSON's grammar (Go: `invalid character …`).
    #[error("invalid character {} {context}", show_byte(*byte))]
    Syntax {
        /// The byte.
        byte: u8,
        /// What the scanner was looking for.
        context: &'static str,
    },
    /// The input ends inside a value (Go: `unexpected EOF`), e.g. a torn last record.
    #[error("unexpected EOF")]
    UnexpectedEof,
    /// A top-level value that is not an object or `null` (Go: `cannot unmarshal … into Go
    /// value of type struct`).
    #[error("cannot unmarshal a top-level {0} into the log record struct")]
    NotAnObject(&'static str),
    /// `level` or `msg` holds a number, bool, object or array.
    #[error("cannot unmarshal a non-string into the string field {0}")]
    FieldType(&'static str),
    /// `time` is not `null` or an RFC 3339 string (Go's `time.Time.UnmarshalJSON` fails).
    #[error("time is not null or a valid RFC 3339 string")]
    BadTime,
    /// Nesting deeper than 10 000 (Go: `exceeded max depth`).
    #[error("exceeded max depth")]
    MaxDepth,
    /// The answer is longer than [`CompatOptions::max_msg_len`] (ctrlog's cap, not Go's).
    #[error("error message longer than the {0}-byte cap")]
    MessageTooLong(usize),
}

fn show_byte(b: u8) -> String {
    match b {
        b'\'' => "'\\''".to_owned(),
        b'"' => "'\"'".to_owned(),
        0x20..=0x7e => format!("'{}'", b as char),
        _ => format!("{b:#04x}"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Level,
    Msg,
    Time,
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Key,
    Level,
    Msg,
    Time,
    Ignore,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Top,
    ObjStart,
    ObjKey,
    Colon,
    Value,
    ArrStart,
    AfterValue,
    Str,
    Esc,
    Hex(u8, u16),
    Lit(&'static [u8], u8),
    Num(Num),
}

/// Go's `time.Parse(time.RFC3339, s)` on the raw bytes of the JSON string, fed in pieces.
/// Fraction digits after the first are dropped as they arrive, so any length is checked in
/// constant memory.
#[derive(Clone, Copy, Debug)]
struct TimeCheck {
    buf: [u8; 32],
    len: usize,
    bad: bool,
    colons: u8,
    after: u8,
    frac: u8, // 0 none yet, 1 separator seen, 2 in digits, 3 done
}

impl TimeCheck {
    fn new() -> Self {
        TimeCheck {
            buf: [0; 32],
            len: 0,
            bad: false,
            colons: 0,
            after: 0,
            frac: 0,
        }
    }

    fn push(&mut self, b: u8) {
        if self.bad {
            return;
        }
        match self.frac {
            1 => self.frac = if b.is_ascii_digit() { 2 } else { 3 },
            2 => {
                if b.is_ascii_digit() {
                    return;
                }
                self.frac = 3;
            }
            0 if self.colons == 2 && self.after == 2 && (b == b'.' || b == b',') => self.frac = 1,
            _ => {}
        }
        if self.frac == 0 {
            if self.colons == 2 {
                self.after = self.after.saturating_add(1);
            }
            if b == b':' && self.colons < 2 {
                self.colons += 1;
            }
        }
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.bad = true,
        }
    }

    fn ok(&self) -> bool {
        // Go's `time.Parse(time.RFC3339, s)`: the parser's `go_json` preset.
        !self.bad && parse_rfc3339(&self.buf[..self.len], &ParseConfig::go_json()).is_ok()
    }
}

/// Go's case-insensitive field match for the three fields (simple folding: `ſ` is `s`, the
/// Kelvin sign is `k`).
fn match_key(key: &[u8]) -> Field {
    let s = go_utf8::lossy(key);
    let mut folded = [0u8; 8];
    let mut n = 0;
    for c in s.chars() {
        let f = match c {
            'a'..='z' | 'A'..='Z' => c.to_ascii_uppercase() as u8,
            '\u{17F}' => b'S',
            '\u{212A}' => b'K',
            _ => return Field::Other,
        };
        match folded.get_mut(n) {
            Some(slot) => *slot = f,
            None => return Field::Other,
        }
        n += 1;
    }
    match folded.get(..n) {
        Some(b"LEVEL") => Field::Level,
        Some(b"MSG") => Field::Msg,
        Some(b"TIME") => Field::Time,
        _ => Field::Other,
    }
}

/// The streaming core of [`last_error_compat`].
///
/// ```
/// use ctrlog::runc::CompatScanner;
/// let mut s = CompatScanner::new(Default::default());
/// s.feed(br#"{"level":"error","msg":" first "}{"level":"info"}"#).unwrap();
/// s.feed(br#" {"Level":"error"} null"#).unwrap();
/// // The reused struct still holds msg " first ": containerd reports it again.
/// assert_eq!(s.finish().unwrap(), "first");
/// ```
#[derive(Debug)]
pub struct CompatScanner {
    opts: CompatOptions,
    state: State,
    stack: Vec<u8>,
    offset: u64,
    field: Field,
    target: Target,
    pending_hi: Option<u16>,
    key: Vec<u8>,
    level: Vec<u8>,
    level_long: bool,
    msg: Vec<u8>,
    msg_long: bool,
    answer: String,
    answer_long: bool,
    time: TimeCheck,
    top_type: Option<&'static str>,
}

type Res = Result<(), CompatErrorKind>;

fn syntax(byte: u8, context: &'static str) -> CompatErrorKind {
    CompatErrorKind::Syntax { byte, context }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl CompatScanner {
    /// A scanner at the start of the file.
    pub fn new(opts: CompatOptions) -> Self {
        CompatScanner {
            opts,
            state: State::Top,
            stack: Vec::new(),
            offset: 0,
            field: Field::Other,
            target: Target::Ignore,
            pending_hi: None,
            key: Vec::new(),
            level: Vec::new(),
            level_long: false,
            msg: Vec::new(),
            msg_long: false,
            answer: String::new(),
            answer_long: false,
            time: TimeCheck::new(),
            top_type: None,
        }
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Feeds the next bytes. After an error the scanner must not be fed again.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Error> {
        let mut i = 0;
        while i < data.len() {
            let r = if self.state == State::Str {
                self.string_run(data, &mut i)
            } else {
                let b = data[i];
                let r = self.step(b);
                if r.is_ok() {
                    i += 1;
                    self.offset += 1;
                }
                r
            };
            if let Err(kind) = r {
                return Err(Error::Compat {
                    offset: self.offset,
                    kind,
                });
            }
        }
        Ok(())
    }

    /// Ends the input: containerd's answer (`""` when no record had level `error`).
    pub fn finish(mut self) -> Result<String, Error> {
        if let State::Num(Num::Zero | Num::Int | Num::Frac | Num::Exp) = self.state {
            if self.stack.is_empty() {
                // Go's Decoder accepts a number ended by EOF, then fails to unmarshal it.
                let kind = match self.end_value() {
                    Err(kind) => kind,
                    Ok(()) => CompatErrorKind::NotAnObject("number"),
                };
                return Err(Error::Compat {
                    offset: self.offset,
                    kind,
                });
            }
        }
        if self.state != State::Top {
            return Err(Error::Compat {
                offset: self.offset,
                kind: CompatErrorKind::UnexpectedEof,
            });
        }
        if self.answer_long {
            return Err(Error::Compat {
                offset: self.offset,
                kind: CompatErrorKind::MessageTooLong(self.opts.max_msg_len),
            });
        }
        Ok(self.answer)
    }

    /// Inside a string: copy the run up to the next quote or backslash in one go.
    fn string_run(&mut self, data: &[u8], i: &mut usize) -> Res {
        loop {
            let rest = data.get(*i..).unwrap_or(&[]);
            // Runs between escapes are short in real logs (`\n`, `\"` every few bytes): a
            // scalar scan beats a SIMD search's setup here.
            let stop = rest
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
                .unwrap_or(rest.len());
            if stop > 0 {
                self.flush_surrogate();
                self.push_raw(&rest[..stop]);
                *i += stop;
                self.offset += stop as u64;
            }
            let Some(&b) = rest.get(stop) else {
                return Ok(());
            };
            if b == b'\\' {
                // A one-letter escape with its letter in this chunk: handle it inline.
                let simple = match rest.get(stop + 1) {
                    Some(b'"') => Some('"'),
                    Some(b'\\') => Some('\\'),
                    Some(b'/') => Some('/'),
                    Some(b'b') => Some('\u{8}'),
                    Some(b'f') => Some('\u{c}'),
                    Some(b'n') => Some('\n'),
                    Some(b'r') => Some('\r'),
                    Some(b't') => Some('\t'),
                    _ => None,
                };
                if let Some(c) = simple {
                    if self.target == Target::Time {
                        self.time.bad = true;
                    }
                    self.flush_surrogate();
                    self.push_char(c);
                    *i += 2;
                    self.offset += 2;
                    continue;
                }
            }
            self.step(b)?;
            *i += 1;
            self.offset += 1;
            return Ok(());
        }
    }

    fn push_raw(&mut self, run: &[u8]) {
        match self.target {
            Target::Key => {
                if self.key.len() < 16 {
                    let room = 16 - self.key.len();
                    self.key.extend_from_slice(&run[..run.len().min(room)]);
                    if run.len() > room {
                        self.key.push(0xFF);
                    }
                }
            }
            Target::Level => {
                if self.level.len().saturating_add(run.len()) > 16 {
                    self.level_long = true;
                } else {
                    self.level.extend_from_slice(run);
                }
            }
            Target::Msg => {
                if self.msg_long {
                } else if self.msg.len().saturating_add(run.len()) > self.opts.max_msg_len {
                    self.msg_long = true;
                    self.msg = Vec::new();
                } else {
                    super::framer::extend_capped(&mut self.msg, run, self.opts.max_msg_len);
                }
            }
            Target::Time => {
                for &b in run {
                    self.time.push(b);
                }
            }
            Target::Ignore => {}
        }
    }

    fn push_char(&mut self, c: char) {
        let mut tmp = [0u8; 4];
        let s = c.encode_utf8(&mut tmp);
        let target = self.target;
        if target != Target::Time {
            self.push_raw(s.as_bytes());
        }
    }

    fn flush_surrogate(&mut self) {
        if self.pending_hi.take().is_some() {
            self.push_char('\u{FFFD}');
        }
    }

    fn escaped_unit(&mut self, u: u16) {
        if let Some(hi) = self.pending_hi.take() {
            if (0xDC00..0xE000).contains(&u) {
                let c = 0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                self.push_char(char::from_u32(c).unwrap_or('\u{FFFD}'));
                return;
            }
            self.push_char('\u{FFFD}');
        }
        if (0xD800..0xDC00).contains(&u) {
            self.pending_hi = Some(u);
        } else {
            self.push_char(char::from_u32(u32::from(u)).unwrap_or('\u{FFFD}'));
        }
    }

    fn in_record(&self) -> bool {
        self.stack.len() == 1 && self.stack.first() == Some(&b'{')
    }

    fn push(&mut self, c: u8) -> Res {
        if self.stack.len() >= MAX_DEPTH {
            return Err(CompatErrorKind::MaxDepth);
        }
        self.stack.push(c);
        self.state = if c == b'{' {
            State::ObjStart
        } else {
            State::ArrStart
        };
        Ok(())
    }

    fn begin_string(&mut self, target: Target) {
        self.target = target;
        self.pending_hi = None;
        match target {
            Target::Key => self.key.clear(),
            Target::Level => {
                self.level.clear();
                self.level_long = false;
            }
            Target::Msg => {
                self.msg.clear();
                self.msg_long = false;
            }
            Target::Time => self.time = TimeCheck::new(),
            Target::Ignore => {}
        }
        self.state = State::Str;
    }

    /// A value starts with byte `b` (not whitespace).
    fn begin_value(&mut self, b: u8) -> Res {
        let field = if self.in_record() {
            self.field
        } else {
            Field::Other
        };
        match field {
            Field::Level | Field::Msg | Field::Time if b != b'"' && b != b'n' => {
                if !matches!(b, b'{' | b'[' | b't' | b'f' | b'-' | b'0'..=b'9') {
                    return Err(syntax(b, "looking for beginning of value"));
                }
                return Err(match field {
                    Field::Level => CompatErrorKind::FieldType("Level"),
                    Field::Msg => CompatErrorKind::FieldType("Msg"),
                    _ => CompatErrorKind::BadTime,
                });
            }
            _ => {}
        }
        match b {
            b'"' => {
                let t = match field {
                    Field::Level => Target::Level,
                    Field::Msg => Target::Msg,
                    Field::Time => Target::Time,
                    Field::Other => Target::Ignore,
                };
                self.begin_string(t);
            }
            b'{' | b'[' => self.push(b)?,
            b't' => self.state = State::Lit(b"true", 1),
            b'f' => self.state = State::Lit(b"false", 1),
            b'n' => self.state = State::Lit(b"null", 1),
            b'-' => self.state = State::Num(Num::Minus),
            b'0' => self.state = State::Num(Num::Zero),
            b'1'..=b'9' => self.state = State::Num(Num::Int),
            _ => return Err(syntax(b, "looking for beginning of value")),
        }
        Ok(())
    }

    /// A value just ended.
    fn end_value(&mut self) -> Res {
        if self.stack.is_empty() {
            self.state = State::Top;
            // Go reads a whole top-level value before unmarshalling it: syntax errors first,
            // then the type error.
            if let Some(t) = self.top_type.take() {
                return Err(CompatErrorKind::NotAnObject(t));
            }
        } else {
            self.state = State::AfterValue;
        }
        Ok(())
    }

    fn end_string(&mut self) -> Res {
        self.flush_surrogate();
        match self.target {
            Target::Key => {
                self.field = if self.in_record() {
                    match_key(&self.key)
                } else {
                    Field::Other
                };
                self.state = State::Colon;
                return Ok(());
            }
            Target::Time if !self.time.ok() => return Err(CompatErrorKind::BadTime),
            _ => {}
        }
        self.target = Target::Ignore;
        self.end_value()
    }

    fn close(&mut self, b: u8) -> Res {
        self.stack.pop();
        if self.stack.is_empty() && b == b'}' {
            // End of a record: containerd's `if log.Level == "error"` check.
            if !self.level_long && self.level == b"error" {
                if self.msg_long {
                    self.answer_long = true;
                    self.answer = String::new();
                } else {
                    self.answer_long = false;
                    self.answer.clear();
                    match std::str::from_utf8(&self.msg) {
                        Ok(m) => self.answer.push_str(m.trim()),
                        Err(_) => self.answer.push_str(go_utf8::lossy(&self.msg).trim()),
                    }
                }
            }
        }
        self.end_value()
    }

    fn step(&mut self, b: u8) -> Res {
        match self.state {
            State::Top => {
                if is_ws(b) {
                    return Ok(());
                }
                self.top_type = match b {
                    b'{' | b'n' => None,
                    b'"' => Some("string"),
                    b'[' => Some("array"),
                    b't' | b'f' => Some("bool"),
                    b'-' | b'0'..=b'9' => Some("number"),
                    _ => return Err(syntax(b, "looking for beginning of value")),
                };
                self.begin_value(b)?;
            }
            State::ObjStart | State::ObjKey => {
                if is_ws(b) {
                    return Ok(());
                }
                match b {
                    b'"' => self.begin_string(Target::Key),
                    b'}' if self.state == State::ObjStart => self.close(b)?,
                    _ => return Err(syntax(b, "looking for beginning of object key string")),
                }
            }
            State::Colon => {
                if is_ws(b) {
                    return Ok(());
                }
                if b != b':' {
                    return Err(syntax(b, "after object key"));
                }
                self.state = State::Value;
            }
            State::Value => {
                if !is_ws(b) {
                    self.begin_value(b)?;
                }
            }
            State::ArrStart => {
                if is_ws(b) {
                    return Ok(());
                }
                if b == b']' {
                    self.close(b)?;
                } else {
                    self.begin_value(b)?;
                }
            }
            State::AfterValue => {
                if is_ws(b) {
                    return Ok(());
                }
                let top = self.stack.last().copied().unwrap_or(b'{');
                match (top, b) {
                    (b'{', b',') => self.state = State::ObjKey,
                    (b'[', b',') => self.state = State::Value,
                    (b'{', b'}') | (b'[', b']') => self.close(b)?,
                    (b'{', _) => return Err(syntax(b, "after object key:value pair")),
                    _ => return Err(syntax(b, "after array element")),
                }
            }
            State::Str => match b {
                b'"' => self.end_string()?,
                b'\\' => {
                    if self.target == Target::Time {
                        self.time.bad = true;
                    }
                    self.state = State::Esc;
                }
                c if c < 0x20 => return Err(syntax(c, "in string literal")),
                c => {
                    self.flush_surrogate();
                    self.push_raw(&[c]);
                }
            },
            State::Esc => {
                let c = match b {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        self.state = State::Hex(0, 0);
                        return Ok(());
                    }
                    _ => return Err(syntax(b, "in string escape code")),
                };
                self.flush_surrogate();
                self.push_char(c);
                self.state = State::Str;
            }
            State::Hex(n, acc) => {
                let d = match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    b'A'..=b'F' => b - b'A' + 10,
                    _ => return Err(syntax(b, "in \\u hexadecimal character escape")),
                };
                let acc = (acc << 4) | u16::from(d);
                if n == 3 {
                    self.escaped_unit(acc);
                    self.state = State::Str;
                } else {
                    self.state = State::Hex(n + 1, acc);
                }
            }
            State::Lit(word, k) => {
                let k = usize::from(k);
                if word.get(k) != Some(&b) {
                    return Err(syntax(b, "in literal"));
                }
                if k + 1 == word.len() {
                    self.end_value()?;
                } else {
                    self.state = State::Lit(word, (k + 1) as u8);
                }
            }
            State::Num(n) => {
                let next = match (n, b) {
                    (Num::Minus, b'0') => Some(Num::Zero),
                    (Num::Minus, b'1'..=b'9') => Some(Num::Int),
                    (Num::Minus, _) => return Err(syntax(b, "in numeric literal")),
                    (Num::Int, b'0'..=b'9') => Some(Num::Int),
                    (Num::Zero | Num::Int, b'.') => Some(Num::Dot),
                    (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::E),
                    (Num::Dot | Num::Frac, b'0'..=b'9') => Some(Num::Frac),
                    (Num::Dot, _) => {
                        return Err(syntax(b, "after decimal point in numeric literal"))
                    }
                    (Num::E, b'+' | b'-') => Some(Num::ESign),
                    (Num::E | Num::ESign | Num::Exp, b'0'..=b'9') => Some(Num::Exp),
                    (Num::E | Num::ESign, _) => {
                        return Err(syntax(b, "in exponent of numeric literal"))
                    }
                    _ => None,
                };
                match next {
                    Some(n) => self.state = State::Num(n),
                    None => {
                        // The number ended before this byte: handle the byte after it.
                        self.end_value()?;
                        return self.step(b);
                    }
                }
            }
        }
        Ok(())
    }
}

/// containerd's `getLastRuntimeError` over any reader: exactly the string it returns, or an
/// error wherever its `json.Decoder` would fail (a torn last record, a byte-order mark, a
/// text-format log, a bad `time`, ...). Reads the whole input in 64 KiB steps.
///
/// ```
/// let log = b"{\"level\":\"error\",\"msg\":\"container not running\",\"time\":\"2026-11-23T08:27:21Z\"}\n";
/// assert_eq!(ctrlog::runc::last_error_compat(&log[..]).unwrap(), "container not running");
/// // A torn last record discards everything, as in containerd.
/// assert!(ctrlog::runc::last_error_compat(&b"{\"level\":\"error\",\"msg\":\"x\"}\n{\"lev"[..]).is_err());
/// ```
pub fn last_error_compat<R: Read>(reader: R) -> Result<String, Error> {
    last_error_compat_with(reader, CompatOptions::default())
}

/// [`last_error_compat`] with explicit options.
pub fn last_error_compat_with<R: Read>(
    mut reader: R,
    opts: CompatOptions,
) -> Result<String, Error> {
    let mut scanner = CompatScanner::new(opts);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(Error::Io {
                    offset: scanner.offset(),
                    source,
                })
            }
        };
        scanner.feed(buf.get(..n).unwrap_or(&[]))?;
    }
    scanner.finish()
}
