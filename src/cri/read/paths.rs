//! kubelet's container log paths: `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart>.log`
//! and the legacy symlinks `/var/log/containers/<pod>_<namespace>_<container>-<id>.log`.

use std::path::{Path, PathBuf};

/// kubelet's pod log root.
pub const POD_LOGS_ROOT: &str = "/var/log/pods";
/// kubelet's legacy symlink directory.
pub const CONTAINER_LOGS_ROOT: &str = "/var/log/containers";

/// Why a path is not a kubelet log path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PodPathError {
    /// The path has too few components.
    #[error("{path:?}: expected <root>/<namespace>_<pod>_<uid>/<container>/<restart>.log")]
    Shape {
        /// The input.
        path: PathBuf,
    },
    /// The pod directory is not `<namespace>_<pod>_<uid>`.
    #[error("{path:?}: pod directory {dir:?} is not <namespace>_<pod>_<uid>")]
    PodDir {
        /// The input.
        path: PathBuf,
        /// The offending component.
        dir: String,
    },
    /// The file is not `<restart>.log`.
    #[error("{path:?}: file name {name:?} is not <restart count>.log")]
    FileName {
        /// The input.
        path: PathBuf,
        /// The offending component.
        name: String,
    },
    /// A legacy symlink name is not `<pod>_<namespace>_<container>-<id>.log`.
    #[error("{path:?}: {name:?} is not <pod>_<namespace>_<container>-<container id>.log")]
    LinkName {
        /// The input.
        path: PathBuf,
        /// The offending component.
        name: String,
    },
    /// A field to build a path from is empty or holds `_` or `/`.
    #[error("invalid {field} {value:?}: must be non-empty without '_' or '/'")]
    Field {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

fn ok_field(s: &str) -> bool {
    !s.is_empty() && !s.contains(['_', '/', '\0']) && s != "." && s != ".."
}

fn check(field: &'static str, value: &str) -> Result<(), PodPathError> {
    if ok_field(value) {
        Ok(())
    } else {
        Err(PodPathError::Field {
            field,
            value: value.to_owned(),
        })
    }
}

/// A restart file's name, `<restart count>.log` (digits only): its count.
///
/// ```
/// use ctrlog::cri::read::parse_restart_file;
/// assert_eq!(parse_restart_file("3.log"), Some(3));
/// assert_eq!(parse_restart_file("3.log.20240101-000000"), None); // a backup of 3.log
/// assert_eq!(parse_restart_file("+3.log"), None);
/// ```
pub fn parse_restart_file(name: &str) -> Option<u32> {
    name.strip_suffix(".log")
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<u32>().ok())
}

/// A pod directory's name in kubelet's layout, `<namespace>_<pod>_<uid>`.
///
/// ```
/// use ctrlog::cri::read::PodDirName;
/// let d = PodDirName::parse("kube-system_coredns-5d78c9869d-x2x4k_0f1e").unwrap();
/// assert_eq!((d.namespace.as_str(), d.pod.as_str(), d.uid.as_str()),
///            ("kube-system", "coredns-5d78c9869d-x2x4k", "0f1e"));
/// assert_eq!(d.to_string(), "kube-system_coredns-5d78c9869d-x2x4k_0f1e");
/// assert!(PodDirName::parse("lost+found").is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PodDirName {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The pod's UID.
    pub uid: String,
}

impl PodDirName {
    /// Parses `<namespace>_<pod>_<uid>`: three non-empty fields (Kubernetes names never
    /// hold `_`).
    pub fn parse(name: &str) -> Option<PodDirName> {
        let mut it = name.split('_');
        let (ns, pod, uid) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || !(ok_field(ns) && ok_field(pod) && ok_field(uid)) {
            return None;
        }
        Some(PodDirName {
            namespace: ns.into(),
            pod: pod.into(),
            uid: uid.into(),
        })
    }
}

impl std::fmt::Display for PodDirName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}_{}", self.namespace, self.pod, self.uid)
    }
}

/// One container's log file in kubelet's layout.
///
/// ```
/// use ctrlog::cri::read::PodLogPath;
/// let p = PodLogPath::parse("/var/log/pods/default_web-0_1b2c/nginx/3.log").unwrap();
/// assert_eq!((p.namespace.as_str(), p.pod.as_str(), p.uid.as_str()), ("default", "web-0", "1b2c"));
/// assert_eq!((p.container.as_str(), p.restart), ("nginx", 3));
/// assert_eq!(p.to_path("/var/log/pods"), std::path::Path::new("/var/log/pods/default_web-0_1b2c/nginx/3.log"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PodLogPath {
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    /// The pod's UID.
    pub uid: String,
    /// The container's name.
    pub container: String,
    /// The container's restart count.
    pub restart: u32,
}

