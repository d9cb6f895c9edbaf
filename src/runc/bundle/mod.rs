//! containerd's bundle directories: finding them, telling live bundles from residue, and
//! pruning residue safely. Linux only.
//!
//! containerd keeps one bundle directory per task, `<task dir>/<namespace>/<id>/`, under its
//! state root (`/run/containerd`, a tmpfs): `io.containerd.runtime.v2.task` for the v2 shims
//! (runc v2, kata, ...), `io.containerd.runtime.v1.linux` for the old v1 shim. runc appends
//! its `log.json` there. When a shim dies (OOM-killed, node under pressure, containerd
//! restarted mid-create), the directory can stay behind, and containerd's own cleanup treats
//! missing files inconsistently: a missing `runtime` file aborts it, a missing `init.pid` is
//! logged and skipped, a missing `options.json` is ignored. A half-written bundle is never
//! cleaned, and the directories pile up on `/run`.
//!
//! ```no_run
//! use ctrlog::runc::bundle::{find_bundles, prune_residue, PruneOptions, ResidueChecker,
//!     ResidueOptions, DEFAULT_STATE_ROOT};
//! let found = find_bundles(DEFAULT_STATE_ROOT.as_ref())?; // or the task directory itself
//! let checker = ResidueChecker::new(ResidueOptions::default())?;
//! for b in &found.bundles {
//!     let state = checker.check(b);
//!     println!("{}/{}: {} ({})", b.namespace, b.id,
//!         if state.residue { "residue" } else { "live" }, state.reason);
//!     if state.residue {
//!         let mut opts = PruneOptions::default();
//!         opts.dry_run = true;
//!         println!("  {}", prune_residue(b, &opts)?);
//!     }
//! }
//! for s in &found.skipped {
//!     eprintln!("skipped {}: {}", s.path.display(), s.reason);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Pieces
//! * [`find_bundles`]: every bundle under a state root (both task directories) or under one
//!   task directory; any other directory is an error ([`WalkError::NotStateRoot`]). Names
//!   that fail containerd's identifier rules ([`validate_identifier`]) and symlinks are
//!   reported in [`Bundles::skipped`], never followed.
//! * [`ResidueChecker`]: live or residue, with a reason ([`Liveness`]); the rule is below.
//! * [`prune_residue`]: removes a residue bundle directory, or says why it kept it.
//!
//! # Residue
//! A bundle is **live** when any of these holds, and **residue** otherwise:
//! * its `init.pid` names a running process (not a zombie) that is the same process runc
//!   started: a process started after `init.pid` was written (its start time, field 22 of
//!   `/proc/<pid>/stat`, later than the file's mtime by more than
//!   [`ResidueOptions::pid_start_slack`]) holds a reused pid and does not count;
//! * the same for `shim.pid` (the shim's pid, written by the runc v2 shim and by the v1
//!   shim);
//! * the shim's address (`bootstrap.json`, or the older `address` file) accepts a connection
//!   (`unix://PATH`, or an abstract socket as older shims used); an address that cannot be
//!   checked (not a unix socket, or a permission error) counts as live;
//! * a process has its working directory in the bundle (the v2 shim runs there);
//! * the directory changed within [`ResidueOptions::grace`] (a bundle being created has no
//!   shim yet);
//! * the directory cannot be read (nothing can be decided: assumed live).
//!
//! Any of `init.pid`, `address`, `runtime`, `options.json`, `config.json` and `rootfs` may be
//! missing: that is the case this handles, not an error. The missing ones are named in the
//! reason ([`Liveness::missing`]). An `init.pid` that is a symlink, not a regular file or not
//! a number is no evidence of life (and is named in the reason).
//!
//! # Pruning
//! [`prune_residue`] checks again, then removes the directory only when it is residue, its
//! namespace and id pass [`validate_identifier`], it is a real directory (not a symlink),
//! nothing is mounted at or under it (`/proc/self/mountinfo`, octal escapes decoded) and no
//! directory inside it is on another device. The removal never follows a symlink: a link
//! (containerd's own `work` link into `/var/lib/containerd` included) is unlinked, not
//! descended into. containerd removes the `work` directory it points to itself, on restart
//! (`cleanupWorkDirs`).
//!
//! # Reference
//! containerd `core/runtime/v2/bundle.go` (`NewBundle`, `Delete`), `shim_load.go`
//! (`loadShims`: hidden directories are skipped), `shim_manager.go`
//! (`restoreBootstrapParams`), `core/runtime/v2/shim/util_unix.go` (socket addresses),
//! `pkg/identifiers/validate.go`; `proc(5)` (`stat`, `mountinfo`).
//!
//! # Limits
//! * Start times are compared in wall-clock time (`init.pid`'s mtime against boot time plus
//!   the process's start): a wall clock stepped forward by more than the slack after the
//!   container started makes its init look reused. It then still counts as live while its
//!   shim answers, and its mounted rootfs keeps it from being pruned.
//! * The processes found by working directory are those this process may inspect (all of
//!   them as root).
//! * Between the last check and the removal, a new shim could start in the same directory;
//!   containerd recreates a bundle directory from scratch (`NewBundle`), so it does not reuse
//!   a residue one.

