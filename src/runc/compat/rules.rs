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
use crate::json_bytes;
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
#[inline(always)]
fn match_key(key: &[u8]) -> Field {
    // ASCII folds only letters, and only to their other case. Against a lowercase letter,
    // `b | 0x20` is equal exactly for that letter in either case: a match here is the
    // folding path's answer without decoding, and so is no match for an ASCII key.
    let is = |name: &[u8]| key.iter().zip(name).all(|(&b, &n)| b | 0x20 == n);
    match key.len() {
        5 if is(b"level") => return Field::Level,
        3 if is(b"msg") => return Field::Msg,
        4 if is(b"time") => return Field::Time,
        _ if key.is_ascii() => return Field::Other,
        _ => {}
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

/// What a one-letter escape (`\n`, ...) stands for; `None` for `u`, the one other letter
/// the scanner lets through.
#[inline]
fn one_letter(c: u8) -> Option<u8> {
    Some(match c {
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'"' | b'\\' | b'/' => c,
        _ => return None,
    })
}

/// Where the decoder is in an escape of the current string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Esc {
    No,
    /// After the `\`.
    Slash,
    /// After `\u` and `n` hex digits, their value `acc`.
    Hex(u8, u16),
}

/// A spare buffer above this capacity is freed rather than kept for the next record, so that
/// at most two cap-sized buffers live at once.
const SPARE: usize = 64 << 10;

/// The decoded struct and the answer so far. Keys and `level` are kept up to 16 bytes (longer
/// cannot match), `msg` up to the cap.
///
/// The scanner hands over each string's raw bytes (escapes included, already validated);
/// keys, `level` and `time` are decoded as they arrive. `msg` is only kept raw (`msg_raw`)
/// and decoded when a record with level `error` ends, as most messages are never the answer:
/// raw bytes are never fewer than the decoded ones, so a raw `msg` within the cap is one
/// within the cap decoded. A raw `msg` outgrowing half the cap is decoded there and then
/// (`msg_decoded`) and continues decoded, where the cap is checked on the decoded length.
/// Half: while it is decoded, the raw and the decoded copy together stay within the cap, so
/// with the answer at most two cap-sized buffers live at once, as when decoding directly.
#[derive(Debug)]
pub(super) struct Record {
    max_msg_len: usize,
    field: Field,
    target: Target,
    esc: Esc,
    pending_hi: Option<u16>,
    key: Vec<u8>,
    level: Vec<u8>,
    level_long: bool,
    /// The current `msg`'s raw bytes, while `!msg_decoded`.
    msg_raw: Vec<u8>,
    /// `msg` decoded, once `msg_decoded`.
    msg: Vec<u8>,
    msg_decoded: bool,
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
            esc: Esc::No,
            pending_hi: None,
            key: Vec::new(),
            level: Vec::new(),
            level_long: false,
            msg_raw: Vec::new(),
            msg: Vec::new(),
            // The struct's zero `msg`, the empty string, is decoded.
            msg_decoded: true,
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
        self.esc = Esc::No;
        self.pending_hi = None;
        match target {
            Target::Key => self.key.clear(),
            Target::Level => {
                self.level.clear();
                self.level_long = false;
            }
            Target::Msg => {
                self.msg_raw.clear();
                self.msg.clear();
                if self.msg.capacity() > SPARE {
                    // The old decoded `msg` is not needed while the new one is kept raw.
                    self.msg = Vec::new();
                }
                self.msg_decoded = false;
                self.msg_long = false;
            }
            Target::Time => self.time = TimeCheck::new(),
            Target::Ignore => {}
        }
    }

    /// A whole string directly inside the record, its raw bytes at once: what
    /// [`Self::begin_string`], [`Self::raw`] and [`Self::end_string`] do, without the
    /// per-piece bookkeeping when there is no escape to decode (keys, levels and times
    /// nearly never have one). `escapes`: `raw` may hold a `\` (`false` only when it
    /// surely does not).
    #[inline]
    pub(super) fn string(
        &mut self,
        target: Target,
        raw: &[u8],
        escapes: bool,
    ) -> Result<bool, CompatErrorKind> {
        match target {
            Target::Ignore => return Ok(false),
            // Longer than 16 bytes: kept cut with a non-ASCII marker, which matches no field.
            Target::Key if raw.len() <= 16 && !escapes => {
                self.field = match_key(raw);
                return Ok(true);
            }
            Target::Level if !escapes => {
                self.level.clear();
                self.level_long = raw.len() > 16;
                if !self.level_long {
                    self.level.extend_from_slice(raw);
                }
                return Ok(false);
            }
            // What fits `TimeCheck`'s buffer is parsed as it is (see `TimeCheck::push_run`).
            Target::Time if !escapes && raw.len() <= TimeCheck::new().buf.len() => {
                return match self.time_parser.parse(raw) {
                    Ok(_) => Ok(false),
                    Err(_) => Err(CompatErrorKind::BadTime),
                };
            }
            _ => {}
        }
        self.begin_string(target);
        self.raw(raw);
        self.end_string(true)
    }

    /// The next raw bytes of the current string, as they are in the input: escapes included
    /// (possibly split across calls), checked by the scanner, no closing quote.
    #[inline]
    pub(super) fn raw(&mut self, run: &[u8]) {
        match self.target {
            Target::Ignore => {}
            Target::Msg if !self.msg_decoded => {
                let raw_cap = self.max_msg_len / 2;
                if self.msg_raw.len() + run.len() <= raw_cap {
                    crate::lines::extend_capped(&mut self.msg_raw, run, raw_cap);
                } else {
                    // Outgrowing half the cap raw: decode what was kept, go on decoded.
                    let kept = std::mem::take(&mut self.msg_raw);
                    self.msg_decoded = true;
                    self.decode(&kept);
                    self.decode(run);
                }
            }
            _ => self.decode(run),
        }
    }

    /// Go's `unquote` of raw string bytes into the current target, resumable mid-escape.
    fn decode(&mut self, run: &[u8]) {
        let mut i = 0;
        while let Some(&b) = run.get(i) {
            match self.esc {
                Esc::No => {
                    let rest = &run[i..];
                    // No `"` in a string's raw bytes: the first stop is the next `\`.
                    let n = json_bytes::find_quote_or_backslash(rest).unwrap_or(rest.len());
                    if n > 0 {
                        self.flush_surrogate();
                        self.push_raw(&rest[..n]);
                    }
                    i += n;
                    if i < run.len() {
                        // `time` is checked on the raw bytes, where Go's RFC 3339 parser
                        // sees the `\` and fails.
                        if self.target == Target::Time {
                            self.time.bad = true;
                        }
                        // A one-letter escape whole in `run` (nearly all of them): here.
                        if let Some(d) = run.get(i + 1).and_then(|&c| one_letter(c)) {
                            self.flush_surrogate();
                            self.push_ascii(d);
                            i += 2;
                            continue;
                        }
                        self.esc = Esc::Slash;
                        i += 1;
                    }
                }
                Esc::Slash => {
                    i += 1;
                    self.esc = Esc::No;
                    match one_letter(b) {
                        Some(d) => {
                            self.flush_surrogate();
                            self.push_ascii(d);
                        }
                        // `u`: the scanner let no other letter through.
                        None => self.esc = Esc::Hex(0, 0),
                    }
                }
                Esc::Hex(n, acc) => {
                    i += 1;
                    // A hex digit: the scanner checked it.
                    let d = char::from(b).to_digit(16).unwrap_or(0) as u16;
                    let acc = (acc << 4) | d;
                    if n == 3 {
                        self.esc = Esc::No;
                        self.escaped_unit(acc);
                    } else {
                        self.esc = Esc::Hex(n + 1, acc);
                    }
                }
            }
        }
    }

    /// One decoded ASCII byte: [`Self::push_raw`] without the call when it goes to a `msg`
    /// with room (most escapes of a long message).
    #[inline]
    fn push_ascii(&mut self, b: u8) {
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

    /// Decoded bytes into the current target, within its cap.
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
                    // Room already reserved under the cap.
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

    /// Turns a raw `msg` into the decoded one (between strings: the decoder is idle).
    fn decode_msg(&mut self) {
        if self.msg_decoded {
            return;
        }
        self.msg_decoded = true;
        if memchr::memchr(b'\\', &self.msg_raw).is_none() {
            // Nothing to unescape: the raw bytes are the message.
            std::mem::swap(&mut self.msg, &mut self.msg_raw);
        } else {
            let raw = std::mem::take(&mut self.msg_raw);
            let target = std::mem::replace(&mut self.target, Target::Msg);
            self.msg.clear();
            // Decoded bytes are never more than raw ones (and these are within the cap).
            self.msg.reserve_exact(raw.len());
            self.decode(&raw);
            self.flush_surrogate();
            self.target = target;
            self.msg_raw = raw;
        }
        self.msg_raw.clear();
        if self.msg_raw.capacity() > SPARE {
            self.msg_raw = Vec::new();
        }
    }

    /// A top-level object closed: containerd's `if log.Level == "error"` check.
    pub(super) fn end_record(&mut self) {
        if self.level_long || self.level != b"error" {
            return;
        }
        // The old answer goes first, so that the raw and the decoded `msg` are the only
        // cap-sized buffers while decoding.
        let mut answer = std::mem::take(&mut self.answer);
        answer.clear();
        if answer.capacity() > SPARE {
            answer = String::new();
        }
        self.decode_msg();
        self.answer_long = self.msg_long;
        if !self.msg_long {
            match std::str::from_utf8(&self.msg) {
                Ok(m) => answer.push_str(m.trim()),
                Err(_) => answer.push_str(go_utf8::lossy(&self.msg).trim()),
            }
        }
        self.answer = answer;
    }

    /// containerd's answer once the input ended cleanly.
    pub(super) fn into_answer(self) -> Result<String, CompatErrorKind> {
        if self.answer_long {
            return Err(CompatErrorKind::MessageTooLong(self.max_msg_len));
        }
        Ok(self.answer)
    }
}

#[cfg(test)]
mod tests;
