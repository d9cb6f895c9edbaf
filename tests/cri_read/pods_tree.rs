//! A synthetic kubelet log tree, shared by the library tests (`cri_read/pods.rs`) and the
//! command-line tests (`cli/pods.rs`, which includes this file by path).
//!
//! * `default/web-0`: containers `app`, `init-db`, `sidecar`, restarts 0, 1 and 2 each;
//!   restart 2 has a plain rotated backup, restart 1 a compressed one (plain without the
//!   `gzip` feature). Every record time is distinct across containers (see [`line_time`]).
//! * `default/web-01` (a name that `web-0` is a prefix of): `app`, restart 0.
//! * `kube-system/coredns-5d78`: `coredns`, restart 0.
//! * Not pods: `lost+found` (a directory), `garbage_dir` (two fields) and
//!   `default_linked_5c5c`, a symlink to the directory above the root.
//! * `/var/log/containers` links: web-0 `app` to its newest restart (ok), `sidecar` to an
//!   older one (stale), `init-db` to a restart that does not exist (dangling), coredns to a
//!   file outside the pods root, a pod that is gone (dangling), and a bad name.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

pub const WEB0_UID: &str = "6b1d3c2a-web0";
pub const WEB0_CONTAINERS: [&str; 3] = ["app", "init-db", "sidecar"];
pub const RESTARTS: u32 = 3;

pub struct Tree {
    pub dir: tempfile::TempDir,
    pub pods: PathBuf,
    pub containers: PathBuf,
    /// A file outside both roots that a link points to.
    pub outside: PathBuf,
}

/// Seconds after 2024-05-01T10:00:00Z of record `i` (0: the backup's, 1..=3: the live
/// file's) of container `k` at restart `r`: all distinct, interleaved across containers.
pub fn line_time(r: u32, k: usize, i: u32) -> u32 {
    r * 20 + i * 3 + k as u32
}

pub fn ts(secs: u32) -> String {
    format!("2024-05-01T10:{:02}:{:02}.000000000Z", secs / 60, secs % 60)
}

fn rec(secs: u32, stream: &str, tag: &str, content: &str) -> String {
    format!("{} {stream} {tag} {content}\n", ts(secs))
}

/// The text `ctrlog logs` prints for record `i` of container `k` at restart `r`.
pub fn content(r: u32, k: usize, i: u32) -> String {
    format!("{} r{r} l{i}", WEB0_CONTAINERS[k])
}

#[cfg(feature = "gzip")]
fn gz(data: &[u8]) -> (Vec<u8>, &'static str) {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    (e.finish().unwrap(), ".gz")
}

#[cfg(not(feature = "gzip"))]
fn gz(data: &[u8]) -> (Vec<u8>, &'static str) {
    (data.to_vec(), "")
}

/// The records of container `k` at restart `r`: (backup, live). Record 2 of `sidecar` is a
/// line in two pieces (the second one later), and record 3 of `init-db` goes to stderr.
fn records(r: u32, k: usize) -> (String, String) {
    let t = |i| line_time(r, k, i);
    let backup = rec(t(0), "stdout", "F", &content(r, k, 0));
    let mut live = String::new();
    for i in 1..=3 {
        let c = content(r, k, i);
        match (WEB0_CONTAINERS[k], i) {
            ("sidecar", 2) => {
                let (a, b) = c.split_at(4);
                live += &rec(t(i), "stdout", "P", a);
                live += &rec(t(i) + 1, "stdout", "F", b);
            }
            ("init-db", 3) => live += &rec(t(i), "stderr", "F", &c),
            _ => live += &rec(t(i), "stdout", "F", &c),
        }
    }
    (backup, live)
}

fn write(path: &Path, data: impl AsRef<[u8]>) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

pub fn web0_dir(t: &Tree) -> PathBuf {
    t.pods.join(format!("default_web-0_{WEB0_UID}"))
}

pub fn build() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let pods = dir.path().join("pods");
    let containers = dir.path().join("containers");
    let outside = dir.path().join("secret");
    fs::create_dir_all(&pods).unwrap();
    fs::create_dir_all(&containers).unwrap();
    fs::write(&outside, "not a log\n").unwrap();
    let t = Tree {
        dir,
        pods,
        containers,
        outside,
    };
    let web0 = web0_dir(&t);
    for (k, c) in WEB0_CONTAINERS.iter().enumerate() {
        for r in 0..RESTARTS {
            let (backup, live) = records(r, k);
            let cdir = web0.join(c);
            write(&cdir.join(format!("{r}.log")), live);
            match r {
                2 => write(&cdir.join("2.log.20240501-100040"), backup),
                1 => {
                    let (data, ext) = gz(backup.as_bytes());
                    write(&cdir.join(format!("1.log.20240501-100020{ext}")), data);
                }
                _ => {}
            }
        }
    }
    write(
        &t.pods.join("default_web-01_9a8b-web01/app/0.log"),
        rec(5, "stdout", "F", "web-01 app"),
    );
    write(
        &t.pods
            .join("kube-system_coredns-5d78_77aa-dns/coredns/0.log"),
        rec(6, "stdout", "F", "dns ready"),
    );
    fs::create_dir_all(t.pods.join("lost+found")).unwrap();
    fs::create_dir_all(t.pods.join("garbage_dir/app")).unwrap();
    // A pod-shaped name that is a symlink out of the root: listed, never entered.
    std::os::unix::fs::symlink(t.dir.path(), t.pods.join("default_linked_5c5c")).unwrap();
    let link = |name: &str, target: &Path| {
        std::os::unix::fs::symlink(target, t.containers.join(name)).unwrap();
    };
    let hex = |c: char| c.to_string().repeat(64);
    link(
        &format!("web-0_default_app-{}.log", hex('a')),
        &web0.join("app/2.log"),
    );
    link(
        &format!("web-0_default_sidecar-{}.log", hex('b')),
        &web0.join("sidecar/1.log"),
    );
    link(
        &format!("web-0_default_init-db-{}.log", hex('c')),
        &web0.join("init-db/7.log"),
    );
    link(
        &format!("coredns-5d78_kube-system_coredns-{}.log", hex('d')),
        &t.outside,
    );
    link(
        &format!("gone_default_app-{}.log", hex('e')),
        &t.pods.join("default_gone_1111/app/0.log"),
    );
    link("not-a-link-name.log", &t.outside);
    t
}

/// Bytes of every file under `dir` (one level of files).
pub fn bytes_in(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

/// What `--all-containers --timestamps` prints for web-0's restart `r`, in time order:
/// (time, stream, content).
pub fn merged(r: u32) -> Vec<(u32, &'static str, String)> {
    let mut out = Vec::new();
    for (k, name) in WEB0_CONTAINERS.iter().enumerate() {
        for i in 0..=3 {
            let stream = if (*name, i) == ("init-db", 3) {
                "stderr"
            } else {
                "stdout"
            };
            out.push((line_time(r, k, i), stream, content(r, k, i)));
        }
    }
    out.sort_by_key(|l| l.0);
    out
}
