//! The follower's watcher thread: finds each new file of a rotated set as soon as it appears
//! and opens it at once, so that it can be read later even if it is renamed or deleted
//! meanwhile. See [`super::follow`] for the design and its limits.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::files::{open_listed, snapshot, Listed, LogFile};
use super::ReadError;
use crate::regular::FileId;

/// Files found and not yet read, at most: each holds an fd and, once max-file pruning deletes
/// it, its disk space. Past this (or [`MAX_QUEUED_BYTES`], or a quarter of the open-files
/// limit, see [`queued_files_cap`]) the follower is too slow for the writer: new files are
/// reported and left (see the module docs of `follow`).
pub(super) const MAX_QUEUED_FILES: usize = 512;

/// [`MAX_QUEUED_FILES`], or a quarter of the open-files limit `nofile` (`RLIMIT_NOFILE`'s
/// soft limit, `None` when unknown) when that is less, and never less than 4. The rest of
/// the limit is for the process itself and the follower's other fds (the starting set's
/// open-ahead files, an eighth of the limit; the watcher's [`KEEP_FDS`](known::KEEP_FDS);
/// inotify; the current file): with `ulimit -n 256` and a slow consumer the queue stops at
/// 64 files with one warning, rather than every later open failing with `EMFILE`, one
/// warning per file.
fn queued_files_cap(nofile: Option<u64>) -> usize {
    nofile.map_or(MAX_QUEUED_FILES, |n| {
        // A real clamp: the limit may be `RLIM_INFINITY` (`u64::MAX`).
        usize::try_from(n / 4)
            .unwrap_or(usize::MAX)
            .clamp(4, MAX_QUEUED_FILES)
    })
}

/// Bytes of the files found and not yet read, at most (each file counted once a newer one
/// is found, when it no longer grows).
pub(super) const MAX_QUEUED_BYTES: u64 = 256 << 20;

/// A file of the set found after the follow started, opened when found.
#[derive(Debug)]
pub(super) struct Found {
    /// Its name when found.
    pub file: LogFile,
    pub handle: File,
    pub id: FileId,
    /// Found at the live name (a new file of the writer), not at a backup name (a file
    /// created and rotated before the watcher saw it, or a copy such as a `.gz`).
    pub at_live: bool,
    /// When it was found: the file before it stopped being the live file by then.
    pub when: Instant,
    /// Its size, taken when the next file is found (counted in `Inbox::queued_bytes`).
    size: Option<u64>,
}

/// What the watcher hands to the reader.
#[derive(Debug, Default)]
struct Inbox {
    /// Found and not yet read, oldest first.
    found: VecDeque<Found>,
    /// Sum of the sizes taken of `found`.
    queued_bytes: u64,
    /// Files left because the queue was full, in all.
    dropped: u64,
    problems: Vec<(PathBuf, io::Error)>,
    error: Option<ReadError>,
    /// Something in the set changed (new data, a new file) since the reader last looked.
    changed: bool,
    /// The watcher thread returned (or panicked).
    exited: bool,
}

#[derive(Debug, Default)]
struct Shared {
    inbox: Mutex<Inbox>,
    cond: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // A panic in the other thread leaves a consistent inbox: keep going.
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The reader's end of the watcher thread; dropping it stops the thread and joins it if it
/// ends within `stop_wait`, else leaves it (see `Drop`).
#[derive(Debug)]
pub(super) struct Watcher {
    shared: Arc<Shared>,
    quit: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// How long a drop waits for the thread: it sees `quit` within one poll interval plus
    /// one listing of the set, unless a system call hangs.
    stop_wait: Duration,
}

/// Marks the watcher thread ended when dropped: on return and on a panic alike.
struct Exited(Arc<Shared>);

impl Drop for Exited {
    fn drop(&mut self) {
        self.0.lock().exited = true;
        self.0.cond.notify_all();
    }
}

/// What the reader got from [`Watcher::reports`].
#[derive(Debug, Default)]
pub(super) struct Taken {
    pub problems: Vec<(PathBuf, io::Error)>,
    pub error: Option<ReadError>,
}

impl Watcher {
    /// Starts watching the set of `path`. `opened` is the set as the reader opened it: those
    /// files are known, only files newer than them are reported. The directory watch is in
    /// place when this returns, so nothing created afterwards is missed. Fails only when no
    /// thread can be started.
    pub fn start(path: &Path, opened: &[Listed], poll: Duration) -> Result<Watcher, ReadError> {
        Watcher::start_with(
            path,
            opened,
            poll,
            true,
            queued_files_cap(crate::regular::nofile_limit()),
        )
    }

