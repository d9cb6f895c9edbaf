//! Frozen copy of the old module, see [`super`].
//!
//! Go's `Unmarshal` into containerd's reused `struct{Level, Msg string; Time time.Time}`: what
//! happens to the values the [`scanner`](super::scanner) finds.
//!
//! * Field names match case-insensitively with Go's simple folding (`ſ` is `s`, the Kelvin
//!   sign is `k`); other keys are skipped.
//! * `level` and `msg` must be strings or `null`; `time` must be `null` or a string that
//!   `time.Parse(time.RFC3339, …)` accepts, checked on the raw bytes (an escape in it fails).
//! * The struct is reused across records: a field a record does not set keeps its value.
//! * Escaped surrogates pair up; an unpaired one is U+FFFD. Invalid UTF-8 is U+FFFD per byte.
//! * At the end of each record, containerd's `if log.Level == "error"` keeps the trimmed `msg`.

use super::{syntax, CompatErrorKind};
use crate::go_utf8;
use crate::time::{ParseConfig, TimestampParser};

/// Which of the struct's fields the current key names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    Level,
    Msg,
    Time,
    Other,
}

/// Where the bytes of the current string go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Target {
    Key,
    Level,
    Msg,
    Time,
    Ignore,
}

/// Go's `time.Parse(time.RFC3339, s)` on the raw bytes of the JSON string, fed in pieces.
/// A string that fits the buffer is kept as it is; a longer one is compacted (fraction digits
/// after the first dropped as they arrive, which keeps the parse's answer), so any length is
/// checked in constant memory.
#[derive(Clone, Copy, Debug)]
struct TimeCheck {
    buf: [u8; 32],
    len: usize,
    bad: bool,
    /// `buf` holds the compacted form, built by [`TimeCheck::push`].
    compact: bool,
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
            compact: false,
            colons: 0,
            after: 0,
            frac: 0,
        }
    }

    /// The next bytes of the string: copied while they fit, else everything so far is
    /// replayed into the compacted form.
    fn push_run(&mut self, run: &[u8]) {
        if !self.compact {
            if let Some(dst) = self.buf.get_mut(self.len..self.len + run.len()) {
                dst.copy_from_slice(run);
                self.len += run.len();
                return;
            }
            let (raw, n, bad) = (self.buf, self.len, self.bad);
            *self = TimeCheck::new();
            self.bad = bad;
            self.compact = true;
            for &b in &raw[..n] {
                self.push(b);
            }
        }
        for &b in run {
            self.push(b);
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
                // Saturating: only `after == 2` matters, and a long run of digits must
                // not wrap back to it.
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

    /// `parser`: Go's `time.Parse(time.RFC3339, s)`, the `go_json` preset, cached per second
    /// across records.
    fn ok(&self, parser: &mut TimestampParser) -> bool {
        !self.bad && parser.parse(&self.buf[..self.len]).is_ok()
    }
}

/// Go's case-insensitive field match for the three fields (simple folding: `ſ` is `s`, the
/// Kelvin sign is `k`).
fn match_key(key: &[u8]) -> Field {
    if key.is_ascii() {
        // ASCII folds only letters, and only to their other case: the same answer as below
        // without decoding.
        return if key.eq_ignore_ascii_case(b"level") {
            Field::Level
        } else if key.eq_ignore_ascii_case(b"msg") {
            Field::Msg
        } else if key.eq_ignore_ascii_case(b"time") {
            Field::Time
        } else {
            Field::Other
        };
    }
    match_key_folding(key)
}

/// [`match_key`] for any bytes: decode, fold each character, compare.
fn match_key_folding(key: &[u8]) -> Field {
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
    // `n <= folded.len()`: a longer key returned `Other` above.
    match &folded[..n] {
        b"LEVEL" => Field::Level,
        b"MSG" => Field::Msg,
        b"TIME" => Field::Time,
        _ => Field::Other,
    }
}

/// The decoded struct and the answer so far. Keys and `level` are kept up to 16 bytes (longer
/// cannot match), `msg` up to the cap.
#[derive(Debug)]
pub(super) struct Record {
    max_msg_len: usize,
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
    time_parser: TimestampParser,
}

impl Record {
    pub(super) fn new(max_msg_len: usize) -> Self {
        Record {
            max_msg_len,
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
            time_parser: TimestampParser::new(ParseConfig::go_json()),
        }
    }

    /// A value starting with byte `b` (not whitespace) is about to be read for the current
    /// key (`in_record`: directly inside a top-level object). Fails where Go's `Unmarshal`
    /// would refuse the value's type; otherwise says where a string value goes.
    pub(super) fn value_target(&self, in_record: bool, b: u8) -> Result<Target, CompatErrorKind> {
        let field = if in_record { self.field } else { Field::Other };
        match field {
            Field::Level | Field::Msg | Field::Time if b != b'"' && b != b'n' => {
                if !matches!(b, b'{' | b'[' | b't' | b'f' | b'-' | b'0'..=b'9') {
                    return Err(syntax(b, "looking for beginning of value"));
                }
                Err(match field {
                    Field::Level => CompatErrorKind::FieldType("Level"),
                    Field::Msg => CompatErrorKind::FieldType("Msg"),
                    _ => CompatErrorKind::BadTime,
                })
            }
            Field::Level => Ok(Target::Level),
            Field::Msg => Ok(Target::Msg),
            Field::Time => Ok(Target::Time),
            Field::Other => Ok(Target::Ignore),
        }
    }

    /// A string starts; its bytes go to `target`.
    pub(super) fn begin_string(&mut self, target: Target) {
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
    }

    /// A backslash escape in the current string: `time` is checked on the raw bytes, where
    /// Go's RFC 3339 parser sees the `\` and fails.
    pub(super) fn escape_seen(&mut self) {
        if self.target == Target::Time {
            self.time.bad = true;
        }
    }

    /// An escape decoded to `c` (not `\u`).
    pub(super) fn escaped_char(&mut self, c: char) {
        self.flush_surrogate();
        self.push_char(c);
    }

    /// An escape decoded to the ASCII byte `b` (`\n`, `\"`, ...): [`Self::escaped_char`]
    /// without the UTF-8 encoding, for the escapes that fill real messages.
    pub(super) fn escaped_ascii(&mut self, b: u8) {
        debug_assert!(b.is_ascii());
        self.flush_surrogate();
        // `push_raw`'s `Msg` case for one byte when no cap or growth is involved.
        if self.target == Target::Msg
            && !self.msg_long
            && self.msg.len() < self.max_msg_len
            && self.msg.len() < self.msg.capacity()
        {
            self.msg.push(b);
        } else if self.target != Target::Time {
            self.push_raw(&[b]);
        }
    }

    /// Unescaped string bytes.
    #[inline]
    pub(super) fn raw(&mut self, run: &[u8]) {
        self.flush_surrogate();
        // `push_raw`'s `Msg` case when no cap or growth is involved, without the call.
        if self.target == Target::Msg
            && !self.msg_long
            && self.msg.len() + run.len() <= self.max_msg_len
            && self.msg.capacity() - self.msg.len() >= run.len()
        {
            self.msg.extend_from_slice(run);
        } else {
            self.push_raw(run);
        }
    }

    #[inline]
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
                if self.level.len() + run.len() > 16 {
                    self.level_long = true;
                } else {
                    self.level.extend_from_slice(run);
                }
            }
            Target::Msg => {
                if self.msg_long {
                } else if self.msg.len() + run.len() > self.max_msg_len {
                    self.msg_long = true;
                    self.msg = Vec::new();
                } else if self.msg.capacity() - self.msg.len() >= run.len() {
                    // Room already reserved under the cap: the common case, a short run
                    // between escapes.
                    self.msg.extend_from_slice(run);
                } else {
                    crate::lines::extend_capped(&mut self.msg, run, self.max_msg_len);
                }
            }
            Target::Time => self.time.push_run(run),
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

    /// A `\uXXXX` escape: UTF-16 code unit `u`.
    pub(super) fn escaped_unit(&mut self, u: u16) {
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

    /// The closing quote. `Ok(true)` when the string was a key (matched against the fields
    /// when `in_record`), `Ok(false)` for a value.
    pub(super) fn end_string(&mut self, in_record: bool) -> Result<bool, CompatErrorKind> {
        self.flush_surrogate();
        match self.target {
            Target::Key => {
                self.field = if in_record {
                    match_key(&self.key)
                } else {
                    Field::Other
                };
                return Ok(true);
            }
            Target::Time if !self.time.ok(&mut self.time_parser) => {
                return Err(CompatErrorKind::BadTime)
            }
            _ => {}
        }
        self.target = Target::Ignore;
        Ok(false)
    }

    /// A top-level object closed: containerd's `if log.Level == "error"` check.
    pub(super) fn end_record(&mut self) {
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

    /// containerd's answer once the input ended cleanly.
    pub(super) fn into_answer(self) -> Result<String, CompatErrorKind> {
        if self.answer_long {
            return Err(CompatErrorKind::MessageTooLong(self.max_msg_len));
        }
        Ok(self.answer)
    }
}
