//! Size-capped rotating log files: [`RotatingFile`], a `std::io::Write` where one `write` call
//! is one record.
//!
//! ```
//! use std::io::Write;
//! use ctrlog::rotate::{RotateOptions, RotatingFile};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("app.log");
//! // Docker's `--log-opt max-size=20 --log-opt max-file=3`.
//! let opts = RotateOptions::from_docker(Some("20"), Some("3"), false)?;
//! let mut log = RotatingFile::open(&path, opts)?;
//! log.write_all(b"first record\n")?;
//! log.write_all(b"second record\n")?; // would pass 20 bytes: rotates first
//! log.close()?;
//! assert_eq!(std::fs::read(&path)?, b"second record\n");
//! assert_eq!(std::fs::read(dir.path().join("app.log.1"))?, b"first record\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # References
//! Docker's json-file rotation (moby `daemon/logger/loggerutils/logfile.go`,
//! `daemon/logger/jsonfilelog/jsonfilelog.go`), kubelet's container log manager
//! (`pkg/kubelet/logs/container_log_manager.go`) and lumberjack (`natefinch/lumberjack`,
//! `lumberjack.go`). Their test tables are ported in `tests/rotate_*.rs`.
//!
//! # Behaviour
//! - **Records.** One `write` call is one record and is never split across two files. The
//!   writer rotates before a write that would push the live file over `max_size`; a record
//!   larger than `max_size` is written whole, alone, into a fresh file. Without `max_size` it
//!   never rotates. Do not put a `BufWriter` in front: it would cut records at its buffer size.
//! - **Backups.** [`Backups::Count`]`(n)` keeps at most `n` (0 = none: the live file is
//!   removed on rotation, Docker's `max-file=1`); [`Backups::Unlimited`] keeps all. Docker's
//!   `max-file` N is `Count(N - 1)`. Excess backups (including ones that were there before
//!   open) are deleted oldest first, at open and at every rotation.
//! - **Names** come from a [`NamingScheme`]: [`Naming::Docker`] (`name.1` newest),
//!   [`Naming::Kubelet`] (`name.YYYYMMDD-HHMMSS`), [`Naming::Ctrlog`] (`name.s00000001`,
//!   larger is newer, the next number is one more than the largest on disk). Renames never
//!   replace a file (`renameat2(RENAME_NOREPLACE)`, else `link` + `unlink`). An entry with a
//!   name of the set that is neither a regular file nor a directory (a symbolic link, a FIFO:
//!   a *stray*) is unlinked at open and at every rotation (`unlink` removes the link, never
//!   its target), as Docker's `os.Rename` would replace it; a planted link so never stops
//!   rotation and is never written or compressed through. A directory at a backup name is
//!   left alone (the rename fails, see **Failures**).
//! - **Compression** (feature `gzip`) runs in a worker thread owned by the writer and joined by
//!   [`RotatingFile::close`] (and on drop). It writes `<backup>.gz.tmp`, renames it to
//!   `<backup>.gz`, then removes the raw backup. The writer never waits for it: a slow
//!   compression delays nothing, a failing one leaves that backup raw (retried by the next
//!   writer that opens the set) and moves on to the others.
//! - **Open** appends to an existing file (never rotates on open) and takes an advisory
//!   `flock`: a second writer on the same file fails with [`RotateError::Locked`]. Once the
//!   lock is taken, the path must still name the locked file (`fstat` of the descriptor
//!   against `lstat` of the path): a writer that rotates releases the lock of the file it
//!   renamed away, and a second writer waiting for that lock would otherwise append to a
//!   backup; it re-opens the path instead (a few times, then [`RotateError::Locked`]). The live
//!   file (at open, at rotation, at a re-open) is opened with `O_NOFOLLOW | O_NONBLOCK` and
//!   `fstat`ed: a symbolic link at the path is refused ([`RotateError::Symlink`]; a link planted
//!   in a log directory would otherwise point a writer running as root at any file), and so is
//!   anything but a regular file ([`RotateError::NotRegular`]: a FIFO is refused at once, never
//!   waited on). **Parent directories are not created** ([`RotateError::NoParent`]): the one
//!   who chooses the path makes its directory (kubelet makes the pod and container log
//!   directories, dockerd the container directory), and a mistyped path run as root must not
//!   create a tree. Startup recovery first looks at the live file's tail: with
//!   [`RecordEnd::Newline`], bytes after the last `\n` are a torn record and are cut, but a
//!   non-empty file without any `\n` has no record boundary and is refused, untouched
//!   ([`RotateError::NoRecordBoundary`]). Then it removes temporaries, removes a raw backup
//!   whose `.gz` twin is complete (or the `.gz` if it is not), prunes excess backups and
//!   resumes compression of raw backups; a rotation a crash cut short is completed (see
//!   **Limits**). Backups are found by listing the directory (once per rotation); entries
//!   that are not regular files (symlinks included) are never part of the set.
//! - **External changes.** Before a write, once [`RotateOptions::check_interval`] (default
//!   1 s, monotonic clock) has passed since the last check, and at every rotation, the writer
//!   `fstat`s its file and `lstat`s the path: if the file was deleted (link count 0) or renamed
//!   away, a new file is opened at the path; if it was truncated, the size is re-synced. The
//!   bound: records written within one interval after a deletion or rename still go to the
//!   old file (at most interval × write rate of them; a zero interval checks before every
//!   record). [`RotatingFile::reopen`] does this on demand (kubelet's `ReopenContainerLog`
//!   flow). A symlink put at the path is not followed: writing goes on into the current file.
//!   [`PlainFile`] runs the same check (one `PathWatch` in `src/rotate/live.rs`).
//! - **Failures.** A failed rotation (for example a rename error, `EACCES` in a directory the
//!   writer cannot write) keeps appending to the current file, which so grows past
//!   `max_size`, and retries after a back-off (16, 32, ... up to 4096 records); the file is
//!   never truncated as a fallback. The write itself succeeds (the record is not lost): the
//!   failure is counted ([`RotateStats::rotation_failures`]) and its reason, naming the file
//!   and the OS error, kept ([`RotatingFile::rotation_error`]) for the caller to report;
//!   `ctrlog write` and the driver warn at the first failure and exit 1 at the end. A write that fails leaves no partial record (the file is cut
//!   back to the record boundary before it). After `ENOSPC` or `EDQUOT` the oldest backup is
//!   deleted and the write is retried once; `EFBIG` (`ulimit -f`: a limit on one file, which
//!   deleting others does not lift) and other errors are returned at once, and no backup is
//!   deleted. The writer keeps working once the cause is gone.
//! - **Durability** is a [`Durability`] policy: none, sync on rotate and close (default), or
//!   sync every record; directory `fsync` after renames when syncing. New files get mode 0640
//!   by default; a rotated-in file gets the mode of the file it replaces.
//!
//! # Differences from the references, on purpose
//! - Docker rotates when the file is already at or over the cap, so a file ends up to one
//!   record over it; ctrlog rotates before the write that would cross the cap (the files of
//!   Docker's `TestJSONFileLoggerWithOpts` split one record earlier).
//! - Docker truncates the live file when the rename fails; ctrlog keeps appending.
//! - Docker compresses in place (`name.1.gz` opened with `O_TRUNC`) while holding the rotation
//!   lock, so a slow compression delays the next rotation; ctrlog compresses to a temporary
//!   name and never makes rotation wait. ctrlog writes no `lastTime` into the gzip header (it
//!   does not parse records).
//! - lumberjack rejects a write larger than `MaxSize`; ctrlog writes it alone into a fresh file.
//!   lumberjack names backups by time (ms) and overwrites on collision; ctrlog's names come
//!   from disk and never collide.
//! - kubelet rotates by polling (files grow past the cap between polls) and a same-second
//!   rotation replaces the previous backup; ctrlog rotates inline and moves the name to the
//!   next free second. kubelet's `MaxFiles` counts the live file: `Count(MaxFiles - 1)`.
//! - nerdctl's json-file driver keeps unlimited backups with Docker's default `max-file=1`;
//!   ctrlog maps `max-file=1` to no backups, as Docker does.
//! - lumberjack (`MkdirAll(dir, 0755)`), containerd's CRI `openLogFile` (`MkdirAll(dir, 0755)`)
//!   and nerdctl's json-file `Init` (`MkdirAll(dir, 0700)`) create missing parent directories;
//!   ctrlog does not (see **Open**). In containerd's and nerdctl's flows the directory already
//!   exists (kubelet's `MkdirAll` of the pod log directory, nerdctl's data store), so nothing
//!   changes there; a path with a typo fails instead of creating a tree.
//! - None of the references refuses a symlink or a FIFO at the log path (Go's `os.OpenFile`
//!   follows links and blocks on a FIFO); ctrlog refuses both (see **Open**).
//! - lumberjack, Docker and kubelet never cut a live file at open; ctrlog cuts a torn record
//!   (a crash in the middle of a write) so that the next record starts on its own line.
//!
//! # Limits
//! - Linux/Unix only (`flock`, `renameat2`; `sync_file_range` on Linux). The lock is advisory
//!   and covers the live file. A rotation creates and locks the new live file under a hidden
//!   name (`.NAME.ctrlog-next`) and swaps it with the live file in one step
//!   (`renameat2(RENAME_EXCHANGE)`), then renames the old file, now at the hidden name, to its
//!   backup name: the path never names anything but a file the writer holds the lock of, so a
//!   second writer always fails with [`RotateError::Locked`]. A hidden file left by a crash is
//!   settled at open: removed if empty, else (the old live data) moved to the backup name
//!   the rotation would have given it; never lost (crash points: `src/rotate/rotation.rs`).
//!   File systems without `RENAME_EXCHANGE` (some network and FUSE ones; kernels before
//!   3.15; systems other than Linux) get two renames instead (old file away, new file in):
//!   a second writer that creates a file at the path in the microseconds between them makes
//!   that rotation fail (reported, see **Failures**). One writer per set.
//! - Memory: the writer buffers no records; compression and the torn-record scan use 64 KiB
//!   buffers (`memory_is_bounded` in `tests/rotate/faults.rs` checks peak RSS).
//! - Docker names: a crash in the middle of a shift leaves a gap (`name.2` without `name.1`);
//!   the set stays valid and pruning keeps the count, but numbers are not compacted, so a
//!   backup can sit above `max-file - 1` where Docker's reader does not look.
//! - [`RecordEnd::Newline`] (the default) cuts everything after the last `\n` of the live file
//!   at open (and refuses a file with no `\n` at all); use [`RecordEnd::Any`] for files whose
//!   records do not end with a newline.
//! - The identity check reads a coarse monotonic clock once per record (a few ns, no system
//!   call; resolution 1-4 ms, so the interval is kept to within a tick) and costs an `fstat`
//!   and an `lstat` per interval.
//! - [`PlainFile`] is the non-rotating output with the same code for the open rules, the
//!   lock, the torn-tail recovery of the live file, the identity check and the
//!   record-boundary failure handling (it touches nothing else in the directory).
//! - [`Durability::OnRotate`] waits for the rotated file to reach the disk at every rotation
//!   (one `fsync` of the file, one of the directory); see BENCHMARKS.md for the cost.

