//! Capping runc's `log.json`: bring a file over a size down to its newest whole records,
//! keeping the last error record, while runc may be appending to it. Linux only.
//!
//! ```no_run
//! use ctrlog::runc::cap::{cap_log, CapOptions};
//! let mut opts = CapOptions::default(); // 10 MB, as `scan --cap 10m`
//! opts.max_size = 1_000_000;
//! let report = cap_log("/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/log.json".as_ref(), &opts)?;
//! println!("{report}"); // capped ...: 52000000 -> 999870 bytes, 51000130 reclaimed, ...
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! runc, crun and youki append to `log.json` on every create, start, exec, kill and delete,
//! for the task's whole life, and nothing caps it: containerd's `getLastRuntimeError` reads
//! the whole file when a runtime call fails, and never truncates it. An exec probe that
//! fails every few seconds, or a hook that warns on every exec, fills `/run` (a tmpfs) until
//! no pod can start.
//!
//! # What is kept
//! A file at or under [`CapOptions::max_size`] is not touched. Otherwise the new file holds:
//! * the last error record ([`crate::runc::last_error`]'s rule: the last record whose level
//!   is `error`; what containerd reports), first, when it is older than the kept window; it
//!   is kept even when it alone is larger than `max_size` ([`CapReport::error_over_cap`]);
//! * then the newest whole (`\n`-terminated) records whose total fits in `max_size` (less the
//!   error record's length).
//!
//! Records are never cut: the file is only ever cut at a `\n`, and every `write` to the new
//! file holds whole records.
//!
//! # How
//! 1. Open the file `O_RDONLY | O_NOFOLLOW` (a symlink, a FIFO or any non-regular file is
//!    refused, never followed or blocked on; a file with other hard links is refused, as
//!    renaming over one name would reclaim nothing); its size then is the snapshot.
//! 2. Plan from the end ([`crate::lines::BackScanner`]): the last `\n` of the snapshot, the
//!    last error record, the window.
//! 3. Create `.<name>.ctrlog-cap` in the same directory (`O_CREAT | O_EXCL | O_NOFOLLOW`,
//!    `flock`ed while the cap runs). One left by a crashed cap (unlocked) is removed; one
//!    locked by a cap running now is [`CapError::Busy`]. Give it the original's owner and
//!    mode, copy the kept ranges through one fixed buffer, then the whole records appended
//!    since the snapshot (a few passes, until one finds nothing new), `fsync`.
//! 4. Check that the path still names the inode read (else [`CapError::Replaced`], the
//!    temporary file removed), rename the new file over it (`fsync` of the directory after
//!    step 5).
//! 5. Carry over: records appended to the old inode after that (by writers that opened it
//!    before the rename) are appended to the new file through the held descriptor, cut at
//!    `\n`, until no writer can append any more: the old inode has no name (nobody can open
//!    it again), and a write lease (`F_SETLEASE`, granted only when no other open file holds
//!    the inode, released at once) proves that nobody still has it open
//!    ([`CapReport::lease`]). Without leases (another file system, a file not ours without
//!    `CAP_LEASE`, `fs.leases-enable` off), the old file must stop growing for one settle delay
//!    ([`CapOptions::settle_delay`], doubling per retry). After [`CapOptions::max_retries`]
//!    retries, [`CapReport::settled`] is `false`: records a writer appends to the old inode
//!    later are lost.
//!
//! # Ordering
//! Records carried over after the rename land after the records that writers opening the
//! new file have already appended to it: with runc (a short-lived process per call, one
//! `write(2)` per record, `O_APPEND`), a record written by a process that opened the file
//! before the rename can follow one written after it. These are the records appended
//! between the last catch-up pass and the rename, and those of writers that had the old
//! file open then. Every record is whole, and none is lost or doubled while the cap settles.
//! The window of a later cap is the newest records by position: it can keep such an older
//! record and drop newer ones before it.
//!
//! # Reference
//! containerd `getLastRuntimeError` (`pkg/process/utils.go` in 1.6/1.7,
//! `cmd/containerd-shim-runc-v2/process/utils.go` in 2.x); runc `--log` (`O_APPEND`, logrus,
//! one write per record); `fcntl(2)` `F_SETLEASE`, `rename(2)`.
//!
//! # Limits
//! * The bytes after the last `\n` when the carry-over ends: a whole JSON record is kept (with
//!   a `\n`); anything else is a torn record, dropped ([`CapReport::torn_tail`]).
//! * Records over [`CapOptions::max_record_len`] are not carried over (counted in
//!   [`CapReport::dropped_records`]); an error record that long is not found as the last
//!   error (as in [`crate::runc::last_error`]).
//! * Memory: one 64 KiB buffer, plus one record (up to [`CapOptions::max_record_len`]) in
//!   the last-error search and the carry-over; the dropped part is read once, to count its
//!   records.
//! * Between the identity check and the rename, a process replacing the file by rename
//!   would have its file replaced in turn (runc only appends). Two caps of one file at once:
//!   the second finds the first's temporary file locked ([`CapError::Busy`]) until the
//!   first renames it; after that it caps the new file, and its own carry-over waits for
//!   the first cap's descriptor to close.
//! * Free space: the kept records are written to a new file before the old one is
//!   removed, so the file system needs room for them (at most
//!   [`CapOptions::max_size`] plus the last error record). On a full file system the cap
//!   fails cleanly (the original untouched, the temporary removed): cap with a smaller size
//!   first, or free some space. A full disk during the carry-over: the short write is cut
//!   back off the new file (when no writer appended after it), so no torn record stays, and
//!   the error counts the bytes not carried.
//! * Extended attributes and ACLs of the original are not copied (owner and mode are).
//! * A process that opens the unnamed old inode through `/proc/<pid>/fd` during the
//!   microseconds the lease is held breaks it and sends this process `SIGIO`.

