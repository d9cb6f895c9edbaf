//! `ctrlog pods`: one row per container of kubelet's tree, and what in the tree is not
//! what it should be.

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use super::{list_pods, ContainerDir, PodDir, PodError};
use crate::cri::read::paths::{ContainerLogLink, PodDirName};
use crate::cri::read::{LogReader, LogSink, ReadError, ReadOptions, TailMode};
use crate::cri::Stream;
use crate::time::{Timeline, Timestamp};

/// The state of a container's `/var/log/containers` symlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkState {
    /// It points to the newest restart's file.
    Ok,
    /// There is none.
    Missing,
    /// It points to another file that exists (an older restart, another pod UID).
    Stale,
    /// Its target does not exist.
    Dangling,
    /// Its target is outside the pods root (never followed).
    Outside,
}

impl LinkState {
    /// `ok`, `missing`, `stale`, `dangling` or `outside`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Ok => "ok",
            LinkState::Missing => "missing",
            LinkState::Stale => "stale",
            LinkState::Dangling => "dangling",
            LinkState::Outside => "outside",
        }
    }

    /// When several links name one container, the best one counts.
    fn rank(self) -> u8 {
        match self {
            LinkState::Ok => 4,
            LinkState::Stale => 3,
            LinkState::Dangling => 2,
            LinkState::Outside => 1,
            LinkState::Missing => 0,
        }
    }
}

/// One container in kubelet's tree.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContainerRow {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The pod's UID.
    pub uid: String,
    /// The container's name.
    pub container: String,
    /// Restart files on disk (live, or only backups left).
    pub restarts: u32,
    /// Bytes of every regular file in the container's directory (live files, backups,
    /// compressed backups at their compressed size).
    pub bytes: u64,
    /// The time of the newest restart's last record (`None`: no record, or unreadable).
    pub last_record: Option<Timestamp>,
    /// Its `/var/log/containers` symlink.
    pub symlink: LinkState,
    /// The container's directory.
    pub path: PathBuf,
    /// When its bytes on disk were written, from the files alone: each file's size (a `.gz`
    /// backup's compressed size) placed at its last modification. A rotated backup is closed
    /// when the next one starts, so a burst of rotations shows as a burst here; the live
    /// file's bytes all sit at its last write. Not in `--json`.
    pub written: Timeline,
}

/// Something in the tree that is not a container's logs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Problem {
    /// The entry.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// What [`inventory`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Inventory {
    /// One row per container, by namespace, pod, UID and container.
    pub rows: Vec<ContainerRow>,
    /// Names that do not parse, entries that are not logs, bad links: listed, never read.
    pub problems: Vec<Problem>,
}

/// Lists every container under `pods_root` (in `namespace` only, if given) with its
/// restarts, bytes on disk, last record and the state of its symlink in `containers_root`.
///
/// Only the pods root must be listable; anything else wrong is a [`Problem`]. Links are read
/// with `readlink`, never followed; each restart's last record is read from its own file
/// and backups (`--tail 1`).
pub fn inventory(
    pods_root: &Path,
    containers_root: Option<&Path>,
    namespace: Option<&str>,
) -> Result<Inventory, PodError> {
    let list = list_pods(pods_root)?;
    let mut inv = Inventory::default();
    for p in list.unparsed {
        let reason = match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => "a symbolic link, not followed",
            Ok(m) if !m.is_dir() => "not a directory",
            _ => "directory name is not <namespace>_<pod>_<uid>",
        };
        inv.problems.push(problem(p, reason));
    }
    for (name, path) in list.pods {
        if namespace.is_some_and(|ns| ns != name.namespace) {
            continue;
        }
        let pod = match PodDir::open(&path) {
            Ok(pod) => pod,
            Err(e) => {
                inv.problems.push(problem(path, e.to_string()));
                continue;
            }
        };
        for p in &pod.ignored {
            inv.problems
                .push(problem(p.clone(), "not a container directory, not read"));
        }
        for c in &pod.containers {
            for p in &c.ignored {
                inv.problems.push(problem(
                    p.clone(),
                    "not a restart log or a backup of one, not read",
                ));
            }
            inv.rows.push(row(&name, c, &mut inv.problems));
        }
    }
    if let Some(root) = containers_root {
        check_links(pods_root, root, namespace, &mut inv);
    }
    Ok(inv)
}

fn problem(path: PathBuf, reason: impl Into<String>) -> Problem {
    Problem {
        path,
        reason: reason.into(),
    }
}

