//! Pods by name in kubelet's log tree, as `kubectl logs` selects them, from the files alone
//! (no API server, kubelet or runtime needed).
//!
//! kubelet writes `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`, rotated
//! backups beside each restart file (`0.log.20240101-000000`, `.gz` once compressed), and the
//! legacy symlinks `/var/log/containers/<pod>_<namespace>_<container>-<id>.log` (grammar:
//! [`PodDirName`], [`parse_restart_file`], [`ContainerLogLink`](super::ContainerLogLink)).
//!
//! * [`find_pod`] and [`PodDir`]: a pod by namespace and name, its containers and their
//!   restarts; [`PodDir::container`] and [`ContainerDir::previous`] apply kubectl's rules
//!   (and its error wording) for `-c` and `-p`.
//! * [`read_containers`]: several containers' logs merged by timestamp (`--all-containers`),
//!   with kubectl's `--prefix`.
//! * [`inventory`]: one row per container for `ctrlog pods` (restarts, bytes on disk, last
//!   record, symlink state); unparsable names and bad links are listed, not skipped.
//! * [`GrowthSampler`]: sans-IO log growth rates across rotations for `ctrlog top`, fed by
//!   [`stat_container`] (stats, and the newlines not yet counted).
//!
//! # Limits
//! * Directories are listed without following symlinks: a pod or container directory that
//!   is a symlink is reported, not entered, and a restart file must be a regular file when
//!   listed (it is then opened as a path the user named: a file swapped for a symlink
//!   between the listing and the open is followed, as for a path given to `ctrlog logs`). A
//!   `/var/log/containers` link is read with `readlink` and judged by its text; it is never
//!   opened.
//! * Several directories for one namespace and pod (a pod deleted and recreated with a new
//!   UID, the old directory not yet removed): [`find_pod`] picks the most recently modified.

mod growth;
mod inventory;
mod merged;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::files::parse_rotation_suffix;
use super::paths::{parse_restart_file, PodDirName};

pub use growth::{
    count_newlines, stat_container, ContainerKey, FileStat, Growth, GrowthSampler, Rate,
};
pub use inventory::{inventory, ContainerRow, Inventory, LinkState, Problem};
pub use merged::{read_containers, ContainerSource};

/// Why a pod or container could not be selected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PodError {
    /// Listing a directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// No pod of that name in the namespace.
    #[error("pod {pod:?} not found in namespace {namespace:?} under {}", root.display())]
    NotFound {
        /// The namespace looked in.
        namespace: String,
        /// The name asked for.
        pod: String,
        /// The pods root.
        root: PathBuf,
    },
    /// The name is only a prefix of pod names: which ones.
    #[error("pod {pod:?} not found in namespace {namespace:?}; did you mean one of: [{}]", candidates.join(" "))]
    Prefix {
        /// The namespace looked in.
        namespace: String,
        /// The name asked for.
        pod: String,
        /// The pods whose name starts with it.
        candidates: Vec<String>,
    },
    /// A directory given as a pod directory is not `<namespace>_<pod>_<uid>`.
    #[error("{}: not a pod directory (<namespace>_<pod>_<uid>)", path.display())]
    NotPodDir {
        /// The path.
        path: PathBuf,
    },
    /// The pod directory holds no container directory.
    #[error("{}: pod {pod:?} has no container log directory", path.display())]
    NoContainers {
        /// The pod directory.
        path: PathBuf,
        /// The pod.
        pod: String,
    },
    /// Several containers and none named (kubectl's wording).
    #[error("a container name must be specified for pod {pod}, choose one of: [{}]", containers.join(" "))]
    ContainerRequired {
        /// The pod.
        pod: String,
        /// Its containers.
        containers: Vec<String>,
    },
    /// The named container is not in the pod (kubectl's wording, with the choices).
    #[error("container {container} is not valid for pod {pod}, choose one of: [{}]", containers.join(" "))]
    NoContainer {
        /// The pod.
        pod: String,
        /// The name asked for.
        container: String,
        /// Its containers.
        containers: Vec<String>,
    },
    /// `--previous` with one restart on disk, or a container without any log (kubectl's
    /// wording).
    #[error("previous terminated container {container:?} in pod {pod:?} not found")]
    NoPrevious {
        /// The pod.
        pod: String,
        /// The container.
        container: String,
    },
    /// A container directory without any restart file.
    #[error("{}: no <restart>.log file in container {container:?} of pod {pod:?}", path.display())]
    NoLog {
        /// The container directory.
        path: PathBuf,
        /// The pod.
        pod: String,
        /// The container.
        container: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PodError + '_ {
    move |source| PodError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One container's directory: its restarts on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContainerDir {
    /// The container's name.
    pub name: String,
    /// `<pods root>/<namespace>_<pod>_<uid>/<container>`.
    pub path: PathBuf,
    /// Restart counts with a live file (`<n>.log`) or a backup of one, ascending.
    pub restarts: Vec<u32>,
    /// Entries that are neither a restart file nor one of its backups (other names, a
    /// symlink, a directory, a FIFO): never read, reported by `ctrlog pods`.
    pub ignored: Vec<PathBuf>,
}

