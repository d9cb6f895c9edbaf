//! `ctrlog bench`: ctrlog's main jobs on generated workloads, against the floor of merely
//! reading the same bytes, measured in the same run on this machine.
//!
//! The workloads are [`ctrlog::bench`]'s (the families of `shared/bench/gen_workloads.py`),
//! written to a temporary directory (removed at the end unless `--keep`). Every job runs
//! in-process (the library calls the subcommand makes) and as a whole process (this binary,
//! spawned as a user or containerd would start it). Next to each run of a job, its floor runs
//! over the same bytes: a plain read loop in-process (`cat FILE > /dev/null` as a whole
//! process), and the read counting newlines with memchr. A case reports the median of its
//! runs; the ratio is the job's time over its floor's (the ratio goals of issue 13 are stated
//! this way, so that figures from different machines compare).
//!
//! A job that writes a log and keeps it (the write jobs but rotation, and the driver) has a
//! second floor: its output
//! copied into a file next to it (`cat OUTPUT > FILE`, a read/write loop in-process), after
//! each run. `× in+out` is the job's time over both floors together: what it costs beyond
//! reading its input and writing its output through the page cache. A CRI record of a short
//! line is 1.4 times the line, a json-file record twice, so writing the output alone takes
//! longer than `cat` takes to read the input.
//!
//! Jobs: `cri-write-{short,mixed,long}` (`ctrlog write`, 16 KiB max-len), `cri-write-oneline`
//! (max-len -1: one endless line), `cri-write-per-record` (short lines,
//! `--timestamp-policy per-record`), `json-write-short`, `rotate-write-short` (max-file 3,
//! max-size an eighth of the input), `last-error` and `last-error-compat` (error entry in the
//! last 4 KiB of a runc log.json), `cri-read` and `json-read` (`ctrlog logs FILE`, both
//! streams to /dev/null: the log's stderr records are output too, and `cat` writes nothing),
//! `tail-10` (`ctrlog logs --tail 10`), `driver-cri` and `driver-json-file` (containerd's
//! `binary://` driver, the input on both streams through pipes). Each run checks its result
//! (the error message found, the process's exit status); a failure stops the bench.
//!
//! Peak RSS is measured for whole processes only (`wait4`): in-process, the bench's own
//! memory would be counted. A spawned process's peak includes the anonymous memory the bench
//! held when it forked; `cat`'s figure (`floor_peak_rss_kib` in `--json`) shows that base.
//!
//! With `--reference`, the Go replicas of `benches/reference/` (containerd's CRI logger and
//! `getLastRuntimeError`, dockerd's json-file writer, kubelet's `ReadLogs`) are built with the
//! `go` on `PATH` and run next to each whole-process case that has one; their columns and a
//! cross-check of the outputs join the table (see `bench/reference.rs`). Without `go`, the
//! bench says so on stderr and runs without them.
//!
//! `--generate-only` writes the selected jobs' workloads into a kept directory, prints its
//! path and exits: the same bytes for measuring other programs (`benches/write_devnull.sh`).
//!
//! Exit status: 0 done; 2 bad usage, or a job or a floor failed, or a reference's output
//! differed from ctrlog's (the message names it).

mod jobs;
mod process;
mod reference;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::ValueEnum;
use ctrlog::bench::{generate, GenerateOptions, Workload};

use crate::demo::TempDir;
use jobs::{Job, JOBS};
use reference::{Outcome, Program, References};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Library calls in this process.
    InProcess,
    /// The `ctrlog` binary spawned per run.
    Process,
}

