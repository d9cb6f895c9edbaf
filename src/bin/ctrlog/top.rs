//! `ctrlog top`: the containers writing logs fastest right now, from file growth in
//! kubelet's tree (bytes/s, and lines/s from the newlines in the new bytes only), across
//! rotations ([`GrowthSampler`] tracks files by inode).
//!
//! Each interval costs a listing and an `lstat` per log file, and reading the bytes written
//! since the last sample to count their newlines. On a terminal the table is redrawn in
//! place, with a sparkline per row of its bytes over time since the start, all rows on one
//! time grid (so a burst stands out); otherwise (and with `--json`, one array per line) each sample is printed after the
//! last, without sparklines. Stops after `--count` samples, or on SIGINT/SIGTERM.

use std::collections::HashMap;
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
use ctrlog::time::Timeline;

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
                    Err(e) => say!("ctrlog: warning: {}: {e}", g.path.display()),
                }
            }
        }
    }
    Ok(())
}

/// Each container's bytes over time since the start, and all of them together: the grid
/// every row's sparkline is drawn on, so the rows line up in time ([`Timeline`], the same
/// sparklines as `ctrlog summary`).
#[derive(Default)]
struct History {
    rows: HashMap<ContainerKey, Timeline>,
    all: Timeline,
}

impl History {
    /// Adds a sample covering `from..to` seconds since the start.
    fn push(&mut self, rates: &[Rate], from: f64, to: f64) {
        for r in rates {
            let bytes = (r.bytes_per_sec * (to - from)).round() as u64;
            let t = self.rows.entry(r.key.clone()).or_default();
            spread(t, from, to, bytes);
            spread(&mut self.all, from, to, bytes);
        }
        // Containers gone from the tree are dropped.
        self.rows.retain(|k, _| rates.iter().any(|r| &r.key == k));
    }

    fn sparkline(&self, key: &ContainerKey) -> String {
        self.rows
            .get(key)
            .map_or_else(String::new, |t| t.sparkline_on(&self.all))
    }
}

/// Adds `n` to `t` spread over the whole seconds `from..to` overlaps, in proportion (a
/// sample longer than a second fills each second it covers, not just its last); `n` is
/// kept whole. A zero `n` still marks the seconds, so an idle row draws flat.
fn spread(t: &mut Timeline, from: f64, to: f64, n: u64) {
    let lo = from.floor() as i64;
    let hi = (to.ceil() as i64).max(lo + 1);
    let span = to - from;
    let mut left = n;
    for s in lo..hi {
        let k = if s == hi - 1 || span <= 0.0 {
            left
        } else {
            let overlap = (to.min((s + 1) as f64) - from.max(s as f64)).max(0.0);
            ((n as f64 * overlap / span).round() as u64).min(left)
        };
        t.add_n(s, k);
        left -= k;
    }
}

fn print(rates: &[Rate], json: bool, redraw: Option<&History>) -> io::Result<()> {
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
    if redraw.is_some() {
        // Home and clear, as top redraws.
        out.write_all(b"\x1b[H\x1b[2J")?;
    }
    let cells: Vec<Vec<String>> = rates
        .iter()
        .map(|r| {
            let mut row = vec![
                crate::pods::printable(&r.key.namespace),
                crate::pods::printable(&r.key.pod),
                crate::pods::printable(&r.key.container),
                format!("{:.0}", r.bytes_per_sec),
                format!("{:.1}", r.lines_per_sec),
            ];
            if let Some(h) = redraw {
                row.push(h.sparkline(&r.key));
            }
            row
        })
        .collect();
    let mut headers = vec!["NAMESPACE", "POD", "CONTAINER", "BYTES/S", "LINES/S"];
    let mut right = vec![false, false, false, true, true];
    if redraw.is_some() {
        headers.push("BYTES OVER TIME");
        right.push(false);
    }
    crate::pods::table(&mut out, &headers, &right, &cells)?;
    if redraw.is_none() {
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
    let mut history = History::default();
    let mut prev_at = Duration::ZERO;
    // The first pass is the baseline; each later one prints.
    loop {
        // The sample's time is when its stats begin.
        let at = start.elapsed();
        if let Err(e) = observe(&mut sampler, &args.pods_root, ns) {
            return crate::fail(e);
        }
        if let Some(rates) = sampler.finish(at) {
            history.push(&rates, prev_at.as_secs_f64(), at.as_secs_f64());
            match print(&rates, args.json, redraw.then_some(&history)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
                Err(e) => return crate::fail(format_args!("writing stdout: {e}")),
            }
            printed += 1;
        }
        prev_at = at;
        if args.count.is_some_and(|n| printed >= n) {
            return ExitCode::SUCCESS;
        }
        sleep(interval, &stop);
        if stop.load(Ordering::Relaxed) {
            return ExitCode::SUCCESS;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::spread;
    use ctrlog::time::Timeline;

    #[test]
    fn spread_fills_each_second_in_proportion_and_keeps_the_total() {
        let mut t = Timeline::new();
        // 2.5 s from 0.5: half, one and one second.
        spread(&mut t, 0.5, 3.0, 1000);
        assert_eq!(t.total(), 1000);
        assert_eq!(
            t.buckets().collect::<Vec<_>>(),
            [(0, 200), (1, 400), (2, 400)]
        );
        // Within one second: all of it there.
        spread(&mut t, 3.0, 3.2, 7);
        assert_eq!(t.buckets().last(), Some((3, 7)));
        // Idle: the seconds are marked, nothing counted.
        let mut idle = Timeline::new();
        spread(&mut idle, 0.0, 2.0, 0);
        assert_eq!(idle.total(), 0);
        assert_eq!(idle.sparkline_on(&t), "▁▁▁▁");
    }
}
