//! Merging `P` pieces into logical lines, per stream.

use crate::cri::{Stream, Tag};
use crate::time::Timestamp;

use super::record::CriRecord;

/// Index of a stream in per-stream arrays.
#[inline]
pub(crate) fn idx(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

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
    pub fn push<'a>(&mut self, rec: &CriRecord<'a>) -> Piece<'a> {
        let slot = &mut self.open[idx(rec.stream)];
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
        self.open[idx(stream)].is_some()
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
/// Memory is bounded by `2 * max_line` bytes: a line longer than `max_line` is handed out in
/// `max_line`-byte parts marked incomplete; nothing is dropped.
#[derive(Debug)]
pub struct LineAssembler {
    merger: PartialMerger,
    bufs: [Vec<u8>; 2],
    out: Vec<u8>,
    max_line: usize,
}

impl LineAssembler {
    /// An assembler that cuts lines at `max_line` bytes (at least 1).
    pub fn new(max_line: usize) -> Self {
        LineAssembler {
            merger: PartialMerger::new(),
            bufs: [Vec::new(), Vec::new()],
            out: Vec::new(),
            max_line: max_line.max(1),
        }
    }

    /// Adds a record; returns a line when one is complete (or reaches the cap).
    pub fn push(&mut self, rec: &CriRecord<'_>) -> Option<Line<'_>> {
        let p = self.merger.push(rec);
        let i = idx(p.stream);
        let buf = &mut self.bufs[i];
        buf.extend_from_slice(p.content);
        if p.ends_line || buf.len() >= self.max_line {
            let take = if p.ends_line {
                buf.len()
            } else {
                self.max_line
            };
            self.out.clear();
            self.out.extend(buf.drain(..take.min(buf.len())));
            return Some(Line {
                stream: p.stream,
                timestamp: p.line_timestamp,
                content: &self.out,
                complete: p.ends_line && buf.is_empty(),
            });
        }
        None
    }

    /// At end of input: the unfinished line of `stream`, if any (marked incomplete).
    pub fn finish(&mut self, stream: Stream) -> Option<Line<'_>> {
        let i = idx(stream);
        let timestamp = self.merger.open[i].map(|(ts, _)| ts).unwrap_or_default();
        self.merger.open[i] = None;
        let buf = &mut self.bufs[i];
        if buf.is_empty() {
            return None;
        }
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
            if let Some(l) = a.push(&rec) {
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
}