#[cfg(feature = "gzip")]
mod compress;
#[cfg(feature = "__fuzz")]
mod fuzz;
mod live;
mod naming;
mod options;
mod output;
mod plain;
mod recover;
mod rotation;
mod set;
mod sys;
mod write;

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::regular::FileId;
use crate::time::Clock;

// Test support, not API: compiled only with the internal `__fuzz` feature.
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub use fuzz::fuzz_rotate_ops;
pub use naming::{
    split_kind, BackupName, CtrlogNaming, DockerNaming, KubeletNaming, Naming, NamingScheme,
    CTRLOG_SEQ_WIDTH,
};
pub use options::{
    Backups, Durability, OptionError, OptionProblem, RecordEnd, RotateError, RotateOption,
    RotateOptions, RotateStats, DEFAULT_CHECK_INTERVAL,
};
pub use output::{LogOutput, PLAIN_MODE};
pub(crate) use plain::append_keeping;
pub use plain::PlainFile;
pub(crate) use set::next_live_name;
pub use set::{classify, EntryKind};

/// State shared with the compression worker; the mutex also serialises every rename and
/// delete in the set (the writer's rotations and the worker's commits).
#[derive(Debug, Default)]
struct FsState {
    /// The raw backup being compressed, at its current path (the writer updates it when a
    /// Docker shift moves the file, and clears it when it deletes the file).
    in_flight: Option<PathBuf>,
    /// There may be raw backups to compress.
    pending: bool,
    /// The writer is closing: finish what is pending, then exit.
    stop: bool,
    compressed: u64,
    compress_failures: u64,
}

