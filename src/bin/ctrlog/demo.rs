//! `ctrlog demo`: the crate's main jobs on real runtime output embedded in the binary.
//!
//! Each step checks its result against what the real program wrote and says so; the demo
//! exits 1 if any check fails, so it doubles as a smoke test.

use std::io::{Cursor, Write};
use std::process::ExitCode;

use ctrlog::cri::read::parse_cri_record;
use ctrlog::cri::write::{CriEncoder, DockerJsonEncoder, LogWriter, WriterOptions};
use ctrlog::cri::{Stream, Tag};
use ctrlog::runc::{last_error, last_error_compat, summarize, EntryWriter, SummaryOptions};
use ctrlog::time::{FixedClock, Offset, Timestamp};

const DATA: &[(&str, &[u8])] = &[
    (
        "runc: create, start, 5 failing exec probes, kill, delete",
        include_bytes!("../../../testdata/demo/shim-lifecycle-exec-missing-x5.log.json"),
    ),
    (
        "runc --debug run of a missing binary",
        include_bytes!("../../../testdata/demo/run-missing-exe-debug.log.json"),
    ),
    (
        "runc run with a bad bind mount",
        include_bytes!("../../../testdata/demo/run-bad-mount.log.json"),
    ),
    (
        "crun run of a missing binary",
        include_bytes!("../../../testdata/demo/run-missing-exe-path.log.json"),
    ),
    (
        "runc without --log-format json (text)",
        include_bytes!("../../../testdata/demo/state-nonexistent.text.log"),
    ),
];
const GEN_STDOUT: &[u8] = include_bytes!("../../../testdata/demo/gen.stdout.bin");
const GEN_STDERR: &[u8] = include_bytes!("../../../testdata/demo/gen.stderr.bin");
const CONTAINERD_CRI: &[u8] = include_bytes!("../../../testdata/demo/cri-gen.log");
const DOCKERD_JSON: &[u8] = include_bytes!("../../../testdata/demo/gen-json.log");
const CONMON_CRI: &[u8] = include_bytes!("../../../testdata/demo/gen.k8s-file.log");

#[derive(clap::Args)]
pub struct Args {}

struct Demo<W> {
    out: W,
    failed: usize,
}

impl<W: Write> Demo<W> {
    fn check(&mut self, ok: bool, what: &str) -> std::io::Result<()> {
        if !ok {
            self.failed += 1;
        }
        writeln!(self.out, "  [{}] {what}", if ok { "ok" } else { "FAILED" })
    }
}

pub fn run(_args: Args) -> ExitCode {
    let stdout = std::io::stdout();
    let mut demo = Demo {
        out: stdout.lock(),
        failed: 0,
    };
    let result = (|| -> std::io::Result<()> {
        runc_section(&mut demo)?;
        writer_section(&mut demo)?;
        reader_section(&mut demo)?;
        rotate_section(&mut demo)?;
        speed_section(&mut demo)?;
        Ok(())
    })();
    match result {
        Err(e) => crate::fail(format_args!("demo: {e}")),
        Ok(()) if demo.failed > 0 => {
            say!("ctrlog demo: {} check(s) failed", demo.failed);
            ExitCode::from(1)
        }
        Ok(()) => ExitCode::SUCCESS,
    }
}

fn runc_section<W: Write>(d: &mut Demo<W>) -> std::io::Result<()> {
    writeln!(
        d.out,
        "== runc/crun log.json: the last error, read from the end of the file"
    )?;
    for (what, bytes) in DATA {
        writeln!(d.out, "{what} ({} bytes)", bytes.len())?;
        match last_error(Cursor::new(bytes)) {
            Ok(Some(e)) => writeln!(d.out, "  last error: {}", e.msg)?,
            Ok(None) => writeln!(d.out, "  no error record")?,
            Err(e) => writeln!(d.out, "  error: {e}")?,
        }
        match last_error_compat(*bytes) {
            Ok(msg) => writeln!(d.out, "  containerd would report: {msg:?}")?,
            Err(e) => writeln!(d.out, "  containerd would fail: {e}")?,
        }
    }

    // The NVIDIA case: a 1 KiB config dump logged on every call (containerd#8972).
    let mut spam = EntryWriter::with_offset(Vec::new(), Offset::Utc);
    let config = format!(
        "Running with config: {{\"Path\":\"nvidia-ctk\",\"Opts\":\"{}\"}}",
        "x".repeat(1000)
    );
    let t0 = Timestamp::new(1_763_884_800, 0);
    for i in 0..5_000i64 {
        let t = Timestamp::new(t0.secs + i, 0);
        spam.write_entry("info", &config, t)?;
        spam.write_entry("info", "Using low-level runtime /usr/bin/runc", t)?;
    }
    spam.write_entry(
        "error",
        "exec failed: \"/bin/no-such-probe\": no such file",
        t0,
    )?;
    let spam = spam.into_inner();
    writeln!(
        d.out,
        "NVIDIA-style spam: {:.1} MiB of log.json written by runc::EntryWriter",
        spam.len() as f64 / 1048576.0
    )?;
    let found = last_error(Cursor::new(&spam[..])).ok().flatten();
    d.check(
        found.as_ref().map(|e| e.msg.as_str())
            == Some("exec failed: \"/bin/no-such-probe\": no such file"),
        "last error found reading backwards from the end",
    )?;
    match summarize(&spam[..], SummaryOptions::default()) {
        Ok(s) => {
            if let Some(top) = s.top_messages.first() {
                writeln!(
                    d.out,
                    "  most repeated: {}x {:.60}...",
                    top.count, top.preview
                )?;
            }
            d.check(
                s.top_messages.first().is_some_and(|m| m.count == 5_000),
                "summary counts the config spam",
            )?;
        }
        Err(e) => d.check(false, &format!("summary: {e}"))?,
    }
    Ok(())
}

