//! Following a log and its rotations ([`LogReader::follow`], `ctrlog logs -f`).
//!
//! # Design
//! A writer at 100,000 short lines a second through a 64 kB × 3 set rotates ~70 times a
//! second: each file is live for ~15 ms and deleted by max-file pruning ~30 ms later. A
//! follower that looks only every [`ReadOptions::poll_interval`] (100 ms) cannot even see
//! most files, let alone read them. So following is two threads:
//! * **The watcher** (`watch.rs`) watches the log's directory with inotify (`IN_CREATE`,
//!   `IN_MOVED_TO`, `IN_MOVED_FROM`, `IN_DELETE`, and `IN_MODIFY`/`IN_CLOSE_WRITE` as wake-ups
//!   for new data). On any change to a name of the set it lists the set again and **opens
//!   every file it does not know yet**, at once. An open file can be read to its end later,
//!   even after it was renamed or deleted. Files are identified by device and inode, listed
//!   with `lstat` (a known file is not opened again); the watcher keeps an fd of the newest
//!   known files, so an inode number cannot be reused by a new file while the watcher takes
//!   it for a known one, and a known inode number listed nearer the newest end of the set
//!   than before is a new file (rotation only moves files away from it). A new file listed before a
//!   known one (a `.gz` copy of a backup, a copytruncate copy) is older than what was read
//!   and is not reported. Without inotify (not Linux, `inotify_init` or `inotify_add_watch`
//!   failing, the directory removed) and whenever the kernel's event queue overflowed
//!   (`IN_Q_OVERFLOW`) it lists the set again; it also lists it every
//!   [`ReadOptions::poll_interval`] regardless, as the fallback for file systems whose
//!   changes inotify does not see (another NFS client's writes).
//! * **The reader** (this file) reads the files the watcher reports in the order it found
//!   them (the order the writer created or rotated them), one at a time, each from its
//!   first byte, with the same pipeline as [`LogReader::read_to`]. It waits for the watcher
//!   (`poll(2)` on the inotify fd, then a condition variable) at most
//!   [`ReadOptions::poll_interval`] at a time, so `stop` is seen within that.
//!
//! **The step.** The reader is a non-blocking step (`FollowCore::step`): it reads a part of
//! the starting set, or takes the watcher's reports, reads what the current file has (at
//! most 16 MiB) and does what the decisions say, and returns "step again now", "nothing to
//! do: step again within this long" or "over". [`LogReader::follow`] is a loop over it
//! that waits for the watcher between steps; [`Follower::poll_lines`] is the same step for
//! an event loop, handing out [`LogLine`]s: it never waits and never starts a thread
//! (the watcher thread is started once, by [`LogReader::into_follower`]). An async caller
//! waits [`FollowPoll::Again`]'s duration on its timer (at most
//! [`ReadOptions::poll_interval`]): new data is seen within that, not at once, because the
//! watcher's wake-up is a condition variable, not a file descriptor an event loop could
//! register (the inotify fd belongs to the watcher thread).
//!
//! Both threads split their decisions from their I/O. The reader's are a sans-IO
//! `FollowState` (`follow/state.rs`): from what the last drain saw of the current file, when
//! the watcher found the next one and the time, one non-blocking step says what to do next
//! (read more, restart after a truncation, finish the file, open the next, or wait at most
//! so long). The watcher's rescan timing and its count of files lost are a `WatchState`
//! (`watch.rs`), and which listed files are new (and which of those to report) a
//! `KnownFiles` (`watch/known.rs`). Unit tests drive them step by step with made-up
//! instants and identities, no sleeps; the loops around them only list, read, open, wait
//! and report.
//!
//! The current file is **finished and closed** (issue 9 item 5: a follower must not pin
//! deleted files) once it is no longer the live file, i.e. a newer file was found, it was
//! found under a backup name, or it was deleted (link count 0), *and* one
//! [`ReadOptions::poll_interval`] has passed since: a writer may still append to a file
//! just renamed away (containerd does, until kubelet's `ReopenContainerLog` reaches it).
//! It is read to its end once more, a half-written last record is skipped and counted, and
//! the fd is closed. The starting set's handles are closed as soon as it has been read.
//! A `.gz` found later that copies a file already read (same inode, or the same first 256
//! decompressed bytes) is skipped.
//!
//! # Limits (what can still be lost)
//! * **A file created and deleted before the watcher opened it.** A file is live for one
//!   rotation interval and a backup for `max-file - 1` more, then max-file pruning deletes
//!   it: the watcher thread must run within `max-file` rotation intervals of its creation
//!   (~43 ms at 100,000 lines/s of 44-byte records through 64 kB × 3; one interval with
//!   `max-file 1`, where the live file is deleted at rotation). It misses files only when
//!   the machine does not schedule it for that long, e.g. a writer at ~1,000,000 lines/s
//!   (~650 rotations a second, files deleted ~4.5 ms after creation) on a loaded 2-core
//!   machine. Such a loss is reported: the watcher counts `IN_CREATE` events of the live
//!   name against the new files it found, and warns "at least N new file(s) of the set were
//!   rotated away and deleted before the follower could open them" naming the log (a lower
//!   bound; [`ReadStats::files_skipped`] counts the warning). A compressed copy (`.gz`) of
//!   a missed file is not read in its place: it is listed before a newer file already read.
//! * **A follower slower than the writer** (a slow consumer of its output) falls behind
//!   without losing anything while the files found and not yet read are at most 512 (or a
//!   quarter of the open-files limit, `RLIMIT_NOFILE`, when less: 64 with `ulimit -n 256`)
//!   and 256 MiB (`MAX_QUEUED_FILES`, `MAX_QUEUED_BYTES`): each pins its disk space once pruning
//!   deletes it. New files found beyond that are not held: a warning naming the log gives
//!   their number, and they are lost if pruning deletes them before the reader gets there.
//! * **Truncation** (copytruncate) restarts the live file at offset 0: what was written
//!   between the last read and the truncation is lost, as for any reader.
//! * A file deleted while it is the live one (no newer file) is closed one poll interval
//!   after it was read to its end; a writer still appending to the deleted inode after that
//!   (ctrlog's own writer notices a deleted file within a bound, issue 9 item 10) is not
//!   followed there.
//! * The watcher thread holds an fd for the 4 newest files of the set (so that their inode
//!   numbers cannot be reused while it takes them for known files; older known files are
//!   told apart by their rank in the set, which only grows), and one per found file not yet
//!   read (bounded as above). A set of any size is followed within the open-files limit.
//! * **Stopping** returns within one poll interval plus a second even when the watcher
//!   thread is stuck in a system call (`readdir` or `lstat` on a hung NFS mount): the thread
//!   is then left running, detached, and closes its fds when the call returns.
//!
//! # Reference behaviour
//! * **kubelet** (`kubectl logs -f`; `pkg/kubelet/kuberuntime/logs/logs.go`, `ReadLogs` and
//!   `waitLogs`) watches only the live *file* with fsnotify (plus a forced check every
//!   `logForceCheckPeriod` = 1 s). On `Create`, `Rename`, `Remove` or `Chmod` it reopens the
//!   live path at once and reads the new file from its start: what the old file received
//!   after the last read is dropped, and every backup rotated past in between is never read.
//! * **dockerd** (`docker logs -f`; moby `daemon/logger/loggerutils/follow.go`, `follow.Do`
//!   and `nextPos`) follows inside the daemon, driven by the writer's own position and
//!   rotation counter rather than the file system. After a rotation it reads the old file to
//!   its end, then opens the live file by name under the rotation lock; when more than one
//!   rotation happened meanwhile it logs "file rotations were missed while following logs;
//!   some log messages have been skipped over", i.e. whole files are skipped.
//! * ctrlog reads every file the watcher found, in order, through the fd it opened, so
//!   rotations in between lose nothing within the limits above (BENCHMARKS.md, "Following",
//!   has the figures by rate).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::emit::{Emitter, Span};
use super::line::{Lines, LogLine};
use super::merge::Piece;
use super::pipeline::{Go, Out, Pipeline, ReadStats, Src};
use super::reader::LogReader;
use super::run::Run;
use super::source::{drain, drain_upto, end_fragment, head_of, Current, Decode};
use super::watch::{Found, Watcher};
#[cfg(doc)]
use super::ReadOptions;
use super::{FileWarning, ReadError};