impl ContainerDir {
    /// Lists `path` (a container directory named `name`).
    pub fn open(path: &Path) -> Result<ContainerDir, PodError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let mut restarts = Vec::new();
        let mut ignored = Vec::new();
        for e in fs::read_dir(path).map_err(io_err(path))? {
            let e = e.map_err(io_err(path))?;
            let ft = e.file_type().map_err(io_err(path))?;
            let fname = e.file_name();
            let restart = fname.to_str().and_then(restart_of).filter(|_| ft.is_file());
            match restart {
                Some(n) => restarts.push(n),
                None => ignored.push(e.path()),
            }
        }
        restarts.sort_unstable();
        restarts.dedup();
        ignored.sort();
        Ok(ContainerDir {
            name,
            path: path.to_path_buf(),
            restarts,
            ignored,
        })
    }

    /// The live file of restart `n`: `<container dir>/<n>.log`.
    pub fn log_path(&self, restart: u32) -> PathBuf {
        self.path.join(format!("{restart}.log"))
    }

    /// The newest restart's live file (what `kubectl logs` reads).
    pub fn current(&self, pod: &str) -> Result<PathBuf, PodError> {
        match self.restarts.last() {
            Some(&n) => Ok(self.log_path(n)),
            None => Err(PodError::NoLog {
                path: self.path.clone(),
                pod: pod.into(),
                container: self.name.clone(),
            }),
        }
    }

    /// The restart before the newest (`kubectl logs -p`).
    pub fn previous(&self, pod: &str) -> Result<PathBuf, PodError> {
        match self.restarts.len().checked_sub(2) {
            Some(i) => Ok(self.log_path(self.restarts[i])),
            None => Err(PodError::NoPrevious {
                pod: pod.into(),
                container: self.name.clone(),
            }),
        }
    }
}

/// `<n>.log` or a backup of it (`<n>.log.<rotation suffix>`, `.gz` included; a compressor's
/// `.tmp` is not a backup): `n`.
fn restart_of(name: &str) -> Option<u32> {
    if let Some(n) = parse_restart_file(name) {
        return Some(n);
    }
    let i = name.find(".log.")?;
    let (live, suffix) = (&name[..i + 4], &name[i + 5..]);
    parse_rotation_suffix(suffix)?;
    parse_restart_file(live)
}

/// One pod's directory and its containers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PodDir {
    /// Namespace, name and UID, from the directory's name.
    pub name: PodDirName,
    /// `<pods root>/<namespace>_<pod>_<uid>`.
    pub path: PathBuf,
    /// Its container directories, by name.
    pub containers: Vec<ContainerDir>,
    /// Entries that are not container directories (files, symlinks): never read.
    pub ignored: Vec<PathBuf>,
}