impl Mode {
    /// As `--mode` and `--json` spell it.
    pub fn word(self) -> &'static str {
        match self {
            Mode::InProcess => "in-process",
            Mode::Process => "process",
        }
    }
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Jobs: cri-write-short, cri-write-mixed, cri-write-long, \
cri-write-oneline, cri-write-per-record, json-write-short, rotate-write-short, last-error, last-error-compat, \
cri-read, json-read, tail-10, driver-cri, driver-json-file.\n\n\
Exit status: 0 done; 2 bad usage, or a job failed (the message names it)."
)]
pub struct Args {
    /// Multiplies the workload sizes: 1 is 256 MiB per text, CRI and json-file workload and
    /// 32 MiB per runc log.json (0.1 runs in about a minute, 0.01 in seconds).
    #[arg(long, default_value_t = 0.1, value_name = "S")]
    scale: f64,
    /// One JSON object per case and line, instead of the table.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// The table in Markdown, headed by the command, the machine and its load (what
    /// `benches/report.sh` pastes into BENCHMARKS.md).
    #[arg(long)]
    markdown: bool,
    /// Where the temporary workload directory is made (default: the system's temporary
    /// directory). Keep it off tmpfs to measure a disk's page cache.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Keep the workload directory (its path is printed on stderr).
    #[arg(long)]
    keep: bool,
    /// Only these jobs (comma-separated names; default all).
    #[arg(long, value_delimiter = ',', value_name = "JOB,…")]
    jobs: Vec<String>,
    /// Only in-process or only whole-process runs (default both).
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Runs per case, each next to a run of its floors; the medians are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
    /// The generator's seed.
    #[arg(long, default_value_t = GenerateOptions::default().seed)]
    seed: u64,
    /// Also build and run the Go replicas of the reference implementations
    /// (benches/reference/: containerd, dockerd, kubelet) next to each whole-process case,
    /// with their figures and a check that their output equals ctrlog's. Needs `go` on PATH.
    #[arg(long)]
    reference: bool,
    /// Only write the workloads of the selected jobs, keep them, print their directory on
    /// stdout and exit (to measure other programs on the same bytes).
    #[arg(long, conflicts_with_all = ["json", "markdown", "reference", "mode"])]
    generate_only: bool,
}

/// One job in one mode: medians of its runs and of its floors'.
pub struct Case {
    pub job: &'static str,
    pub mode: Mode,
    pub workload: &'static str,
    pub bytes: u64,
    pub runs: u32,
    pub seconds: f64,
    /// `read` (in-process) or `cat` (whole process).
    pub floor_kind: &'static str,
    pub floor_seconds: f64,
    pub memchr_seconds: f64,
    pub peak_rss_kib: Option<u64>,
    /// `cat`'s peak RSS: what a spawned process reports at the least here (it includes what
    /// the bench held when it forked).
    pub floor_peak_rss_kib: Option<u64>,
    /// For a job that writes a log: the bytes it wrote, and the output floor, the median time
    /// to copy them into a file in the same directory (`cat OUTPUT > FILE` as a whole
    /// process, a read/write loop in-process): what writing that much costs here at the least.
    pub output: Option<(u64, f64)>,
    /// The reference's figures (whole-process cases with a replica, under `--reference`).
    pub reference: Option<Outcome>,
}

impl Case {
    fn gbps(&self, secs: f64) -> f64 {
        self.bytes as f64 / secs.max(1e-9) / 1e9
    }

    pub fn gb_per_s(&self) -> f64 {
        self.gbps(self.seconds)
    }

    pub fn floor_gb_per_s(&self) -> f64 {
        self.gbps(self.floor_seconds)
    }

    pub fn ratio(&self) -> f64 {
        self.seconds.max(1e-9) / self.floor_seconds.max(1e-9)
    }

    /// The job's time over the input floor plus the output floor: how far a writing job is
    /// from reading its input and writing its output, and nothing else.
    pub fn out_ratio(&self) -> Option<f64> {
        self.output
            .map(|(_, out)| self.seconds.max(1e-9) / (self.floor_seconds + out).max(1e-9))
    }

