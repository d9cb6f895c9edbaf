//! Removing a residue bundle, and the mount table it is checked against.

use std::fmt;
use std::fs;
use std::io::{self, BufRead, BufReader};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::residue::{real_path, ResidueChecker, ResidueOptions};
use super::{validate_identifier, Bundle};

/// Settings of [`prune_residue`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct PruneOptions {
    /// Check everything and report what would be removed, remove nothing.
    pub dry_run: bool,
    /// How live or residue is decided (and where `/proc` is).
    pub residue: ResidueOptions,
}

/// What [`prune_residue`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PruneAction {
    /// The directory was removed.
    Removed,
    /// The directory would be removed (dry run).
    WouldRemove,
    /// Kept, and why: live, mounted, a bad name, a symlink, another device.
    Kept(String),
}

/// The outcome of [`prune_residue`] for one bundle.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PruneReport {
    /// The bundle directory.
    pub path: PathBuf,
    /// Removed, would be removed, or kept with the reason.
    pub action: PruneAction,
    /// Entries under the directory (removed or to be removed; 0 when kept).
    pub entries: u64,
    /// Bytes of the regular files among them.
    pub bytes: u64,
}

impl fmt::Display for PruneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match &self.action {
            PruneAction::Removed => write!(
                f,
                "removed {p} ({} entries, {} bytes)",
                self.entries, self.bytes
            ),
            PruneAction::WouldRemove => write!(
                f,
                "would remove {p} ({} entries, {} bytes)",
                self.entries, self.bytes
            ),
            PruneAction::Kept(why) => write!(f, "kept {p}: {why}"),
        }
    }
}

/// Why [`prune_residue`] failed (a bundle kept on purpose is not a failure).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PruneError {
    /// `/proc` could not be read, or the removal failed (it may have removed part).
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// Removes `bundle`'s directory if it is residue and nothing forbids it; otherwise says why
/// it was kept. Checks, in order: the namespace, the id and the directory's own name are
/// identifiers; the directory is one (not a symlink); a fresh [`ResidueChecker`] calls it
/// residue; nothing is mounted at or under it; no directory in it is on another device.
/// Then removes it without following any symlink (`std::fs::remove_dir_all`, which unlinks
/// links and never descends through them). With [`PruneOptions::dry_run`], stops before
/// removing.
pub fn prune_residue(bundle: &Bundle, opts: &PruneOptions) -> Result<PruneReport, PruneError> {
    let mut report = PruneReport {
        path: bundle.path.clone(),
        action: PruneAction::Kept(String::new()),
        entries: 0,
        bytes: 0,
    };
    let keep = |mut r: PruneReport, why: String| {
        r.action = PruneAction::Kept(why);
        Ok(r)
    };
    let last = bundle.path.file_name().map(|n| n.as_bytes());
    for (what, name) in [
        ("namespace", bundle.namespace.as_bytes()),
        ("id", bundle.id.as_bytes()),
    ] {
        if let Err(e) = validate_identifier(name) {
            return keep(
                report,
                format!("bad {what} {:?}: {e}", String::from_utf8_lossy(name)),
            );
        }
    }
    if last != Some(bundle.id.as_bytes()) {
        return keep(report, "the directory is not named by the id".to_owned());
    }
    match fs::symlink_metadata(&bundle.path) {
        Ok(m) if m.file_type().is_symlink() => {
            return keep(report, "is a symbolic link (not followed)".to_owned())
        }
        Ok(m) if !m.is_dir() => return keep(report, "not a directory".to_owned()),
        Ok(_) => {}
        Err(e) => return keep(report, format!("cannot read it: {e}")),
    }
    let checker = ResidueChecker::new(opts.residue.clone()).map_err(|source| PruneError::Io {
        path: opts.residue.proc_root.clone(),
        source,
    })?;
    let live = checker.check(bundle);
    if !live.residue {
        return keep(report, format!("live: {}", live.reason));
    }
    let real = real_path(&bundle.path);
    let mounts = under(checker.mount_points(), &real);
    if !mounts.is_empty() {
        let m: Vec<_> = mounts.iter().map(|m| m.display().to_string()).collect();
        return keep(report, format!("mounted: {}", m.join(", ")));
    }
    let walked = count(&real).map_err(|source| PruneError::Io {
        path: real.clone(),
        source,
    })?;
    match walked {
        Walk::Counted { entries, bytes } => {
            report.entries = entries;
            report.bytes = bytes;
        }
        Walk::OtherDevice(dir) => {
            return keep(
                report,
                format!("{} is on another device (a mount point)", dir.display()),
            )
        }
    }
    if opts.dry_run {
        report.action = PruneAction::WouldRemove;
        return Ok(report);
    }
    fs::remove_dir_all(&real).map_err(|source| PruneError::Io {
        path: real.clone(),
        source,
    })?;
    report.action = PruneAction::Removed;
    Ok(report)
}

enum Walk {
    Counted { entries: u64, bytes: u64 },
    OtherDevice(PathBuf),
}

/// Entries and file bytes under `dir`, by `lstat`: symlinks are counted, not followed; a
/// directory on another device than `dir` stops the walk.
fn count(dir: &Path) -> io::Result<Walk> {
    let dev = fs::symlink_metadata(dir)?.dev();
    let (mut entries, mut bytes) = (0u64, 0u64);
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d)? {
            let e = e?;
            let m = e.metadata()?; // lstat: not followed
            entries += 1;
            if m.is_dir() {
                if m.dev() != dev {
                    return Ok(Walk::OtherDevice(e.path()));
                }
                stack.push(e.path());
            } else if m.is_file() {
                bytes += m.len();
            }
        }
    }
    Ok(Walk::Counted { entries, bytes })
}

/// The mount points at or under `dir`, from `/proc/self/mountinfo`. `dir` is compared as
/// given, component by component: pass a real path (`std::fs::canonicalize`), as the mount
/// table has.
pub fn mounts_at_or_under(dir: &Path) -> io::Result<Vec<PathBuf>> {
    Ok(under(
        &read_mount_points(Path::new("/proc/self/mountinfo"))?,
        dir,
    ))
}

pub(super) fn under(mounts: &[PathBuf], dir: &Path) -> Vec<PathBuf> {
    mounts
        .iter()
        .filter(|m| m.starts_with(dir))
        .cloned()
        .collect()
}

/// Every mount point of a mountinfo file, in its order.
pub(super) fn read_mount_points(path: &Path) -> io::Result<Vec<PathBuf>> {
    let f = fs::File::open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut r = BufReader::new(f);
    let mut line = Vec::new();
    let mut out = Vec::new();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(out);
        }
        if let Some(p) = mount_point(&line) {
            out.push(p);
        }
    }
}

/// The mount point (field 5) of one `/proc/<pid>/mountinfo` line, its octal escapes
/// (`\040` space, `\011` tab, `\012` newline, `\134` backslash) decoded.
pub(super) fn mount_point(line: &[u8]) -> Option<PathBuf> {
    let field = line
        .split(|&b| b == b' ' || b == b'\n')
        .filter(|f| !f.is_empty())
        .nth(4)?;
    Some(PathBuf::from(std::ffi::OsString::from_vec(unescape_octal(
        field,
    ))))
}

fn unescape_octal(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let oct = s
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)) && d[0] <= b'3');
        match (s[i], oct) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}