fn row(name: &PodDirName, c: &ContainerDir, problems: &mut Vec<Problem>) -> ContainerRow {
    let mut bytes = 0;
    let mut written = Timeline::new();
    if let Ok(entries) = fs::read_dir(&c.path) {
        for e in entries.flatten() {
            match e.metadata() {
                // `DirEntry::metadata` is an lstat: a symlink's target is not counted.
                Ok(m) if m.is_file() => {
                    bytes += m.len();
                    if let Ok(t) = m.modified() {
                        written.add_n(Timestamp::from(t).secs, m.len());
                    }
                }
                _ => {}
            }
        }
    }
    let last_record = match c.restarts.last() {
        Some(&n) => match last_record(&c.log_path(n)) {
            Ok(t) => t,
            Err(e) => {
                problems.push(problem(c.log_path(n), e));
                None
            }
        },
        None => None,
    };
    ContainerRow {
        namespace: name.namespace.clone(),
        pod: name.pod.clone(),
        uid: name.uid.clone(),
        container: c.name.clone(),
        restarts: c.restarts.len() as u32,
        bytes,
        last_record,
        symlink: LinkState::Missing,
        path: c.path.clone(),
        written,
    }
}

/// Remembers the start of the last line written.
#[derive(Default)]
struct LastLine(Option<Timestamp>);

impl LogSink for LastLine {
    fn write_stream(&mut self, _: Stream, _: &[u8]) -> std::io::Result<()> {
        Ok(())
    }
    fn line_start(&mut self, _: Stream, timestamp: Timestamp) {
        self.0 = Some(timestamp);
    }
}

/// The timestamp of the last record of `live` and its backups (the backups are looked into
/// only when the live file holds no record).
fn last_record(live: &Path) -> Result<Option<Timestamp>, String> {
    let opts = ReadOptions {
        tail: Some(1),
        tail_mode: TailMode::Records,
        ..ReadOptions::default()
    };
    let mut sink = LastLine::default();
    // The live file may be gone with its backups left (a restart rotated, then stopped): the
    // reader reads the set beside the path either way; only "nothing at all" is no record.
    match LogReader::open(live, opts).and_then(|mut r| r.read_to(&mut sink)) {
        Ok(_) => {}
        Err(ReadError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e.to_string()),
    }
    Ok(sink.0)
}

/// `path` made absolute and without `.`/`..`, by its text only (nothing is resolved).
fn lexical(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

fn check_links(pods_root: &Path, root: &Path, namespace: Option<&str>, inv: &mut Inventory) {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) => {
            inv.problems
                .push(problem(root.to_path_buf(), e.to_string()));
            return;
        }
    };
    let pods_abs = lexical(pods_root);
    // The newest restart file of each row, as a link to it would name it.
    let mut newest: HashMap<PathBuf, usize> = HashMap::new();
    let mut by_name: HashMap<(String, String, String), Vec<usize>> = HashMap::new();
    for (i, r) in inv.rows.iter().enumerate() {
        if r.restarts > 0 {
            let dir = ContainerDir::open(&r.path).ok();
            if let Some(n) = dir.and_then(|d| d.restarts.last().copied()) {
                newest.insert(lexical(&r.path.join(format!("{n}.log"))), i);
            }
        }
        let key = (r.namespace.clone(), r.pod.clone(), r.container.clone());
        by_name.entry(key).or_default().push(i);
    }
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        let link = match ContainerLogLink::parse(&path) {
            Ok(l) => l,
            Err(e) => {
                inv.problems.push(problem(path, format!("{e}, not read")));
                continue;
            }
        };
        if namespace.is_some_and(|ns| ns != link.namespace) {
            continue;
        }
        let target = match fs::read_link(&path) {
            Ok(t) => lexical(&root.join(t)),
            Err(_) => {
                inv.problems
                    .push(problem(path, "not a symbolic link, not read"));
                continue;
            }
        };
        let rows = by_name
            .get(&(link.namespace, link.pod, link.container))
            .cloned()
            .unwrap_or_default();
        let (state, owner) = if !target.starts_with(&pods_abs) {
            (LinkState::Outside, None)
        } else if let Some(&i) = newest.get(&target) {
            (LinkState::Ok, Some(i))
        } else if fs::symlink_metadata(&target).is_err() {
            (LinkState::Dangling, None)
        } else {
            (LinkState::Stale, None)
        };
        match state {
            LinkState::Outside => inv.problems.push(problem(
                path.clone(),
                format!(
                    "symbolic link to {} outside {}, not followed",
                    target.display(),
                    pods_abs.display()
                ),
            )),
            LinkState::Dangling => inv.problems.push(problem(
                path.clone(),
                format!("dangling symbolic link to {}", target.display()),
            )),
            _ => {}
        }
        if rows.is_empty() && state != LinkState::Outside && state != LinkState::Dangling {
            inv.problems.push(problem(
                path,
                "symbolic link for a container not in the pods root",
            ));
        }
        let marked = match owner {
            Some(i) => vec![i],
            None => rows,
        };
        for i in marked {
            let cur = &mut inv.rows[i].symlink;
            if state.rank() > cur.rank() {
                *cur = state;
            }
        }
    }
}
