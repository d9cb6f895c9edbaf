//! Live or residue: the evidence containerd leaves in a bundle, checked against `/proc` and
//! the shim's socket. The rule is in the module docs (`super`).

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::Bundle;
use crate::regular::{open_read, FileId, Symlinks};

/// The files whose absence [`Liveness::missing`] reports, in this order.
pub(super) const KEPT_FILES: [&str; 6] = [
    "init.pid",
    "address",
    "runtime",
    "options.json",
    "config.json",
    "rootfs",
];

/// Files read here are a pid, an address or a small JSON object: anything longer is not one.
const MAX_SMALL_FILE: u64 = 4096;

/// Settings of [`ResidueChecker`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ResidueOptions {
    /// A bundle directory changed more recently than this is live: containerd creates it
    /// before the shim starts, so a bundle being created has no shim or pid yet. Default 60 s.
    pub grace: Duration,
    /// How much later than its pid file a process may have started and still be the one the
    /// file names (the file is written after the process starts; this absorbs clock
    /// granularity). Default 2 s.
    pub pid_start_slack: Duration,
    /// Where procfs is mounted (`/proc`): `<proc>/<pid>/stat`, `<proc>/<pid>/cwd`,
    /// `<proc>/uptime` and `<proc>/self/mountinfo` are read.
    pub proc_root: PathBuf,
}

impl Default for ResidueOptions {
    fn default() -> Self {
        ResidueOptions {
            grace: Duration::from_secs(60),
            pid_start_slack: Duration::from_secs(2),
            proc_root: PathBuf::from("/proc"),
        }
    }
}

/// What a pid file (`init.pid`, `shim.pid`) says.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PidCheck {
    /// No such file.
    Missing,
    /// The file is not a regular file, cannot be read or holds no pid: no evidence.
    Invalid(String),
    /// The process runs and started before the file was written.
    Running(u32),
    /// A process with that pid runs but started after the file was written: the pid was
    /// reused, the process the file named is gone.
    Reused(u32),
    /// No such process, or a zombie.
    NotRunning(u32),
    /// `/proc/<pid>/stat` could not be read (not "no such process"): counts as live.
    Unknown(u32, String),
}

/// What the shim's address says.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShimCheck {
    /// Neither `bootstrap.json` nor `address`.
    NoAddress,
    /// The address file cannot be read or is empty or malformed: no evidence.
    Invalid(String),
    /// A connection was accepted (or the listener's queue is full): the shim lives.
    Answers(String),
    /// No socket there, or nobody listening.
    Gone {
        /// The address.
        address: String,
        /// The connect error.
        error: String,
    },
    /// The address cannot be checked here (not a unix socket, permission denied): counts as
    /// live.
    Unknown {
        /// The address.
        address: String,
        /// Why.
        why: String,
    },
}

/// A bundle's verdict: live or residue, the reason, and the evidence.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Liveness {
    /// Residue: neither its shim nor its process is alive (see the module docs).
    pub residue: bool,
    /// Why, in one line: the evidence of life for a live bundle; for residue, what was
    /// found of each, the missing files and the mounts.
    pub reason: String,
    /// `init.pid`.
    pub init: PidCheck,
    /// `shim.pid`.
    pub shim_pid: PidCheck,
    /// `bootstrap.json` or `address`.
    pub shim: ShimCheck,
    /// Processes whose working directory is the bundle (this process excepted).
    pub cwd_pids: Vec<u32>,
    /// Which of `init.pid`, `address`, `runtime`, `options.json`, `config.json`, `rootfs`
    /// are missing.
    pub missing: Vec<&'static str>,
    /// Mount points at or under the bundle.
    pub mounts: Vec<PathBuf>,
}

/// Decides live or residue for bundles, from one look at `/proc` (boot time, the processes'
/// working directories, the mount table) taken by [`ResidueChecker::new`]; the pid and
/// socket checks are made per bundle, when asked.
#[derive(Debug)]
pub struct ResidueChecker {
    opts: ResidueOptions,
    boot: SystemTime,
    ticks_per_sec: u64,
    cwds: HashMap<FileId, Vec<u32>>,
    mounts: Vec<PathBuf>,
}

