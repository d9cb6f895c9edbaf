//! Merging `P` pieces into logical lines, per stream.

use crate::cri::{Stream, Tag};
use crate::time::Timestamp;

use super::record::LogRecord;

/// One record placed in its logical line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece<'a> {
    /// The stream the line belongs to.
    pub stream: Stream,
    /// The timestamp of the line's FIRST piece (what `--timestamps` prints).
    pub line_timestamp: Timestamp,
    /// The zone offset that first piece was written with.
    pub line_utc_offset: i32,
    /// This piece opens a logical line.
    pub starts_line: bool,
    /// This piece closes it (an `F` record).
    pub ends_line: bool,
    /// The piece's bytes.
    pub content: &'a [u8],
}

/// Tracks, for each stream separately, whether a logical line is open.
///
/// kubelet keeps one "at start of line" flag for both streams, so with `--timestamps` a
/// stderr record that arrives between two pieces of a stdout line loses its prefix and the
/// stdout continuation gains one. ctrlog keeps one flag per stream.
///
/// ```
/// use ctrlog::cri::read::{parse_cri_record, PartialMerger};
/// let mut m = PartialMerger::new();
/// let a = m.push(&parse_cri_record(b"2024-01-01T00:00:00Z stdout P ab").unwrap());
/// let b = m.push(&parse_cri_record(b"2024-01-01T00:00:01Z stderr F x").unwrap());
/// let c = m.push(&parse_cri_record(b"2024-01-01T00:00:02Z stdout F cd").unwrap());
/// assert!(a.starts_line && !a.ends_line);
/// assert!(b.starts_line && b.ends_line);
/// assert!(!c.starts_line && c.ends_line && c.line_timestamp == a.line_timestamp);
/// ```
#[derive(Clone, Debug, Default)]
pub struct PartialMerger {
    open: [Option<(Timestamp, i32)>; 2],
}

impl PartialMerger {
    /// No line open on either stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Places `rec` in its stream's current logical line.
    #[inline]
    pub fn push<'a>(&mut self, rec: &LogRecord<'a>) -> Piece<'a> {
        let slot = &mut self.open[rec.stream.index()];
        let (starts_line, (ts, off)) = match *slot {
            Some(first) => (false, first),
            None => (true, (rec.timestamp, rec.utc_offset)),
        };
        let ends_line = rec.tag == Tag::Full;
        *slot = if ends_line { None } else { Some((ts, off)) };
        Piece {
            stream: rec.stream,
            line_timestamp: ts,
            line_utc_offset: off,
            starts_line,
            ends_line,
            content: rec.content,
        }
    }

    /// Whether `stream` has a line open (pieces seen, no `F` yet).
    pub fn is_open(&self, stream: Stream) -> bool {
        self.open[stream.index()].is_some()
    }
}

/// One logical line from a [`LineAssembler`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// Its stream.
    pub stream: Stream,
    /// The timestamp of its first piece.
    pub timestamp: Timestamp,
    /// The line's bytes, without a newline.
    pub content: &'a [u8],
    /// `false` when the line was cut at the assembler's cap (more of it follows) or ended
    /// without an `F` record (see [`LineAssembler::finish`]).
    pub complete: bool,
}