    fn mode_word(&self) -> &'static str {
        self.mode.word()
    }

    fn json(&self, with_reference: bool) -> serde_json::Value {
        let mut v = serde_json::json!({
            "job": self.job,
            "mode": self.mode_word(),
            "workload": self.workload,
            "bytes": self.bytes,
            "runs": self.runs,
            "seconds": self.seconds,
            "gb_per_s": self.gb_per_s(),
            "floor": self.floor_gb_per_s(),
            "floor_kind": self.floor_kind,
            "floor_seconds": self.floor_seconds,
            "memchr_gb_per_s": self.gbps(self.memchr_seconds),
            "ratio": self.ratio(),
            "peak_rss_kib": self.peak_rss_kib,
            "floor_peak_rss_kib": self.floor_peak_rss_kib,
            "output_bytes": self.output.map(|(b, _)| b),
            "out_floor_seconds": self.output.map(|(_, s)| s),
            "out_ratio": self.out_ratio(),
        });
        if with_reference {
            v["reference"] = self
                .reference
                .as_ref()
                .map_or(serde_json::Value::Null, |r| {
                    serde_json::json!({
                        "program": r.program.name(),
                        "follows": r.program.follows(),
                        "seconds": r.seconds,
                        "gb_per_s": self.gbps(r.seconds),
                        "ratio": r.seconds.max(1e-9) / self.floor_seconds.max(1e-9),
                        "peak_rss_kib": r.peak_rss_kib,
                        "check": r.check.kind,
                        "equal": r.check.difference.is_none(),
                        "difference": r.check.difference,
                    })
                });
        }
        v
    }
}