    /// [`Watcher::start`], polling only when `inotify` is false (the fallback, for tests),
    /// queueing at most `max_queued` found files.
    fn start_with(
        path: &Path,
        opened: &[Listed],
        poll: Duration,
        inotify: bool,
        max_queued: usize,
    ) -> Result<Watcher, ReadError> {
        let known = KnownFiles::new(opened.iter().map(|l| (l.id, l.handle.as_ref())));
        let mut scanner = Scanner {
            path: path.to_path_buf(),
            known,
            max_queued,
        };
        // Without inotify the watcher lists the set every poll interval.
        let mut events = notify::Events::new(path).ok().filter(|_| inotify);
        let shared = Arc::new(Shared::default());
        // Files created between the reader's listing and the watch. What the watch saw so
        // far is now listed: drop those events, so that the files they announce are not
        // taken for files missed (see `watch_loop`).
        scanner.scan(&shared);
        if let Some(e) = events.as_mut() {
            e.discard_pending();
        }
        let quit = Arc::new(AtomicBool::new(false));
        let thread = {
            let (shared, quit) = (shared.clone(), quit.clone());
            std::thread::Builder::new()
                .name("ctrlog-follow".into())
                .spawn(move || {
                    let _exited = Exited(shared.clone());
                    watch_loop(scanner, events, &shared, &quit, poll)
                })
        };
        let thread = thread.map_err(|e| {
            ReadError::io(
                path,
                io::Error::other(format!("cannot start the follower's watcher thread: {e}")),
            )
        })?;
        Ok(Watcher {
            shared,
            quit,
            thread: Some(thread),
            stop_wait: poll + STOP_WAIT,
        })
    }

