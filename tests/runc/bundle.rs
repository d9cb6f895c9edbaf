#![cfg(target_os = "linux")]
//! `ctrlog::runc::bundle`: synthetic containerd state roots. Every combination of missing
//! files with a live, dead and reused init pid and a live or stale shim socket; pruning
//! never touches a live or mounted bundle and never follows a symlink.

use std::fs::{self, File};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, SystemTime};

use ctrlog::runc::bundle::{
    find_bundles, prune_residue, Bundle, PidCheck, PruneAction, PruneOptions, ResidueChecker,
    ResidueOptions, ShimCheck, SkipReason, TaskKind, WalkError, V1_TASK_DIR, V2_TASK_DIR,
};

/// The files whose absence the verdict names, in the order it names them.
const FILES: [&str; 6] = [
    "init.pid",
    "address",
    "runtime",
    "options.json",
    "config.json",
    "rootfs",
];

fn opts() -> ResidueOptions {
    let mut o = ResidueOptions::default();
    o.grace = Duration::ZERO;
    o
}

fn prune_opts(dry_run: bool) -> PruneOptions {
    let mut o = PruneOptions::default();
    o.dry_run = dry_run;
    o.residue = opts();
    o
}

/// A spawned `sleep`, killed and reaped on drop.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(Command::new("sleep").arg("600").spawn().unwrap())
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The pid of a process that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

fn set_mtime(path: &Path, t: SystemTime) {
    File::open(path).unwrap().set_modified(t).unwrap();
}

fn long_ago() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000) // 2001
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Init {
    /// A running `sleep`, started before init.pid was written.
    Live,
    /// A reaped child's pid.
    Dead,
    /// This test process, with an init.pid written (mtime) long before it started.
    Reused,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Shim {
    /// A socket with a listener.
    Listening,
    /// A socket file nobody listens on any more.
    Stale,
}

struct Fixture {
    _sleeper: Sleeper,
    live_pid: u32,
    dead_pid: u32,
    listening: String,
    stale: String,
    _listener: UnixListener,
    _socks: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let socks = tempfile::tempdir().unwrap();
        let l = socks.path().join("l.sock");
        let listener = UnixListener::bind(&l).unwrap();
        let s = socks.path().join("s.sock");
        drop(UnixListener::bind(&s).unwrap()); // the file stays, the listener is gone
        let sleeper = Sleeper::start();
        Fixture {
            live_pid: sleeper.pid(),
            _sleeper: sleeper,
            dead_pid: dead_pid(),
            listening: format!("unix://{}", l.display()),
            stale: format!("unix://{}", s.display()),
            _listener: listener,
            _socks: socks,
        }
    }

    /// A bundle holding the files of `mask` (bit i: FILES[i]).
    fn bundle(&self, dir: &Path, mask: u32, init: Init, shim: Shim) {
        fs::create_dir_all(dir).unwrap();
        for (i, name) in FILES.iter().enumerate() {
            if mask & (1 << i) == 0 {
                continue;
            }
            let p = dir.join(name);
            match *name {
                "init.pid" => {
                    let pid = match init {
                        Init::Live => self.live_pid,
                        Init::Dead => self.dead_pid,
                        Init::Reused => std::process::id(),
                    };
                    fs::write(&p, pid.to_string()).unwrap();
                    if init == Init::Reused {
                        set_mtime(&p, long_ago());
                    }
                }
                "address" => {
                    let a = match shim {
                        Shim::Listening => &self.listening,
                        Shim::Stale => &self.stale,
                    };
                    fs::write(&p, a).unwrap();
                }
                "rootfs" => fs::create_dir(&p).unwrap(),
                "runtime" => fs::write(&p, "runc").unwrap(),
                _ => fs::write(&p, "{}").unwrap(),
            }
        }
        fs::write(dir.join("log.json"), b"").unwrap();
    }
}

fn task_dir(root: &Path) -> PathBuf {
    root.join(V2_TASK_DIR)
}