/// The jobs of these names, in the table's order.
pub fn jobs_named(names: &[&str]) -> Vec<Job> {
    JOBS.iter()
        .filter(|j| names.contains(&j.name))
        .copied()
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn secs(f: impl FnOnce() -> io::Result<()>) -> io::Result<f64> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// Runs `jobs` in `modes` on workloads of `opts` in `dir`, calling `done` with each case as
/// it completes. Progress goes to stderr when `progress`.
pub fn run_cases(
    jobs: &[Job],
    modes: &[Mode],
    opts: &GenerateOptions,
    runs: u32,
    dir: &Path,
    progress: bool,
    done: impl FnMut(&Case) -> io::Result<()>,
) -> io::Result<()> {
    run_cases_with(jobs, modes, opts, runs, dir, progress, None, done)
}

/// Writes the workload of each of `jobs` (once each) into `dir`.
fn generate_workloads(
    jobs: &[Job],
    opts: &GenerateOptions,
    dir: &Path,
    progress: bool,
) -> io::Result<()> {
    let mut made: Vec<Workload> = Vec::new();
    for job in jobs {
        if made.contains(&job.workload) {
            continue;
        }
        let path = dir.join(job.workload.file_name());
        if progress {
            say!(
                "ctrlog bench: generating {} ({:.1} MB)",
                job.workload.file_name(),
                job.workload.target_size(opts) as f64 / 1e6
            );
        }
        let f = File::create(&path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        generate(job.workload, f, opts)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        made.push(job.workload);
    }
    Ok(())
}

/// [`run_cases`], and with `refs` each whole-process case's reference (if the job has one)
/// runs after each of ctrlog's runs, and is cross-checked after the last.
#[allow(clippy::too_many_arguments)]
pub fn run_cases_with(
    jobs: &[Job],
    modes: &[Mode],
    opts: &GenerateOptions,
    runs: u32,
    dir: &Path,
    progress: bool,
    refs: Option<&References>,
    mut done: impl FnMut(&Case) -> io::Result<()>,
) -> io::Result<()> {
    let exe = std::env::current_exe()?;
    generate_workloads(jobs, opts, dir, progress)?;
    let scratch = dir.join("scratch");
    fs::create_dir_all(&scratch)?;
    for job in jobs {
        let input = dir.join(job.workload.file_name());
        let len = fs::metadata(&input)?.len();
        for &mode in modes {
            if progress {
                say!("ctrlog bench: {} ({})", job.name, mode.word());
            }
            let (mut t, mut floor, mut mc, mut out_floor) = (vec![], vec![], vec![], vec![]);
            let mut output_bytes = 0;
            let (mut rss, mut floor_rss) = (None, None);
            let program = refs
                .filter(|_| mode == Mode::Process)
                .and(Program::for_job(job));
            let (mut ref_t, mut ref_rss) = (vec![], 0);
            for _ in 0..runs {
                // The floors next to each run: a change of load hits both alike.
                mc.push(secs(|| {
                    jobs::read_floor(&input, job.copies(), true).map(drop)
                })?);
                match mode {
                    Mode::InProcess => {
                        floor.push(secs(|| {
                            jobs::read_floor(&input, job.copies(), false).map(drop)
                        })?);
                        t.push(secs(|| jobs::run_in_process(job, &input, &scratch))?);
                        if job.writes() {
                            let (files, total) = jobs::output_files(&scratch)?;
                            output_bytes = total;
                            let copy = scratch.join("copy.out");
                            out_floor.push(secs(|| jobs::copy_floor(&files, &copy).map(drop))?);
                        }
                    }
                    Mode::Process => {
                        let f = process::cat_floor(&input, job.copies(), &scratch)?;
                        floor.push(f.wall.as_secs_f64());
                        floor_rss = floor_rss.max(Some(f.maxrss_kib));
                        let r = process::run_process(&exe, job, &input, &scratch)?;
                        t.push(r.wall.as_secs_f64());
                        rss = rss.max(Some(r.maxrss_kib));
                        if job.writes() {
                            let (files, total) = jobs::output_files(&scratch)?;
                            output_bytes = total;
                            let copy = scratch.join("copy.out");
                            let f = process::cat_copy_floor(&files, &copy, &scratch)?;
                            out_floor.push(f.wall.as_secs_f64());
                        }
                        if let (Some(refs), Some(p)) = (refs, program) {
                            let r = refs.run(p, &input, &scratch)?;
                            ref_t.push(r.wall.as_secs_f64());
                            ref_rss = ref_rss.max(r.maxrss_kib);
                        }
                    }
                }
            }
            let reference = match (refs, program) {
                (Some(refs), Some(p)) => {
                    if progress {
                        say!("ctrlog bench: {} (cross-check with {})", job.name, p.name());
                    }
                    let ctrlog_log = scratch.join("out").join("c.log");
                    let check = refs.check(&exe, p, &input, &ctrlog_log, &scratch)?;
                    Some(Outcome {
                        program: p,
                        seconds: median(ref_t),
                        peak_rss_kib: ref_rss,
                        check,
                    })
                }
                _ => None,
            };
            done(&Case {
                job: job.name,
                mode,
                workload: job.workload.file_name(),
                bytes: job.bytes(len),
                runs,
                seconds: median(t),
                floor_kind: match mode {
                    Mode::InProcess => "read",
                    Mode::Process => "cat",
                },
                floor_seconds: median(floor),
                memchr_seconds: median(mc),
                peak_rss_kib: rss,
                floor_peak_rss_kib: floor_rss,
                output: (!out_floor.is_empty()).then(|| (output_bytes, median(out_floor))),
                reference,
            })?;
        }
    }
    Ok(())
}

fn fmt_time(s: f64) -> String {
    if s < 1e-3 {
        format!("{:.0} µs", s * 1e6)
    } else if s < 1.0 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{s:.2} s")
    }
}

/// The table's header line and one row per case.
pub const TABLE_HEAD: &str = "job                  mode         MB      time       GB/s   floor GB/s  × floor  out MB  × in+out  memchr GB/s  peak RSS";

/// The reference columns, after [`TABLE_HEAD`] (`--reference`).
pub const TABLE_HEAD_REFERENCE: &str =
    "  ref time   ref GB/s  ref × floor    ref RSS  check (reference)";

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// [`table_row`] and the reference columns (dashes when the case has no reference).
pub fn table_row_with_reference(c: &Case) -> String {
    let cols = match &c.reference {
        None => format!("  {:>8} {:>10} {:>12} {:>10}  -", "-", "-", "-", "-"),
        Some(r) => format!(
            "  {:>8} {:>10.3} {:>12.2} {:>10}  {} ({})",
            fmt_time(r.seconds),
            c.gbps(r.seconds),
            r.seconds.max(1e-9) / c.floor_seconds.max(1e-9),
            mib(r.peak_rss_kib),
            check_word(r),
            r.program.follows(),
        ),
    };
    table_row(c) + &cols
}

pub fn table_row(c: &Case) -> String {
    let rss = c.peak_rss_kib.map_or_else(|| "-".to_owned(), mib);
    let (out_mb, out_ratio) = match (c.output, c.out_ratio()) {
        (Some((b, _)), Some(r)) => (format!("{:.1}", b as f64 / 1e6), format!("{r:.2}")),
        _ => ("-".to_owned(), "-".to_owned()),
    };
    format!(
        "{:<20} {:<10} {:>7.1} {:>9} {:>9.3} {:>10.3} {:>8.2} {:>7} {:>9} {:>12.3} {:>9}",
        c.job,
        c.mode_word(),
        c.bytes as f64 / 1e6,
        fmt_time(c.seconds),
        c.gb_per_s(),
        c.floor_gb_per_s(),
        c.ratio(),
        out_mb,
        out_ratio,
        c.gbps(c.memchr_seconds),
        rss
    )
}

/// The Markdown table's header (with the reference columns under `--reference`).
pub fn markdown_head(with_reference: bool) -> String {
    let mut head = String::from(
        "| job | mode | MB | time | GB/s | × floor | out MB | × in+out floor | peak RSS |",
    );
    let mut rule = String::from("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    if with_reference {
        head.push_str(" reference | ref time | ref × floor | ref RSS | check |");
        rule.push_str("---|---:|---:|---:|---|");
    }
    format!("{head}\n{rule}")
}

/// One case as a Markdown table row.
pub fn markdown_row(c: &Case, with_reference: bool) -> String {
    let dash = || "-".to_owned();
    let mut row = format!(
        "| {} | {} | {:.1} | {} | {:.3} | {:.2} | {} | {} | {} |",
        c.job,
        c.mode_word(),
        c.bytes as f64 / 1e6,
        fmt_time(c.seconds),
        c.gb_per_s(),
        c.ratio(),
        c.output
            .map_or_else(dash, |(b, _)| format!("{:.1}", b as f64 / 1e6)),
        c.out_ratio().map_or_else(dash, |r| format!("{r:.2}")),
        c.peak_rss_kib.map_or_else(dash, mib),
    );
    if with_reference {
        row.push_str(&match &c.reference {
            None => " - | - | - | - | - |".to_owned(),
            Some(r) => format!(
                " {} | {} | {:.2} | {} | {} |",
                r.program.follows(),
                fmt_time(r.seconds),
                r.seconds.max(1e-9) / c.floor_seconds.max(1e-9),
                mib(r.peak_rss_kib),
                check_word(r),
            ),
        });
    }
    row
}

fn check_word(r: &Outcome) -> &'static str {
    match (&r.check.difference, r.check.kind) {
        (Some(_), _) => "DIFFERS",
        (None, "masked") => "equal, times masked",
        (None, "content") => "same content",
        (None, _) => "equal",
    }
}