    /// Waits until the watcher reports something or `timeout` passes. Returns whether it
    /// reported something.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.shared.lock();
        loop {
            if g.changed || g.error.is_some() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            g = match self.shared.cond.wait_timeout(g, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// The problems and the error reported since the last call; clears "changed".
    pub fn reports(&self) -> Taken {
        let mut g = self.shared.lock();
        g.changed = false;
        Taken {
            problems: std::mem::take(&mut g.problems),
            error: g.error.take(),
        }
    }

    /// When the next file to read was found, if there is one.
    pub fn next_found_at(&self) -> Option<Instant> {
        self.shared.lock().found.front().map(|f| f.when)
    }

    /// The next file to read (the oldest found).
    pub fn pop(&self) -> Option<Found> {
        let mut g = self.shared.lock();
        let f = g.found.pop_front()?;
        // A size is counted in `queued_bytes` once it is set; `None`: never counted.
        g.queued_bytes -= f.size.unwrap_or(0);
        Some(f)
    }
}

/// How much longer than a poll interval a drop waits for the watcher thread to end.
const STOP_WAIT: Duration = Duration::from_secs(1);

impl Drop for Watcher {
    /// Stops the thread and joins it, but waits at most `stop_wait`: a thread stuck in
    /// `readdir` or `lstat` (a hung NFS mount) must not keep `follow` from returning after a
    /// stop. Such a thread is left running, detached; it returns at its next look at the
    /// stop flag, and closes its fds (the newest known files, the files found and not read)
    /// then.
    fn drop(&mut self) {
        self.quit.store(true, Ordering::Relaxed);
        let Some(t) = self.thread.take() else { return };
        let deadline = Instant::now() + self.stop_wait;
        let mut g = self.shared.lock();
        while !g.exited {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            g = match self.shared.cond.wait_timeout(g, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        drop(g);
        let _ = t.join();
    }
}

/// The watcher thread's scans: lists the set, opens what [`KnownFiles`] says is new.
struct Scanner {
    path: PathBuf,
    /// Which files of the set were seen (see [`KnownFiles`] for how a new file is told
    /// apart from a known one).
    known: KnownFiles,
    /// Found files queued at most ([`queued_files_cap`]).
    max_queued: usize,
}

impl Scanner {
    /// Lists the set and opens the files it does not know; reports the files newer than
    /// every known one. Returns how many files it had not seen before, not counting `.gz`
    /// copies.
    fn scan(&mut self, shared: &Shared) -> u64 {
        let mut new_plain = 0;
        // A name that holds another file when opened than when listed: list again.
        for _ in 0..10 {
            let (n, again) = self.scan_once(shared);
            new_plain += n;
            if !again {
                break;
            }
        }
        new_plain
    }

    fn scan_once(&mut self, shared: &Shared) -> (u64, bool) {
        let snap = match snapshot(&self.path, 0) {
            Ok(s) => s,
            Err(e) => {
                shared.lock().error = Some(e);
                shared.cond.notify_all();
                return (0, false);
            }
        };
        let mut problems: Vec<(PathBuf, io::Error)> = snap.list_error.into_iter().collect();
        let ids: Vec<FileId> = snap.files.iter().map(|l| l.id).collect();
        let at = self.known.begin(&ids);
        let mut new_plain = 0;
        let mut again = false;
        let now = Instant::now();
        let mut found = Vec::new();
        for (k, l) in snap.files.into_iter().enumerate() {
            let Entry::New { report } = self.known.entry(&at, k, l.id) else {
                continue;
            };
            let handle = match open_listed(&l.file.path).and_then(|h| Ok((FileId::of_file(&h)?, h)))
            {
                Ok((id, h)) if id == l.id => h,
                // Renamed or replaced since the listing.
                Ok(_) => {
                    again = true;
                    continue;
                }
                // Deleted since: a file missed, which `watch_loop` counts.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    problems.push((l.file.path, e));
                    continue;
                }
            };
            self.known.learn(&at, k, l.id, || handle.try_clone().ok());
            new_plain += u64::from(!l.file.gzip);
            if !report {
                continue;
            }
            found.push(Found {
                at_live: l.file.backup.is_none(),
                file: l.file,
                handle,
                id: l.id,
                when: now,
                size: None,
            });
        }
        self.known.end(&ids);
        let mut g = shared.lock();
        let mut dropped = 0;
        for f in found {
            // The newest queued file stopped growing: count its size now.
            if let Some(last) = g.found.back_mut().filter(|l| l.size.is_none()) {
                // A real fallback: `fstat` of an open fd fails only on EIO and the like;
                // the file is then read (and reported) like any other, just not counted.
                let size = last.handle.metadata().map_or(0, |m| m.len());
                last.size = Some(size);
                g.queued_bytes += size;
            }
            if g.found.len() >= self.max_queued || g.queued_bytes >= MAX_QUEUED_BYTES {
                dropped += 1;
                continue;
            }
            g.found.push_back(f);
            g.changed = true;
        }
        if dropped > 0 {
            g.dropped += dropped;
            let reason = format!(
                "{dropped} new file(s) of the set not read ({} in all): the follower is more \
                 than {} files or {} MiB behind the writer",
                g.dropped,
                self.max_queued,
                MAX_QUEUED_BYTES >> 20
            );
            g.problems
                .push((self.path.clone(), io::Error::other(reason)));
        }
        g.problems.extend(problems);
        if g.changed || !g.problems.is_empty() {
            shared.cond.notify_all();
        }
        (new_plain, again)
    }
}

/// The watcher thread's decisions without I/O: when to list the set again, and how many new
/// files were lost before it could open them. [`watch_loop`] waits for events and scans;
/// this decides, so unit tests drive it with made-up events and instants.
#[derive(Debug)]
struct WatchState {
    poll: Duration,
    last_scan: Instant,
    /// Live files announced by `IN_CREATE` minus new plain files found: positive after a
    /// scan, the writer created files that were gone before the scan could open them. A
    /// file found before its event is read makes it negative until the event comes; one
    /// created between the first listing and `discard_pending` is found but never
    /// announced, which can only hide a loss, never report one that did not happen.
    unseen: i64,
    /// Files reported lost so far.
    missed_total: i64,
}

/// A count of files or events as the signed balance of [`WatchState`]: a count that does
/// not fit is a bug, not a value to clamp.
fn count(n: u64) -> i64 {
    i64::try_from(n).expect("a count of files fits in i64")
}

impl WatchState {
    /// After the first scan, at `now`, which found `first` new plain files.
    fn new(poll: Duration, first: u64, now: Instant) -> Self {
        WatchState {
            poll,
            last_scan: now,
            unseen: -count(first),
            missed_total: 0,
        }
    }

    /// The watcher woke with `wake` at `now`: whether to list the set again. Every poll
    /// interval whatever the events: a file written without pause sends `IN_MODIFY` events
    /// so often that the wait never times out, and some changes come with no event at all
    /// (a removed directory's `IN_DELETE_SELF` waits until the last open file in it is
    /// closed; another NFS client's renames).
    fn woke(&mut self, wake: &notify::Wake, now: Instant) -> bool {
        if wake.overflow {
            // The events are incomplete: nothing can be told lost from them.
            self.unseen = 0;
        }
        self.unseen += count(wake.created);
        let rescan = wake.rescan || now.duration_since(self.last_scan) >= self.poll;
        if rescan {
            self.last_scan = now;
        }
        rescan
    }

    /// A scan found `found` new plain files: the warning for the files lost since the last
    /// report, if any.
    fn scanned(&mut self, found: u64) -> Option<String> {
        self.unseen -= count(found);
        if self.unseen <= 0 {
            return None;
        }
        let unseen = std::mem::take(&mut self.unseen);
        self.missed_total += unseen;
        Some(format!(
            "at least {unseen} new file(s) of the set ({} in all) were rotated away and \
             deleted before the follower could open them: their lines are lost",
            self.missed_total
        ))
    }
}

fn watch_loop(
    mut scanner: Scanner,
    mut events: Option<notify::Events>,
    shared: &Shared,
    quit: &AtomicBool,
    poll: Duration,
) {
    let first = scanner.scan(shared);
    let mut losses = WatchState::new(poll, first, Instant::now());
    while !quit.load(Ordering::Relaxed) {
        let wake = match events.as_mut().map(|e| e.wait(poll)) {
            Some(Ok(w)) => w,
            // The watch is gone (the directory was removed or moved, or reading failed):
            // poll from now on.
            Some(Err(_)) => {
                events = None;
                notify::Wake::ALL
            }
            None => {
                std::thread::sleep(poll);
                notify::Wake::ALL
            }
        };
        if losses.woke(&wake, Instant::now()) {
            let found = scanner.scan(shared);
            if let Some(reason) = losses.scanned(found) {
                let mut g = shared.lock();
                g.problems
                    .push((scanner.path.clone(), io::Error::other(reason)));
                shared.cond.notify_all();
            }
        }
        if wake.changed {
            shared.lock().changed = true;
            shared.cond.notify_all();
        }
    }
}

/// Which listed files are new, without I/O.
mod known;
/// Directory events through inotify (Linux); elsewhere there are none and the watcher polls.
mod notify;

use known::{Entry, KnownFiles};

#[cfg(test)]
mod tests;