/// `(stream, tag, content)` of every record of a CRI log (kubelet's parser).
fn cri_records(log: &[u8]) -> Vec<(Stream, Tag, Vec<u8>)> {
    log.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(|l| parse_cri_record(l).ok())
        .map(|r| (r.stream, r.tag, r.content.to_vec()))
        .collect()
}

fn write_stream<F: ctrlog::cri::write::RecordEncoder>(
    stream: Stream,
    format: F,
    cr: ctrlog::cri::write::CrPolicy,
    input: &[u8],
) -> std::io::Result<Vec<u8>> {
    let mut opts = WriterOptions::default();
    opts.split.cr_policy = cr;
    let mut w = LogWriter::with_options(stream, format, Vec::new(), opts)
        .with_clock(FixedClock(Timestamp::new(1_763_886_827, 339_619_953)));
    w.copy_from(input).map_err(std::io::Error::other)?;
    Ok(w.into_inner())
}

fn writer_section<W: Write>(d: &mut Demo<W>) -> std::io::Result<()> {
    use ctrlog::cri::write::CrPolicy;
    writeln!(
        d.out,
        "\n== CRI writer: a container's output as containerd writes it"
    )?;
    let theirs = cri_records(CONTAINERD_CRI);
    for (stream, input) in [(Stream::Stdout, GEN_STDOUT), (Stream::Stderr, GEN_STDERR)] {
        let ours = write_stream(stream, CriEncoder::new(Offset::Utc), CrPolicy::Strip, input)?;
        let ours = cri_records(&ours);
        let theirs: Vec<_> = theirs.iter().filter(|r| r.0 == stream).cloned().collect();
        // containerd saw `partial-A` and `partial-B\n` in two reads but wrote one F; from one
        // buffer ctrlog writes the same.
        d.check(
            ours == theirs,
            &format!(
                "{stream}: {} records, (stream, tag, content) identical to containerd 1.6's",
                ours.len()
            ),
        )?;
    }
    if let Some(first) = CONTAINERD_CRI.split(|&b| b == b'\n').next() {
        writeln!(d.out, "  e.g. {}", String::from_utf8_lossy(first))?;
    }

    writeln!(
        d.out,
        "\n== Docker json-file encoder (byte-identical escaping to dockerd)"
    )?;
    let ours = write_stream(
        Stream::Stdout,
        DockerJsonEncoder::new(),
        CrPolicy::Keep,
        GEN_STDOUT,
    )?;
    let logs = |bytes: &[u8], stream: &str| -> Vec<Vec<u8>> {
        bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .filter(|l| {
                let needle = format!("\"stream\":\"{stream}\"");
                l.windows(needle.len()).any(|w| w == needle.as_bytes())
            })
            .filter_map(|l| {
                // The raw `log` field, escapes and all, up to `","stream"`.
                let start = l.windows(8).position(|w| w == b"{\"log\":\"")? + 8;
                let end = l.windows(11).position(|w| w == b"\",\"stream\":")?;
                Some(l.get(start..end)?.to_vec())
            })
            .collect()
    };
    let (ours, theirs) = (logs(&ours, "stdout"), logs(DOCKERD_JSON, "stdout"));
    d.check(
        ours == theirs,
        &format!(
            "stdout: {} `log` values identical to dockerd 20.10's, byte for byte",
            ours.len()
        ),
    )?;
    if let Some(l) = theirs.iter().find(|l| l.windows(2).any(|w| w == b"\\u")) {
        writeln!(d.out, "  e.g. {:.90}", String::from_utf8_lossy(l))?;
    }
    Ok(())
}