struct Shared {
    paths: set::SetPaths,
    scheme: Box<dyn NamingScheme>,
    /// `fsync` compressed files and the directory (used by the worker).
    #[cfg_attr(not(feature = "gzip"), allow(dead_code))]
    sync: bool,
    state: Mutex<FsState>,
    cv: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FsState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A size-capped, rotating log file. See the [module documentation](self).
pub struct RotatingFile {
    path: PathBuf,
    file: File,
    id: FileId,
    size: u64,
    max_size: Option<u64>,
    backups: Backups,
    durability: Durability,
    mode: u32,
    clock: Arc<dyn Clock + Send + Sync>,
    /// When the live file's identity is checked next (shared with [`PlainFile`]).
    watch: live::PathWatch,
    retry_in: u32,
    backoff: u32,
    /// A record start the file must be cut back to before the next write (a failed cut).
    repair_at: Option<u64>,
    /// Bytes written since writeback was last started (sync policies only).
    unsynced: u64,
    stats: RotateStats,
    /// Why the last failed rotation failed (see **Failures** in the module docs).
    rotation_error: Option<String>,
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

impl fmt::Debug for RotatingFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotatingFile")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("max_size", &self.max_size)
            .field("backups", &self.backups)
            .finish_non_exhaustive()
    }
}