/// Every subset of init.pid, address, runtime, options.json, config.json and rootfs, with
/// each kind of init pid and shim socket: live exactly when a present init.pid names the
/// running process or a present address answers; otherwise residue, naming the missing
/// files and what was found.
#[test]
fn every_combination_of_missing_files() {
    let fx = Fixture::new();
    let root = tempfile::tempdir().unwrap();
    let mut want = Vec::new();
    for mask in 0..64u32 {
        for init in [Init::Live, Init::Dead, Init::Reused] {
            for shim in [Shim::Listening, Shim::Stale] {
                let id = format!("m{mask}-{init:?}-{shim:?}");
                let dir = task_dir(root.path()).join("default").join(&id);
                fx.bundle(&dir, mask, init, shim);
                let has = |f: &str| mask & (1 << FILES.iter().position(|x| *x == f).unwrap()) != 0;
                let live = (has("init.pid") && init == Init::Live)
                    || (has("address") && shim == Shim::Listening);
                let missing: Vec<&str> = FILES.iter().copied().filter(|f| !has(f)).collect();
                want.push((id, mask, init, shim, live, missing));
            }
        }
    }
    let found = find_bundles(root.path()).unwrap();
    assert!(found.skipped.is_empty(), "{:?}", found.skipped);
    assert_eq!(found.bundles.len(), want.len());
    let checker = ResidueChecker::new(opts()).unwrap();
    let mut residues = 0;
    for (id, mask, init, shim, live, missing) in &want {
        let b = found.bundles.iter().find(|b| &b.id == id).unwrap();
        assert_eq!(b.kind, TaskKind::V2);
        let l = checker.check(b);
        assert_eq!(l.residue, !live, "{id}: {}", l.reason);
        assert_eq!(&l.missing, missing, "{id}");
        let has_init = mask & 1 != 0;
        let has_addr = mask & 2 != 0;
        match (has_init, init) {
            (false, _) => assert_eq!(l.init, PidCheck::Missing, "{id}"),
            (true, Init::Live) => assert_eq!(l.init, PidCheck::Running(fx.live_pid), "{id}"),
            (true, Init::Dead) => assert_eq!(l.init, PidCheck::NotRunning(fx.dead_pid), "{id}"),
            (true, Init::Reused) => {
                assert_eq!(l.init, PidCheck::Reused(std::process::id()), "{id}")
            }
        }
        match (has_addr, shim) {
            (false, _) => assert_eq!(l.shim, ShimCheck::NoAddress, "{id}"),
            (true, Shim::Listening) => {
                assert_eq!(l.shim, ShimCheck::Answers(fx.listening.clone()), "{id}")
            }
            (true, Shim::Stale) => assert!(
                matches!(&l.shim, ShimCheck::Gone { address, error }
                    if *address == fx.stale && error.contains("refused")),
                "{id}: {:?}",
                l.shim
            ),
        }
        if l.residue {
            residues += 1;
            assert!(
                l.reason.starts_with("no live process or shim: "),
                "{}",
                l.reason
            );
            if missing.is_empty() {
                assert!(!l.reason.contains("missing:"), "{}", l.reason);
            } else {
                assert!(
                    l.reason
                        .ends_with(&format!("missing: {}", missing.join(", "))),
                    "{id}: {}",
                    l.reason
                );
            }
            if has_init && *init == Init::Reused {
                assert!(l.reason.contains("reused"), "{}", l.reason);
            }
        } else if has_init && *init == Init::Live {
            assert_eq!(l.reason, format!("init process {} is running", fx.live_pid));
        } else {
            assert_eq!(l.reason, format!("shim answers at {}", fx.listening));
        }
    }
    // 64 × 3 × 2 bundles; live: a live init.pid (32 masks × 2 shims) or else a listening
    // address (32 masks × 2 other inits + 16 masks with neither file... counted directly).
    let live_count = want.iter().filter(|w| w.4).count();
    assert_eq!(residues, want.len() - live_count);
    assert!(residues > 0 && live_count > 0);
}

