//! `ctrlog bench --reference`: the Go replicas of `benches/reference/` (containerd's CRI
//! logger and `getLastRuntimeError`, dockerd's json-file writer, kubelet's `ReadLogs`; each
//! program's comment cites the files and functions it follows), built with the machine's Go
//! toolchain and run as whole processes on the same workloads as ctrlog's jobs.
//!
//! The sources are compiled into this binary and written to the bench's temporary directory,
//! where `go build` runs offline (standard library only) with its cache there too; nothing
//! outside that directory is written. Without `go` on `PATH`, there are no references.
//!
//! Each case's outputs are cross-checked once, after its timed runs: writes line by line with
//! the timestamps masked (the cut of a line longer than ctrlog's memory cap differs by design
//! with no line limit, so `cri-write-oneline` compares the content the records carry); reads
//! byte for byte, `tail-10` against `ctrlog logs --tail-records` (kubelet counts records);
//! last-error against `ctrlog last-error --compat`.
//!
//! Limits: no replica for rotation or the `binary://` driver; the replicas follow the
//! references' code paths, not their whole daemons (see each program's comment for the
//! plumbing stood in for).

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::jobs::{Format, Job, Kind};
use super::process::{timed, ProcRun};

/// The replicas' sources, as `go build` needs them laid out.
const SOURCES: &[(&str, &str)] = &[
    (
        "go.mod",
        include_str!("../../../../benches/reference/go.mod"),
    ),
    (
        "criwrite/main.go",
        include_str!("../../../../benches/reference/criwrite/main.go"),
    ),
    (
        "jsonwrite/main.go",
        include_str!("../../../../benches/reference/jsonwrite/main.go"),
    ),
    (
        "lasterror/main.go",
        include_str!("../../../../benches/reference/lasterror/main.go"),
    ),
    (
        "logsread/main.go",
        include_str!("../../../../benches/reference/logsread/main.go"),
    ),
];

/// The replica that matches a job, and how it is run.
#[derive(Clone, Copy, Debug)]
pub enum Program {
    CriWrite { max_len: i64 },
    JsonWrite,
    LastError,
    LogsRead { tail: Option<u64> },
}

impl Program {
    /// The replica of `job`'s reference path, if there is one (none for rotation and the
    /// driver).
    pub fn for_job(job: &Job) -> Option<Program> {
        match job.kind {
            Kind::Write { rotate: true, .. } | Kind::Driver { .. } => None,
            Kind::Write {
                format: Format::Cri,
                max_len,
                ..
            } => Some(Program::CriWrite { max_len }),
            // dockerd's line limit is its copier's 16 KiB buffer, as the job's max-len.
            Kind::Write {
                format: Format::JsonFile,
                ..
            } => Some(Program::JsonWrite),
            Kind::LastError { .. } => Some(Program::LastError),
            Kind::Read { tail } => Some(Program::LogsRead { tail }),
        }
    }

    /// The program's name in `benches/reference/`.
    pub fn name(self) -> &'static str {
        match self {
            Program::CriWrite { .. } => "criwrite",
            Program::JsonWrite => "jsonwrite",
            Program::LastError => "lasterror",
            Program::LogsRead { .. } => "logsread",
        }
    }

    /// What it replicates.
    pub fn follows(self) -> &'static str {
        match self {
            Program::CriWrite { .. } => "containerd redirectLogs",
            Program::JsonWrite => "dockerd json-file",
            Program::LastError => "containerd getLastRuntimeError",
            Program::LogsRead { .. } => "kubelet ReadLogs",
        }
    }
}

/// The built replicas.
pub struct References {
    bin: PathBuf,
    /// `go version`'s answer.
    pub version: String,
}

/// How a case's outputs compared.
#[derive(Clone, Debug)]
pub struct Check {
    /// What was compared: `masked` (timestamps masked), `content`, `bytes`.
    pub kind: &'static str,
    /// The first difference, if any.
    pub difference: Option<String>,
}

/// The reference's figures for one case: medians of its runs, next to the same floors.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub program: Program,
    pub seconds: f64,
    pub peak_rss_kib: u64,
    pub check: Check,
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