mod state;

pub(super) use state::Seen;
use state::{Cur, FollowState, Next};

/// Bytes read from the current file between two looks at the stop flag and the watcher.
const DRAIN_BUDGET: u64 = 16 << 20;

/// What following holds between two steps, once the starting set is read: the file being
/// read and the decisions' state.
#[derive(Debug)]
struct Following {
    cur: Option<Current>,
    state: FollowState,
}

/// What a step of following did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Poll {
    /// Something was read or a file was opened or finished: step again.
    Ready,
    /// Nothing to do (the output is flushed): step again when the watcher reports or
    /// after this long.
    Wait(Duration),
    /// The output limit (`--limit-bytes`) was reached, the sink stopped, or the input
    /// cannot be followed (a pipe read to its end): following is over.
    Done,
}

/// Following between two steps: first the read of the starting set (resumable, [`Run`]),
/// then [`LogReader::poll_once`]. Both [`LogReader::follow`] and [`Follower`] step it.
#[derive(Debug)]
pub(super) struct FollowCore {
    run: Run,
    /// `None` for an input that cannot seek: it is read to its end, nothing to follow.
    watcher: Option<Watcher>,
    /// Set once the starting set is read.
    following: Option<Following>,
}

impl FollowCore {
    pub(super) fn new(run: Run, watcher: Option<Watcher>) -> Self {
        FollowCore {
            run,
            watcher,
            following: None,
        }
    }

