//! Reading an input that cannot seek (`-` for stdin, a FIFO, a character device): forward
//! only, through the same [`LineBuffer`](super::scan::LineBuffer) as files. `--tail` keeps
//! a bounded ring of the last lines ([`ForwardTail`] decides which are still needed).

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::Path;

use super::emit::{Flow, LogSink};
use super::merge::idx;
use super::pipeline::{Pipeline, ReadStats, SkipReason};
use super::reader::ReadOptions;
use super::record::RecordParser;
use super::scan::Item;
use super::source::{drain, end_fragment, Current};
use super::tail::{ForwardTail, TailCounter, TailMode};
use super::ReadError;
use crate::cri::Stream;

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

/// Reads the whole input forwards, applying `opts`; an unterminated last record is printed
/// as kubelet prints it.
pub(crate) fn read_stream<S: LogSink>(
    path: &Path,
    opts: &ReadOptions,
    sink: &mut S,
) -> Result<ReadStats, ReadError> {
    let file = open_input(path).map_err(|e| ReadError::io(path, e))?;
    let mut c = Current::stream(file, path, (opts.read_size, opts.max_record_len));
    let mut p = Pipeline::new(opts.output);
    p.stats.files_read = 1;
    let r = match opts.tail {
        None => match drain(&mut p, &mut c, sink) {
            Ok(Flow::Continue) => end_fragment(&mut p, &mut c, sink, true).map(|_| ()),
            r => r.map(|_| ()),
        },
        Some(n) => tail(&mut p, &mut c, n, opts, sink),
    };
    let flushed = sink.flush().map_err(ReadError::Output);
    r?;
    flushed?;
    Ok(p.stats)
}

/// `--tail n` over a stream: the lines that may be among the last `n` are kept in a ring
/// (at most about `2 n + 4` lines, and never more than `max(n, 1) × max_record_len` bytes:
/// past that, the oldest are dropped, which can only cut the start of one enormous logical
/// line), then printed at the end of the input.
fn tail<S: LogSink>(
    p: &mut Pipeline,
    c: &mut Current,
    n: u64,
    opts: &ReadOptions,
    sink: &mut S,
) -> Result<(), ReadError> {
    let mode = opts.tail_mode;
    let cap = usize::try_from(n.max(1))
        .unwrap_or(usize::MAX)
        .saturating_mul(opts.max_record_len);
    let mut ft = ForwardTail::new(TailCounter::new(n, mode));
    // Per stream (stdout, stderr, lines that are not records): a tail may start at a
    // different place for each.
    let mut rings: [VecDeque<(u64, Box<[u8]>)>; 3] = Default::default();
    let mut ring_bytes = 0usize;
    let mut parser = RecordParser::new();
    loop {
        loop {
            match c.chunker.next_line() {
                Item::Line(off, line) => {
                    let rec = match parser.parse(line) {
                        Ok((_, r)) => Some((r.stream, r.tag)),
                        // Lines mode does not count them: not kept, counted now.
                        Err(e) if mode == TailMode::Lines => {
                            p.skip(&c.path, off, SkipReason::Unparsable(e));
                            continue;
                        }
                        Err(_) => None,
                    };
                    ft.push((0, off), rec);
                    rings[rec.map_or(2, |r| idx(r.0))].push_back((off, line.into()));
                    ring_bytes += line.len();
                    for (i, ring) in rings.iter_mut().enumerate() {
                        let stream = [Some(Stream::Stdout), Some(Stream::Stderr), None][i];
                        let oldest = ft.oldest_kept(stream).map_or(u64::MAX, |k| k.1);
                        while ring.front().is_some_and(|r| r.0 < oldest) {
                            if let Some(r) = ring.pop_front() {
                                ring_bytes -= r.1.len();
                            }
                        }
                    }
                    while ring_bytes > cap {
                        // Past the byte cap: the oldest line of any stream goes.
                        let Some(i) = (0..3)
                            .filter(|&i| !rings[i].is_empty())
                            .min_by_key(|&i| rings[i].front().map(|r| r.0))
                        else {
                            break;
                        };
                        if let Some(r) = rings[i].pop_front() {
                            ring_bytes -= r.1.len();
                        }
                    }
                }
                Item::Overlong(off) => {
                    p.skip(&c.path, off, SkipReason::Overlong);
                    if mode == TailMode::Records {
                        ft.push((0, off), None);
                    }
                }
                Item::NeedData => break,
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
    // The three rings merged back into input order.
    let mut all: Vec<(u64, Box<[u8]>)> = rings.into_iter().flatten().collect();
    all.sort_unstable_by_key(|r| r.0);
    for (off, line) in all {
        if (0, off) < first {
            continue;
        }
        if p.line(&c.path, &line, (0, off), true, sink)
            .map_err(ReadError::Output)?
            == Flow::LimitReached
        {
            return Ok(());
        }
    }
    end_fragment(p, c, sink, true).map(|_| ())
}