impl ResidueChecker {
    /// Reads `<proc>/uptime`, every `<proc>/<pid>/cwd` it may and `<proc>/self/mountinfo`.
    pub fn new(opts: ResidueOptions) -> io::Result<ResidueChecker> {
        let uptime_path = opts.proc_root.join("uptime");
        let uptime = fs::read_to_string(&uptime_path)
            .and_then(|s| parse_uptime(&s).ok_or_else(|| io::ErrorKind::InvalidData.into()))
            .map_err(|e| with_path(&uptime_path, e))?;
        let boot = SystemTime::now()
            .checked_sub(uptime)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        // SAFETY: sysconf takes no pointers.
        let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let ticks_per_sec = u64::try_from(tck).ok().filter(|&t| t > 0).unwrap_or(100);
        let mountinfo = opts.proc_root.join("self/mountinfo");
        let mounts = super::prune::read_mount_points(&mountinfo)?;
        let cwds = process_cwds(&opts.proc_root).map_err(|e| with_path(&opts.proc_root, e))?;
        Ok(ResidueChecker {
            opts,
            boot,
            ticks_per_sec,
            cwds,
            mounts,
        })
    }

    /// The mount points this checker saw, in mountinfo order.
    pub(super) fn mount_points(&self) -> &[PathBuf] {
        &self.mounts
    }

    /// Live or residue, and why. Never fails: what cannot be read is named in the reason,
    /// and what cannot be decided counts as live.
    pub fn check(&self, bundle: &Bundle) -> Liveness {
        let dir = &bundle.path;
        let mut l = Liveness {
            residue: false,
            reason: String::new(),
            init: PidCheck::Missing,
            shim_pid: PidCheck::Missing,
            shim: ShimCheck::NoAddress,
            cwd_pids: Vec::new(),
            missing: Vec::new(),
            mounts: Vec::new(),
        };
        let meta = match fs::symlink_metadata(dir) {
            Ok(m) if m.is_dir() => m,
            Ok(m) => {
                l.reason = format!(
                    "{} (assumed live)",
                    crate::regular::kind_name(m.file_type()).trim_start_matches("a ")
                );
                return l;
            }
            Err(e) => {
                l.reason = format!("cannot read the bundle: {e} (assumed live)");
                return l;
            }
        };
        if let Err(e) = fs::read_dir(dir) {
            l.reason = format!("cannot read the bundle: {e} (assumed live)");
            return l;
        }
        for name in KEPT_FILES {
            if let Err(e) = fs::symlink_metadata(dir.join(name)) {
                if e.kind() == io::ErrorKind::NotFound {
                    l.missing.push(name);
                }
            }
        }
        l.mounts = super::prune::under(&self.mounts, &real_path(dir));
        l.init = self.pid_file(&dir.join("init.pid"));
        l.shim_pid = self.pid_file(&dir.join("shim.pid"));
        l.shim = shim_check(dir);
        l.cwd_pids = self
            .cwds
            .get(&FileId::of(&meta))
            .cloned()
            .unwrap_or_default();
        let age = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok());
        let live = if let PidCheck::Running(p) = l.init {
            Some(format!("init process {p} is running"))
        } else if let ShimCheck::Answers(a) = &l.shim {
            Some(format!("shim answers at {a}"))
        } else if let PidCheck::Running(p) = l.shim_pid {
            Some(format!("shim process {p} is running"))
        } else if let Some(p) = l.cwd_pids.first() {
            Some(format!("process {p} runs in the bundle directory"))
        } else if let PidCheck::Unknown(..) = l.init {
            Some(format!("init.pid: {} (assumed live)", l.init))
        } else if let PidCheck::Unknown(..) = l.shim_pid {
            Some(format!("shim.pid: {} (assumed live)", l.shim_pid))
        } else if let ShimCheck::Unknown { .. } = l.shim {
            Some(format!("shim: {} (assumed live)", l.shim))
        } else {
            match age {
                Some(a) if a >= self.opts.grace => None,
                Some(a) => Some(format!(
                    "changed {}s ago, within the {}s grace period",
                    a.as_secs(),
                    self.opts.grace.as_secs()
                )),
                None => Some("changed in the future (clock step?): assumed live".to_owned()),
            }
        };
        match live {
            Some(reason) => l.reason = reason,
            None => {
                l.residue = true;
                l.reason = format!(
                    "no live process or shim: init.pid: {}; shim.pid: {}; shim: {}",
                    l.init, l.shim_pid, l.shim
                );
                if !l.missing.is_empty() {
                    l.reason.push_str("; missing: ");
                    l.reason.push_str(&l.missing.join(", "));
                }
                if !l.mounts.is_empty() {
                    l.reason.push_str("; mounted: ");
                    let m: Vec<_> = l.mounts.iter().map(|m| m.display().to_string()).collect();
                    l.reason.push_str(&m.join(", "));
                }
            }
        }
        l
    }

    fn pid_file(&self, path: &Path) -> PidCheck {
        let f = match open_read(path, Symlinks::Refuse) {
            Ok(f) => f,
            Err(crate::regular::OpenError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                return PidCheck::Missing
            }
            Err(e) => return PidCheck::Invalid(e.to_string()),
        };
        let written = match f.metadata().and_then(|m| m.modified()) {
            Ok(t) => t,
            Err(e) => return PidCheck::Invalid(e.to_string()),
        };
        let mut buf = Vec::new();
        if let Err(e) = f.take(MAX_SMALL_FILE).read_to_end(&mut buf) {
            return PidCheck::Invalid(e.to_string());
        }
        let pid = match std::str::from_utf8(&buf)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|&p| p > 0 && i32::try_from(p).is_ok())
        {
            Some(p) => p,
            None => {
                return PidCheck::Invalid(format!("not a pid: {:?}", String::from_utf8_lossy(&buf)))
            }
        };
        let stat_path = self.opts.proc_root.join(pid.to_string()).join("stat");
        let stat = match fs::read(&stat_path) {
            Ok(s) => s,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => {
                return PidCheck::NotRunning(pid)
            }
            Err(e) => return PidCheck::Unknown(pid, e.to_string()),
        };
        let Some((state, start_ticks)) = parse_stat(&stat) else {
            return PidCheck::Unknown(pid, format!("{}: unexpected format", stat_path.display()));
        };
        if matches!(state, b'Z' | b'X' | b'x') {
            return PidCheck::NotRunning(pid);
        }
        let start = self.boot
            + Duration::from_secs(start_ticks / self.ticks_per_sec)
            + Duration::from_nanos(
                start_ticks % self.ticks_per_sec * 1_000_000_000 / self.ticks_per_sec,
            );
        if start > written + self.opts.pid_start_slack {
            PidCheck::Reused(pid)
        } else {
            PidCheck::Running(pid)
        }
    }
}

