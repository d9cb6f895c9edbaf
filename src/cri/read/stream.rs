//! Reading an input that cannot seek (`-` for stdin, a FIFO, a pipe): forward
//! only, through the same [`LineBuffer`](crate::lines::LineBuffer) as files. `--tail` keeps
//! a ring of the last lines (`ForwardTail` decides which are still needed), bounded by
//! [`ReadOptions::tail_buffer`] bytes.
//!
//! kubelet never reads a pipe; on a file its `--tail` seeks back and reads whole lines of
//! any length, as ctrlog does for files. A pipe must be read to its end before the last N
//! lines are known, so they are held in memory: a logical line that does not fit in the
//! buffer (many `P` pieces) is left out whole with a warning and counted as skipped (exit
//! status 3 in `ctrlog logs`), never printed cut.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::Path;

use super::decode::RecordDecoder;
use super::pipeline::{Out, Pipeline, SkipReason};
use super::reader::ReadOptions;
use super::source::Current;
use super::tail::{ForwardTail, TailCounter, TailMode};
use super::{FileWarning, ReadError};
use crate::cri::{Stream, Tag};
use crate::lines::LineItem;

/// The name that means standard input.
pub(crate) const STDIN: &str = "-";

/// Opens the input: stdin for `-`, else `path` (a FIFO's `open` waits for a writer, as
/// `cat` does).
fn open_input(path: &Path) -> io::Result<File> {
    if path == Path::new(STDIN) {
        use std::os::fd::AsFd;
        return Ok(File::from(io::stdin().as_fd().try_clone_to_owned()?));
    }
    File::open(path)
}

/// A records to output again, in input order: `--tail` on an input that cannot seek.
pub(crate) type Replay = VecDeque<(u64, Box<[u8]>)>;

/// Opens the input and, for `--tail`, reads it to its end and keeps the records of the
/// last lines (returned, to output); `p` gets the tail's start. Without `--tail` the input
/// is read as it is output.
pub(crate) fn start_stream<S: Out>(
    path: &Path,
    opts: &ReadOptions,
    p: &mut Pipeline,
    sink: &mut S,
) -> Result<(Current, Option<Replay>), ReadError> {
    let file = open_input(path).map_err(|e| ReadError::io(path, e))?;
    let mut c = Current::stream(file, path, (opts.read_size, opts.max_record_len));
    p.stats.files_read = 1;
    let replay = match opts.tail {
        None => None,
        Some(n) => Some(tail(p, &mut c, n, opts, sink)?),
    };
    Ok((c, replay))
}

/// The records of one stream (stdout, stderr, lines that are not records) that may be among
/// the last N lines of a stream input, in input order.
#[derive(Default)]
struct Ring {
    /// (offset, record, whether it ends its unit: a logical line's `F` record in
    /// [`TailMode::Lines`], every record in [`TailMode::Records`]).
    recs: VecDeque<(u64, Box<[u8]>, bool)>,
    /// Bytes of the unit being received (its records at the back of `recs`).
    open: usize,
    /// The unit being received was dropped (it did not fit): its later records are too.
    dropping: bool,
    /// Start offsets, in order, of the units dropped for want of room that may still be in
    /// the tail.
    dropped: VecDeque<u64>,
}

impl Ring {
    /// Keeps a record (unless its unit was dropped); returns the bytes now held more (or
    /// fewer: a unit larger than `cap` can never be printed and is dropped at once).
    fn push(&mut self, off: u64, rec: &[u8], ends: bool, cap: usize) -> isize {
        if self.dropping {
            self.dropping = !ends;
            return 0;
        }
        self.recs.push_back((off, rec.into(), ends));
        self.open += rec.len();
        if self.open > cap {
            let freed = self.open;
            let mut start = off;
            // Its records: this one, and the ones before that do not end a unit.
            while let Some(&(o, _, _)) = self.recs.back().filter(|r| !r.2 || r.0 == off) {
                self.recs.pop_back();
                start = o;
            }
            self.note_dropped(start);
            self.dropping = !ends;
            self.open = 0;
            return rec.len() as isize - freed as isize;
        }
        if ends {
            self.open = 0;
        }
        rec.len() as isize
    }

    /// Drops the oldest unit whole; returns its bytes.
    fn drop_oldest(&mut self) -> usize {
        let Some(&(start, _, _)) = self.recs.front() else {
            return 0;
        };
        self.note_dropped(start);
        let mut freed = 0;
        while let Some((_, rec, ends)) = self.recs.pop_front() {
            freed += rec.len();
            if ends {
                return freed;
            }
        }
        // The unit is still arriving: its next records go too.
        self.dropping = true;
        self.open = 0;
        freed
    }

    fn note_dropped(&mut self, start: u64) {
        let at = self.dropped.partition_point(|&d| d < start);
        self.dropped.insert(at, start);
    }
}