/// Pruning: dry run removes nothing; the real run removes only residue, never a live bundle
/// (by pid, by socket, by a process working in it) and never a mounted one.
#[test]
fn prune_never_touches_live_or_mounted() {
    let fx = Fixture::new();
    let root = tempfile::tempdir().unwrap();
    let ns = task_dir(root.path()).join("k8s.io");
    fx.bundle(&ns.join("dead"), 63, Init::Dead, Shim::Stale);
    fx.bundle(&ns.join("empty"), 0, Init::Dead, Shim::Stale);
    fx.bundle(&ns.join("reused"), 63, Init::Reused, Shim::Stale);
    fx.bundle(&ns.join("by-pid"), 63, Init::Live, Shim::Stale);
    fx.bundle(&ns.join("by-socket"), 2, Init::Dead, Shim::Listening);
    // The v2 shim runs in its bundle: no pid file, no address, but a process there.
    fs::create_dir_all(ns.join("by-cwd")).unwrap();
    let mut in_bundle = Command::new("sleep")
        .arg("600")
        .current_dir(ns.join("by-cwd"))
        .spawn()
        .unwrap();
    let found = find_bundles(root.path()).unwrap();
    let get = |id: &str| found.bundles.iter().find(|b| b.id == id).unwrap();
    let residue = ["dead", "empty", "reused"];
    let live = ["by-pid", "by-socket", "by-cwd"];
    for id in residue {
        let r = prune_residue(get(id), &prune_opts(true)).unwrap();
        assert_eq!(r.action, PruneAction::WouldRemove, "{id}: {r}");
        assert!(ns.join(id).is_dir());
        assert!(r.to_string().starts_with("would remove "), "{r}");
    }
    let dead = prune_residue(get("dead"), &prune_opts(true)).unwrap();
    // init.pid address runtime options.json config.json rootfs log.json
    assert_eq!(dead.entries, 7);
    for id in live {
        let r = prune_residue(get(id), &prune_opts(false)).unwrap();
        assert!(
            matches!(&r.action, PruneAction::Kept(why) if why.starts_with("live: ")),
            "{id}: {r}"
        );
        assert!(ns.join(id).is_dir(), "{id}");
    }
    let cwd = prune_residue(get("by-cwd"), &prune_opts(false)).unwrap();
    assert!(
        cwd.to_string()
            .contains(&format!("process {} runs in the bundle", in_bundle.id())),
        "{cwd}"
    );
    for id in residue {
        let r = prune_residue(get(id), &prune_opts(false)).unwrap();
        assert_eq!(r.action, PruneAction::Removed, "{id}: {r}");
        assert!(!ns.join(id).exists(), "{id}");
    }
    in_bundle.kill().unwrap();
    in_bundle.wait().unwrap();
    // Its process gone, the bundle is residue now.
    let r = prune_residue(get("by-cwd"), &prune_opts(false)).unwrap();
    assert_eq!(r.action, PruneAction::Removed, "{r}");
}

