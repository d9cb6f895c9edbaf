//! How fast each container writes its log (`ctrlog top`), from file growth.
//!
//! [`GrowthSampler`] is sans-IO: it is fed, at each sample, every plain file of each
//! container's directory with its identity ([`FileId`]: device and inode) and size, and
//! answers with the byte ranges it has not seen yet. The caller counts the newlines in those
//! ranges (the only bytes ever read) and feeds the count back; [`GrowthSampler::finish`]
//! turns the growth since the previous sample into rates.
//!
//! Files are tracked by identity, not by name, so a rotation costs nothing and loses
//! nothing: the renamed backup keeps its inode (its growth before the rename is still
//! counted) and the new live file is a new inode whose every byte is new. A file smaller
//! than last seen was truncated: its whole size is new. Compressed backups and a
//! compressor's temporaries are copies of data already counted and are not fed.
//!
//! Limits: an inode number freed by a pruned backup and reused within one interval by a
//! new file of the same container is taken for the old file (its growth is counted from
//! the old size, or from 0 if smaller). A container first seen after the first sample has
//! all its bytes counted as new (it appeared meanwhile).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::regular::{open_read, FileId, Symlinks};
use crate::rotate::{split_kind, EntryKind};

/// A container, by kubectl's names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerKey {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The container's name.
    pub container: String,
}

/// One plain log file of a container at a sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// Its identity (survives a rename).
    pub id: FileId,
    /// Its size in bytes.
    pub size: u64,
    /// Where it was at this sample.
    pub path: PathBuf,
}

/// Bytes not seen before: `from..to` of the file `id`, at `path` when sampled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Growth {
    /// The file.
    pub id: FileId,
    /// Where it was at this sample.
    pub path: PathBuf,
    /// First new byte.
    pub from: u64,
    /// End of the new bytes.
    pub to: u64,
}

/// A container's rates over the last interval.
#[derive(Clone, Debug, PartialEq)]
pub struct Rate {
    /// The container.
    pub key: ContainerKey,
    /// Bytes written per second.
    pub bytes_per_sec: f64,
    /// Newlines (records) written per second.
    pub lines_per_sec: f64,
}

#[derive(Debug, Default)]
struct Tracked {
    sizes: HashMap<FileId, u64>,
    bytes: u64,
    lines: u64,
    seen_now: bool,
}

/// Log growth per container across samples; see the module documentation.
///
/// ```
/// use std::time::Duration;
/// use ctrlog::cri::read::{ContainerKey, FileStat, GrowthSampler};
/// use ctrlog::regular::FileId;
/// let key = ContainerKey { namespace: "ns".into(), pod: "p".into(), container: "c".into() };
/// let f = |ino, size| FileStat { id: FileId { dev: 1, ino }, size, path: "0.log".into() };
/// let mut s = GrowthSampler::new();
/// assert!(s.observe(&key, &[f(10, 500)]).is_empty()); // the first sample is the baseline
/// assert!(s.finish(Duration::from_secs(0)).is_none());
/// // 0.log grew by 100 bytes, was renamed (same inode) and a new 0.log has 300 bytes.
/// let grown = s.observe(&key, &[f(10, 600), f(11, 300)]);
/// assert_eq!(grown.iter().map(|g| (g.from, g.to)).collect::<Vec<_>>(), [(500, 600), (0, 300)]);
/// s.add_lines(&key, 4);
/// let rates = s.finish(Duration::from_secs(2)).unwrap();
/// assert_eq!((rates[0].bytes_per_sec, rates[0].lines_per_sec), (200.0, 2.0));
/// ```
#[derive(Debug, Default)]
pub struct GrowthSampler {
    containers: HashMap<ContainerKey, Tracked>,
    last: Option<Duration>,
}