mod prune;
mod residue;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub use prune::{
    mounts_at_or_under, prune_residue, PruneAction, PruneError, PruneOptions, PruneReport,
};
pub use residue::{Liveness, PidCheck, ResidueChecker, ResidueOptions, ShimCheck};

/// containerd's default state root.
pub const DEFAULT_STATE_ROOT: &str = "/run/containerd";
/// The task directory of the v2 shims, under a state root.
pub const V2_TASK_DIR: &str = "io.containerd.runtime.v2.task";
/// The task directory of the v1 shim (`io.containerd.runtime.v1.linux`), under a state root.
pub const V1_TASK_DIR: &str = "io.containerd.runtime.v1.linux";
/// The usual v2 task directory: `/run/containerd/io.containerd.runtime.v2.task`.
pub const DEFAULT_TASK_DIR: &str = "/run/containerd/io.containerd.runtime.v2.task";

/// containerd's longest identifier (`pkg/identifiers`).
pub const MAX_IDENTIFIER_LEN: usize = 76;

/// Which task directory a bundle is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum TaskKind {
    /// `io.containerd.runtime.v2.task`.
    V2,
    /// `io.containerd.runtime.v1.linux`.
    V1,
}

impl TaskKind {
    /// The task directory's name.
    pub fn dir_name(self) -> &'static str {
        match self {
            TaskKind::V2 => V2_TASK_DIR,
            TaskKind::V1 => V1_TASK_DIR,
        }
    }

    fn of_dir_name(name: &[u8]) -> Option<TaskKind> {
        [TaskKind::V2, TaskKind::V1]
            .into_iter()
            .find(|k| k.dir_name().as_bytes() == name)
    }
}

/// Why a name is not a containerd identifier.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierError {
    /// The empty string.
    #[error("identifier must not be empty")]
    Empty,
    /// Longer than [`MAX_IDENTIFIER_LEN`] bytes.
    #[error("identifier is {0} bytes, over containerd's maximum of 76")]
    TooLong(usize),
    /// Not `^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$`: the byte at this offset breaks it.
    #[error("identifier must match ^[A-Za-z0-9]+(?:[._-](?:[A-Za-z0-9]+))*$ (byte {0} does not)")]
    Malformed(usize),
}