/// The bundle's path with its parent's symlinks resolved (mountinfo shows real paths); the
/// last component is kept as is (it is not followed).
pub(super) fn real_path(dir: &Path) -> PathBuf {
    match (dir.parent(), dir.file_name()) {
        (Some(p), Some(n)) => {
            let p = if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            };
            fs::canonicalize(p)
                .map(|p| p.join(n))
                .unwrap_or_else(|_| dir.to_owned())
        }
        _ => dir.to_owned(),
    }
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Seconds since boot, the first field of `/proc/uptime` (`"12345.67 23456.78\n"`).
pub(super) fn parse_uptime(s: &str) -> Option<Duration> {
    let secs: f64 = s.split_ascii_whitespace().next()?.parse().ok()?;
    Duration::try_from_secs_f64(secs).ok()
}

/// The state (field 3) and start time in clock ticks since boot (field 22) of a
/// `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may hold
/// anything, `)` and spaces included: the fields are counted from the last `)`.
pub(super) fn parse_stat(stat: &[u8]) -> Option<(u8, u64)> {
    let close = memchr::memrchr(b')', stat)?;
    let mut fields = stat[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    let start = fields.nth(18)?; // fields 4..=21 are 18 fields: nth(18) is field 22
    let start = std::str::from_utf8(start).ok()?.parse().ok()?;
    Some((state, start))
}

/// Every process's working directory (as a file identity) that this process may see,
/// itself excepted.
fn process_cwds(proc_root: &Path) -> io::Result<HashMap<FileId, Vec<u32>>> {
    let me = std::process::id();
    let mut map: HashMap<FileId, Vec<u32>> = HashMap::new();
    for e in fs::read_dir(proc_root)? {
        let Ok(e) = e else { continue };
        let Some(pid) = std::str::from_utf8(e.file_name().as_bytes())
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // `cwd` is a magic link: stat follows it to the directory itself, whatever mount
        // namespace the process is in. Gone or not ours to inspect: skipped.
        if let Ok(m) = fs::metadata(e.path().join("cwd")) {
            map.entry(FileId::of(&m)).or_default().push(pid);
        }
    }
    for pids in map.values_mut() {
        pids.sort_unstable();
    }
    Ok(map)
}

/// The shim's address: `bootstrap.json` (containerd 1.7+: `{"version":..,"address":..,
/// "protocol":..}`), else `address` (ttrpc), as containerd's `restoreBootstrapParams` reads
/// them; then a connection attempt.
fn shim_check(dir: &Path) -> ShimCheck {
    let read = |name: &str| -> Option<Result<Vec<u8>, String>> {
        let f = match open_read(&dir.join(name), Symlinks::Refuse) {
            Ok(f) => f,
            Err(crate::regular::OpenError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
                return None
            }
            Err(e) => return Some(Err(format!("{name}: {e}"))),
        };
        let mut buf = Vec::new();
        Some(
            f.take(MAX_SMALL_FILE)
                .read_to_end(&mut buf)
                .map(|_| buf)
                .map_err(|e| format!("{name}: {e}")),
        )
    };
    let (protocol, address) = match read("bootstrap.json") {
        Some(Ok(b)) => {
            #[derive(serde::Deserialize)]
            struct Params {
                #[serde(default)]
                address: String,
                #[serde(default)]
                protocol: String,
            }
            match serde_json::from_slice::<Params>(&b) {
                Ok(p) => (p.protocol, p.address),
                Err(e) => return ShimCheck::Invalid(format!("bootstrap.json: {e}")),
            }
        }
        Some(Err(e)) => return ShimCheck::Invalid(e),
        None => match read("address") {
            Some(Ok(b)) => (
                "ttrpc".to_owned(),
                String::from_utf8_lossy(&b).trim().to_owned(),
            ),
            Some(Err(e)) => return ShimCheck::Invalid(e),
            None => return ShimCheck::NoAddress,
        },
    };
    if address.is_empty() {
        return ShimCheck::Invalid("empty address".to_owned());
    }
    if !matches!(protocol.to_ascii_lowercase().as_str(), "ttrpc" | "grpc") {
        return ShimCheck::Unknown {
            why: format!("protocol {protocol:?}"),
            address,
        };
    }
    probe(address)
}

fn probe(address: String) -> ShimCheck {
    let result = if let Some(path) = address.strip_prefix("unix://") {
        // containerd 1.4 and older wrote `unix://` addresses of abstract sockets: a path
        // that does not exist is tried as one.
        match connect_unix(path.as_bytes(), false) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                connect_unix(path.as_bytes(), true).map_err(|_| e)
            }
            r => r,
        }
    } else if address.contains("://") {
        return ShimCheck::Unknown {
            why: "not a unix socket".to_owned(),
            address,
        };
    } else {
        // No scheme: an abstract socket (containerd's `socket.path`).
        connect_unix(address.as_bytes(), true)
    };
    match result {
        Ok(()) => ShimCheck::Answers(address),
        // A full listen queue: somebody listens.
        Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => ShimCheck::Answers(address),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::ECONNREFUSED | libc::ENOTDIR | libc::ENOTSOCK)
            ) =>
        {
            ShimCheck::Gone {
                address,
                error: e.to_string(),
            }
        }
        Err(e) => ShimCheck::Unknown {
            address,
            why: e.to_string(),
        },
    }
}

