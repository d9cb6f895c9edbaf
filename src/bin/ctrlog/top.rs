//! `ctrlog top`: the containers writing logs fastest right now, from file growth in
//! kubelet's tree (bytes/s, and lines/s from the newlines in the new bytes only), across
//! rotations ([`GrowthSampler`] tracks files by inode).
//!
//! Each interval costs a listing and an `lstat` per log file, and reading the bytes written
//! since the last sample to count their newlines. On a terminal the table is redrawn in
//! place; otherwise (and with `--json`, one array per line) each sample is printed after the
//! last. Stops after `--count` samples, or on SIGINT/SIGTERM.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ctrlog::cri::read::{
    count_newlines, list_pods, stat_container, ContainerKey, GrowthSampler, PodDir, Rate,
    POD_LOGS_ROOT,
};

#[derive(clap::Args)]
pub struct Args {
    /// kubelet's pod log directory.
    #[arg(long, value_name = "DIR", default_value = POD_LOGS_ROOT)]
    pods_root: PathBuf,
    /// Only this namespace.
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// Seconds between samples.
    #[arg(long, value_name = "S", default_value_t = 2.0)]
    interval: f64,
    /// Stop after N samples (the first comes one interval after the start).
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// One JSON array per sample (one line each) of objects: namespace, pod, container,
    /// bytes_per_sec, lines_per_sec.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct JsonRate<'a> {
    namespace: &'a str,
    pod: &'a str,
    container: &'a str,
    bytes_per_sec: f64,
    lines_per_sec: f64,
}

/// Feeds every container's files to the sampler; problems are warnings (a pod or file
/// removed between the listing and the stat is normal churn and skipped quietly).
fn observe(s: &mut GrowthSampler, root: &Path, ns: Option<&str>) -> Result<(), String> {
    let list = list_pods(root).map_err(|e| e.to_string())?;
    for (name, path) in list.pods {
        if ns.is_some_and(|ns| ns != name.namespace) {
            continue;
        }
        let Ok(pod) = PodDir::open(&path) else {
            continue;
        };
        for c in &pod.containers {
            let Ok(files) = stat_container(&c.path) else {
                continue;
            };
            let key = ContainerKey {
                namespace: name.namespace.clone(),
                pod: name.pod.clone(),
                container: c.name.clone(),
            };
            for g in s.observe(&key, &files) {
                match count_newlines(&g) {
                    Ok(n) => s.add_lines(&key, n),
                    Err(e) => eprintln!("ctrlog: warning: {}: {e}", g.path.display()),
                }
            }
        }
    }
    Ok(())
}

fn print(rates: &[Rate], json: bool, redraw: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        let rows: Vec<JsonRate> = rates
            .iter()
            .map(|r| JsonRate {
                namespace: &r.key.namespace,
                pod: &r.key.pod,
                container: &r.key.container,
                bytes_per_sec: r.bytes_per_sec,
                lines_per_sec: r.lines_per_sec,
            })
            .collect();
        serde_json::to_writer(&mut out, &rows)?;
        out.write_all(b"\n")?;
        return out.flush();
    }
    if redraw {
        // Home and clear, as top redraws.
        out.write_all(b"\x1b[H\x1b[2J")?;
    }
    let cells: Vec<Vec<String>> = rates
        .iter()
        .map(|r| {
            vec![
                r.key.namespace.clone(),
                r.key.pod.clone(),
                r.key.container.clone(),
                format!("{:.0}", r.bytes_per_sec),
                format!("{:.1}", r.lines_per_sec),
            ]
        })
        .collect();
    let headers = ["NAMESPACE", "POD", "CONTAINER", "BYTES/S", "LINES/S"];
    crate::pods::table(
        &mut out,
        &headers,
        &[false, false, false, true, true],
        &cells,
    )?;
    if !redraw {
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Sleeps `d`, waking every 50 ms to see the stop flag.
fn sleep(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    while !stop.load(Ordering::Relaxed) {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

pub fn run(args: Args) -> ExitCode {
    let interval = match Duration::try_from_secs_f64(args.interval) {
        Ok(d) if !d.is_zero() => d,
        _ => {
            return crate::fail(format!(
                "invalid --interval {}: want seconds > 0",
                args.interval
            ))
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            return crate::fail(format!("cannot handle signal {sig}: {e}"));
        }
    }
    let redraw = !args.json && io::stdout().is_terminal();
    let ns = args.namespace.as_deref();
    let start = Instant::now();
    let mut sampler = GrowthSampler::new();
    let mut printed = 0u64;
    // The first pass is the baseline; each later one prints.
    loop {
        // The sample's time is when its stats begin.
        let at = start.elapsed();
        if let Err(e) = observe(&mut sampler, &args.pods_root, ns) {
            return crate::fail(e);
        }
        if let Some(rates) = sampler.finish(at) {
            match print(&rates, args.json, redraw) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
                Err(e) => return crate::fail(format_args!("writing stdout: {e}")),
            }
            printed += 1;
        }
        if args.count.is_some_and(|n| printed >= n) {
            return ExitCode::SUCCESS;
        }
        sleep(interval, &stop);
        if stop.load(Ordering::Relaxed) {
            return ExitCode::SUCCESS;
        }
    }
}