/// The machine and its load, for the table's first line (Linux: CPU model and load average).
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned());
    let load = fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned());
    format!("{model}, {cpus} cpus; load average {load}")
}

pub fn run(args: Args) -> ExitCode {
    if !(args.scale.is_finite() && args.scale > 0.0 && args.scale <= 64.0) {
        return crate::fail(format_args!(
            "--scale must be a number above 0 and at most 64, got {}",
            args.scale
        ));
    }
    let mut selected = Vec::new();
    for name in &args.jobs {
        match JOBS.iter().find(|j| j.name == name) {
            Some(j) => selected.push(*j),
            None => {
                let names: Vec<_> = JOBS.iter().map(|j| j.name).collect();
                return crate::fail(format_args!(
                    "--jobs: unknown job {name:?} (jobs: {})",
                    names.join(", ")
                ));
            }
        }
    }
    if selected.is_empty() {
        selected = JOBS.to_vec();
    }
    let modes: &[Mode] = match args.mode {
        Some(Mode::InProcess) => &[Mode::InProcess],
        Some(Mode::Process) => &[Mode::Process],
        None => &[Mode::InProcess, Mode::Process],
    };
    let mut opts = GenerateOptions::default();
    opts.scale = args.scale;
    opts.seed = args.seed;
    let base = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = match TempDir::new_in(&base, "ctrlog-bench") {
        Ok(d) => d,
        Err(e) => return crate::fail(format_args!("cannot make the workload directory: {e}")),
    };
    if args.generate_only {
        if let Err(e) = generate_workloads(&selected, &opts, &dir.0, true) {
            return crate::fail(format_args!("bench: {e}"));
        }
        println!("{}", dir.keep().display());
        return ExitCode::SUCCESS;
    }
    let started = Instant::now();
    let refs = if !args.reference {
        None
    } else if !modes.contains(&Mode::Process) {
        say!("ctrlog bench: --reference runs next to whole processes only: none with --mode in-process");
        None
    } else {
        say!("ctrlog bench: building the Go references (benches/reference)");
        match References::build(&dir.0) {
            Ok(Some(r)) => {
                say!("ctrlog bench: references built with {}", r.version);
                Some(r)
            }
            Ok(None) => {
                say!(
                    "ctrlog bench: no Go toolchain (`go` not on PATH): running without the reference columns"
                );
                None
            }
            Err(e) => return crate::fail(format_args!("bench: {e}")),
        }
    };
    let mut out = io::stdout().lock();
    if args.markdown {
        let go = refs
            .as_ref()
            .map_or(String::new(), |r| format!(" References: {}.", r.version));
        let _ = writeln!(
            out,
            "`ctrlog bench --scale {} --runs {}{}` (ctrlog {}; medians of {} runs per case). \
Machine: {}.{go}\n",
            args.scale,
            args.runs,
            if refs.is_some() { " --reference" } else { "" },
            env!("CARGO_PKG_VERSION"),
            args.runs,
            machine()
        );
        let _ = writeln!(out, "{}", markdown_head(refs.is_some()));
    } else if !args.json {
        let go = refs
            .as_ref()
            .map_or(String::new(), |r| format!("; references: {}", r.version));
        let _ = writeln!(
            out,
            "ctrlog bench: scale {}, {} runs per case (medians); {}{go}",
            args.scale,
            args.runs,
            machine()
        );
        let head = if refs.is_some() {
            format!("{TABLE_HEAD}{TABLE_HEAD_REFERENCE}")
        } else {
            TABLE_HEAD.to_owned()
        };
        let _ = writeln!(out, "{head}");
    }
    let mut differ = Vec::new();
    let result = run_cases_with(
        &selected,
        modes,
        &opts,
        args.runs,
        &dir.0,
        true,
        refs.as_ref(),
        |c| {
            let line = match (args.json, refs.is_some()) {
                _ if args.markdown => markdown_row(c, refs.is_some()),
                (true, with) => c.json(with).to_string(),
                (false, true) => table_row_with_reference(c),
                (false, false) => table_row(c),
            };
            if let Some(d) = c
                .reference
                .as_ref()
                .and_then(|r| r.check.difference.as_ref())
            {
                say!(
                    "ctrlog bench: {}: {} differs from ctrlog: {d}",
                    c.job,
                    c.reference.as_ref().map_or("", |r| r.program.name())
                );
                differ.push(c.job);
            }
            writeln!(out, "{line}")?;
            out.flush()
        },
    );
    if args.keep {
        say!("ctrlog bench: workloads kept in {}", dir.keep().display());
    }
    match result {
        Ok(()) if differ.is_empty() => {
            say!(
                "ctrlog bench: done in {}",
                fmt_time(started.elapsed().as_secs_f64())
            );
            ExitCode::SUCCESS
        }
        Ok(()) => crate::fail(format_args!(
            "bench: the reference's output differs from ctrlog's in {} (see above)",
            differ.join(", ")
        )),
        Err(e) => crate::fail(format_args!("bench: {e}")),
    }
}