impl PodLogPath {
    /// Checks the fields (non-empty, no `_` or `/`).
    pub fn new(
        namespace: &str,
        pod: &str,
        uid: &str,
        container: &str,
        restart: u32,
    ) -> Result<Self, PodPathError> {
        check("namespace", namespace)?;
        check("pod", pod)?;
        check("uid", uid)?;
        check("container", container)?;
        Ok(PodLogPath {
            namespace: namespace.into(),
            pod: pod.into(),
            uid: uid.into(),
            container: container.into(),
            restart,
        })
    }

    /// The pod's directory name, `<namespace>_<pod>_<uid>`.
    pub fn pod_dir_name(&self) -> String {
        format!("{}_{}_{}", self.namespace, self.pod, self.uid)
    }

    /// The file's path under `root` (normally [`POD_LOGS_ROOT`]).
    pub fn to_path(&self, root: impl AsRef<Path>) -> PathBuf {
        root.as_ref()
            .join(self.pod_dir_name())
            .join(&self.container)
            .join(format!("{}.log", self.restart))
    }

    /// Parses the last three components of `path` (any root).
    pub fn parse(path: impl AsRef<Path>) -> Result<Self, PodPathError> {
        let path = path.as_ref();
        let shape = || PodPathError::Shape {
            path: path.to_path_buf(),
        };
        let mut comps = path.iter().rev().map(|c| c.to_str());
        let name = comps.next().flatten().ok_or_else(shape)?;
        let container = comps.next().flatten().ok_or_else(shape)?;
        let dir = comps.next().flatten().ok_or_else(shape)?;
        let restart = parse_restart_file(name).ok_or_else(|| PodPathError::FileName {
            path: path.to_path_buf(),
            name: name.into(),
        })?;
        let dir_name = PodDirName::parse(dir).ok_or_else(|| PodPathError::PodDir {
            path: path.to_path_buf(),
            dir: dir.into(),
        })?;
        if !ok_field(container) {
            return Err(shape());
        }
        let PodDirName {
            namespace: ns,
            pod,
            uid,
        } = dir_name;
        PodLogPath::new(&ns, &pod, &uid, container, restart)
    }
}

/// A legacy symlink in `/var/log/containers`.
///
/// ```
/// use ctrlog::cri::read::ContainerLogLink;
/// let l = ContainerLogLink::parse("/var/log/containers/web-0_default_nginx-3f4e5d.log").unwrap();
/// assert_eq!((l.pod.as_str(), l.namespace.as_str(), l.container.as_str(), l.container_id.as_str()),
///            ("web-0", "default", "nginx", "3f4e5d"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ContainerLogLink {
    /// The pod's name.
    pub pod: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The container's name (may contain `-`).
    pub container: String,
    /// The runtime's container ID (hex).
    pub container_id: String,
}

impl ContainerLogLink {
    /// Checks the fields; the ID must be lowercase hex.
    pub fn new(
        pod: &str,
        namespace: &str,
        container: &str,
        container_id: &str,
    ) -> Result<Self, PodPathError> {
        check("pod", pod)?;
        check("namespace", namespace)?;
        check("container", container)?;
        if container_id.is_empty() || !container_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PodPathError::Field {
                field: "container id",
                value: container_id.into(),
            });
        }
        Ok(ContainerLogLink {
            pod: pod.into(),
            namespace: namespace.into(),
            container: container.into(),
            container_id: container_id.into(),
        })
    }

    /// `<pod>_<namespace>_<container>-<id>.log`.
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}-{}.log",
            self.pod, self.namespace, self.container, self.container_id
        )
    }

    /// The link's path under `root` (normally [`CONTAINER_LOGS_ROOT`]).
    pub fn to_path(&self, root: impl AsRef<Path>) -> PathBuf {
        root.as_ref().join(self.file_name())
    }

    /// Parses the file name of `path`.
    pub fn parse(path: impl AsRef<Path>) -> Result<Self, PodPathError> {
        let path = path.as_ref();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let bad = || PodPathError::LinkName {
            path: path.to_path_buf(),
            name: name.into(),
        };
        let stem = name.strip_suffix(".log").ok_or_else(bad)?;
        let parts: Vec<&str> = stem.split('_').collect();
        let [pod, ns, rest] = parts.as_slice() else {
            return Err(bad());
        };
        let (container, id) = rest.rsplit_once('-').ok_or_else(bad)?;
        ContainerLogLink::new(pod, ns, container, id).map_err(|_| bad())
    }
}
