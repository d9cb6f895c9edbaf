//! `ctrlog`: container runtime logs from the command line.
//!
//! Exit status: 0 success, 1 "nothing found" where a command says so, 2 bad usage or input,
//! 3 output produced but some input skipped (`logs`: unreadable files, skipped records;
//! `pods`: entries of the tree that are not logs, bad links).

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// `eprintln!` that ignores a failed write: `eprintln!` panics when stderr cannot be written
/// (a full disk, `2>/dev/full`), which would turn a documented exit status into 101.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod bench;
mod demo;
mod driver;
mod last_error;
mod logs;
mod output;
mod pods;
mod scan;
mod summary;
mod top;
mod write;

#[derive(Parser)]
#[command(
    name = "ctrlog",
    version,
    about = "Container runtime logs: runc log.json, CRI and Docker json-file logs, rotation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run ctrlog's main jobs on embedded real-world data (no arguments, no files needed).
    Demo(demo::Args),
    /// Turn a container's output (stdin) into CRI or Docker json-file records.
    Write(write::Args),
    /// Print container log records (CRI or Docker json-file), merging partial lines.
    Logs(logs::Args),
    /// Print the last error message of a runc/crun log.json.
    LastError(last_error::Args),
    /// Summarise a runc/crun log.json: levels, times, repeated messages.
    Summary(summary::Args),
    /// containerd's binary:// logging driver (KEY VALUE pairs; also runs as
    /// `binary:///path/to/ctrlog?log-path=...` without this word).
    Driver(driver::Args),
    /// List containerd bundles: runc log.json size and last error (largest first), live or
    /// residue; optionally cap each log.json and prune the residue.
    Scan(scan::Args),
    /// Benchmark the main jobs on generated workloads against the floor of reading the bytes.
    Bench(bench::Args),
    /// List the containers in kubelet's log tree: restarts, bytes on disk, last record,
    /// /var/log/containers symlink state (from the files alone).
    Pods(pods::Args),
    /// The containers writing logs fastest right now (bytes/s, lines/s), refreshing.
    Top(top::Args),
}

fn main() -> ExitCode {
    // Under `ulimit -f` the kernel sends SIGXFSZ, whose default action kills the process in
    // the middle of a record. Ignored, the write fails with EFBIG instead, which the writers
    // handle (the record is cut back and the failure reported). Every subcommand, the driver
    // included.
    // SAFETY: setting a signal disposition to SIG_IGN before any thread is started.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    if let Some(code) = driver::intercept(|s| Cli::command().find_subcommand(s).is_some()) {
        return code;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Write(a) => write::run(a),
        Command::Logs(a) => logs::run(a),
        Command::LastError(a) => last_error::run(a),
        Command::Summary(a) => summary::run(a),
        Command::Driver(a) => driver::run(a),
        Command::Scan(a) => scan::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Pods(a) => pods::run(a),
        Command::Top(a) => top::run(a),
    }
}

/// Prints `ctrlog: <msg>` to stderr and returns exit status 2.
#[allow(dead_code)]
pub fn fail(msg: impl std::fmt::Display) -> ExitCode {
    say!("ctrlog: {msg}");
    ExitCode::from(2)
}
