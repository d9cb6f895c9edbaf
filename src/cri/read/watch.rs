//! The follower's watcher thread: finds each new file of a rotated set as soon as it appears
//! and opens it at once, so that it can be read later even if it is renamed or deleted
//! meanwhile. See [`super::follow`] for the design and its limits.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::files::{identity, open_listed, snapshot, Listed, LogFile};
use super::ReadError;

/// Files found and not yet read, at most: each holds an fd and, once max-file pruning deletes
/// it, its disk space. Past this (or [`MAX_QUEUED_BYTES`], or a quarter of the open-files
/// limit, see [`queued_files_cap`]) the follower is too slow for the writer: new files are
/// reported and left (see the module docs of `follow`).
pub(super) const MAX_QUEUED_FILES: usize = 512;

/// [`MAX_QUEUED_FILES`], or a quarter of the open-files limit `nofile` (`RLIMIT_NOFILE`'s
/// soft limit, `None` when unknown) when that is less, and never less than 4. The rest of
/// the limit is for the process itself and the follower's other fds (the starting set's
/// open-ahead files, an eighth of the limit; the watcher's [`KEEP_FDS`]; inotify; the
/// current file): with `ulimit -n 256` and a slow consumer the queue stops at 64 files with
/// one warning, rather than every later open failing with `EMFILE`, one warning per file.
fn queued_files_cap(nofile: Option<u64>) -> usize {
    nofile.map_or(MAX_QUEUED_FILES, |n| {
        usize::try_from(n / 4)
            .unwrap_or(usize::MAX)
            .clamp(4, MAX_QUEUED_FILES)
    })
}

/// The soft open-files limit (`RLIMIT_NOFILE`), `None` when unknown or unlimited.
fn nofile_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    Some(lim.rlim_cur)
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
    pub id: (u64, u64),
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