/// With [`Durability::OnRotate`], writeback is started every this many bytes, so that the
/// `fsync` before a rotation waits for at most about this much.
const WRITEBACK_EVERY: u64 = 1 << 20;

const BACKOFF_START: u32 = 16;
const BACKOFF_MAX: u32 = 4096;

/// Opens (or creates) the live file at open time, locked (see [`live::open_locked`]); a file
/// it creates gets `mode` (the umask applied at creation).
fn open_new_or_existing(path: &Path, mode: u32) -> Result<File, RotateError> {
    let existed = std::fs::symlink_metadata(path).is_ok();
    let (file, _) = live::open_locked_file(path, mode, sys::Create::IfMissing)?;
    if !existed {
        let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
    }
    Ok(file)
}

impl RotatingFile {
    /// Opens (or creates) the live file at `path` for appending, recovers the set (see the
    /// module docs) and starts the compression worker when `opts.compress` is set.
    pub fn open(path: impl AsRef<Path>, opts: RotateOptions) -> Result<Self, RotateError> {
        let path = path.as_ref().to_path_buf();
        if opts.compress && !cfg!(feature = "gzip") {
            return Err(OptionError {
                option: RotateOption::Compress,
                input: "true".into(),
                problem: OptionProblem::GzipUnavailable,
            }
            .into());
        }
        let base = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| RotateError::BadPath { path: path.clone() })?
            .to_owned();
        // A path with a file name has a parent (`""` for a bare name).
        let dir = path
            .parent()
            .expect("a path with a file name has a parent")
            .to_path_buf();
        let file = open_new_or_existing(&path, opts.mode)?;
        let sync = opts.durability != Durability::None;
        let shared = Arc::new(Shared {
            paths: set::SetPaths { dir, base },
            scheme: opts.naming.scheme(opts.offset),
            sync,
            state: Mutex::new(FsState::default()),
            cv: Condvar::new(),
        });
        let mut w = RotatingFile {
            path,
            file,
            id: FileId { dev: 0, ino: 0 },
            size: 0,
            max_size: opts.max_size,
            backups: opts.backups,
            durability: opts.durability,
            mode: opts.mode,
            clock: opts.clock,
            watch: live::PathWatch::new(opts.check_interval),
            retry_in: 0,
            backoff: BACKOFF_START,
            repair_at: None,
            unsynced: 0,
            stats: RotateStats::default(),
            rotation_error: None,
            shared,
            worker: None,
        };
        w.recover(opts.record_end)?;
        let st = sys::fstat(&w.file).map_err(|e| RotateError::io("fstat", &w.path, e))?;
        w.id = st.id;
        w.size = st.size;
        if opts.compress {
            w.start_worker();
        }
        Ok(w)
    }

    /// The live file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes in the live file, as the writer counts them.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Counters so far.
    pub fn stats(&self) -> RotateStats {
        let st = self.shared.lock();
        RotateStats {
            compressed: st.compressed,
            compress_failures: st.compress_failures,
            ..self.stats
        }
    }

    fn start_worker(&mut self) {
        #[cfg(feature = "gzip")]
        {
            self.shared.lock().pending = true;
            let shared = Arc::clone(&self.shared);
            match std::thread::Builder::new()
                .name("ctrlog-gzip".into())
                .spawn(move || compress::run(&shared))
            {
                Ok(h) => self.worker = Some(h),
                Err(_) => {
                    // No thread: backups stay raw (counted as a failure).
                    self.shared.lock().compress_failures += 1;
                }
            }
        }
    }

    fn wake_worker(&self) {
        if self.worker.is_some() {
            self.shared.lock().pending = true;
            self.shared.cv.notify_all();
        }
    }

    /// Blocks until the compression worker has nothing left to do (tests, orderly shutdown).
    pub fn wait_compressed(&self) {
        if self.worker.is_none() {
            return;
        }
        let mut st = self.shared.lock();
        while st.pending || st.in_flight.is_some() {
            match &self.worker {
                Some(h) if !h.is_finished() => {}
                _ => break,
            }
            st = match self
                .shared
                .cv
                .wait_timeout(st, std::time::Duration::from_millis(100))
            {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Rotates now, even if the live file is empty (lumberjack's `Rotate`): the live file becomes
    /// the newest backup and a new empty file takes its place.
    pub fn rotate(&mut self) -> Result<(), RotateError> {
        match self.rotate_inner() {
            Ok(()) => {
                self.stats.rotations += 1;
                self.backoff = BACKOFF_START;
                self.retry_in = 0;
                Ok(())
            }
            Err(e) => {
                self.stats.rotation_failures += 1;
                // Kept for the report: the writer goes on, the caller may not look at once.
                self.rotation_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Why the last failed rotation failed (the operation, the file and the OS error), or
    /// `None` if none has. A failed rotation is not a
    /// failed write (the record went into the live file, which so grows past `max_size`):
    /// callers that must report it check this, or [`RotateStats::rotation_failures`], after
    /// writing (`ctrlog write` does at exit and exits 1).
    pub fn rotation_error(&self) -> Option<&str> {
        self.rotation_error.as_deref()
    }

    /// Opens a new live file at the path if the current one was renamed away or deleted (kubelet's
    /// `ReopenContainerLog` after an external rotation). A no-op if the path still names the
    /// current file. Never rotates.
    pub fn reopen(&mut self) -> Result<(), RotateError> {
        let r = self.watch.reopen(&self.path, self.mode, self.id)?;
        self.apply(r);
        Ok(())
    }

    /// Checks the live file now: re-opens it if it was deleted or renamed away, re-syncs the
    /// size if it was truncated. Runs by itself before a write once
    /// [`RotateOptions::check_interval`] has passed since the last check.
    pub fn refresh(&mut self) -> Result<(), RotateError> {
        let r = self.watch.refresh(&self.file, &self.path, self.mode)?;
        self.apply(r);
        Ok(())
    }

    fn apply(&mut self, r: live::Refresh) {
        match r {
            live::Refresh::Same(size) => self.size = size,
            live::Refresh::Reopened(file, st) => {
                self.file = file;
                self.id = st.id;
                self.size = st.size;
                self.repair_at = None;
                self.stats.reopens += 1;
            }
        }
    }

    /// Syncs (unless durability is `None`), finishes pending compressions and closes.
    pub fn close(mut self) -> Result<(), RotateError> {
        let r = if self.durability != Durability::None {
            self.file
                .sync_all()
                .map_err(|e| RotateError::io("fsync", &self.path, e))
        } else {
            Ok(())
        };
        self.stop_worker();
        r
    }

    fn stop_worker(&mut self) {
        if let Some(h) = self.worker.take() {
            self.shared.lock().stop = true;
            self.shared.cv.notify_all();
            let _ = h.join();
        }
    }
}

impl Drop for RotatingFile {
    fn drop(&mut self) {
        self.stop_worker();
    }
}

fn remove_file(path: &Path) -> Result<(), RotateError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RotateError::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_is_send_and_options_are_send_sync() {
        fn send<T: Send>() {}
        fn sync<T: Sync>() {}
        send::<RotatingFile>();
        send::<RotateOptions>();
        sync::<RotateOptions>();
        send::<RotateError>();
        sync::<RotateError>();
    }
}
