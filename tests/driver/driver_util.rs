//! Helpers shared by the driver tests (no tests of its own): start
//! `ctrlog` as containerd 1.6's shim starts a `binary://` logger (argv KEY VALUE pairs, fds 3/4
//! the container's stdout/stderr, fd 5 the ready pipe, env `CONTAINER_ID` /
//! `CONTAINER_NAMESPACE`, cwd the bundle directory), wait for it under a hang guard, and
//! collect what it sent to the system log.
#![allow(dead_code)]

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ctrlog");

/// The container id and namespace the harness sets (with [`Spawn::container`]).
pub const ID: &str = "ctr1";
pub const NS: &str = "default";

/// The file the driver appends its errors to inside a bundle.
pub const ERR_FILE: &str = "ctrlog-driver.err";

/// How long a driver may take before the harness kills it and fails the test. Generous: it
/// guards against hangs, it is not a performance threshold.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// A pipe `(read, write)`, both ends close-on-exec, moved to fds >= 100 so that placing them
/// on 3, 4 and 5 in the child never clobbers one another.
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let high = |fd: RawFd| {
        // SAFETY: `fd` was just returned by pipe2 and is owned here.
        let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100) };
        assert!(new >= 100);
        // SAFETY: `fd` is ours; `new` is a fresh descriptor we now own.
        unsafe {
            libc::close(fd);
            OwnedFd::from_raw_fd(new)
        }
    };
    (high(fds[0]), high(fds[1]))
}

/// A bundle directory as containerd's runc v2 shim gives it to the logger:
/// `<state>/io.containerd.runtime.v2.task/<namespace>/<id>`, holding `config.json`.
pub fn bundle(root: &Path) -> PathBuf {
    let b = root.join("io.containerd.runtime.v2.task").join(NS).join(ID);
    fs::create_dir_all(&b).unwrap();
    fs::write(b.join("config.json"), b"{}").unwrap();
    b
}

/// How to start the driver.
pub struct Spawn {
    cwd: PathBuf,
    args: Vec<String>,
    container: bool,
    env: Vec<(String, String)>,
    fsize: Option<u64>,
}

impl Spawn {
    /// In `cwd`, with container env, the system log pointed at `cwd/no-syslog.sock` (nothing
    /// listens there: a test never writes to the machine's `/dev/log`).
    pub fn new(cwd: &Path, args: &[&str]) -> Spawn {
        Spawn {
            cwd: cwd.to_owned(),
            args: args.iter().map(|s| s.to_string()).collect(),
            container: true,
            env: vec![(
                "CTRLOG_SYSLOG_SOCKET".into(),
                cwd.join("no-syslog.sock").to_str().unwrap().into(),
            )],
            fsize: None,
        }
    }

    /// With or without `CONTAINER_ID` / `CONTAINER_NAMESPACE`.
    pub fn container(mut self, yes: bool) -> Spawn {
        self.container = yes;
        self
    }

    /// Sends the system log to `socket`.
    pub fn syslog(mut self, socket: &Path) -> Spawn {
        self.env.retain(|(k, _)| k != "CTRLOG_SYSLOG_SOCKET");
        self.env.push((
            "CTRLOG_SYSLOG_SOCKET".into(),
            socket.to_str().unwrap().into(),
        ));
        self
    }

    /// One more environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Spawn {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `ulimit -f` in bytes, with SIGXFSZ ignored as the shim leaves it (writes past the limit
    /// fail with EFBIG instead of killing the process).
    pub fn file_size_limit(mut self, bytes: u64) -> Spawn {
        self.fsize = Some(bytes);
        self
    }