/// The reader's end of the watcher thread; dropping it stops and joins the thread.
#[derive(Debug)]
pub(super) struct Watcher {
    shared: Arc<Shared>,
    quit: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
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
        Watcher::start_with(path, opened, poll, true, queued_files_cap(nofile_limit()))
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
        let n = opened.len();
        let known = opened
            .iter()
            .enumerate()
            .map(|(k, l)| {
                let rank = n - 1 - k;
                let known = Known {
                    fd: l
                        .handle
                        .as_ref()
                        .filter(|_| rank < KEEP_FDS)
                        .and_then(|h| h.try_clone().ok()),
                    missed: 0,
                    rank,
                };
                (l.id, known)
            })
            .collect();
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
                .spawn(move || watch_loop(scanner, events, &shared, &quit, poll))
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
        g.queued_bytes -= f.size.unwrap_or(0);
        Some(f)
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.quit.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Identity bookkeeping of the watcher thread.
struct Scanner {
    path: PathBuf,
    /// Every file of the set seen so far and still in it. A new file must never be mistaken
    /// for a known one whose inode number it reuses (max-file pruning deletes the oldest
    /// file as the writer creates a new one). Two guards: the newest [`KEEP_FDS`] known
    /// files have an fd of their own, so their inode numbers cannot be reused while they
    /// are held; and a file's rank from the newest end of the set only grows (rotation
    /// renames files towards older names), so a known inode number listed at a newer rank
    /// than before is a new file. Entries are dropped once two listings in a row miss the
    /// file (the second listing after its deletion, so a deleted file is not held for long;
    /// a listing that never settled while files were renamed may miss a file that is still
    /// there, and taking it for new would read it twice). Only [`KEEP_FDS`] fds are held
    /// for known files, whatever the size of the set. Keyed by (device, inode): a rescan
    /// (every batch of events, every poll interval) costs O(files), also for a set of
    /// thousands of backups (`Backups::Unlimited`).
    known: HashMap<(u64, u64), Known>,
    /// Found files queued at most ([`queued_files_cap`]).
    max_queued: usize,
}

/// Known files (the newest) that the watcher holds an fd of.
const KEEP_FDS: usize = 4;

struct Known {
    fd: Option<File>,
    /// Listings in a row that did not show it.
    missed: u8,
    /// Its place from the newest end of the set when last listed (0: the newest file).
    rank: usize,
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
        let n = snap.files.len();
        let mut problems: Vec<(PathBuf, io::Error)> = snap.list_error.into_iter().collect();
        // A known inode number at a newer rank than before is a new file reusing it.
        for (k, l) in snap.files.iter().enumerate() {
            if self.known.get(&l.id).is_some_and(|kn| n - 1 - k < kn.rank) {
                self.known.remove(&l.id);
            }
        }
        let mut new_plain = 0;
        let mut again = false;
        let ids: HashSet<(u64, u64)> = snap.files.iter().map(|l| l.id).collect();
        // A new file listed before a known one is older than a file already read: a copy
        // (Docker's or kubelet's `.gz` of a backup, a copytruncate copy) or a file missed
        // earlier, which can no longer be printed in order. Only newer files are reported.
        let newest_known = snap
            .files
            .iter()
            .rposition(|l| self.known.contains_key(&l.id));
        let now = Instant::now();
        let mut found = Vec::new();
        for (k, l) in snap.files.into_iter().enumerate() {
            let rank = n - 1 - k;
            if let Some(kn) = self.known.get_mut(&l.id) {
                kn.rank = rank;
                if rank >= KEEP_FDS {
                    kn.fd = None;
                }
                continue;
            }
            let handle = match open_listed(&l.file.path).and_then(|h| Ok((identity(&h)?, h))) {
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
            self.known.insert(
                l.id,
                Known {
                    fd: (rank < KEEP_FDS).then(|| handle.try_clone().ok()).flatten(),
                    missed: 0,
                    rank,
                },
            );
            new_plain += u64::from(!l.file.gzip);
            if newest_known.is_some_and(|nk| k < nk) {
                continue;
            }
            found.push(Found {
                at_live: l.file.scheme.is_none(),
                file: l.file,
                handle,
                id: l.id,
                when: now,
                size: None,
            });
        }
        for (id, k) in &mut self.known {
            k.missed = if ids.contains(id) { 0 } else { k.missed + 1 };
        }
        self.known.retain(|_, k| k.missed < 2);
        let mut g = shared.lock();
        let mut dropped = 0;
        for f in found {
            // The newest queued file stopped growing: count its size now.
            if let Some(last) = g.found.back_mut().filter(|l| l.size.is_none()) {
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

fn watch_loop(
    mut scanner: Scanner,
    mut events: Option<notify::Events>,
    shared: &Shared,
    quit: &AtomicBool,
    poll: Duration,
) {
    // Live files announced by `IN_CREATE` minus new plain files found: positive after a
    // scan, the writer created files that were gone before the scan could open them. A file
    // found before its event is read makes it negative until the event comes; one created
    // between the first listing and `discard_pending` is found but never announced, which
    // can only hide a loss, never report one that did not happen.
    let first = scanner.scan(shared);
    let mut unseen: i64 = -i64::try_from(first).unwrap_or(i64::MAX);
    let mut missed_total = 0;
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
        if wake.overflow {
            unseen = 0;
        }
        unseen += i64::try_from(wake.created).unwrap_or(i64::MAX);
        if wake.rescan {
            let found = scanner.scan(shared);
            unseen -= i64::try_from(found).unwrap_or(i64::MAX);
            if unseen > 0 {
                missed_total += unseen;
                let reason = format!(
                    "at least {unseen} new file(s) of the set ({missed_total} in all) were \
                     rotated away and deleted before the follower could open them: their \
                     lines are lost"
                );
                let mut g = shared.lock();
                g.problems
                    .push((scanner.path.clone(), io::Error::other(reason)));
                shared.cond.notify_all();
                unseen = 0;
            }
        }
        if wake.changed {
            shared.lock().changed = true;
            shared.cond.notify_all();
        }
    }
}

/// Directory events through inotify (Linux); elsewhere there are none and the watcher polls.
mod notify;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotate::{RotateOptions, RotatingFile};
    use std::io::Write;
    use std::os::unix::fs::MetadataExt;

    /// Hang guard of the waits below (never reached when the watcher works).
    const DEADLINE: Duration = Duration::from_secs(10);

    fn id_of(path: &Path) -> (u64, u64) {
        let m = std::fs::symlink_metadata(path).unwrap();
        (m.dev(), m.ino())
    }

    /// The next file the watcher reports, waiting for it (`None` past [`DEADLINE`]); any
    /// problem or error reported meanwhile fails the test.
    fn next_found(watcher: &Watcher, poll: Duration) -> Option<Found> {
        let t = Instant::now();
        loop {
            let taken = watcher.reports();
            assert!(
                taken.error.is_none() && taken.problems.is_empty(),
                "{taken:?}"
            );
            if let Some(f) = watcher.pop() {
                return Some(f);
            }
            if t.elapsed() > DEADLINE {
                return None;
            }
            watcher.wait(poll);
        }
    }

    /// Every file the writer creates is found once, in creation order, by inotify and by the
    /// polling fallback alike. The writer rotates again only once the watcher reported the
    /// file before (no dependence on how fast the watcher thread runs).
    #[test]
    fn finds_each_new_file_once_in_order() {
        for inotify in [true, false] {
            let d = tempfile::tempdir().unwrap();
            let path = d.path().join("c.log");
            let opts = RotateOptions::from_docker(Some("1k"), Some("3"), false).unwrap();
            let mut w = RotatingFile::open(&path, opts).unwrap();
            w.write_all(b"first\n").unwrap();
            let first = File::open(&path).unwrap();
            let opened = vec![Listed {
                file: LogFile {
                    path: path.clone(),
                    scheme: None,
                    gzip: false,
                },
                handle: Some(first),
                id: id_of(&path),
                mtime: (0, 0),
            }];
            let poll = Duration::from_millis(2);
            let watcher =
                Watcher::start_with(&path, &opened, poll, inotify, MAX_QUEUED_FILES).unwrap();
            let line = [b'x'; 99];
            for n in 0..20 {
                // 10 records of 100 bytes into a 1000-byte file: one rotation.
                for _ in 0..10 {
                    let mut rec = line.to_vec();
                    rec.push(b'\n');
                    w.write_all(&rec).unwrap();
                }
                let created = id_of(&path);
                let f = next_found(&watcher, poll);
                let f = f.unwrap_or_else(|| panic!("file {n} not found (inotify: {inotify})"));
                assert_eq!(f.id, created, "file {n}, inotify: {inotify}");
                assert!(f.at_live, "file {n}, inotify: {inotify}");
            }
            assert_eq!(w.stats().rotations, 20);
            // Nothing else: no file reported twice.
            watcher.wait(poll * 5);
            assert!(watcher.pop().is_none(), "inotify: {inotify}");
        }
    }

    /// A set of thousands of backups (`Backups::Unlimited`, kubelet or ctrlog names): each
    /// new live file is found once, none of the known backups is taken for new. The known
    /// files are a map keyed by (device, inode), so each rescan is linear in the set.
    #[test]
    fn large_set_new_files_found_once() {
        const BACKUPS: u64 = 3000;
        for inotify in [true, false] {
            let d = tempfile::tempdir().unwrap();
            let path = d.path().join("c.log");
            let backup = |n: u64| d.path().join(format!("c.log.s{n:08}"));
            for n in 1..=BACKUPS {
                std::fs::write(backup(n), b"old\n").unwrap();
            }
            std::fs::write(&path, b"live\n").unwrap();
            let opened = snapshot(&path, 4).unwrap().files;
            assert_eq!(opened.len() as u64, BACKUPS + 1);
            let poll = Duration::from_millis(5);
            let watcher =
                Watcher::start_with(&path, &opened, poll, inotify, MAX_QUEUED_FILES).unwrap();
            for n in BACKUPS + 1..BACKUPS + 6 {
                std::fs::rename(&path, backup(n)).unwrap();
                std::fs::write(&path, b"new\n").unwrap();
                let created = id_of(&path);
                let f = next_found(&watcher, poll);
                let f = f.unwrap_or_else(|| panic!("file {n} not found (inotify: {inotify})"));
                assert_eq!(f.id, created, "file {n}, inotify: {inotify}");
            }
            watcher.wait(poll * 5);
            assert!(watcher.pop().is_none(), "inotify: {inotify}");
        }
    }

    /// The queue of found files is bounded by the open-files limit too: with `ulimit -n 256`
    /// it holds 64 (the fixed 512 ran into `EMFILE`, one warning per file).
    #[test]
    fn queue_cap_follows_the_open_files_limit() {
        assert_eq!(queued_files_cap(Some(256)), 64);
        assert_eq!(queued_files_cap(Some(1 << 20)), MAX_QUEUED_FILES);
        assert_eq!(queued_files_cap(None), MAX_QUEUED_FILES);
        assert_eq!(queued_files_cap(Some(8)), 4);
        assert!(queued_files_cap(nofile_limit()) <= MAX_QUEUED_FILES);
    }

    /// Past the cap, new files are reported once per scan (with the number in all) and not
    /// queued; the queued ones are the oldest found.
    #[test]
    fn files_past_the_cap_are_reported_not_queued() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("c.log");
        std::fs::write(&path, b"live\n").unwrap();
        let opened = snapshot(&path, 4).unwrap().files;
        let poll = Duration::from_millis(5);
        let watcher = Watcher::start_with(&path, &opened, poll, true, 3).unwrap();
        let mut created = Vec::new();
        for n in 1..=5 {
            std::fs::rename(&path, d.path().join(format!("c.log.s{n:08}"))).unwrap();
            std::fs::write(&path, b"new\n").unwrap();
            created.push(id_of(&path));
        }
        let t = Instant::now();
        let mut problems = Vec::new();
        while !problems.iter().any(|p: &String| p.contains("(2 in all)")) && t.elapsed() < DEADLINE
        {
            watcher.wait(poll);
            let taken = watcher.reports();
            assert!(taken.error.is_none(), "{taken:?}");
            problems.extend(taken.problems.iter().map(|(_, e)| e.to_string()));
        }
        assert!(
            problems.iter().any(|p| p.contains("more than 3 files")),
            "{problems:?}"
        );
        let found: Vec<_> = std::iter::from_fn(|| watcher.pop()).map(|f| f.id).collect();
        assert_eq!(found, created[..3]);
    }
}
