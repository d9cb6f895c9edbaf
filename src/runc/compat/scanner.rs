//! JSON's grammar as Go's `encoding/json` scanner checks it (`scanner.go`), one byte at a
//! time over any slicing of the input, and the `Decoder`'s stream of top-level values: an
//! object or `null` is a record, any other value fails to unmarshal once it is complete
//! (syntax errors first, as Go reads a whole value before unmarshalling it). The values'
//! meaning is [`rules`](super::rules)'s business.

use super::fast::{flat_record, simple_escape, valid_body_prefix};
use super::rules::{Record, Target};
use super::{syntax, CompatErrorKind, CompatOptions, Error};

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
    /// After `\u` and this many hex digits.
    Hex(u8),
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
            } else if let Some(n) = self.flat_record_at(data, i) {
                i += n;
                self.offset += n as u64;
                Ok(())
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

    /// Between top-level values, at a `{`: [`flat_record`] over the rest of `data`.
    #[inline]
    fn flat_record_at(&mut self, data: &[u8], i: usize) -> Option<usize> {
        if self.state != State::Top || data.get(i) != Some(&b'{') {
            return None;
        }
        flat_record(&mut self.record, data.get(i..)?)
    }

    /// Inside a string: hands the longest valid run of the body to the record in one go,
    /// then the byte it stopped at to [`Self::step`] (the closing quote, or a byte whose
    /// verdict or meaning needs the byte-at-a-time grammar).
    fn string_run(&mut self, data: &[u8], i: &mut usize) -> Res {
        // `*i < data.len()`: `feed` calls with it.
        let rest = &data[*i..];
        let (n, _) = valid_body_prefix(rest);
        if n > 0 {
            self.record.raw(&rest[..n]);
            *i += n;
            self.offset += n as u64;
        }
        if let Some(&b) = rest.get(n) {
            self.step(b)?;
            *i += 1;
            self.offset += 1;
        }
        Ok(())
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
                    self.record.raw(&[b]);
                    self.state = State::Esc;
                }
                c if c < 0x20 => return Err(syntax(c, "in string literal")),
                c => self.record.raw(&[c]),
            },
            State::Esc => {
                self.state = match b {
                    b'u' => State::Hex(0),
                    c if simple_escape(c) => State::Str,
                    _ => return Err(syntax(b, "in string escape code")),
                };
                self.record.raw(&[b]);
            }
            State::Hex(n) => {
                if !b.is_ascii_hexdigit() {
                    return Err(syntax(b, "in \\u hexadecimal character escape"));
                }
                self.state = if n == 3 {
                    State::Str
                } else {
                    State::Hex(n + 1)
                };
                self.record.raw(&[b]);
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

/// Adversarial inputs for the shortcuts, held to the frozen byte-at-a-time scanner: raw bytes
/// the string pieces of `mod.rs`'s tests cannot hold (invalid UTF-8, every control byte),
/// escapes and stop bytes at the 32- and 64-byte edges of the string walk, and caps and cuts
/// around them (one-byte feeds included).
#[cfg(test)]
mod edge_tests {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    use super::super::oracle::new_and_old as both;

    const BACKSLASHES_THEN_QUOTE: [u8; 64] = {
        let mut b = [b'\\'; 64];
        b[63] = b'"';
        b
    };
    const BACKSLASHES_THEN_N: [u8; 66] = {
        let mut b = [b'\\'; 66];
        b[65] = b'n';
        b
    };

    /// A string body: runs of filler broken by raw bytes and escapes, the breaks placed at
    /// and around the walk's 32/64/128-byte edges (counted from the body's start).
    fn body() -> impl Strategy<Value = Vec<u8>> {
        let brk = prop::sample::select(vec![
            &b"\\"[..],
            b"\\\\",
            b"\\\"",
            b"\\n",
            b"\\u",
            b"\\u00",
            b"\\u00e9",
            b"\\ud83d",
            b"\\ude00",
            b"\\ud83d\\ude00",
            b"\\ud83d\\u0041",
            b"\\uD83D\\uDE00",
            b"\\x",
            b"\\\x00",
            b"\"",
            b"\x00",
            b"\x1f",
            b"\t",
            b"\x7f",
            b"\xff",
            b"\xc3",
            b"\xe2\x80",
            b"\xe2\x80\xa8",
            b"\xed\xa0\x80",
            b"\xf0\x9f\x99",
            " ".as_bytes(),
            // Runs of backslashes across a block edge: pairs, then an escaped quote or `n`.
            &[b'\\'; 64],
            &BACKSLASHES_THEN_QUOTE,
            &BACKSLASHES_THEN_N,
        ]);
        let at = prop::sample::select(vec![
            0usize, 1, 15, 16, 30, 31, 32, 33, 62, 63, 64, 65, 127, 128,
        ]);
        let tail = prop::sample::select(vec![0usize, 1, 2, 31, 32, 33, 63, 64, 65]);
        (prop::collection::vec((at, brk), 0..4), tail).prop_map(|(mut breaks, tail)| {
            // Each break at its offset, or right after the one before when that passed it.
            breaks.sort_by_key(|&(a, _)| a);
            let mut out = Vec::new();
            for (a, b) in breaks {
                out.resize(out.len().max(a), b'x');
                out.extend_from_slice(b);
            }
            out.resize(out.len() + tail, b'y');
            out
        })
    }

    fn record() -> impl Strategy<Value = Vec<u8>> {
        let level = prop::sample::select(vec![&b"error"[..], b"info", b"err\\u006fr"]);
        (level, body(), body(), 0u8..4).prop_map(|(level, msg, other, shape)| {
            let mut r = Vec::new();
            let parts: [&[u8]; 3] = [b"{\"level\":\"", level, b"\",\"msg\":\""];
            for p in parts {
                r.extend_from_slice(p);
            }
            r.extend_from_slice(&msg);
            match shape {
                0 => r.extend_from_slice(b"\"}\n"),
                1 => {
                    r.extend_from_slice(b"\",\"x\":\"");
                    r.extend_from_slice(&other);
                    r.extend_from_slice(b"\"}\n");
                }
                2 => r.extend_from_slice(b"\",\"time\":\"2024-06-19T15:02:45.5Z\",\"n\":1}\n"),
                _ => {
                    r.extend_from_slice(b"\",\"");
                    r.extend_from_slice(&other);
                    r.extend_from_slice(b"\":null}\n");
                }
            }
            r
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn raw_bytes_at_the_walk_edges_equal_the_old_scanner(
            records in prop::collection::vec(record(), 1..4),
            cuts in prop::collection::vec(0usize..600, 0..4),
            cap in prop_oneof![0usize..8, 60usize..140, Just(DEFAULT_CAP)],
        ) {
            let data = records.concat();
            let (new, old) = both(&data, &[], cap);
            prop_assert_eq!(new, old, "whole {:?}", String::from_utf8_lossy(&data));
            let (new, old) = both(&data, &cuts, cap);
            prop_assert_eq!(new, old, "cuts {:?} {:?}", cuts, String::from_utf8_lossy(&data));
        }
    }

    const DEFAULT_CAP: usize = super::super::DEFAULT_MAX_MSG_LEN;

    /// Every record above fed a byte at a time, and cut at every offset once.
    #[test]
    fn every_cut_of_edge_records_equals_the_old_scanner() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        for _ in 0..40 {
            let data = record().new_tree(&mut runner).unwrap().current();
            let every: Vec<usize> = (0..data.len()).collect();
            for cap in [0, 64, 100, DEFAULT_CAP] {
                let (new, old) = both(&data, &every, cap);
                assert_eq!(new, old, "{:?}", String::from_utf8_lossy(&data));
                for cut in 0..data.len() {
                    let (new, old) = both(&data, &[cut], cap);
                    assert_eq!(new, old, "cut {cut} {:?}", String::from_utf8_lossy(&data));
                }
            }
        }
    }
}