fn reader_section<W: Write>(d: &mut Demo<W>) -> std::io::Result<()> {
    use ctrlog::cri::read::{LogReader, ReadOptions, SplitSink};
    writeln!(
        d.out,
        "\n== Readers: kubectl logs, merging partial records per stream"
    )?;
    let dir = TempDir::new()?;
    for (name, bytes, who, strip_cr) in [
        (
            "conmon.log",
            CONMON_CRI,
            "conmon 2.1.6 (9-digit +00:00 times, 8192-byte pieces)",
            false,
        ),
        (
            "containerd.log",
            CONTAINERD_CRI,
            "containerd 1.6 (trimmed times, 16384-byte pieces)",
            true,
        ),
        (
            "docker.log",
            DOCKERD_JSON,
            "dockerd 20.10 json-file (escapes decoded)",
            false,
        ),
    ] {
        let path = dir.0.join(name);
        std::fs::write(&path, bytes)?;
        let mut sink = SplitSink {
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        let stats = LogReader::open(&path, ReadOptions::default())
            .and_then(|mut r| r.read_to(&mut sink))
            .map_err(std::io::Error::other)?;
        // containerd drops the `\r` of `crlf line\r\n`; the others keep it.
        let want_out: Vec<u8> = if strip_cr {
            let at = GEN_STDOUT.windows(2).position(|w| w == b"\r\n");
            let mut v = GEN_STDOUT.to_vec();
            if let Some(i) = at {
                v.remove(i);
            }
            v
        } else {
            GEN_STDOUT.to_vec()
        };
        d.check(
            sink.stdout == want_out && sink.stderr == GEN_STDERR,
            &format!(
                "{who}: {} records merged back to the program's exact stdout and stderr",
                stats.records
            ),
        )?;
    }
    Ok(())
}

fn rotate_section<W: Write>(d: &mut Demo<W>) -> std::io::Result<()> {
    use ctrlog::rotate::{Naming, RotateOptions, RotatingFile};
    writeln!(
        d.out,
        "\n== Rotation: max-size=16k, max-file=3 (Docker naming) in a temporary directory"
    )?;
    let dir = TempDir::new()?;
    let path = dir.0.join("0.log");
    let mut opts =
        RotateOptions::from_docker(Some("16k"), Some("3"), false).map_err(std::io::Error::other)?;
    opts.naming = Naming::Docker;
    let file = RotatingFile::open(&path, opts).map_err(std::io::Error::other)?;
    let mut w = LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), file)
        .with_clock(FixedClock(Timestamp::new(1_763_886_827, 0)));
    for _ in 0..4 {
        w.copy_from(GEN_STDOUT).map_err(std::io::Error::other)?;
    }
    w.into_inner().close().map_err(std::io::Error::other)?;
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir.0)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            Some((
                e.file_name().into_string().ok()?,
                std::fs::read(e.path()).ok()?,
            ))
        })
        .collect();
    files.sort();
    for (n, bytes) in &files {
        let records = bytes.iter().filter(|&&b| b == b'\n').count();
        writeln!(d.out, "  {n}: {} bytes, {records} records", bytes.len())?;
    }
    let capped = files
        .iter()
        .all(|(_, b)| b.len() <= 16_000 || b.iter().filter(|&&c| c == b'\n').count() == 1);
    d.check(
        files.len() == 3 && capped,
        "3 files; each within 16,000 bytes, or one record too big for any file, alone",
    )?;
    Ok(())
}

/// Jobs of `ctrlog bench` as whole processes, on small generated workloads: about a second.
fn speed_section<W: Write>(d: &mut Demo<W>) -> std::io::Result<()> {
    use crate::bench::{jobs_named, run_cases, table_row, Mode, TABLE_HEAD};
    const SCALE: f64 = 0.01;
    writeln!(
        d.out,
        "\n== Speed on this machine: whole processes against `cat FILE > /dev/null` \
         (`ctrlog bench --scale {SCALE} --mode process`;\n   files this small weigh process start: `ctrlog bench` runs every job on larger ones)"
    )?;
    writeln!(d.out, "  {}", crate::bench::machine())?;
    let dir = TempDir::new()?;
    let mut opts = ctrlog::bench::GenerateOptions::default();
    opts.scale = SCALE;
    let jobs = jobs_named(&[
        "cri-write-short",
        "json-write-short",
        "last-error-compat",
        "cri-read",
        "json-read",
        "tail-10",
    ]);
    writeln!(d.out, "  {TABLE_HEAD}")?;
    let out = &mut d.out;
    run_cases(&jobs, &[Mode::Process], &opts, 3, &dir.0, false, |c| {
        writeln!(out, "  {}", table_row(c))
    })
}

/// A temporary directory removed on drop (the CLI does not depend on `tempfile`); the demo's
/// and `ctrlog bench`'s.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    fn new() -> std::io::Result<Self> {
        TempDir::new_in(&std::env::temp_dir(), "ctrlog-demo")
    }

    /// A new directory `PREFIX-PID-N` in `base`; the error names the path.
    pub fn new_in(base: &std::path::Path, prefix: &str) -> std::io::Result<Self> {
        for i in 0..1000u32 {
            let p = base.join(format!("{prefix}-{}-{i}", std::process::id()));
            match std::fs::create_dir(&p) {
                Ok(()) => return Ok(TempDir(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    let what = format!("creating {}: {e}", p.display());
                    return Err(std::io::Error::new(e.kind(), what));
                }
            }
        }
        Err(std::io::Error::other(format!(
            "no free temporary directory name in {}",
            base.display()
        )))
    }

    /// Leaves the directory in place and returns its path.
    pub fn keep(self) -> std::path::PathBuf {
        let me = std::mem::ManuallyDrop::new(self);
        me.0.clone()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