impl References {
    /// Builds the replicas into `dir` with the `go` on `PATH`; `Ok(None)` when there is none.
    pub fn build(dir: &Path) -> io::Result<Option<References>> {
        let version = match Command::new("go").arg("version").output() {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
            Ok(o) => {
                return Err(io::Error::other(format!(
                    "`go version` failed: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                )))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io::Error::new(e.kind(), format!("running go: {e}"))),
        };
        let src = dir.join("reference-src");
        for (name, text) in SOURCES {
            let path = src.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).map_err(|e| with_path(parent, e))?;
            }
            fs::write(&path, text).map_err(|e| with_path(&path, e))?;
        }
        let bin = dir.join("reference-bin");
        fs::create_dir_all(&bin).map_err(|e| with_path(&bin, e))?;
        // Offline and self-contained: the standard library only, caches in `dir`, no C
        // compiler needed, no toolchain download (newer Go).
        let out = Command::new("go")
            .args(["build", "-o"])
            .arg(format!("{}/", bin.display()))
            .arg("./...")
            .current_dir(&src)
            .env("GOCACHE", dir.join("gocache"))
            .env("GOPATH", dir.join("gopath"))
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOTELEMETRY", "off")
            .env("GO111MODULE", "on")
            .env("CGO_ENABLED", "0")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| io::Error::new(e.kind(), format!("running go build: {e}")))?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "go build of benches/reference failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(Some(References { bin, version }))
    }

    fn command(&self, p: Program) -> Command {
        let mut cmd = Command::new(self.bin.join(p.name()));
        match p {
            Program::CriWrite { max_len } => {
                cmd.arg(format!("-max-len={max_len}"));
            }
            Program::LogsRead { tail: Some(n) } => {
                cmd.arg(format!("-tail={n}"));
            }
            _ => {}
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
        cmd
    }

    /// Where a writing replica's records go (kept for the cross-check).
    fn write_out(dir: &Path) -> PathBuf {
        dir.join("reference.log")
    }

    /// One timed run of `p` on `input`, scratch space in `dir`; as the matching ctrlog job:
    /// writes take the input on stdin and write a file, reads and last-error print to stdout
    /// (`/dev/null` for reads).
    pub fn run(&self, p: Program, input: &Path, dir: &Path) -> io::Result<ProcRun> {
        let mut cmd = self.command(p);
        match p {
            Program::CriWrite { .. } | Program::JsonWrite => {
                cmd.stdin(File::open(input)?)
                    .stdout(File::create(Self::write_out(dir))?);
            }
            Program::LastError => {
                cmd.arg(input)
                    .stdout(File::create(dir.join("reference-stdout.txt"))?);
            }
            Program::LogsRead { .. } => {
                cmd.arg(input);
            }
        }
        let name = format!("{} (reference)", p.name());
        timed(&name, cmd, dir)
    }

    /// Compares `p`'s output with ctrlog's (`exe`) on `input`. For writes, ctrlog's output is
    /// `ctrlog_log`, left by its last timed run, and the replica's by its last one.
    pub fn check(
        &self,
        exe: &Path,
        p: Program,
        input: &Path,
        ctrlog_log: &Path,
        dir: &Path,
    ) -> io::Result<Check> {
        match p {
            Program::CriWrite { max_len } if max_len <= 0 => Ok(Check {
                kind: "content",
                difference: compare_content(ctrlog_log, &Self::write_out(dir))?,
            }),
            Program::CriWrite { .. } => Ok(Check {
                kind: "masked",
                difference: compare_lines(ctrlog_log, &Self::write_out(dir), mask_cri)?,
            }),
            Program::JsonWrite => Ok(Check {
                kind: "masked",
                difference: compare_lines(ctrlog_log, &Self::write_out(dir), mask_json)?,
            }),
            Program::LastError | Program::LogsRead { .. } => {
                let mut ours = Command::new(exe);
                match p {
                    Program::LastError => {
                        ours.arg("last-error").arg(input).arg("--compat");
                    }
                    Program::LogsRead { tail } => {
                        ours.arg("logs").arg(input);
                        if let Some(n) = tail {
                            ours.arg(format!("--tail={n}")).arg("--tail-records");
                        }
                    }
                    _ => unreachable!("matched above"),
                }
                let (a, b) = (dir.join("check-ctrlog.out"), dir.join("check-ref.out"));
                run_to("ctrlog (cross-check)", ours, &a)?;
                let mut theirs = self.command(p);
                theirs.arg(input);
                run_to(&format!("{} (cross-check)", p.name()), theirs, &b)?;
                let difference = compare_bytes(&a, &b)?;
                let _ = fs::remove_file(&a);
                let _ = fs::remove_file(&b);
                Ok(Check {
                    kind: "bytes",
                    difference,
                })
            }
        }
    }
}

/// Runs `cmd` with stdout and stderr both into `out` (one open file: order kept, and
/// `ctrlog logs` merges its streams as kubelet's one response does); fails unless it exits 0.
fn run_to(name: &str, mut cmd: Command, out: &Path) -> io::Result<()> {
    let f = File::create(out).map_err(|e| with_path(out, e))?;
    let status = cmd
        .stdin(Stdio::null())
        .stdout(f.try_clone()?)
        .stderr(f)
        .status()
        .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
    if !status.success() {
        let text = fs::read(out).unwrap_or_default();
        let tail = String::from_utf8_lossy(&text[text.len().saturating_sub(400)..]).into_owned();
        return Err(io::Error::other(format!(
            "{name}: the process failed ({status}): {}",
            tail.trim()
        )));
    }
    Ok(())
}

/// A record split around its timestamp: what comes before it and after it.
type Mask = fn(&[u8]) -> (&[u8], &[u8]);

/// A CRI record without its timestamp (everything from the first space).
fn mask_cri(line: &[u8]) -> (&[u8], &[u8]) {
    let i = memchr::memchr(b' ', line).unwrap_or(0);
    (&line[i..], b"")
}

/// A json-file record around its `"time"` value.
fn mask_json(line: &[u8]) -> (&[u8], &[u8]) {
    const KEY: &[u8] = b"\"time\":\"";
    match memchr::memmem::rfind(line, KEY) {
        Some(i) => {
            let v = i + KEY.len();
            let end = memchr::memchr(b'"', &line[v..]).map_or(line.len(), |j| v + j);
            (&line[..v], &line[end..])
        }
        None => (line, b""),
    }
}

/// Longest line the masked comparison reads at once (records are at most 16 KiB plus their
/// head here; longer lines are compared in pieces, still byte for byte).
const LINE_CAP: u64 = 1 << 20;

fn show(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(&b[..b.len().min(120)]).into_owned();
    if b.len() > 120 {
        format!("{s:?}…")
    } else {
        format!("{s:?}")
    }
}

/// The first line where `ctrlog`'s and the reference's records differ outside the masked
/// timestamp, or `None`.
fn compare_lines(ctrlog: &Path, reference: &Path, mask: Mask) -> io::Result<Option<String>> {
    let open = |p: &Path| {
        File::open(p)
            .map(BufReader::new)
            .map_err(|e| with_path(p, e))
    };
    let (mut a, mut b) = (open(ctrlog)?, open(reference)?);
    let (mut la, mut lb) = (Vec::new(), Vec::new());
    for n in 1u64.. {
        la.clear();
        lb.clear();
        let na = (&mut a).take(LINE_CAP).read_until(b'\n', &mut la)?;
        let nb = (&mut b).take(LINE_CAP).read_until(b'\n', &mut lb)?;
        match (na, nb) {
            (0, 0) => return Ok(None),
            (0, _) => {
                return Ok(Some(format!(
                    "ctrlog wrote {} lines, the reference more",
                    n - 1
                )))
            }
            (_, 0) => {
                return Ok(Some(format!(
                    "ctrlog wrote more than the reference's {} lines",
                    n - 1
                )))
            }
            _ => {}
        }
        if mask(&la) != mask(&lb) {
            return Ok(Some(format!(
                "line {n}: ctrlog {} vs reference {}",
                show(&la),
                show(&lb)
            )));
        }
    }
    unreachable!("the loop returns")
}

/// The first byte offset where two files differ, or `None`.
fn compare_bytes(ctrlog: &Path, reference: &Path) -> io::Result<Option<String>> {
    let open = |p: &Path| {
        File::open(p)
            .map(BufReader::new)
            .map_err(|e| with_path(p, e))
    };
    let (mut a, mut b) = (open(ctrlog)?, open(reference)?);
    let mut offset = 0u64;
    loop {
        let (ba, bb) = (a.fill_buf()?, b.fill_buf()?);
        if ba.is_empty() || bb.is_empty() {
            return Ok(match (ba.is_empty(), bb.is_empty()) {
                (true, true) => None,
                (true, false) => Some(format!("ctrlog printed {offset} bytes, the reference more")),
                _ => Some(format!(
                    "ctrlog printed more than the reference's {offset} bytes"
                )),
            });
        }
        let n = ba.len().min(bb.len());
        if let Some(i) = (0..n).find(|&i| ba[i] != bb[i]) {
            let at = offset + i as u64;
            return Ok(Some(format!(
                "byte {at}: ctrlog {} vs reference {}",
                show(&ba[i..n]),
                show(&bb[i..n])
            )));
        }
        a.consume(n);
        b.consume(n);
        offset += n as u64;
    }
}

/// The content CRI records carry, as a reader joins it (a `P` record's content, an `F`
/// record's and a newline), fingerprinted: FNV-1a over the bytes, and their count.
#[derive(Default, PartialEq, Eq, Debug)]
struct Content {
    /// Spaces seen in the record's head (time, stream, tag); 3: in the content.
    spaces: u8,
    tag: u8,
    hash: u64,
    len: u64,
}

impl Content {
    fn put(&mut self, b: u8) {
        self.hash = (self.hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        self.len += 1;
    }

    fn feed(&mut self, data: &[u8]) {
        for &b in data {
            if b == b'\n' {
                if self.spaces == 3 && self.tag == b'F' {
                    self.put(b'\n');
                }
                self.spaces = 0;
            } else if self.spaces < 3 {
                if b == b' ' {
                    self.spaces += 1;
                } else if self.spaces == 2 {
                    self.tag = b;
                }
            } else {
                self.put(b);
            }
        }
    }

    fn of(path: &Path) -> io::Result<Content> {
        let mut c = Content {
            hash: 0xcbf2_9ce4_8422_2325,
            ..Content::default()
        };
        let mut f = File::open(path).map_err(|e| with_path(path, e))?;
        let mut buf = vec![0u8; 256 << 10];
        loop {
            match f.read(&mut buf) {
                Ok(0) => return Ok(c),
                Ok(n) => c.feed(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(with_path(path, e)),
            }
        }
    }
}

/// Whether two CRI logs carry the same content, however their records cut it.
fn compare_content(ctrlog: &Path, reference: &Path) -> io::Result<Option<String>> {
    let (a, b) = (Content::of(ctrlog)?, Content::of(reference)?);
    Ok((a.hash != b.hash || a.len != b.len).then(|| {
        format!(
            "the records carry different content ({} bytes from ctrlog, {} from the reference)",
            a.len, b.len
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_everything_but_the_time() {
        let a = b"2026-01-01T00:00:00.1Z stdout F x y\n";
        let b = b"2026-01-01T00:00:00.123456789+01:00 stdout F x y\n";
        assert_eq!(mask_cri(a), mask_cri(b));
        assert_ne!(
            mask_cri(a),
            mask_cri(b"2026-01-01T00:00:00.1Z stdout P x y\n")
        );
        let j = |t: &str, log: &str| {
            format!("{{\"log\":\"{log}\",\"stream\":\"stdout\",\"time\":\"{t}\"}}\n")
        };
        let (x, y) = (
            j("2026-01-01T00:00:00Z", "a"),
            j("2027-01-01T00:00:00.5Z", "a"),
        );
        assert_eq!(mask_json(x.as_bytes()), mask_json(y.as_bytes()));
        let z = j("2026-01-01T00:00:00Z", "b");
        assert_ne!(mask_json(x.as_bytes()), mask_json(z.as_bytes()));
    }

    #[test]
    fn comparisons_name_the_first_difference() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            fs::write(&p, text).unwrap();
            p
        };
        let a = file("a", "1 stdout F x\n2 stdout F y\n");
        let same = file("b", "7 stdout F x\n8 stdout F y\n");
        let other = file("c", "7 stdout F x\n8 stdout F z\n");
        let short = file("d", "7 stdout F x\n");
        assert_eq!(compare_lines(&a, &same, mask_cri).unwrap(), None);
        let d = compare_lines(&a, &other, mask_cri).unwrap().unwrap();
        assert!(d.starts_with("line 2:"), "{d}");
        let d = compare_lines(&a, &short, mask_cri).unwrap().unwrap();
        assert!(d.contains("more than the reference's 1 lines"), "{d}");
        assert_eq!(compare_bytes(&a, &a).unwrap(), None);
        let d = compare_bytes(&a, &same).unwrap().unwrap();
        assert!(d.starts_with("byte 0:"), "{d}");
        let d = compare_bytes(&short, &other).unwrap().unwrap();
        assert!(d.contains("the reference more"), "{d}");
        assert_eq!(compare_content(&a, &same).unwrap(), None);
        assert!(compare_content(&a, &other).unwrap().is_some());
    }

    #[test]
    fn content_ignores_where_records_are_cut() {
        let content = |s: &[u8]| {
            let mut c = Content::default();
            // Fed in odd pieces: the state carries over.
            for piece in s.chunks(3) {
                c.feed(piece);
            }
            c
        };
        let one = content(b"t stdout F abcdef\nt stdout F \n");
        let cut = content(b"t2 stdout P abc\nt3 stdout P de\nt stdout F f\nt stdout F \n");
        assert_eq!(one, cut);
        assert_ne!(one, content(b"t stdout F abcdeg\nt stdout F \n"));
        assert_ne!(one, content(b"t stdout P abcdef\nt stdout F \n"));
    }
}