/// Collects pieces into whole lines (for embedders that want lines, not pieces), with a cap.
///
/// A line longer than `max_line` is handed out in `max_line`-byte parts marked incomplete;
/// nothing is dropped. Memory is bounded by `2 * max_line` bytes whatever the records'
/// lengths: [`LineAssembler::push`] hands a record's bytes out as they come (a part that
/// needs no joining borrows the record itself) and keeps at most `max_line - 1` bytes of
/// an unfinished line per stream between records.
///
/// ```
/// use ctrlog::cri::read::{parse_cri_record, LineAssembler};
/// let mut a = LineAssembler::new(4);
/// let mut got = Vec::new();
/// for r in ["2024-01-01T00:00:00Z stdout P ab", "2024-01-01T00:00:01Z stdout F cdefg"] {
///     let rec = parse_cri_record(r.as_bytes()).unwrap();
///     let mut lines = a.push(&rec);
///     while let Some(line) = lines.next() {
///         got.push((line.content.to_vec(), line.complete));
///     }
/// }
/// assert_eq!(got, [(b"abcd".to_vec(), false), (b"efg".to_vec(), true)]);
/// ```
#[derive(Debug)]
pub struct LineAssembler {
    merger: PartialMerger,
    /// Per stream: the unfinished line's bytes, always shorter than `max_line`.
    bufs: [Vec<u8>; 2],
    out: Vec<u8>,
    max_line: usize,
    /// Bytes of records whose [`AssembledLines`] was dropped before it was drained (with
    /// the buffered start of a line whose end was dropped so).
    discarded: u64,
    /// Bytes of the last pushed record not handed out or buffered yet: counted as discarded
    /// at the next call if its [`AssembledLines`] was dropped early.
    pending: usize,
    /// The stream of the last pushed record when it ended its line. Its first part takes
    /// the stream's buffered bytes; if it was dropped unread they are still there, the
    /// start of a line that will never end, and are discarded with the record.
    pending_end: Option<usize>,
}

/// The lines (or `max_line` parts of lines) that one record completes; see
/// [`LineAssembler::push`].
///
/// Call [`AssembledLines::next`] until it returns `None`: the record's bytes are handed out
/// as they are reached, so dropping this early discards the rest of the record (a line can
/// be longer than any buffer the assembler may keep). What was discarded is counted in
/// [`LineAssembler::discarded`].
#[derive(Debug)]
#[must_use = "the record's lines are handed out by `next`; dropping this discards them"]
pub struct AssembledLines<'a, 'r> {
    asm: &'a mut LineAssembler,
    piece: Piece<'r>,
    /// The part of the record's content not handed out yet.
    rest: &'r [u8],
    /// The record's `F` has been handed out (or it had none and its bytes are buffered).
    done: bool,
}

impl LineAssembler {
    /// An assembler that cuts lines at `max_line` bytes (at least 1).
    pub fn new(max_line: usize) -> Self {
        LineAssembler {
            merger: PartialMerger::new(),
            bufs: [Vec::new(), Vec::new()],
            out: Vec::new(),
            max_line: max_line.max(1),
            discarded: 0,
            pending: 0,
            pending_end: None,
        }
    }

    /// Adds a record; call [`AssembledLines::next`] on the result until it returns `None` to
    /// get the lines it completes (none, one, or several `max_line` parts of a long one).
    /// Bytes not handed out by then stay buffered for the next record of the stream.
    pub fn push<'a, 'r>(&'a mut self, rec: &LogRecord<'r>) -> AssembledLines<'a, 'r> {
        self.settle();
        let piece = self.merger.push(rec);
        self.pending = piece.content.len();
        self.pending_end = piece.ends_line.then(|| piece.stream.index());
        AssembledLines {
            asm: self,
            piece,
            rest: piece.content,
            done: false,
        }
    }

    /// Bytes discarded because an [`AssembledLines`] was dropped before `next` returned
    /// `None`.
    pub fn discarded(&mut self) -> u64 {
        self.settle();
        self.discarded
    }

    /// Counts what the previous record's [`AssembledLines`] left undrained.
    fn settle(&mut self) {
        self.discarded += self.pending as u64;
        self.pending = 0;
        if let Some(i) = self.pending_end.take() {
            // Empty unless the line's end was dropped unread (see `pending_end`).
            self.discarded += self.bufs[i].len() as u64;
            self.bufs[i].clear();
        }
    }

    /// Bytes held for unfinished lines (at most `max_line - 1` per stream).
    pub fn buffered(&self) -> usize {
        self.bufs[0].len() + self.bufs[1].len()
    }

    /// At end of input: the unfinished line of `stream`, if any (marked incomplete).
    pub fn finish(&mut self, stream: Stream) -> Option<Line<'_>> {
        self.settle();
        let i = stream.index();
        let open = self.merger.open[i].take();
        let buf = &mut self.bufs[i];
        if buf.is_empty() {
            return None;
        }
        // Bytes are buffered only for a line still open: a record that ends a line takes
        // them, or `settle` discards them with it.
        let (timestamp, _) = open.expect("bytes buffered for no open line");
        self.out.clear();
        self.out.append(buf);
        Some(Line {
            stream,
            timestamp,
            content: &self.out,
            complete: false,
        })
    }
}