/// containerd's identifier rules (`pkg/identifiers.Validate`): 1 to 76 bytes, ASCII letters
/// and digits in runs separated by single `.`, `_` or `-`, starting and ending with a letter
/// or digit. What passes is safe as one path component (no `/`, no `..`, not hidden).
///
/// ```
/// use ctrlog::runc::bundle::{validate_identifier, IdentifierError};
/// assert!(validate_identifier(b"k8s.io").is_ok());
/// assert_eq!(validate_identifier(b"foo..bar"), Err(IdentifierError::Malformed(4)));
/// assert_eq!(validate_identifier(b".hidden"), Err(IdentifierError::Malformed(0)));
/// ```
pub fn validate_identifier(name: &[u8]) -> Result<(), IdentifierError> {
    if name.is_empty() {
        return Err(IdentifierError::Empty);
    }
    if name.len() > MAX_IDENTIFIER_LEN {
        return Err(IdentifierError::TooLong(name.len()));
    }
    let mut after_sep = true; // at the start, as after a separator: a letter or digit must come
    for (i, &b) in name.iter().enumerate() {
        if b.is_ascii_alphanumeric() {
            after_sep = false;
        } else if matches!(b, b'.' | b'_' | b'-') && !after_sep {
            after_sep = true;
        } else {
            return Err(IdentifierError::Malformed(i));
        }
    }
    if after_sep {
        return Err(IdentifierError::Malformed(name.len() - 1));
    }
    Ok(())
}

/// One bundle directory: `<task dir>/<namespace>/<id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bundle {
    /// The containerd namespace (`k8s.io`, `moby`, `default`, ...).
    pub namespace: String,
    /// The task (container) id.
    pub id: String,
    /// The bundle directory.
    pub path: PathBuf,
    /// Which task directory it is in.
    pub kind: TaskKind,
}

impl Bundle {
    /// The bundle at `path` (`.../<task dir>/<namespace>/<id>`), for an agent that knows the
    /// directory: its last two components are the namespace and the id, and both must be
    /// identifiers. Nothing is read: [`prune_residue`] checks the directory itself.
    /// The kind is [`TaskKind::V1`] when the grandparent is named `io.containerd.runtime.v1.linux`.
    pub fn from_path(path: &Path) -> Result<Bundle, WalkError> {
        let bad = |reason: String| WalkError::NotBundle {
            path: path.to_owned(),
            reason,
        };
        let mut comps = path.components().rev();
        let mut name = |what: &str| -> Result<String, WalkError> {
            let c = comps
                .next()
                .ok_or_else(|| bad(format!("no {what} component")))?;
            let bytes = c.as_os_str().as_bytes();
            validate_identifier(bytes).map_err(|e| bad(format!("{what}: {e}")))?;
            Ok(String::from_utf8_lossy(bytes).into_owned())
        };
        let id = name("id")?;
        let namespace = name("namespace")?;
        let kind = comps
            .next()
            .and_then(|c| TaskKind::of_dir_name(c.as_os_str().as_bytes()))
            .unwrap_or(TaskKind::V2);
        Ok(Bundle {
            namespace,
            id,
            path: path.to_owned(),
            kind,
        })
    }

    /// runc's `log.json` in this bundle.
    pub fn log_json(&self) -> PathBuf {
        self.path.join("log.json")
    }
}

/// An entry [`find_bundles`] did not descend into.
#[derive(Debug)]
#[non_exhaustive]
pub struct Skipped {
    /// The entry.
    pub path: PathBuf,
    /// Why.
    pub reason: SkipReason,
}

/// Why an entry was skipped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// A namespace or id that is not a containerd identifier (containerd's atomic-delete
    /// leftovers, `.<id>`, are among them).
    #[error("bad name: {0}")]
    BadIdentifier(IdentifierError),
    /// A symbolic link: not followed.
    #[error("is a symbolic link (not followed)")]
    Symlink,
    /// A namespace directory that could not be listed.
    #[error("{0}")]
    Unreadable(io::Error),
}

/// What [`find_bundles`] found.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Bundles {
    /// The task directories walked.
    pub task_dirs: Vec<PathBuf>,
    /// The bundles, sorted by kind, namespace and id.
    pub bundles: Vec<Bundle>,
    /// Entries not descended into, with the reason.
    pub skipped: Vec<Skipped>,
}