mod carry;
mod plan;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::regular::{dir_of, open_read, open_regular, FileId, OpenError, Symlinks};
use carry::{Carry, Probe};

/// Catch-up passes over the old file before the rename.
const PRE_RENAME_PASSES: u32 = 4;

/// The default cap: 10 MB, as `ctrlog scan --cap 10m` (Docker's decimal sizes).
pub const DEFAULT_MAX_SIZE: u64 = 10_000_000;

/// Settings of [`cap_log`]; set fields on `default()` (the crate's
/// [conventions](crate#conventions)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapOptions {
    /// Files over this size (bytes) are capped to it. Default [`DEFAULT_MAX_SIZE`].
    pub max_size: u64,
    /// Compute the report, write nothing.
    pub dry_run: bool,
    /// Carry-over passes after the first, waiting for the writers of the old file. Default
    /// 10.
    pub max_retries: u32,
    /// Wait before the first retry, doubling each time up to 256 times it. Default 1 ms
    /// (10 retries: about 0.5 s in all at most).
    pub settle_delay: Duration,
    /// Records longer than this (bytes) are not carried over, nor found as the last error.
    /// Default [`crate::runc::DEFAULT_MAX_RECORD_LEN`].
    pub max_record_len: usize,
}

impl Default for CapOptions {
    fn default() -> Self {
        CapOptions {
            max_size: DEFAULT_MAX_SIZE,
            dry_run: false,
            max_retries: 10,
            settle_delay: Duration::from_millis(1),
            max_record_len: crate::runc::DEFAULT_MAX_RECORD_LEN,
        }
    }
}

/// What [`cap_log`] did (or, dry, would do) to one file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CapReport {
    /// The file.
    pub path: PathBuf,
    /// The cap asked for.
    pub max_size: u64,
    /// Whether it was over the cap (and so, unless dry, rewritten).
    pub capped: bool,
    /// Nothing was written.
    pub dry_run: bool,
    /// Size when opened.
    pub before: u64,
    /// Bytes written to the new file: the kept records and the carried-over ones (records
    /// other writers appended to the new file are not counted). `before` when not capped.
    pub after: u64,
    /// Bytes of the old file that the new file does not hold.
    pub reclaimed: u64,
    /// Records kept from the snapshot, the error record included.
    pub kept_records: u64,
    /// Records not kept: older than the window, or too long to carry over.
    pub dropped_records: u64,
    /// The last error record, older than the window, was kept ahead of it.
    pub kept_last_error: bool,
    /// That record alone is larger than the cap (kept anyway).
    pub error_over_cap: bool,
    /// Bytes appended to the old file after the snapshot, carried over.
    pub carried_over: u64,
    /// Records among them.
    pub carried_records: u64,
    /// Bytes of a torn final record (no `\n`, not a whole record), dropped.
    pub torn_tail: u64,
    /// No writer could append to the old file any more when the carry-over ended (see
    /// `lease`); `false`: retries ran out while it kept growing or stayed open.
    pub settled: bool,
    /// `settled` was proved by a write lease (no other open file of the old inode), not
    /// inferred from the file not growing for a settle delay.
    pub lease: bool,
    /// Retries the carry-over took.
    pub retries: u32,
}