impl PodDir {
    /// Lists a pod directory; its name must parse as `<namespace>_<pod>_<uid>`.
    pub fn open(path: &Path) -> Result<PodDir, PodError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(PodDirName::parse)
            .ok_or_else(|| PodError::NotPodDir {
                path: path.to_path_buf(),
            })?;
        let mut containers = Vec::new();
        let mut ignored = Vec::new();
        for e in fs::read_dir(path).map_err(io_err(path))? {
            let e = e.map_err(io_err(path))?;
            // `DirEntry::file_type` does not follow a symlink: a linked directory is not entered.
            if e.file_type().map_err(io_err(path))?.is_dir() && e.file_name().to_str().is_some() {
                containers.push(ContainerDir::open(&e.path())?);
            } else {
                ignored.push(e.path());
            }
        }
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        ignored.sort();
        Ok(PodDir {
            name,
            path: path.to_path_buf(),
            containers,
            ignored,
        })
    }

    /// The containers' names.
    pub fn container_names(&self) -> Vec<String> {
        self.containers.iter().map(|c| c.name.clone()).collect()
    }

    /// kubectl's choice: the named container, or the only one when none is named; several
    /// and none named is [`PodError::ContainerRequired`].
    pub fn container(&self, name: Option<&str>) -> Result<&ContainerDir, PodError> {
        let pod = &self.name.pod;
        match (name, self.containers.as_slice()) {
            (_, []) => Err(PodError::NoContainers {
                path: self.path.clone(),
                pod: pod.clone(),
            }),
            (None, [only]) => Ok(only),
            (None, _) => Err(PodError::ContainerRequired {
                pod: pod.clone(),
                containers: self.container_names(),
            }),
            (Some(n), cs) => cs
                .iter()
                .find(|c| c.name == n)
                .ok_or_else(|| PodError::NoContainer {
                    pod: pod.clone(),
                    container: n.into(),
                    containers: self.container_names(),
                }),
        }
    }
}

/// The entries of a pods root: pod directories (by namespace, pod, UID) and what does not
/// parse as one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PodList {
    /// Directories named `<namespace>_<pod>_<uid>`, sorted by name.
    pub pods: Vec<(PodDirName, PathBuf)>,
    /// Entries that are not such a directory (another name, a file, a symlink).
    pub unparsed: Vec<PathBuf>,
}

/// Lists the pod directories under `root` (normally
/// [`POD_LOGS_ROOT`](super::POD_LOGS_ROOT)) without entering them.
pub fn list_pods(root: &Path) -> Result<PodList, PodError> {
    let mut list = PodList::default();
    for e in fs::read_dir(root).map_err(io_err(root))? {
        let e = e.map_err(io_err(root))?;
        let is_dir = e.file_type().map_err(io_err(root))?.is_dir();
        match e.file_name().to_str().and_then(PodDirName::parse) {
            Some(name) if is_dir => list.pods.push((name, e.path())),
            _ => list.unparsed.push(e.path()),
        }
    }
    list.pods.sort();
    list.unparsed.sort();
    Ok(list)
}

/// Finds pod `pod` of `namespace` under `root`, as `kubectl logs POD -n NAMESPACE` names
/// it: the exact name only. A name that is only a prefix of pod names is
/// [`PodError::Prefix`] with those names.
///
/// ```
/// use ctrlog::cri::read::{find_pod, PodError};
/// let root = tempfile::tempdir()?;
/// for d in ["default_web-0_u1/nginx", "default_web-1_u2/nginx", "kube-system_web-0_u3/app"] {
///     std::fs::create_dir_all(root.path().join(d))?;
///     std::fs::write(root.path().join(d).join("0.log"), "")?;
/// }
/// let pod = find_pod(root.path(), "default", "web-0")?;
/// assert_eq!(pod.name.uid, "u1");
/// assert_eq!(pod.container(None)?.name, "nginx");
/// match find_pod(root.path(), "default", "web").unwrap_err() {
///     PodError::Prefix { candidates, .. } => assert_eq!(candidates, ["web-0", "web-1"]),
///     e => panic!("{e}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn find_pod(root: &Path, namespace: &str, pod: &str) -> Result<PodDir, PodError> {
    let list = list_pods(root)?;
    let in_ns = || list.pods.iter().filter(|(n, _)| n.namespace == namespace);
    let mut exact: Vec<&PathBuf> = in_ns()
        .filter(|(n, _)| n.pod == pod)
        .map(|p| &p.1)
        .collect();
    if exact.is_empty() {
        let mut candidates: Vec<String> = in_ns()
            .filter(|(n, _)| n.pod.starts_with(pod))
            .map(|(n, _)| n.pod.clone())
            .collect();
        candidates.dedup();
        return Err(if candidates.is_empty() {
            PodError::NotFound {
                namespace: namespace.into(),
                pod: pod.into(),
                root: root.to_path_buf(),
            }
        } else {
            PodError::Prefix {
                namespace: namespace.into(),
                pod: pod.into(),
                candidates,
            }
        });
    }
    // A recreated pod (new UID) beside its old directory: the most recently modified.
    exact.sort_by_key(|p| fs::symlink_metadata(p).and_then(|m| m.modified()).ok());
    PodDir::open(exact[exact.len() - 1])
}