    /// What the read did.
    pub(super) fn stats(&self) -> &ReadStats {
        &self.run.pipe.stats
    }

    pub(super) fn into_pipeline(self) -> Pipeline {
        // The watcher thread is stopped (dropped) first.
        drop(self.watcher);
        self.run.pipe
    }

    /// One step that never waits: reads (a part of) the starting set, or takes one
    /// follower step.
    pub(super) fn step<S: Out>(
        &mut self,
        r: &mut LogReader,
        sink: &mut S,
    ) -> Result<Poll, ReadError> {
        let Some(watcher) = &self.watcher else {
            return Ok(match self.run.step(r, sink)? {
                Go::Pause => Poll::Ready,
                _ => Poll::Done,
            });
        };
        let Some(f) = self.following.as_mut() else {
            match self.run.step(r, sink)? {
                Go::Pause => return Ok(Poll::Ready),
                Go::Continue => {}
                Go::Limit | Go::Stop => return Ok(Poll::Done),
            }
            // The last file of the set may be a backup when the live file is missing.
            let mut cur = self.run.live.take();
            if cur
                .as_ref()
                .is_some_and(|c| r.files[c.num].backup.is_some())
            {
                cur = None;
            }
            let mut done = std::mem::take(&mut self.run.read_ids);
            if let Some(c) = &cur {
                done.retain(|i| i.id != c.id);
            }
            // The starting set is read: `cur` has its own handle, the watcher its own.
            r.opened.clear();
            self.following = Some(Following {
                cur,
                state: FollowState::new(r.opts.poll_interval, done, r.files.len()),
            });
            return Ok(Poll::Ready);
        };
        r.poll_once(f, &mut self.run.pipe, watcher, sink)
    }