/// A tmpfs mounted over a path; unmounted (lazily, even if the test failed) on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(at: &Path) -> Result<Mount, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root".to_owned());
        }
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "ctrlog-test", at.to_str().unwrap()])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(Mount(at.to_owned()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn mounted_rootfs_or_bundle_is_never_pruned() {
    let fx = Fixture::new();
    let root = tempfile::tempdir().unwrap();
    let ns = task_dir(root.path()).join("default");
    fx.bundle(&ns.join("rootfs-mounted"), 63, Init::Dead, Shim::Stale);
    fx.bundle(&ns.join("deep-mount"), 63, Init::Dead, Shim::Stale);
    fx.bundle(&ns.join("is-mount"), 0, Init::Dead, Shim::Stale);
    fs::create_dir_all(ns.join("deep-mount/rootfs/var/lib")).unwrap();
    let mounts = [
        ns.join("rootfs-mounted/rootfs"),
        ns.join("deep-mount/rootfs/var/lib"),
        ns.join("is-mount"),
    ];
    let mut guards = Vec::new();
    for m in &mounts {
        match Mount::tmpfs(m) {
            Ok(g) => guards.push(g),
            Err(why) => {
                eprintln!("skipped: cannot mount a tmpfs ({why}); run as root");
                return;
            }
        }
    }
    fs::write(ns.join("rootfs-mounted/rootfs/precious"), b"x").unwrap();
    fs::write(ns.join("deep-mount/rootfs/var/lib/precious"), b"x").unwrap();
    let found = find_bundles(&task_dir(root.path())).unwrap();
    assert_eq!(found.bundles.len(), 3);
    for b in &found.bundles {
        let l = ResidueChecker::new(opts()).unwrap().check(b);
        assert!(l.residue, "{}: {}", b.id, l.reason);
        assert_eq!(l.mounts.len(), 1, "{}: {:?}", b.id, l.mounts);
        assert!(l.reason.contains("; mounted: "), "{}", l.reason);
        for dry in [true, false] {
            let r = prune_residue(b, &prune_opts(dry)).unwrap();
            assert!(
                matches!(&r.action, PruneAction::Kept(why) if why.starts_with("mounted: ")),
                "{}: {r}",
                b.id
            );
        }
    }
    assert!(ns.join("rootfs-mounted/rootfs/precious").exists());
    assert!(ns.join("deep-mount/rootfs/var/lib/precious").exists());
    assert!(ns.join("is-mount").is_dir());
    drop(guards);
    // Unmounted, they go.
    for b in &found.bundles {
        let r = prune_residue(b, &prune_opts(false)).unwrap();
        assert_eq!(r.action, PruneAction::Removed, "{r}");
    }
}

/// Without root: the mount table is read from `<proc_root>/self/mountinfo`, its octal
/// escapes decoded (a space in the path is `\040`).
#[test]
fn mount_found_through_escaped_mountinfo() {
    let fx = Fixture::new();
    let root = tempfile::tempdir().unwrap();
    let state = root.path().join("state root");
    let b = task_dir(&state).join("default").join("x");
    fx.bundle(&b, 63, Init::Dead, Shim::Stale);
    let real = fs::canonicalize(&b).unwrap();
    let proc = root.path().join("proc");
    fs::create_dir_all(proc.join("self")).unwrap();
    fs::write(proc.join("uptime"), "1000.00 1.00\n").unwrap();
    let escaped = real
        .join("rootfs")
        .to_str()
        .unwrap()
        .replace('\\', "\\134")
        .replace(' ', "\\040");
    fs::write(
        proc.join("self/mountinfo"),
        format!(
            "22 1 0:21 / / rw - ext4 /dev/root rw\n\
             99 22 0:50 / {escaped} rw,relatime - overlay overlay rw,lowerdir=/l\n"
        ),
    )
    .unwrap();
    let mut o = prune_opts(false);
    o.residue.proc_root = proc.clone();
    let bundle = Bundle::from_path(&b).unwrap();
    let r = prune_residue(&bundle, &o).unwrap();
    assert_eq!(
        r.action,
        PruneAction::Kept(format!("mounted: {}", real.join("rootfs").display()))
    );
    assert!(b.join("config.json").exists());
    // The same bundle, no longer in the table: removed.
    fs::write(
        proc.join("self/mountinfo"),
        "22 1 0:21 / / rw - ext4 /dev/root rw\n",
    )
    .unwrap();
    assert_eq!(
        prune_residue(&bundle, &o).unwrap().action,
        PruneAction::Removed
    );
    assert!(!b.exists());
}

/// Symlinks planted in a bundle are unlinked, never followed; a symlinked bundle, namespace
/// or task directory is reported and never entered; bad names are reported, never pruned.
#[test]
fn symlinks_and_bad_names_are_never_followed() {
    let fx = Fixture::new();
    let root = tempfile::tempdir().unwrap();
    let outside = root.path().join("outside");
    fs::create_dir_all(outside.join("dir")).unwrap();
    fs::write(outside.join("dir/precious"), b"keep").unwrap();
    fs::write(outside.join("file"), b"keep").unwrap();
    fx.bundle(&outside.join("fake-bundle"), 0, Init::Dead, Shim::Stale);
    let tasks = task_dir(root.path());
    let ns = tasks.join("default");
    let b = ns.join("planted");
    fx.bundle(&b, 0b011111, Init::Dead, Shim::Stale); // no rootfs: a link instead
    std::os::unix::fs::symlink(outside.join("dir"), b.join("rootfs")).unwrap();
    std::os::unix::fs::symlink(outside.join("dir"), b.join("work")).unwrap();
    std::os::unix::fs::symlink(outside.join("file"), b.join("log.json.1")).unwrap();
    // A planted init.pid link to a file naming a live process: not followed, no evidence.
    fs::write(outside.join("pid"), fx.live_pid.to_string()).unwrap();
    fs::remove_file(b.join("init.pid")).unwrap();
    std::os::unix::fs::symlink(outside.join("pid"), b.join("init.pid")).unwrap();
    std::os::unix::fs::symlink(outside.join("fake-bundle"), ns.join("linked")).unwrap();
    std::os::unix::fs::symlink(&ns, tasks.join("linked-ns")).unwrap();
    fs::create_dir_all(ns.join(".hidden")).unwrap();
    fs::create_dir_all(ns.join("bad..id")).unwrap();
    fs::create_dir_all(tasks.join("bad ns").join("x")).unwrap();
    std::os::unix::fs::symlink(&tasks, root.path().join(V1_TASK_DIR)).unwrap();

    let found = find_bundles(root.path()).unwrap();
    let ids: Vec<&str> = found.bundles.iter().map(|b| b.id.as_str()).collect();
    assert_eq!(ids, ["planted"]);
    let mut skipped: Vec<(String, &str)> = found
        .skipped
        .iter()
        .map(|s| {
            let kind = match &s.reason {
                SkipReason::Symlink => "symlink",
                SkipReason::BadIdentifier(_) => "bad name",
                _ => "other",
            };
            let name = s.path.file_name().unwrap().to_string_lossy().into_owned();
            (name, kind)
        })
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            (".hidden".to_owned(), "bad name"),
            ("bad ns".to_owned(), "bad name"),
            ("bad..id".to_owned(), "bad name"),
            (V1_TASK_DIR.to_owned(), "symlink"),
            ("linked".to_owned(), "symlink"),
            ("linked-ns".to_owned(), "symlink"),
        ]
    );
    let planted = &found.bundles[0];
    let l = ResidueChecker::new(opts()).unwrap().check(planted);
    assert!(l.residue, "{}", l.reason);
    assert!(
        matches!(&l.init, PidCheck::Invalid(e) if e.contains("symbolic link")),
        "{:?}",
        l.init
    );
    let r = prune_residue(planted, &prune_opts(false)).unwrap();
    assert_eq!(r.action, PruneAction::Removed, "{r}");
    assert!(!b.exists());
    assert_eq!(fs::read(outside.join("dir/precious")).unwrap(), b"keep");
    assert_eq!(fs::read(outside.join("file")).unwrap(), b"keep");
    assert!(outside.join("pid").exists());

    // Named directly, a symlinked bundle is kept, its target untouched.
    let linked = Bundle::from_path(&ns.join("linked")).unwrap();
    let r = prune_residue(&linked, &prune_opts(false)).unwrap();
    assert_eq!(
        r.action,
        PruneAction::Kept("is a symbolic link (not followed)".to_owned())
    );
    assert!(outside.join("fake-bundle/log.json").exists());
    // A bad id is refused by `from_path`, and by `prune_residue` if set by hand.
    assert!(Bundle::from_path(&ns.join("bad..id")).is_err());
    let mut bad = Bundle::from_path(&ns.join("x")).unwrap();
    bad.id = "bad..id".to_owned();
    bad.path = ns.join("bad..id");
    let r = prune_residue(&bad, &prune_opts(false)).unwrap();
    assert!(
        matches!(&r.action, PruneAction::Kept(why) if why.starts_with("bad id \"bad..id\"")),
        "{r}"
    );
    assert!(ns.join("bad..id").is_dir());
}

