//! The one producer behind every way of reading: a read in progress ([`Run`]), from the
//! first file to open to the end of the set (or of an input that cannot seek), that can
//! stop after any record and resume there.
//!
//! [`LogReader::read_to`] runs it to its end into a byte sink (which never pauses);
//! [`LogReader::next_line`] runs it until a structured line is ready ([`Go::Pause`]) and
//! resumes it at the next call; following ([`LogReader::follow`],
//! [`Follower`](super::Follower)) runs it, then steps the follower. Its state between calls
//! is where each file's line buffer stands, so resuming costs nothing.

use super::pipeline::{Go, Out, Pipeline};
use super::reader::LogReader;
use super::source::{drain, end_fragment, Current};
use super::stream::Replay;
use super::tail::{Pos, NEVER};
use super::{follow::Seen, ReadError};

/// A read in progress.
#[derive(Debug)]
pub(super) struct Run {
    pub(super) pipe: Pipeline,
    /// Where `--tail` starts (`(0, 0)` without it, [`NEVER`] when no line is kept).
    start: Pos,
    /// The next file of the set to open.
    next: usize,
    /// The file being read.
    cur: Option<Current>,
    /// `cur` was read to its end: its unterminated end is left.
    drained: bool,
    /// Following: the read goes on past the set (the live file is kept, its half-written
    /// end is not output).
    follow: bool,
    /// An input that cannot seek: `cur` from the start, and for `--tail` the records kept.
    stream: Option<Option<Replay>>,
    /// The read is over, with this outcome.
    over: Option<Go>,
    /// Following: the live file after the set was read (to go on reading it), and the
    /// files read to their end.
    pub(super) live: Option<Current>,
    pub(super) read_ids: Vec<Seen>,
}

impl Run {
    /// A read of the set from `start` (see [`LogReader::start`]).
    pub(super) fn new(pipe: Pipeline, start: Pos, follow: bool) -> Self {
        Run {
            pipe,
            start,
            next: 0,
            cur: None,
            drained: false,
            follow,
            stream: None,
            over: None,
            live: None,
            read_ids: Vec::new(),
        }
    }

    /// A read of an input that cannot seek (see [`super::stream::start_stream`]).
    pub(super) fn stream(pipe: Pipeline, c: Current, replay: Option<Replay>) -> Self {
        Run {
            stream: Some(replay),
            cur: Some(c),
            ..Run::new(pipe, (0, 0), false)
        }
    }

    /// Reads until the output pauses ([`Go::Pause`]: call again to resume) or the read is
    /// over: [`Go::Continue`] at its end, [`Go::Limit`] or [`Go::Stop`] when the output
    /// ended it. Called again once over, it returns the same.
    pub(super) fn step<S: Out>(
        &mut self,
        r: &mut LogReader,
        sink: &mut S,
    ) -> Result<Go, ReadError> {
        if let Some(go) = self.over {
            return Ok(go);
        }
        let go = if self.stream.is_some() {
            self.step_stream(sink)
        } else {
            self.step_set(r, sink)
        };
        match go {
            Ok(Go::Pause) => {}
            Ok(go) => self.over = Some(go),
            // Nothing is read after an error.
            Err(_) => self.over = Some(Go::Continue),
        }
        go
    }

    fn step_stream<S: Out>(&mut self, sink: &mut S) -> Result<Go, ReadError> {
        let pipe = &mut self.pipe;
        let c = self
            .cur
            .as_mut()
            .expect("a stream's input is open from the start");
        match self.stream.as_mut().and_then(|r| r.as_mut()) {
            Some(replay) => {
                while let Some((off, line)) = replay.pop_front() {
                    let go = pipe
                        .line(&c.path, &line, (0, off), true, sink)
                        .map_err(ReadError::Output)?;
                    if go != Go::Continue {
                        return Ok(go);
                    }
                }
            }
            None if !self.drained => {
                let go = drain(pipe, c, sink)?;
                if go != Go::Continue {
                    return Ok(go);
                }
            }
            None => {}
        }
        self.drained = true;
        end_fragment(pipe, c, sink, true)
    }

    fn step_set<S: Out>(&mut self, r: &mut LogReader, sink: &mut S) -> Result<Go, ReadError> {
        let start = self.start;
        if start == NEVER && !self.follow {
            return Ok(Go::Continue);
        }
        let last = r.files.len() - 1;
        if self.cur.is_none() && self.next == 0 {
            self.next = if start == NEVER {
                last
            } else {
                start.0.min(last)
            };
        }
        loop {
            if self.cur.is_none() {
                let num = self.next;
                if num > last {
                    return Ok(Go::Continue);
                }
                match r.open_for_run(num, start, &mut self.pipe, sink)? {
                    Some(c) => {
                        self.pipe.stats.files_read += 1;
                        self.read_ids.push(Seen {
                            id: c.id,
                            head: c.head(),
                        });
                        self.cur = Some(c);
                        self.drained = false;
                    }
                    None => {
                        self.next += 1;
                        continue;
                    }
                }
            }
            let c = self.cur.as_mut().expect("opened above");
            if !self.drained {
                let go = drain(&mut self.pipe, c, sink)?;
                if go != Go::Continue {
                    return Ok(go);
                }
                self.drained = true;
            }
            let num = c.num;
            let is_live = num == last && r.files[num].backup.is_none();
            if !is_live || !self.follow {
                // Idempotent: the end is taken out of the line buffer before it is output,
                // so a pause here resumes past it.
                let go = end_fragment(&mut self.pipe, c, sink, !self.follow && num == last)?;
                if go != Go::Continue {
                    return Ok(go);
                }
            }
            self.next += 1;
            let c = self.cur.take();
            if num == last {
                self.live = c;
            }
        }
    }
}
