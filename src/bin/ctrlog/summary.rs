//! `ctrlog summary PATH [--json] [--sparkline WHEN]`: levels, time range and top repeated
//! messages of a runc/crun log.json, each with a rate-over-time sparkline on a terminal.

use std::io::{self, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use ctrlog::runc::{summarize, Summary, SummaryOptions};

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// How many repeated messages to show.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Rate-over-time sparklines: `auto` draws them when stdout is a terminal.
    #[arg(long, value_enum, default_value_t = When::Auto, value_name = "WHEN")]
    sparkline: When,
    /// The log.json file (`-` for stdin).
    path: PathBuf,
}

/// When to draw sparklines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    /// When stdout is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never (plain text).
    Never,
}

impl When {
    /// Whether to draw, for output to stdout.
    pub fn draw(self) -> bool {
        use std::io::IsTerminal;
        match self {
            When::Auto => io::stdout().is_terminal(),
            When::Always => true,
            When::Never => false,
        }
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn render(s: &Summary, spark: bool, out: &mut impl Write) -> io::Result<()> {
    let st = &s.stats;
    writeln!(
        out,
        "records: {} in {} (blank {}, malformed {}, torn {}, overlong {})",
        st.records,
        human_bytes(s.bytes),
        st.blank,
        st.malformed,
        st.torn,
        st.overlong
    )?;
    match (&s.first_time, &s.last_time) {
        (Some(a), Some(b)) => writeln!(out, "time: {a} .. {b}")?,
        _ => writeln!(out, "time: (none)")?,
    }
    if spark && s.timeline.total() > 0 {
        writeln!(
            out,
            "rate: {} ({} s per bar)",
            s.timeline.sparkline(),
            s.timeline.bucket_secs()
        )?;
    }
    let levels: Vec<String> = s
        .levels
        .iter()
        .map(|(l, n)| format!("{} {n}", if l.is_empty() { "(none)" } else { l }))
        .collect();
    writeln!(out, "levels: {}", levels.join(", "))?;
    if s.top_messages.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "top messages{}:",
        if s.approximate {
            " (approximate counts)"
        } else {
            ""
        }
    )?;
    for m in &s.top_messages {
        let total = m.record_bytes;
        let share = if s.bytes > 0 {
            total as f64 * 100.0 / s.bytes as f64
        } else {
            0.0
        };
        if spark && s.timeline.total() > 0 {
            // Each message on the file's grid: the rows line up in time.
            write!(out, "  {}", m.timeline.sparkline_on(&s.timeline))?;
        }
        writeln!(
            out,
            "  {:>8} x [{}] {:?} ({} message, records {} = {:.0}% of the file)",
            m.count,
            m.level,
            m.preview,
            human_bytes(m.len as u64),
            human_bytes(total),
            share
        )?;
    }
    Ok(())
}

pub fn run(args: Args) -> ExitCode {
    let mut opts = SummaryOptions::default();
    opts.top = args.top;
    let path = args.path.display();
    let res = if args.path.as_os_str() == "-" {
        summarize(
            BufReader::with_capacity(256 * 1024, io::stdin().lock()),
            opts,
        )
    } else {
        match ctrlog::regular::open_read(&args.path, ctrlog::regular::Symlinks::Follow) {
            Ok(f) => summarize(BufReader::with_capacity(256 * 1024, f), opts),
            Err(e) => return crate::fail(format_args!("{path}: {e}")),
        }
    };
    let s = match res {
        Ok(s) => s,
        Err(e) => return crate::fail(format_args!("{path}: {e}")),
    };
    let mut out = io::stdout().lock();
    let r = if args.json {
        serde_json::to_writer_pretty(&mut out, &s)
            .map_err(io::Error::from)
            .and_then(|_| writeln!(out))
    } else {
        render(&s, args.sparkline.draw(), &mut out)
    };
    match r.and_then(|_| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::fail(format_args!("writing stdout: {e}")),
    }
}