impl fmt::Display for CapReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        if !self.capped {
            return write!(
                f,
                "{p}: {} bytes, at or under {}",
                self.before, self.max_size
            );
        }
        let verb = if self.dry_run { "would cap" } else { "capped" };
        write!(
            f,
            "{verb} {p}: {} -> {} bytes, {} reclaimed; kept {} records, dropped {}",
            self.before, self.after, self.reclaimed, self.kept_records, self.dropped_records
        )?;
        if self.kept_last_error {
            f.write_str("; kept the last error record")?;
            if self.error_over_cap {
                f.write_str(" (alone over the cap)")?;
            }
        }
        if self.carried_over > 0 {
            write!(
                f,
                "; carried over {} records ({} bytes)",
                self.carried_records, self.carried_over
            )?;
        }
        if self.torn_tail > 0 {
            write!(
                f,
                "; dropped a torn final record ({} bytes)",
                self.torn_tail
            )?;
        }
        if !self.dry_run && !self.settled {
            f.write_str("; NOT settled: the old file was still open or growing")?;
        }
        Ok(())
    }
}

/// Why [`cap_log`] failed. Every variant names the file; before the rename nothing was
/// changed (the temporary file is removed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CapError {
    /// The file could not be opened: missing, a symlink, a FIFO, not a regular file.
    #[error("{}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: OpenError,
    },
    /// It has other hard links: renaming over this name would reclaim nothing.
    #[error("{}: has {nlink} hard links, not capped", path.display())]
    HardLinked {
        /// The file.
        path: PathBuf,
        /// Its link count.
        nlink: u64,
    },
    /// Another cap of the same file is running (its temporary file is locked).
    #[error("{}: another cap of this file is running ({} is locked)", path.display(), temp.display())]
    Busy {
        /// The file.
        path: PathBuf,
        /// The temporary file.
        temp: PathBuf,
    },
    /// The path stopped naming the file read before the rename: nothing changed.
    #[error("{}: replaced while it was capped, left as is", path.display())]
    Replaced {
        /// The file.
        path: PathBuf,
    },
    /// An I/O error: what was being done, and the error.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The file (or the temporary file, or the directory).
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The error.
        source: io::Error,
    },
    /// The new file is in place, but records appended meanwhile could not all be carried
    /// over to it (`lost` bytes of the old file, at least).
    #[error("{}: capped, but carrying over records appended meanwhile failed ({lost} bytes lost): {source}", path.display())]
    CarryOver {
        /// The file.
        path: PathBuf,
        /// Bytes of the old file not carried over.
        lost: u64,
        /// The error.
        source: io::Error,
    },
}

/// `path`'s temporary file: `.<name>.ctrlog-cap` beside it.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    dir_of(path).join(format!(".{name}.ctrlog-cap"))
}