/// `--tail n` over a stream: the records of the lines that may be among the last `n` are
/// kept in a ring (`ForwardTail` decides which: about `2 n + 4` lines), then returned to be
/// output (with the input's unterminated end) once the input has ended. The ring holds at most [`ReadOptions::tail_buffer`] bytes: a logical
/// line longer than that is dropped whole as soon as it is (it can never be printed); past
/// it, the oldest line is dropped whole. Nothing is printed cut; each dropped line that turns
/// out to be among the last `n` is counted as skipped and reported by one warning.
fn tail<S: Out>(
    p: &mut Pipeline,
    c: &mut Current,
    n: u64,
    opts: &ReadOptions,
    sink: &mut S,
) -> Result<Replay, ReadError> {
    let mode = opts.tail_mode;
    let cap = opts.tail_buffer.max(opts.max_record_len);
    let mut ft = ForwardTail::new(TailCounter::new(n, mode));
    // Per stream (stdout, stderr, lines that are not records): a tail may start at a
    // different place for each.
    let mut rings: [Ring; 3] = Default::default();
    let mut ring_bytes = 0usize;
    let mut parser = opts.format.decoder();
    loop {
        loop {
            match c.line_buf.next_line() {
                Some(LineItem::Line {
                    offset: off,
                    bytes: line,
                }) => {
                    let rec = match parser.decode(line) {
                        Ok(r) => Some((r.stream, r.tag)),
                        // Lines mode does not count them: not kept, counted now.
                        Err(e) if mode == TailMode::Lines => {
                            p.skip(&c.path, off, SkipReason::Unparsable(e));
                            continue;
                        }
                        Err(_) => None,
                    };
                    ft.push((0, off), rec);
                    let ends = mode == TailMode::Records || rec.is_none_or(|r| r.1 == Tag::Full);
                    let ring = &mut rings[rec.map_or(2, |r| r.0.index())];
                    // A ring frees only bytes it holds, all counted in `ring_bytes`: going
                    // below zero is a bug, not a wrap.
                    ring_bytes = ring_bytes
                        .checked_add_signed(ring.push(off, line, ends, cap))
                        .expect("a ring freed more bytes than it held");
                    for (i, ring) in rings.iter_mut().enumerate() {
                        let stream = [Some(Stream::Stdout), Some(Stream::Stderr), None][i];
                        let oldest = ft.oldest_kept(stream).map_or(u64::MAX, |k| k.1);
                        while let Some(r) = ring.recs.front().filter(|r| r.0 < oldest) {
                            ring_bytes -= r.1.len();
                            ring.recs.pop_front();
                        }
                        while ring.dropped.front().is_some_and(|&d| d < oldest) {
                            ring.dropped.pop_front();
                        }
                    }
                    while ring_bytes > cap {
                        // Past the byte cap: the oldest line of any stream goes, whole. The
                        // bytes counted are held by the rings, so one is not empty.
                        let i = (0..3)
                            .filter(|&i| !rings[i].recs.is_empty())
                            .min_by_key(|&i| rings[i].recs.front().map(|r| r.0))
                            .expect("bytes counted in no ring");
                        ring_bytes -= rings[i].drop_oldest();
                    }
                }
                Some(LineItem::Overlong { offset: off, .. }) => {
                    p.skip(&c.path, off, SkipReason::Overlong);
                    if mode == TailMode::Records {
                        ft.push((0, off), None);
                    }
                }
                None => break,
            }
        }
        if c.fill().map_err(|e| ReadError::io(&c.path, e))? == 0 {
            break;
        }
    }
    let starts = ft.finish().finish();
    p.stream_start = starts;
    if mode == TailMode::Records {
        p.max_records = Some(n);
    }
    let first = starts[0].min(starts[1]);
    // Dropped lines that are in the tail: counted, and said once.
    let mut lost = 0u64;
    for (i, ring) in rings.iter().enumerate() {
        let from = if i < 2 { starts[i] } else { first };
        for &off in ring.dropped.iter().filter(|&&off| (0, off) >= from) {
            p.skip(&c.path, off, SkipReason::TailBuffer);
            lost += 1;
        }
    }
    if lost > 0 {
        sink.warning(&FileWarning {
            path: c.path.clone(),
            reason: format!(
                "{lost} of the last {n} lines not printed: they did not fit in the --tail buffer \
                 ({cap} bytes) of an input that cannot seek"
            ),
        });
    }
    // The three rings merged back into input order.
    let mut all: Vec<(u64, Box<[u8]>)> = rings
        .into_iter()
        .flat_map(|r| r.recs.into_iter().map(|(off, rec, _)| (off, rec)))
        .filter(|r| (0, r.0) >= first)
        .collect();
    all.sort_unstable_by_key(|r| r.0);
    Ok(all.into())
}