    /// The blocking loop: steps, waiting for the watcher between steps, until `stop` is
    /// set (looked at after each step; the starting set is read whatever it says) or the
    /// read is over.
    pub(super) fn run_until<S: Out>(
        &mut self,
        r: &mut LogReader,
        sink: &mut S,
        stop: &AtomicBool,
    ) -> Result<(), ReadError> {
        loop {
            match self.step(r, sink)? {
                Poll::Ready => {}
                Poll::Wait(d) => {
                    if let Some(w) = &self.watcher {
                        w.wait(d);
                    }
                }
                Poll::Done => return Ok(()),
            }
            if self.following.is_some() && stop.load(Ordering::Relaxed) {
                return Ok(());
            }
        }
    }
}

/// What [`Follower::poll_lines`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FollowPoll {
    /// New lines were handed out, or there may be more to read at once: poll again now
    /// (an event loop may yield first).
    Ready,
    /// Nothing new: poll again after at most this long (at most
    /// [`ReadOptions::poll_interval`]; a writer's new data or file is found in the
    /// meantime by the watcher thread and read at the next poll).
    Again(Duration),
    /// Following is over: `limit_bytes` was reached, or the input cannot be followed (a
    /// pipe, read to its end). Every line is handed out.
    Done,
}

/// Lines handed out at most per [`Follower::poll_lines`] while the starting set is read
/// (in bytes of content), so that one poll of a large set does not run for long.
const POLL_BUDGET: u64 = 4 << 20;

/// A non-blocking follower that an event loop drives: each [`Follower::poll_lines`] reads
/// what is there, hands the new [`LogLine`]s to a callback and says when to look again.
/// The same machinery as [`LogReader::follow`] (which is a loop over this step waiting in
/// between): rotation, truncation, backups found and read in order, `--tail`, `since`,
/// `limit_bytes`.
///
/// Made by [`LogReader::into_follower`], which starts the watcher thread (the only thread;
/// a poll never spawns one nor waits): a poll never blocks but on the file reads
/// themselves. The first polls read the starting set, at most about 4 MiB of lines each.
///
/// ```
/// use ctrlog::cri::read::{FollowPoll, LogReader, ReadOptions};
/// use std::io::Write;
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("0.log");
/// std::fs::write(&path, "2024-01-01T00:00:00Z stdout F first\n")?;
/// let mut follower = LogReader::open(&path, ReadOptions::default())?.into_follower()?;
/// let mut got = Vec::new();
/// let mut wrote = false;
/// // An event loop would wait `d` on its timer; this one sleeps.
/// for _ in 0..1000 {
///     match follower.poll_lines(&mut |l| got.push(l.content().to_vec()))? {
///         FollowPoll::Ready => {}
///         FollowPoll::Again(d) => std::thread::sleep(d.min(std::time::Duration::from_millis(10))),
///         FollowPoll::Done | _ => break,
///     }
///     if !wrote && got.len() == 1 {
///         let mut f = std::fs::OpenOptions::new().append(true).open(&path)?;
///         f.write_all(b"2024-01-01T00:00:01Z stdout F second\n")?;
///         wrote = true;
///     }
///     if got.len() == 2 {
///         break;
///     }
/// }
/// assert_eq!(got, [b"first".to_vec(), b"second".to_vec()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Follower {
    reader: LogReader,
    core: FollowCore,
    lines: Lines,
    done: bool,
}

impl LogReader {
    /// A non-blocking [`Follower`] of this log. Like the start of [`LogReader::follow`], this
    /// lists the set, starts the watcher thread, then finds where `--tail` starts (a
    /// backward scan, or for a pipe reading it to its end); the polls read the rest.
    pub fn into_follower(mut self) -> Result<Follower, ReadError> {
        let mut lines = Lines::new(self.opts.max_line_len);
        let (run, watcher) = self.begin(true, &mut lines)?;
        Ok(Follower {
            reader: self,
            core: FollowCore::new(run, watcher),
            lines,
            done: false,
        })
    }
}