impl GrowthSampler {
    /// Nothing seen yet: the first sample is the baseline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `key`'s files at this sample; returns the ranges never seen before, whose
    /// newlines the caller counts ([`count_newlines`]) and feeds back with
    /// [`GrowthSampler::add_lines`]. At the first sample nothing is new.
    pub fn observe(&mut self, key: &ContainerKey, files: &[FileStat]) -> Vec<Growth> {
        let baseline = self.last.is_none();
        let t = self.containers.entry(key.clone()).or_default();
        t.seen_now = true;
        let mut out = Vec::new();
        let mut sizes = HashMap::with_capacity(files.len());
        for f in files {
            let from = match t.sizes.get(&f.id) {
                Some(&old) if old <= f.size => old,
                // Truncated, or never seen: all of it is new.
                _ => 0,
            };
            if !baseline && f.size > from {
                t.bytes += f.size - from;
                out.push(Growth {
                    id: f.id,
                    path: f.path.clone(),
                    from,
                    to: f.size,
                });
            }
            sizes.insert(f.id, f.size);
        }
        // Files gone (pruned, deleted) are forgotten.
        t.sizes = sizes;
        out
    }

    /// Adds newlines counted in `key`'s new ranges.
    pub fn add_lines(&mut self, key: &ContainerKey, lines: u64) {
        if let Some(t) = self.containers.get_mut(key) {
            t.lines += lines;
        }
    }

    /// Ends the sample taken at `at` (a monotonic clock's reading): every container's rate
    /// since the previous sample, fastest first (bytes, then lines, then name). `None` for
    /// the baseline. Containers not observed in this sample are forgotten.
    pub fn finish(&mut self, at: Duration) -> Option<Vec<Rate>> {
        self.containers
            .retain(|_, t| std::mem::take(&mut t.seen_now));
        let prev = self.last.replace(at)?;
        let secs = at.saturating_sub(prev).as_secs_f64();
        let mut rates: Vec<Rate> = self
            .containers
            .iter_mut()
            .map(|(key, t)| {
                let (bytes, lines) = (std::mem::take(&mut t.bytes), std::mem::take(&mut t.lines));
                let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
                Rate {
                    key: key.clone(),
                    bytes_per_sec: per_sec(bytes),
                    lines_per_sec: per_sec(lines),
                }
            })
            .collect();
        rates.sort_by(|a, b| {
            b.bytes_per_sec
                .total_cmp(&a.bytes_per_sec)
                .then(b.lines_per_sec.total_cmp(&a.lines_per_sec))
                .then_with(|| a.key.cmp(&b.key))
        });
        Some(rates)
    }
}

/// The plain log files of a container directory (restart files and their uncompressed
/// backups; not `.gz` copies or `.tmp` files): one `lstat` each, nothing opened.
pub fn stat_container(dir: &Path) -> io::Result<Vec<FileStat>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if super::restart_of(name).is_none() {
            continue;
        }
        if let Some(i) = name.find(".log.") {
            if split_kind(&name[i + 5..]).1 != EntryKind::Raw {
                continue;
            }
        }
        // Gone since the listing (pruned): nothing to count.
        let Ok(meta) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        if meta.file_type().is_file() {
            out.push(FileStat {
                id: FileId::of(&meta),
                size: meta.len(),
                path: e.path(),
            });
        }
    }
    Ok(out)
}

/// Counts the newlines in a [`Growth`] range, reading only those bytes (64 KiB at a time).
/// A file no longer at its path (renamed or deleted since the stat) counts 0: its bytes
/// are still counted by size.
pub fn count_newlines(g: &Growth) -> io::Result<u64> {
    let file = match open_read(&g.path, Symlinks::Refuse) {
        Ok(f) => f,
        Err(_) => return Ok(0),
    };
    if FileId::of_file(&file)? != g.id {
        return Ok(0);
    }
    // A file that shrank since the stat counts what it still holds of the range.
    crate::lines::count_newlines_at(&file, g.from, g.to).map(|(lines, _)| lines)
}