impl AssembledLines<'_, '_> {
    /// The next line or part completed by the record, or `None` when the rest (if any) is
    /// buffered.
    #[allow(clippy::should_implement_trait)] // Lines borrow the assembler: not an Iterator.
    pub fn next(&mut self) -> Option<Line<'_>> {
        if self.done {
            return None;
        }
        let asm = &mut *self.asm;
        let max = asm.max_line;
        let buf = &mut asm.bufs[self.piece.stream.index()];
        let have = buf.len() + self.rest.len();
        let ends = self.piece.ends_line;
        if !ends && have < max {
            buf.extend_from_slice(self.rest);
            self.done = true;
            asm.pending = 0;
            return None;
        }
        // A part of exactly `max` bytes, or the line's last part (at most `max`).
        let take = have.min(max);
        let from_rest = take - buf.len();
        let (part, rest) = self.rest.split_at(from_rest);
        self.rest = rest;
        asm.pending = rest.len();
        let complete = ends && rest.is_empty();
        self.done = complete;
        let content: &[u8] = if buf.is_empty() {
            part
        } else {
            asm.out.clear();
            asm.out.append(buf);
            asm.out.extend_from_slice(part);
            &asm.out
        };
        Some(Line {
            stream: self.piece.stream,
            timestamp: self.piece.line_timestamp,
            content,
            complete,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cri::read::parse_cri_record;

    #[test]
    fn assembler_joins_per_stream_and_caps() {
        let mut a = LineAssembler::new(4);
        let recs = [
            "2024-01-01T00:00:00Z stdout P ab",
            "2024-01-01T00:00:01Z stderr F e",
            "2024-01-01T00:00:02Z stdout F c",
            "2024-01-01T00:00:03Z stdout P 12345",
            "2024-01-01T00:00:04Z stdout P 6",
        ];
        let mut got = Vec::new();
        for r in recs {
            let rec = parse_cri_record(r.as_bytes()).unwrap();
            let mut lines = a.push(&rec);
            while let Some(l) = lines.next() {
                got.push((l.stream, l.timestamp.secs, l.content.to_vec(), l.complete));
            }
        }
        let base = 1_704_067_200;
        assert_eq!(
            got,
            vec![
                (Stream::Stderr, base + 1, b"e".to_vec(), true),
                (Stream::Stdout, base, b"abc".to_vec(), true),
                (Stream::Stdout, base + 3, b"1234".to_vec(), false),
            ]
        );
        let rest = a.finish(Stream::Stdout).unwrap();
        assert_eq!(
            (rest.content, rest.complete, rest.timestamp.secs),
            (&b"56"[..], false, base + 3)
        );
        assert!(a.finish(Stream::Stderr).is_none());
    }

    /// Issue 9 item 18: records much longer than `max_line` used to stay buffered whole
    /// (max_line 4, 100 records of 1000 bytes left 99,600 bytes held).
    #[test]
    fn long_records_are_handed_out_not_buffered() {
        let mut a = LineAssembler::new(4);
        let content = "x".repeat(1000);
        let mut parts = 0;
        for _ in 0..100 {
            let line = format!("2024-01-01T00:00:00Z stdout P {content}");
            let rec = parse_cri_record(line.as_bytes()).unwrap();
            let mut lines = a.push(&rec);
            while let Some(l) = lines.next() {
                assert_eq!(l.content.len(), 4);
                parts += 1;
            }
            assert!(a.buffered() < 4, "{} bytes held", a.buffered());
        }
        assert_eq!(parts, 100 * 1000 / 4);
    }

    proptest::proptest! {
        /// Against a naive oracle: per stream, the parts concatenate to the records'
        /// content, each complete part ends exactly where an `F` record ends, incomplete
        /// parts are exactly `max_line` long, and at most `max_line - 1` bytes per stream
        /// stay buffered between records.
        #[test]
        fn assembler_matches_oracle_and_holds_its_bound(
            max in 1usize..9,
            recs in proptest::collection::vec(
                (proptest::bool::ANY, proptest::bool::ANY, "[a-z]{0,30}"), 0..40),
        ) {
            let mut a = LineAssembler::new(max);
            // Per stream: all content, F-record end offsets; emitted bytes, complete ends.
            let mut want = [Vec::new(), Vec::new()];
            let mut f_ends = [Vec::new(), Vec::new()];
            let mut got = [Vec::new(), Vec::new()];
            let mut complete_ends = [Vec::new(), Vec::new()];
            for (i, (err, full, content)) in recs.iter().enumerate() {
                let stream = if *err { "stderr" } else { "stdout" };
                let tag = if *full { "F" } else { "P" };
                let line = format!("2024-01-01T00:00:{:02}Z {stream} {tag} {content}", i % 60);
                let rec = parse_cri_record(line.as_bytes()).unwrap();
                let s = rec.stream.index();
                want[s].extend_from_slice(content.as_bytes());
                if *full {
                    f_ends[s].push(want[s].len());
                }
                let mut lines = a.push(&rec);
                while let Some(l) = lines.next() {
                    proptest::prop_assert!(l.content.len() <= max);
                    if !l.complete {
                        proptest::prop_assert_eq!(l.content.len(), max);
                    }
                    let s = l.stream.index();
                    got[s].extend_from_slice(l.content);
                    if l.complete {
                        complete_ends[s].push(got[s].len());
                    }
                }
                proptest::prop_assert!(a.bufs.iter().all(|b| b.len() < max));
            }
            for stream in [Stream::Stdout, Stream::Stderr] {
                if let Some(l) = a.finish(stream) {
                    proptest::prop_assert!(!l.complete && !l.content.is_empty());
                    got[stream.index()].extend_from_slice(l.content);
                }
            }
            proptest::prop_assert_eq!(&got, &want);
            proptest::prop_assert_eq!(&complete_ends, &f_ends);
            proptest::prop_assert_eq!(a.discarded(), 0);
        }
    }

    /// Review finding: dropping the lines of a record early used to lose its rest silently.
    #[test]
    fn dropping_lines_early_is_counted() {
        let mut a = LineAssembler::new(4);
        let rec = parse_cri_record(b"2024-01-01T00:00:00Z stdout F abcdefghij").unwrap();
        {
            let mut lines = a.push(&rec);
            assert_eq!(lines.next().unwrap().content, b"abcd");
        }
        assert_eq!(a.discarded(), 6);
        let rec = parse_cri_record(b"2024-01-01T00:00:01Z stdout F xy").unwrap();
        let mut lines = a.push(&rec);
        assert_eq!(lines.next().unwrap().content, b"xy");
        assert!(lines.next().is_none());
        drop(lines);
        assert_eq!(a.discarded(), 6);
    }

    /// A line's buffered start is discarded with the record that ends it when that record's
    /// lines are dropped unread: never glued onto the next line.
    #[test]
    fn dropping_a_line_end_discards_its_buffered_start() {
        let mut a = LineAssembler::new(8);
        let push = |a: &mut LineAssembler, r: &str| {
            let rec = parse_cri_record(r.as_bytes()).unwrap();
            let mut lines = a.push(&rec);
            let mut got = Vec::new();
            while let Some(l) = lines.next() {
                got.push(l.content.to_vec());
            }
            got
        };
        assert!(push(&mut a, "2024-01-01T00:00:00Z stdout P ab").is_empty());
        {
            let rec = parse_cri_record(b"2024-01-01T00:00:01Z stdout F cd").unwrap();
            let _unread = a.push(&rec);
        }
        assert_eq!(a.discarded(), 4);
        assert_eq!(a.buffered(), 0);
        assert_eq!(
            push(&mut a, "2024-01-01T00:00:02Z stdout F xy"),
            [b"xy".to_vec()]
        );
    }
}
