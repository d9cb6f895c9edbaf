//! Finding where the last N lines start (sans-IO): [`TailCounter`] fed backwards (a plain
//! file scanned from its end) and [`ForwardTail`] fed forwards (a compressed file or a pipe,
//! which can only be read from the start), with memory bounded by N.

use std::collections::VecDeque;

use crate::cri::{Stream, Tag};

/// A position in a file set: (file number, byte offset). Ordered.
pub type Pos = (usize, u64);

/// No position: after everything.
pub const NEVER: Pos = (usize::MAX, u64::MAX);

/// How `tail` counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TailMode {
    /// Logical lines: `P` pieces and their `F` count once, per stream (ctrlog's default).
    #[default]
    Lines,
    /// Physical records, each `\n`-terminated line (kubelet's `FindTailLineStartIndex`).
    Records,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StreamTail {
    Unseen,
    /// Inside a kept line whose earliest piece seen so far is at `first`.
    Open(Pos),
    /// Kept lines of this stream start at this position.
    Closed(Pos),
}

/// Finds where the last `n` lines start while records are fed to it from the end backwards.
/// Sans-IO: callers feed `(stream, tag)` of each record (or `None` for garbage) with its
/// position.
#[derive(Clone, Debug)]
pub struct TailCounter {
    n: u64,
    mode: TailMode,
    count: u64,
    state: [StreamTail; 2],
    earliest: Pos,
}

impl TailCounter {
    /// Counts the last `n` lines in `mode`.
    pub fn new(n: u64, mode: TailMode) -> Self {
        let mut t = TailCounter {
            n,
            mode,
            count: 0,
            state: [StreamTail::Unseen; 2],
            earliest: NEVER,
        };
        if n == 0 {
            t.state = [StreamTail::Closed(NEVER); 2];
        }
        t
    }

    /// Whether enough has been seen.
    pub fn done(&self) -> bool {
        match self.mode {
            TailMode::Records => self.count >= self.n,
            TailMode::Lines => {
                self.count >= self.n && self.state.iter().all(|s| !matches!(s, StreamTail::Open(_)))
            }
        }
    }

    /// Feeds the record at `pos` (walking backwards). `rec` is `None` for a line that is not
    /// a record.
    pub fn push(&mut self, rec: Option<(Stream, Tag)>, pos: Pos) {
        if self.mode == TailMode::Records {
            if self.count < self.n {
                self.count += 1;
                self.earliest = pos;
            }
            return;
        }
        let Some((stream, tag)) = rec else { return };
        let i = stream.index();
        let full = self.count >= self.n;
        self.state[i] = match (self.state[i], tag) {
            (StreamTail::Closed(p), _) => StreamTail::Closed(p),
            (StreamTail::Open(first), Tag::Full) => {
                if full {
                    StreamTail::Closed(first)
                } else {
                    self.count += 1;
                    StreamTail::Open(pos)
                }
            }
            (StreamTail::Open(_), Tag::Partial) => StreamTail::Open(pos),
            (StreamTail::Unseen, _) => {
                if full {
                    StreamTail::Closed(NEVER)
                } else {
                    self.count += 1;
                    StreamTail::Open(pos)
                }
            }
        };
    }

    /// At the start of the whole set: where each stream's kept lines start.
    pub fn finish(&self) -> [Pos; 2] {
        if self.count < self.n {
            // Fewer lines than asked for: all of them.
            return [(0, 0), (0, 0)];
        }
        if self.mode == TailMode::Records {
            let p = if self.n == 0 { NEVER } else { self.earliest };
            return [p, p];
        }
        let f = |s: StreamTail| match s {
            StreamTail::Unseen => NEVER,
            StreamTail::Open(p) | StreamTail::Closed(p) => p,
        };
        [f(self.state[0]), f(self.state[1])]
    }
}