impl Follower {
    /// One step: reads what there is now, calls `out` with each line that ended (in the
    /// order they ended; see [`LogLine`]), and says when to poll again. Never waits. After
    /// [`FollowPoll::Done`] or an error, it returns `Done`.
    pub fn poll_lines<F: FnMut(&LogLine)>(&mut self, out: &mut F) -> Result<FollowPoll, ReadError> {
        if self.done {
            return Ok(FollowPoll::Done);
        }
        let mut d = Deliver {
            lines: &mut self.lines,
            out,
            sent: 0,
        };
        let r = self.core.step(&mut self.reader, &mut d);
        let r = match r {
            Ok(Poll::Ready) => Ok(FollowPoll::Ready),
            Ok(Poll::Wait(w)) => Ok(FollowPoll::Again(w)),
            Ok(Poll::Done) => Ok(FollowPoll::Done),
            Err(e) => Err(e),
        };
        if !matches!(r, Ok(FollowPoll::Ready | FollowPoll::Again(_))) {
            // Over: the lines left open are handed out, not complete.
            self.done = true;
            d.lines.finish();
        }
        d.hand_out();
        r
    }

    /// What the follower read so far.
    pub fn stats(&self) -> &ReadStats {
        self.core.stats()
    }

    /// The files skipped or cut short since the last call (at most
    /// [`MAX_WARNINGS`](super::MAX_WARNINGS) between two calls; [`ReadStats`] counts all).
    pub fn take_warnings(&mut self) -> Vec<FileWarning> {
        std::mem::take(&mut self.lines.warnings)
    }
}

/// The output of [`Follower::poll_lines`]: lines to the callback as they end.
struct Deliver<'a, F> {
    lines: &'a mut Lines,
    out: &'a mut F,
    /// Content bytes handed out in this poll.
    sent: u64,
}

impl<F: FnMut(&LogLine)> Deliver<'_, F> {
    fn hand_out(&mut self) {
        let (out, sent) = (&mut *self.out, &mut self.sent);
        self.lines.each_ready(|l| {
            *sent += l.content().len() as u64 + 1;
            out(l);
        });
    }
}

impl<F: FnMut(&LogLine)> Out for Deliver<'_, F> {
    #[inline]
    fn piece(
        &mut self,
        em: &mut Emitter,
        piece: &Piece<'_>,
        newline: bool,
        src: Src<'_>,
        span: Span<'_>,
    ) -> io::Result<Go> {
        let go = self.lines.piece(em, piece, newline, src, span)?;
        if !self.lines.has_ready() {
            return Ok(go);
        }
        self.hand_out();
        match go {
            // Reading the starting set yields after a budget; following steps are bounded
            // by `DRAIN_BUDGET` and go on through a pause.
            Go::Pause | Go::Continue if self.sent >= POLL_BUDGET => Ok(Go::Pause),
            Go::Pause => Ok(Go::Continue),
            go => Ok(go),
        }
    }
    fn warning(&mut self, w: &FileWarning) {
        self.lines.warning(w)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.hand_out();
        Ok(())
    }
}

impl LogReader {
    /// Starts the watcher for following: right after the set is listed, before the
    /// `--tail` scan and the initial read, so that files rotated and deleted while they run
    /// are still found, or reported lost.
    pub(super) fn start_watcher(&self) -> Result<Watcher, ReadError> {
        // `open` resolved a symlink the user named; `open_single` did not: watch the set
        // beside its target, where the writer rotates (kubelet resolves it too).
        let resolved;
        let path = match std::fs::symlink_metadata(&self.path) {
            Ok(m) if m.file_type().is_symlink() => {
                resolved =
                    std::fs::canonicalize(&self.path).map_err(|e| ReadError::io(&self.path, e))?;
                &resolved
            }
            _ => &self.path,
        };
        Watcher::start(path, &self.opened, self.opts.poll_interval)
    }

