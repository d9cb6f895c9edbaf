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
//! Jobs: `cri-write-{short,mixed,long}` (`ctrlog write`, 16 KiB max-len), `cri-write-oneline`
//! (max-len -1: one endless line), `json-write-short`, `rotate-write-short` (max-file 3,
//! max-size an eighth of the input), `last-error` and `last-error-compat` (error entry in the
//! last 4 KiB of a runc log.json), `cri-read` and `json-read` (`ctrlog logs > /dev/null`),
//! `tail-10` (`ctrlog logs --tail 10`), `driver-cri` and `driver-json-file` (containerd's
//! `binary://` driver, the input on both streams through pipes). Each run checks its result
//! (the error message found, the process's exit status); a failure stops the bench.
//!
//! Peak RSS is measured for whole processes only (`wait4`): in-process, the bench's own
//! memory would be counted. A spawned process's peak includes the anonymous memory the bench
//! held when it forked; `cat`'s figure (`floor_peak_rss_kib` in `--json`) shows that base.
//!
//! Exit status: 0 done; 2 bad usage, or a job or a floor failed (the message names it).

mod jobs;
mod process;

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::ValueEnum;
use ctrlog::bench::{generate, GenerateOptions, Workload};

use crate::demo::TempDir;
use jobs::{Job, JOBS};

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
cri-write-oneline, json-write-short, rotate-write-short, last-error, last-error-compat, \
cri-read, json-read, tail-10, driver-cri, driver-json-file.\n\n\
Exit status: 0 done; 2 bad usage, or a job failed (the message names it)."
)]
pub struct Args {
    /// Multiplies the workload sizes: 1 is 256 MiB per text, CRI and json-file workload and
    /// 32 MiB per runc log.json (0.1 runs in about a minute, 0.01 in seconds).
    #[arg(long, default_value_t = 0.1, value_name = "S")]
    scale: f64,
    /// One JSON object per case and line, instead of the table.
    #[arg(long)]
    json: bool,
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

    fn mode_word(&self) -> &'static str {
        self.mode.word()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
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
        })
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
    mut done: impl FnMut(&Case) -> io::Result<()>,
) -> io::Result<()> {
    let exe = std::env::current_exe()?;
    let mut made: Vec<Workload> = Vec::new();
    for job in jobs {
        if made.contains(&job.workload) {
            continue;
        }
        let path = dir.join(job.workload.file_name());
        if progress {
            eprintln!(
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
    let scratch = dir.join("scratch");
    fs::create_dir_all(&scratch)?;
    for job in jobs {
        let input = dir.join(job.workload.file_name());
        let len = fs::metadata(&input)?.len();
        for &mode in modes {
            if progress {
                eprintln!("ctrlog bench: {} ({})", job.name, mode.word());
            }
            let (mut t, mut floor, mut mc) = (vec![], vec![], vec![]);
            let (mut rss, mut floor_rss) = (None, None);
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
                    }
                    Mode::Process => {
                        let f = process::cat_floor(&input, job.copies(), &scratch)?;
                        floor.push(f.wall.as_secs_f64());
                        floor_rss = floor_rss.max(Some(f.maxrss_kib));
                        let r = process::run_process(&exe, job, &input, &scratch)?;
                        t.push(r.wall.as_secs_f64());
                        rss = rss.max(Some(r.maxrss_kib));
                    }
                }
            }
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
pub const TABLE_HEAD: &str = "job                 mode         MB      time       GB/s   floor GB/s  × floor  memchr GB/s  peak RSS";

pub fn table_row(c: &Case) -> String {
    let rss = c.peak_rss_kib.map_or_else(
        || "-".to_owned(),
        |k| format!("{:.1} MiB", k as f64 / 1024.0),
    );
    format!(
        "{:<19} {:<10} {:>7.1} {:>9} {:>9.3} {:>10.3} {:>8.2} {:>12.3} {:>9}",
        c.job,
        c.mode_word(),
        c.bytes as f64 / 1e6,
        fmt_time(c.seconds),
        c.gb_per_s(),
        c.floor_gb_per_s(),
        c.ratio(),
        c.gbps(c.memchr_seconds),
        rss
    )
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
    let mut out = io::stdout().lock();
    if !args.json {
        let _ = writeln!(
            out,
            "ctrlog bench: scale {}, {} runs per case (medians); {}",
            args.scale,
            args.runs,
            machine()
        );
        let _ = writeln!(out, "{TABLE_HEAD}");
    }
    let started = Instant::now();
    let result = run_cases(&selected, modes, &opts, args.runs, &dir.0, true, |c| {
        let line = if args.json {
            c.json().to_string()
        } else {
            table_row(c)
        };
        writeln!(out, "{line}")?;
        out.flush()
    });
    if args.keep {
        eprintln!("ctrlog bench: workloads kept in {}", dir.keep().display());
    }
    match result {
        Ok(()) => {
            eprintln!(
                "ctrlog bench: done in {}",
                fmt_time(started.elapsed().as_secs_f64())
            );
            ExitCode::SUCCESS
        }
        Err(e) => crate::fail(format_args!("bench: {e}")),
    }
}
