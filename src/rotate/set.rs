//! The file set on disk: the live file plus its backups, as one naming scheme sees them.
//!
//! [`classify`] is the sans-IO core (a directory entry name in, its role out); [`scan`] lists a
//! directory and groups the entries by backup.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use super::naming::NamingScheme;

/// What a directory entry of the set is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// An uncompressed backup, `<live>.<suffix>`.
    Raw,
    /// A compressed backup, `<live>.<suffix>.gz`.
    Gz,
    /// A compressor's temporary file, `<live>.<suffix>.gz.tmp` (or kubelet's `<live>.<suffix>.tmp`).
    Tmp,
}

/// Classifies the directory entry `name` against the live file's name `base`: the backup's
/// order key (larger is newer), the kind, and the suffix stem. `None` if `name` is not part of
/// the set (the live file itself, other files, `<live>.foo`).
pub fn classify<'a>(
    scheme: &dyn NamingScheme,
    base: &str,
    name: &'a str,
) -> Option<(u64, EntryKind, &'a str)> {
    let rest = name.strip_prefix(base)?.strip_prefix('.')?;
    let (stem, kind) = super::naming::split_kind(rest);
    let key = scheme.parse(stem)?;
    Some((key, kind, stem))
}

/// One backup: the files that share a suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backup {
    pub key: u64,
    pub stem: String,
    pub raw: bool,
    pub gz: bool,
    /// Names of temporaries that belong to this suffix.
    pub tmps: Vec<String>,
}

impl Backup {
    /// Holds data (a raw or compressed file), as opposed to only a leftover temporary.
    pub fn is_backup(&self) -> bool {
        self.raw || self.gz
    }
}

/// Where the set lives and how it is named.
#[derive(Debug)]
pub(crate) struct SetPaths {
    pub dir: PathBuf,
    pub base: String,
}

impl SetPaths {
    pub fn raw(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{}.{}", self.base, stem))
    }

    pub fn gz(&self, stem: &str) -> PathBuf {
        self.dir.join(format!("{}.{}.gz", self.base, stem))
    }

    pub fn tmp(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Where a rotation makes the next live file before renaming it into place: hidden, and no
    /// name of the set (no reader or pruning ever sees it).
    pub fn next_live(&self) -> PathBuf {
        self.dir.join(next_live_name(self.base.as_ref()))
    }
}

/// The hidden name a rotation makes the next live file under (`.NAME.ctrlog-next`), before
/// swapping it with the live file (see `rotation.rs`). The follower's watcher knows it too: a
/// swap announces the new live file by a rename from it, not by a creation.
pub(crate) fn next_live_name(base: &std::ffi::OsStr) -> std::ffi::OsString {
    let mut name = std::ffi::OsString::from(".");
    name.push(base);
    name.push(".ctrlog-next");
    name
}

/// Lists the set: every backup group, oldest first. Directories and names that are not valid
/// UTF-8 are ignored (lumberjack's `TestMaxBackups`: a directory with a backup's name is never
/// touched).
pub(crate) fn scan(paths: &SetPaths, scheme: &dyn NamingScheme) -> io::Result<Vec<Backup>> {
    scan_all(paths, scheme, &mut Vec::new())
}

/// [`scan`], plus the set's *strays* in `strays`: entries with a name of the set that are
/// neither regular files nor directories (a symbolic link, a FIFO, a socket). They are never
/// part of the set, but they hold names a rotation renames onto, and a rename never replaces
/// anything: left there (a link planted by whoever can write the directory), they would stop
/// rotation for good.
pub(crate) fn scan_all(
    paths: &SetPaths,
    scheme: &dyn NamingScheme,
    strays: &mut Vec<PathBuf>,
) -> io::Result<Vec<Backup>> {
    let mut out: Vec<Backup> = Vec::new();
    // Position of each key in `out`: a set with thousands of backups (`Backups::Unlimited`)
    // is scanned at every rotation, so no linear search per entry.
    let mut index: HashMap<u64, usize> = HashMap::new();
    for entry in std::fs::read_dir(dir_or_dot(&paths.dir))? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((key, kind, stem)) = classify(scheme, &paths.base, name) else {
            continue;
        };
        let ft = match entry.file_type() {
            Ok(ft) => ft,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if !ft.is_file() {
            if !ft.is_dir() {
                strays.push(paths.dir.join(name));
            }
            continue;
        }
        let idx = *index.entry(key).or_insert_with(|| {
            out.push(Backup {
                key,
                stem: stem.to_owned(),
                raw: false,
                gz: false,
                tmps: Vec::new(),
            });
            out.len() - 1
        });
        // `index` holds positions of `out` only.
        let b = &mut out[idx];
        match kind {
            EntryKind::Raw => b.raw = true,
            EntryKind::Gz => b.gz = true,
            EntryKind::Tmp => b.tmps.push(name.to_owned()),
        }
    }
    out.sort_by_key(|b| b.key);
    Ok(out)
}

/// `dir`, or `.` when `dir` is empty (a bare file name); see [`crate::regular::dir_of`].
pub(crate) fn dir_or_dot(dir: &Path) -> &Path {
    if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rotate::naming::{CtrlogNaming, DockerNaming, KubeletNaming};
    use crate::time::Offset;

    #[test]
    fn classify_table() {
        let c = CtrlogNaming;
        let d = DockerNaming;
        let k = KubeletNaming {
            offset: Offset::Utc,
        };
        type Case<'a> = (&'a dyn NamingScheme, &'a str, Option<(EntryKind, &'a str)>);
        let cases: &[Case] = &[
            (&c, "app.log", None),
            (&c, "app.log.s00000001", Some((EntryKind::Raw, "s00000001"))),
            (
                &c,
                "app.log.s00000001.gz",
                Some((EntryKind::Gz, "s00000001")),
            ),
            (
                &c,
                "app.log.s00000001.gz.tmp",
                Some((EntryKind::Tmp, "s00000001")),
            ),
            (&c, "app.log.foo", None),
            (&c, "app.logs00000001", None),
            (&c, "other.log.s00000001", None),
            (&d, "app.log.1", Some((EntryKind::Raw, "1"))),
            (&d, "app.log.12.gz", Some((EntryKind::Gz, "12"))),
            (&d, "app.log.0", None),
            (
                &k,
                "app.log.20180101-000000",
                Some((EntryKind::Raw, "20180101-000000")),
            ),
            (
                &k,
                "app.log.20180101-000000.tmp",
                Some((EntryKind::Tmp, "20180101-000000")),
            ),
            (
                &k,
                "app.log.20180101-000000.gz",
                Some((EntryKind::Gz, "20180101-000000")),
            ),
            (&k, "app.log.gz", None),
        ];
        for (scheme, name, want) in cases {
            let got = classify(*scheme, "app.log", name).map(|(_, k, s)| (k, s));
            assert_eq!(got, *want, "{name}");
        }
    }
}