/// Caps the runc `log.json` at `path` to [`CapOptions::max_size`] (see the [module
/// documentation](self)).
pub fn cap_log(path: &Path, opts: &CapOptions) -> Result<CapReport, CapError> {
    let io = |what: &'static str| {
        let path = path.to_owned();
        move |source| CapError::Io { path, what, source }
    };
    let old = open_read(path, Symlinks::Refuse).map_err(|source| CapError::Open {
        path: path.to_owned(),
        source,
    })?;
    let meta = old.metadata().map_err(io("fstat"))?;
    if meta.nlink() > 1 {
        return Err(CapError::HardLinked {
            path: path.to_owned(),
            nlink: meta.nlink(),
        });
    }
    let before = meta.len();
    let mut report = CapReport {
        path: path.to_owned(),
        max_size: opts.max_size,
        capped: before > opts.max_size,
        dry_run: opts.dry_run,
        before,
        after: before,
        reclaimed: 0,
        kept_records: 0,
        dropped_records: 0,
        kept_last_error: false,
        error_over_cap: false,
        carried_over: 0,
        carried_records: 0,
        torn_tail: 0,
        settled: true,
        lease: false,
        retries: 0,
    };
    if !report.capped {
        return Ok(report);
    }
    let plan = plan::plan(&old, before, opts.max_size, opts.max_record_len).map_err(io("read"))?;
    report.kept_records = plan.kept_records;
    report.dropped_records = plan.dropped_records;
    report.kept_last_error = plan.error.is_some();
    report.error_over_cap = plan.error.is_some_and(|(a, b)| b - a > opts.max_size);
    report.after = plan.kept_bytes();
    report.reclaimed = plan.complete_end - report.after;
    if opts.dry_run {
        return Ok(report);
    }
    let temp = temp_path(path);
    let mut new = create_temp(path, &temp)?;
    let mut carry = Carry::new(plan.complete_end, opts.max_record_len);
    if let Err(e) = write_new(&old, &meta, &mut new, &plan, &mut carry) {
        let _ = fs::remove_file(&temp);
        return Err(io("writing the capped copy")(e));
    }
    // Checked last: the window in which a file put in its place would be renamed over is
    // the rename itself.
    if FileId::of_path(path).ok() != Some(FileId::of(&meta)) {
        let _ = fs::remove_file(&temp);
        return Err(CapError::Replaced {
            path: path.to_owned(),
        });
    }
    if let Err(e) = fs::rename(&temp, path) {
        let _ = fs::remove_file(&temp);
        return Err(io("renaming the capped copy over it")(e));
    }
    // The carry-over first: records appended meanwhile must not wait on (or be lost to) a
    // failing directory sync.
    let carried = carry_over(&old, &mut new, &plan, carry, opts, &mut report);
    let dir = dir_of(path);
    let synced = File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| CapError::Io {
            path: dir.to_owned(),
            what: "fsync of the directory",
            source,
        });
    carried.and(synced).map(|()| report)
}

/// The owner and mode of the original, then the kept ranges, then `fsync`.
/// Then, before the rename, the records appended since the snapshot: in their order, as
/// nobody else writes the temporary file yet. Only what is appended after the last of these
/// passes can land after records of the new file's writers.
fn write_new(
    old: &File,
    meta: &fs::Metadata,
    new: &mut File,
    plan: &plan::Plan,
    carry: &mut Carry,
) -> io::Result<()> {
    let mine = new.metadata()?;
    if (mine.uid(), mine.gid()) != (meta.uid(), meta.gid()) {
        std::os::unix::fs::fchown(&*new, Some(meta.uid()), Some(meta.gid())).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "giving it the original's owner {}:{}: {e}",
                    meta.uid(),
                    meta.gid()
                ),
            )
        })?;
    }
    // After the owner: `chown` clears the set-id bits.
    let mode = meta.mode() & 0o7777;
    new.set_permissions(Permissions::from_mode(mode))
        .map_err(|e| io::Error::new(e.kind(), format!("giving it the mode {mode:o}: {e}")))?;
    let mut buf = vec![0u8; plan::BLOCK];
    if let Some((a, b)) = plan.error {
        plan::copy_range(old, new, a, b, &mut buf)?;
    }
    plan::copy_range(old, new, plan.window, plan.complete_end, &mut buf)?;
    // Bounded: a writer faster than the copy is left to the carry-over after the rename.
    for _ in 0..PRE_RENAME_PASSES {
        let had = carry.bytes;
        carry.pass(old, new)?;
        if carry.bytes == had {
            break;
        }
    }
    new.sync_all()
}