#[test]
fn state_root_task_dir_or_neither() {
    let fx = Fixture::new();
    let root = tempfile::tempdir().unwrap();
    fx.bundle(
        &root.path().join(V2_TASK_DIR).join("k8s.io").join("a"),
        0,
        Init::Dead,
        Shim::Stale,
    );
    fx.bundle(
        &root.path().join(V1_TASK_DIR).join("moby").join("b"),
        0,
        Init::Dead,
        Shim::Stale,
    );
    fs::write(root.path().join(V2_TASK_DIR).join("stray"), b"").unwrap();
    let all = find_bundles(root.path()).unwrap();
    let got: Vec<_> = all
        .bundles
        .iter()
        .map(|b| (b.kind, b.namespace.as_str(), b.id.as_str()))
        .collect();
    assert_eq!(
        got,
        [(TaskKind::V2, "k8s.io", "a"), (TaskKind::V1, "moby", "b")]
    );
    assert_eq!(all.task_dirs.len(), 2);
    assert!(all.skipped.is_empty());
    let v1 = find_bundles(&root.path().join(V1_TASK_DIR)).unwrap();
    assert_eq!(v1.bundles.len(), 1);
    assert_eq!(v1.bundles[0].kind, TaskKind::V1);
    assert_eq!(
        v1.bundles[0].path,
        root.path().join(V1_TASK_DIR).join("moby/b")
    );
    // A directory that is neither: an error naming it, not an empty list.
    let e = find_bundles(&root.path().join(V2_TASK_DIR).join("k8s.io")).unwrap_err();
    assert!(matches!(e, WalkError::NotStateRoot { .. }), "{e}");
    assert!(
        e.to_string().contains("neither a containerd state root"),
        "{e}"
    );
    let e = find_bundles(&root.path().join(V2_TASK_DIR).join("stray")).unwrap_err();
    assert!(matches!(e, WalkError::NotDirectory { .. }), "{e}");
    let e = find_bundles(&root.path().join("nope")).unwrap_err();
    assert!(e.to_string().contains("nope"), "{e}");
    // An empty task directory is no error.
    let empty = tempfile::tempdir().unwrap();
    fs::create_dir(empty.path().join(V2_TASK_DIR)).unwrap();
    assert!(find_bundles(empty.path()).unwrap().bundles.is_empty());
}