/// A non-blocking connect to a unix stream socket, closed at once (as containerd's
/// `CanConnect`). Non-blocking so that a shim that stopped accepting cannot hang the scan.
fn connect_unix(name: &[u8], abstract_ns: bool) -> io::Result<()> {
    let mut addr = libc::sockaddr_un {
        sun_family: libc::AF_UNIX as libc::sa_family_t,
        sun_path: [0; 108],
    };
    let start = usize::from(abstract_ns);
    // A path needs its NUL; an abstract name its leading NUL.
    if name.is_empty() || name.contains(&0) || name.len() + 1 > addr.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a valid unix socket address",
        ));
    }
    for (d, s) in addr.sun_path[start..].iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + name.len() + 1;
    // SAFETY: socket(2) takes no pointers; the descriptor it returns is owned by nobody else.
    let fd = unsafe {
        let fd = libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        OwnedFd::from_raw_fd(fd)
    };
    // SAFETY: `addr` is a sockaddr_un we own and `len` is within it.
    let r = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            std::ptr::addr_of!(addr).cast::<libc::sockaddr>(),
            len as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl fmt::Display for PidCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidCheck::Missing => f.write_str("missing"),
            PidCheck::Invalid(e) => write!(f, "unusable ({e})"),
            PidCheck::Running(p) => write!(f, "pid {p} running"),
            PidCheck::Reused(p) => write!(
                f,
                "pid {p} reused (that process started after the file was written)"
            ),
            PidCheck::NotRunning(p) => write!(f, "pid {p} not running"),
            PidCheck::Unknown(p, e) => write!(f, "pid {p} cannot be checked: {e}"),
        }
    }
}

impl fmt::Display for ShimCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShimCheck::NoAddress => f.write_str("no address"),
            ShimCheck::Invalid(e) => write!(f, "address unusable ({e})"),
            ShimCheck::Answers(a) => write!(f, "answers at {a}"),
            ShimCheck::Gone { address, error } => write!(f, "gone ({address}: {error})"),
            ShimCheck::Unknown { address, why } => {
                write!(f, "{address} cannot be checked ({why})")
            }
        }
    }
}