/// Step 5 of the module documentation.
fn carry_over(
    old: &File,
    new: &mut File,
    plan: &plan::Plan,
    mut carry: Carry,
    opts: &CapOptions,
    report: &mut CapReport,
) -> Result<(), CapError> {
    let mut delay = opts.settle_delay;
    let mut last_size = None;
    let mut settled = false;
    let result = (|| -> io::Result<()> {
        for attempt in 0..=opts.max_retries {
            report.retries = attempt;
            carry.pass(old, new)?;
            match carry::probe(old) {
                Probe::NoWriter => {
                    // Nobody can append any more: what is there now is all there is.
                    carry.pass(old, new)?;
                    report.lease = true;
                    settled = true;
                    break;
                }
                Probe::Busy => {}
                Probe::Unavailable => {
                    let size = old.metadata()?.len();
                    if last_size == Some(size) {
                        settled = true;
                        break;
                    }
                    last_size = Some(size);
                }
            }
            if attempt < opts.max_retries {
                std::thread::sleep(delay);
                delay = (delay * 2).min(opts.settle_delay * 256);
            }
        }
        carry.finish(new)?;
        if carry.bytes > 0 {
            new.sync_all()?;
        }
        Ok(())
    })();
    report.settled = settled;
    report.carried_over = carry.bytes;
    report.carried_records = carry.records;
    report.torn_tail = carry.torn_tail;
    report.dropped_records += carry.overlong;
    report.after = plan.kept_bytes() + carry.bytes;
    let old_end = old.metadata().map_or(report.before, |m| m.len());
    report.reclaimed = old_end.saturating_sub(report.after);
    result.map_err(|source| CapError::CarryOver {
        path: report.path.clone(),
        lost: old_end.saturating_sub(plan.complete_end + carry.bytes + carry.dropped_bytes),
        source,
    })
}

/// Creates `temp` (`O_EXCL`, never through a symlink), locked with `flock`. An unlocked one
/// is left from a crashed cap and is removed first; a locked one is another cap's.
fn create_temp(path: &Path, temp: &Path) -> Result<File, CapError> {
    let io = |what: &'static str| {
        let temp = temp.to_owned();
        move |source| CapError::Io {
            path: temp,
            what,
            source,
        }
    };
    let busy = || CapError::Busy {
        path: path.to_owned(),
        temp: temp.to_owned(),
    };
    let mut o = OpenOptions::new();
    o.read(true).append(true).create_new(true).mode(0o600);
    for _ in 0..3 {
        match open_regular(temp, &o, Symlinks::Refuse) {
            Ok(f) => {
                if !try_flock(&f).map_err(io("flock"))? {
                    return Err(busy());
                }
                // Another cap may have taken it for stale and unlinked it between the open
                // and the lock: then the name is no longer ours to rename.
                if FileId::of_path(temp).ok() == FileId::of_file(&f).ok() {
                    return Ok(f);
                }
                continue;
            }
            Err(OpenError::Io(e)) if e.kind() == io::ErrorKind::AlreadyExists => {}
            // Found by the check before the open: something is in the way, as above.
            Err(OpenError::Symlink | OpenError::NotRegular(_)) => {}
            Err(e) => return Err(io("creating the temporary file")(e.into())),
        }
        // There already: a planted link or special file is only a name to unlink; a
        // regular file is stale unless a running cap holds its lock. The stale file stays
        // locked until its name is gone: a cap that has just created it and not yet locked
        // it then finds it locked (busy), where with the lock dropped before the unlink it
        // could lock it, find the name still its own, and lose that name to this unlink
        // right after, renaming another cap's file over the log in the end.
        let _stale = match open_read(temp, Symlinks::Refuse) {
            Ok(f) => {
                if !try_flock(&f).map_err(io("flock"))? {
                    return Err(busy());
                }
                if FileId::of_path(temp).ok() != FileId::of_file(&f).ok() {
                    continue;
                }
                Some(f)
            }
            Err(OpenError::Io(e)) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(OpenError::NotRegular("a directory")) => {
                return Err(io("a directory is in the way")(io::Error::from(
                    io::ErrorKind::AlreadyExists,
                )))
            }
            Err(_) => None,
        };
        match fs::remove_file(temp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(io("removing a stale temporary file")(e))
            }
            _ => {}
        }
    }
    Err(busy())
}

/// `flock(LOCK_EX | LOCK_NB)`: `false` when another open file holds it.
fn try_flock(f: &File) -> io::Result<bool> {
    // SAFETY: the descriptor is owned by `f` and open.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Ok(false),
        _ => Err(e),
    }
}