    /// One step of following that never waits: takes the watcher's reports, reads what the
    /// current file has (at most [`DRAIN_BUDGET`] bytes), and does what [`FollowState`]
    /// decides. The I/O half of following; [`FollowCore`] steps it.
    fn poll_once<S: Out>(
        &self,
        f: &mut Following,
        pipe: &mut Pipeline,
        watcher: &Watcher,
        sink: &mut S,
    ) -> Result<Poll, ReadError> {
        // Every step, also while the current file keeps growing: a writer that outpaces
        // the drain must not hold back the watcher's warnings and errors.
        let taken = watcher.reports();
        for (path, e) in &taken.problems {
            pipe.warn(path, e, sink);
        }
        if let Some(e) = taken.error {
            return Err(e);
        }
        let seen = match f.cur.as_mut() {
            Some(c) => match look(pipe, c, sink)? {
                Some(seen) => Some(seen),
                None => return Ok(Poll::Done),
            },
            None => None,
        };
        match f.state.next(seen, watcher.next_found_at(), Instant::now()) {
            Next::Drain => {}
            Next::Restart => {
                let c = f
                    .cur
                    .as_mut()
                    .expect("Restart is decided for a current file");
                pipe.stats.truncations += 1;
                c.line_buf.reset(0);
            }
            Next::Finish => {
                let mut c = f.cur.take().expect("Finish is decided for a current file");
                loop {
                    match drain(pipe, &mut c, sink)? {
                        Go::Continue => break,
                        Go::Pause => {}
                        Go::Limit | Go::Stop => return Ok(Poll::Done),
                    }
                }
                end_fragment(pipe, &mut c, sink, false)?;
                f.state.finished(c.id, c.head());
                pipe.stats.rotations += 1;
                // `c` is dropped here: its fd is closed.
            }
            Next::Open => {
                // The reader is the only one to take found files: `next_found_at` was
                // `Some`, so there is one.
                let found = watcher.pop().expect("Open is decided for a found file");
                f.state.found(found.at_live, found.when);
                f.cur = self.open_found(found, &f.state, pipe, sink);
                if f.cur.is_some() {
                    f.state.opened();
                    pipe.stats.files_read += 1;
                }
            }
            Next::Wait(d) => {
                // Output is complete up to here before the caller sleeps.
                sink.flush().map_err(ReadError::Output)?;
                return Ok(Poll::Wait(d));
            }
        }
        Ok(Poll::Ready)
    }

    /// A found file ready to read, or `None` when it copies a file already read or cannot
    /// be read (reported).
    fn open_found<S: Out>(
        &self,
        f: Found,
        state: &FollowState,
        pipe: &mut Pipeline,
        sink: &mut S,
    ) -> Option<Current> {
        if !f.at_live && state.is_copy(f.id, &head_of(&f.handle, &f.file)) {
            return None;
        }
        match Current::new(&f.file, f.handle, state.num(), f.id, 0, self.line_opts()) {
            Ok(c) => Some(c),
            Err(e) => {
                pipe.warn(&f.file.path, &e, sink);
                None
            }
        }
    }
}

/// Drains the current file (at most [`DRAIN_BUDGET`] bytes) and says what it saw; `None`
/// when the output limit was reached or the sink stopped.
fn look<S: Out>(
    pipe: &mut Pipeline,
    c: &mut Current,
    sink: &mut S,
) -> Result<Option<Cur>, ReadError> {
    let before = c.line_buf.read_off();
    match drain_upto(pipe, c, sink, DRAIN_BUDGET)? {
        Go::Limit | Go::Stop => return Ok(None),
        // A line is out: there may be more.
        Go::Pause => return Ok(Some(Cur::Grew)),
        Go::Continue => {}
    }
    if c.line_buf.read_off() != before {
        return Ok(Some(Cur::Grew));
    }
    let meta = c.file.metadata().map_err(|e| ReadError::io(&c.path, e))?;
    let plain = matches!(c.decode, Decode::Plain);
    Ok(Some(Cur::Idle {
        truncated: plain && meta.len() < c.line_buf.read_off(),
        unlinked: meta.nlink() == 0,
    }))
}