/// Finds the last N lines of data that can only be read forwards (a `.gz` file, a pipe) with
/// memory bounded by N, independent of the data's size.
///
/// It keeps only the records a [`TailCounter`] walking backwards would look at, and feeds
/// them to it at the end ([`ForwardTail::finish`]). In [`TailMode::Lines`] a logical line is
/// kept as its first piece and its latest one (the counter counts a line where it meets its
/// last piece and needs where it starts; the pieces between only move an open start), and
/// lines that are not records are not kept. What is kept is trimmed whenever it doubles, to
/// what the counter, started from the state it had before this data (the newer files
/// already counted), needs: about `2 N + 4` records, plus the last three of each stream
/// (data still to come may continue a stream's last line).
///
/// ```
/// use ctrlog::cri::read::{ForwardTail, TailCounter, TailMode, NEVER};
/// use ctrlog::cri::{Stream::*, Tag::*};
/// let mut f = ForwardTail::new(TailCounter::new(2, TailMode::Lines));
/// for (i, r) in [(Stdout, Full), (Stdout, Partial), (Stdout, Partial), (Stdout, Full), (Stdout, Full)]
///     .into_iter()
///     .enumerate()
/// {
///     f.push((0, i as u64), Some(r));
/// }
/// // The last two lines: records 1..=3 and record 4.
/// assert_eq!(f.finish().finish(), [(0, 1), NEVER]);
/// ```
#[derive(Clone, Debug)]
pub struct ForwardTail {
    base: TailCounter,
    kept: VecDeque<Kept>,
    /// Per stream: a line is open (its first piece is kept).
    open: [bool; 2],
    /// Per stream: index in `kept` of the open line's latest piece after its first (dropped
    /// when a later piece comes).
    middle: [Option<usize>; 2],
    /// `kept.len()` after the last trim.
    trimmed_len: usize,
    /// Oldest kept position: stdout, stderr, any (may be older than needed, never newer).
    oldest: [Option<Pos>; 3],
}

#[derive(Clone, Copy, Debug)]
struct Kept {
    pos: Pos,
    rec: Option<(Stream, Tag)>,
    /// Superseded (a middle piece of a line): skipped, removed at the next trim.
    dead: bool,
}

impl ForwardTail {
    /// Counts on from `base`: the counter after the newer data (fed backwards) was counted.
    pub fn new(base: TailCounter) -> Self {
        ForwardTail {
            base,
            kept: VecDeque::new(),
            open: [false; 2],
            middle: [None; 2],
            trimmed_len: 0,
            oldest: [None; 3],
        }
    }

    /// Feeds the record at `pos` (walking forwards). `rec` is `None` for a line that is not
    /// a record.
    pub fn push(&mut self, pos: Pos, rec: Option<(Stream, Tag)>) {
        if self.base.mode == TailMode::Lines {
            let Some((stream, tag)) = rec else { return };
            let i = stream.index();
            if self.open[i] {
                if let Some(m) = self.middle[i].take() {
                    self.kept[m].dead = true;
                }
                if tag == Tag::Partial {
                    self.middle[i] = Some(self.kept.len());
                }
            }
            self.open[i] = tag == Tag::Partial;
        }
        self.kept.push_back(Kept {
            pos,
            rec,
            dead: false,
        });
        note_oldest(&mut self.oldest, pos, rec);
        if self.kept.len() >= 2 * self.trimmed_len.max(64) {
            self.trim();
        }
    }