/// Why [`find_bundles`] or [`Bundle::from_path`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalkError {
    /// The root could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The root is not a directory.
    #[error("{}: not a directory", path.display())]
    NotDirectory {
        /// The path.
        path: PathBuf,
    },
    /// The root is neither a state root nor a task directory.
    #[error(
        "{}: neither a containerd state root (no {V2_TASK_DIR} or {V1_TASK_DIR} in it) nor a task directory (named so)",
        path.display()
    )]
    NotStateRoot {
        /// The directory.
        path: PathBuf,
    },
    /// A path given as a bundle is not `<namespace>/<id>` with identifiers.
    #[error("{}: not a bundle path: {reason}", path.display())]
    NotBundle {
        /// The path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// Every bundle under `root`: a containerd state root (its `io.containerd.runtime.v2.task`
/// and `io.containerd.runtime.v1.linux`, those present) or one task directory itself (by
/// its name). `root` is followed if it is a symlink (the caller named it); nothing under it
/// is. Non-directories at the namespace and bundle levels are ignored, as containerd does.
pub fn find_bundles(root: &Path) -> Result<Bundles, WalkError> {
    let io_err = |source| WalkError::Io {
        path: root.to_owned(),
        source,
    };
    let meta = fs::metadata(root).map_err(io_err)?;
    if !meta.is_dir() {
        return Err(WalkError::NotDirectory {
            path: root.to_owned(),
        });
    }
    let mut out = Bundles::default();
    let own_kind = root
        .file_name()
        .and_then(|n| TaskKind::of_dir_name(n.as_bytes()));
    if let Some(kind) = own_kind {
        out.task_dirs.push(root.to_owned());
        walk_task_dir(root, kind, &mut out).map_err(io_err)?;
    } else {
        let mut any = false;
        for kind in [TaskKind::V2, TaskKind::V1] {
            let dir = root.join(kind.dir_name());
            match fs::symlink_metadata(&dir) {
                Ok(m) if m.file_type().is_symlink() => {
                    any = true;
                    out.skipped.push(Skipped {
                        path: dir,
                        reason: SkipReason::Symlink,
                    });
                }
                Ok(m) if m.is_dir() => {
                    any = true;
                    walk_task_dir(&dir, kind, &mut out).map_err(|source| WalkError::Io {
                        path: dir.clone(),
                        source,
                    })?;
                    out.task_dirs.push(dir);
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => return Err(WalkError::Io { path: dir, source }),
            }
        }
        if !any {
            return Err(WalkError::NotStateRoot {
                path: root.to_owned(),
            });
        }
    }
    out.bundles.sort_by(|a, b| {
        (a.kind, &a.namespace, &a.id, &a.path).cmp(&(b.kind, &b.namespace, &b.id, &b.path))
    });
    Ok(out)
}

/// The identifier-named subdirectories of `dir`; the rest is skipped (reported) or ignored.
fn subdirs(dir: &Path, skipped: &mut Vec<Skipped>) -> io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let path = e.path();
        // The listing's type is lstat's: a symlink is seen as one, never followed.
        let ft = match e.file_type() {
            Ok(ft) => ft,
            Err(err) => {
                skipped.push(Skipped {
                    path,
                    reason: SkipReason::Unreadable(err),
                });
                continue;
            }
        };
        let name = e.file_name();
        if ft.is_symlink() {
            skipped.push(Skipped {
                path,
                reason: SkipReason::Symlink,
            });
        } else if !ft.is_dir() {
            continue;
        } else if let Err(err) = validate_identifier(name.as_bytes()) {
            skipped.push(Skipped {
                path,
                reason: SkipReason::BadIdentifier(err),
            });
        } else {
            out.push((String::from_utf8_lossy(name.as_bytes()).into_owned(), path));
        }
    }
    Ok(out)
}

fn walk_task_dir(dir: &Path, kind: TaskKind, out: &mut Bundles) -> io::Result<()> {
    for (namespace, ns_dir) in subdirs(dir, &mut out.skipped)? {
        let ids = match subdirs(&ns_dir, &mut out.skipped) {
            Ok(ids) => ids,
            Err(e) => {
                out.skipped.push(Skipped {
                    path: ns_dir,
                    reason: SkipReason::Unreadable(e),
                });
                continue;
            }
        };
        for (id, path) in ids {
            out.bundles.push(Bundle {
                namespace: namespace.clone(),
                id,
                path,
                kind,
            });
        }
    }
    Ok(())
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TaskKind::V2 => "v2",
            TaskKind::V1 => "v1",
        })
    }
}