    pub fn start(self) -> Driver {
        let (out_r, out_w) = pipe();
        let (err_r, err_w) = pipe();
        let (ready_r, ready_w) = pipe();
        let (a, b, c) = (out_r.as_raw_fd(), err_r.as_raw_fd(), ready_w.as_raw_fd());
        let mut cmd = Command::new(BIN);
        cmd.args(&self.args)
            .current_dir(&self.cwd)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if self.container {
            cmd.env("CONTAINER_ID", ID).env("CONTAINER_NAMESPACE", NS);
        }
        let fsize = self.fsize;
        // SAFETY: only async-signal-safe calls (dup2, setrlimit, signal) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                for (src, dst) in [(a, 3), (b, 4), (c, 5)] {
                    if libc::dup2(src, dst) < 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                if let Some(n) = fsize {
                    let lim = libc::rlimit {
                        rlim_cur: n as libc::rlim_t,
                        rlim_max: n as libc::rlim_t,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    // An ignored disposition survives exec.
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn ctrlog");
        // The driver's ends live only in the child now.
        drop((out_r, err_r, ready_w));
        Driver {
            child,
            stdout: Some(File::from(out_w)),
            stderr: Some(File::from(err_w)),
            ready: File::from(ready_r),
        }
    }
}

/// A running driver and the container's side of its pipes.
pub struct Driver {
    pub child: Child,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    pub ready: File,
}

impl Driver {
    /// Everything the driver wrote on fd 5, up to its closing (killing the driver and failing
    /// if fd 5 is still open after [`HANG_GUARD`]).
    pub fn ready_bytes(&mut self) -> Vec<u8> {
        let start = Instant::now();
        let mut v = Vec::new();
        loop {
            let mut p = libc::pollfd {
                fd: self.ready.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut p, 1, 100) } > 0 {
                let mut buf = [0u8; 64];
                match self.ready.read(&mut buf) {
                    Ok(0) => return v,
                    Ok(n) => v.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => panic!("reading the ready pipe: {e}"),
                }
            }
            if start.elapsed() > HANG_GUARD {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the driver neither signalled ready nor closed fd 5 (killed)");
            }
        }
    }

    /// Waits for the exit (killing the driver and failing after [`HANG_GUARD`]).
    pub fn wait(&mut self) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if start.elapsed() > HANG_GUARD {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("the driver did not exit within {HANG_GUARD:?} (killed)");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// What the driver wrote on its stderr (call after [`wait`](Self::wait)).
    pub fn stderr_text(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut s).unwrap();
        }
        s
    }

    pub fn close_streams(&mut self) {
        self.stdout = None;
        self.stderr = None;
    }

    /// Sends `sig` to the driver.
    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: plain kill(2) on our own child.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, sig) }, 0);
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Never leave a driver behind, whatever the test did.
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `(stream, tag, content)` of every CRI record.
pub fn cri_records(path: &Path) -> Vec<(String, String, String)> {
    let text = fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let mut it = l.splitn(4, ' ');
            let ts = it.next().unwrap();
            assert!(
                ctrlog::time::parse_rfc3339nano(ts.as_bytes()).is_ok(),
                "bad time in {l:?}"
            );
            let stream = it.next().unwrap().to_owned();
            let tag = it.next().unwrap().to_owned();
            let content = it.next().unwrap_or("").to_owned();
            (stream, tag, content)
        })
        .collect()
}

/// `"<tag> <content>"` of the records of `stream`.
pub fn of(records: &[(String, String, String)], stream: &str) -> Vec<String> {
    records
        .iter()
        .filter(|r| r.0 == stream)
        .map(|r| format!("{} {}", r.1, r.2))
        .collect()
}

/// A system log stand-in: a Unix datagram socket the driver sends to.
pub struct Syslog {
    pub path: PathBuf,
    sock: UnixDatagram,
}

impl Syslog {
    pub fn bind(dir: &Path) -> Syslog {
        let path = dir.join("log.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_nonblocking(true).unwrap();
        Syslog { path, sock }
    }

    /// The datagrams queued so far (call once the driver has exited).
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match self.sock.recv(&mut buf) {
                Ok(n) => out.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return out,
                Err(e) => panic!("recv: {e}"),
            }
        }
    }

    /// Fills the socket's queue until a send would block (a system log that is not reading).
    pub fn fill(&self) -> usize {
        let tx = UnixDatagram::unbound().unwrap();
        tx.set_nonblocking(true).unwrap();
        let mut n = 0;
        loop {
            match tx.send_to(b"<30>filler", &self.path) {
                Ok(_) => n += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return n,
                Err(e) => panic!("send: {e}"),
            }
        }
    }
}

/// The driver's .err file in `dir`, if any.
pub fn err_file(dir: &Path) -> Option<String> {
    fs::read_to_string(dir.join(ERR_FILE)).ok()
}