    /// Drops what a counter walking back from the end no longer needs, and the dead.
    ///
    /// The counter, started from `base`, is run back over what is kept; where it is done,
    /// the older entries are not needed, with one exception: data still to come can end
    /// the last line of a stream (or be the first of a stream not seen since that point),
    /// and then the counter, meeting that line open, needs where it starts and the line
    /// before it to close it. So the last three entries of each stream (the end of the line
    /// before, the first and the latest piece of the last line) are always kept.
    fn trim(&mut self) {
        let mut t = self.base.clone();
        let mut first = self.kept.len();
        for (i, k) in self.kept.iter().enumerate().rev() {
            if k.dead {
                continue;
            }
            if t.done() {
                break;
            }
            t.push(k.rec, k.pos);
            first = i;
        }
        let from = if t.done() { first } else { 0 };
        let mut keep = vec![false; from];
        if self.base.mode == TailMode::Lines {
            for s in 0..2 {
                let mut n = 0;
                for i in (0..self.kept.len()).rev() {
                    let k = &self.kept[i];
                    if !k.dead && k.rec.is_some_and(|r| r.0.index() == s) {
                        if i < from {
                            keep[i] = true;
                        }
                        n += 1;
                        if n == 3 {
                            break;
                        }
                    }
                }
            }
        }
        let mut middle = [None; 2];
        let mut kept = VecDeque::with_capacity(self.kept.len() - from);
        for (i, k) in self.kept.drain(..).enumerate() {
            if k.dead || (i < from && !keep[i]) {
                continue;
            }
            for (new, old) in middle.iter_mut().zip(self.middle) {
                if old == Some(i) {
                    *new = Some(kept.len());
                }
            }
            kept.push_back(k);
        }
        self.kept = kept;
        self.middle = middle;
        self.trimmed_len = self.kept.len();
        self.oldest = [None; 3];
        for k in &self.kept {
            note_oldest(&mut self.oldest, k.pos, k.rec);
        }
    }

    /// The oldest position still kept for records of `stream` (`None`: of any stream, for
    /// lines that are not records). Data before it is not needed (a pipe's ring): no tail
    /// can start earlier for that stream. `None` when nothing of it is kept.
    pub fn oldest_kept(&self, stream: Option<Stream>) -> Option<Pos> {
        self.oldest[stream.map_or(2, Stream::index)]
    }

    /// Records kept (bounded by about `2 N + 10`, doubled between trims).
    pub fn kept_len(&self) -> usize {
        self.kept.len()
    }

    /// The counter after this data too, as if every record had been fed to it backwards.
    pub fn finish(self) -> TailCounter {
        let mut t = self.base;
        for k in self.kept.into_iter().rev() {
            if k.dead {
                continue;
            }
            if t.done() {
                break;
            }
            t.push(k.rec, k.pos);
        }
        t
    }
}

/// Records the oldest kept position per stream and overall.
fn note_oldest(oldest: &mut [Option<Pos>; 3], pos: Pos, rec: Option<(Stream, Tag)>) {
    for i in [rec.map(|r| r.0.index()), Some(2)].into_iter().flatten() {
        oldest[i].get_or_insert(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_counter_lines_and_records() {
        use crate::cri::{Stream::*, Tag::*};
        // stdout P(0) stderr F(1) stdout F(2) stderr F(3), fed backwards.
        let recs = [
            (Stdout, Partial),
            (Stderr, Full),
            (Stdout, Full),
            (Stderr, Full),
        ];
        let run = |n, mode| {
            let mut t = TailCounter::new(n, mode);
            for (i, r) in recs.iter().enumerate().rev() {
                if t.done() {
                    break;
                }
                t.push(Some(*r), (0, i as u64));
            }
            t.finish()
        };
        // Last line: stderr F(3); stdout has no kept line.
        assert_eq!(run(1, TailMode::Lines), [NEVER, (0, 3)]);
        // Two lines: stderr(3) and stdout(0..2).
        assert_eq!(run(2, TailMode::Lines), [(0, 0), (0, 3)]);
        assert_eq!(run(3, TailMode::Lines), [(0, 0), (0, 1)]);
        assert_eq!(run(9, TailMode::Lines), [(0, 0), (0, 0)]);
        assert_eq!(run(0, TailMode::Lines), [NEVER, NEVER]);
        assert_eq!(run(2, TailMode::Records), [(0, 2), (0, 2)]);
    }
}