/// A bundle just created (no shim yet) is live during the grace period; one whose shim
/// cannot be checked (a vsock address) is live; an old empty one is residue.
#[test]
fn grace_period_and_uncheckable_shims_count_as_live() {
    let root = tempfile::tempdir().unwrap();
    let ns = task_dir(root.path()).join("default");
    fs::create_dir_all(ns.join("new")).unwrap();
    fs::create_dir_all(ns.join("old")).unwrap();
    fs::create_dir_all(ns.join("vsock")).unwrap();
    fs::write(
        ns.join("vsock/bootstrap.json"),
        r#"{"version":3,"address":"vsock://3:1024","protocol":"ttrpc"}"#,
    )
    .unwrap();
    for d in ["old", "vsock"] {
        set_mtime(&ns.join(d), long_ago());
    }
    let checker = ResidueChecker::new(ResidueOptions::default()).unwrap();
    let found = find_bundles(root.path()).unwrap();
    let check = |id: &str| checker.check(found.bundles.iter().find(|b| b.id == id).unwrap());
    let new = check("new");
    assert!(
        !new.residue && new.reason.contains("grace period"),
        "{}",
        new.reason
    );
    let old = check("old");
    assert!(old.residue, "{}", old.reason);
    let vsock = check("vsock");
    assert!(!vsock.residue, "{}", vsock.reason);
    assert!(
        vsock.reason.contains("vsock://3:1024 cannot be checked"),
        "{}",
        vsock.reason
    );
}
