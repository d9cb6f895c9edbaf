//! Frozen copy of the old module, see [`super`].
//!
//! JSON's grammar as Go's `encoding/json` scanner checks it (`scanner.go`), one byte at a
//! time over any slicing of the input, and the `Decoder`'s stream of top-level values: an
//! object or `null` is a record, any other value fails to unmarshal once it is complete
//! (syntax errors first, as Go reads a whole value before unmarshalling it). The values'
//! meaning is [`rules`](super::rules)'s business.

use super::rules::{Record, Target};
use super::{syntax, CompatErrorKind, CompatOptions, Error};
use crate::json_bytes;

/// Go's `maxNestingDepth`.
const MAX_DEPTH: usize = 10_000;

/// Where a number is in JSON's number grammar.
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

/// Where the scanner is in JSON's grammar.
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

/// The streaming core of [`last_error_compat`](super::last_error_compat).
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
    state: State,
    /// Open objects (`{`) and arrays (`[`).
    stack: Vec<u8>,
    offset: u64,
    /// The type of a top-level value that is not an object or `null`, reported once the
    /// value is complete.
    top_type: Option<&'static str>,
    record: Record,
}

type Res = Result<(), CompatErrorKind>;

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl CompatScanner {
    /// A scanner at the start of the file.
    pub fn new(opts: CompatOptions) -> Self {
        CompatScanner {
            state: State::Top,
            stack: Vec::new(),
            offset: 0,
            top_type: None,
            record: Record::new(opts.max_msg_len),
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
        let offset = self.offset;
        self.record
            .into_answer()
            .map_err(|kind| Error::Compat { offset, kind })
    }

    /// Inside a string: copy the run up to the next quote or backslash in one go.
    fn string_run(&mut self, data: &[u8], i: &mut usize) -> Res {
        loop {
            // `*i <= data.len()`: `feed` calls with `*i < data.len()`, and `*i` only
            // advances over bytes of `rest`.
            let rest = &data[*i..];
            // Runs between escapes are short in real logs (`\n`, `\"` every few bytes): a
            // word-at-a-time scan, without a SIMD search's setup.
            let stop = json_bytes::find_quote_backslash_or_control(rest).unwrap_or(rest.len());
            if stop > 0 {
                self.record.raw(&rest[..stop]);
                *i += stop;
                self.offset += stop as u64;
            }
            let Some(&b) = rest.get(stop) else {
                return Ok(());
            };
            if b == b'\\' {
                // A one-letter escape with its letter in this chunk: handle it inline.
                let simple = match rest.get(stop + 1) {
                    Some(b'"') => Some(b'"'),
                    Some(b'\\') => Some(b'\\'),
                    Some(b'/') => Some(b'/'),
                    Some(b'b') => Some(0x08),
                    Some(b'f') => Some(0x0c),
                    Some(b'n') => Some(b'\n'),
                    Some(b'r') => Some(b'\r'),
                    Some(b't') => Some(b'\t'),
                    _ => None,
                };
                if let Some(c) = simple {
                    self.record.escape_seen();
                    self.record.escaped_ascii(c);
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
        self.record.begin_string(target);
        self.state = State::Str;
    }

    /// A value starts with byte `b` (not whitespace).
    fn begin_value(&mut self, b: u8) -> Res {
        let target = self.record.value_target(self.in_record(), b)?;
        match b {
            b'"' => self.begin_string(target),
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
        if self.record.end_string(self.in_record())? {
            self.state = State::Colon;
            return Ok(());
        }
        self.end_value()
    }

    fn close(&mut self, b: u8) -> Res {
        self.stack.pop();
        if self.stack.is_empty() && b == b'}' {
            self.record.end_record();
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
                    self.record.escape_seen();
                    self.state = State::Esc;
                }
                c if c < 0x20 => return Err(syntax(c, "in string literal")),
                c => self.record.raw(&[c]),
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
                self.record.escaped_char(c);
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
                    self.record.escaped_unit(acc);
                    self.state = State::Str;
                } else {
                    self.state = State::Hex(n + 1, acc);
                }
            }
            State::Lit(word, k) => {
                let k = usize::from(k);
                // `k < word.len()`: the state advances only while letters are left.
                if word[k] != b {
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
