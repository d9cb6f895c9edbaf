//! `ctrlog top`: the containers writing logs fastest right now, from file growth in
//! kubelet's tree (bytes/s, and lines/s from the newlines in the new bytes only), across
//! rotations ([`GrowthSampler`] tracks files by inode).
//!
//! Each interval costs a listing and an `lstat` per log file, and reading the bytes written
//! since the last sample to count their newlines. On a terminal the table is redrawn in
//! place, with a sparkline per row of its bytes/s over the last samples (so a burst stands
//! out); otherwise (and with `--json`, one array per line) each sample is printed after the
//! last, without sparklines. Stops after `--count` samples, or on SIGINT/SIGTERM.

use std::collections::{HashMap, VecDeque};
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

/// Samples kept per row for its sparkline.
const HISTORY: usize = 30;

/// One bar per value, eight levels scaled to the largest; nothing written is a blank, any
/// growth at least the lowest bar.
fn sparkline<'a>(values: impl Iterator<Item = &'a f64> + Clone) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.clone().fold(0.0f64, |m, &v| m.max(v));
    values
        .map(|&v| {
            if v <= 0.0 || max <= 0.0 {
                ' '
            } else {
                BARS[((v / max * 7.0).round() as usize).min(7)]
            }
        })
        .collect()
}

/// Each container's bytes/s over the last [`HISTORY`] samples.
#[derive(Default)]
struct History(HashMap<ContainerKey, VecDeque<f64>>);

impl History {
    fn push(&mut self, rates: &[Rate]) {
        let mut next = HashMap::with_capacity(rates.len());
        for r in rates {
            let mut h = self.0.remove(&r.key).unwrap_or_default();
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(r.bytes_per_sec);
            next.insert(r.key.clone(), h);
        }
        // Containers gone from the tree are dropped.
        self.0 = next;
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
                r.key.namespace.clone(),
                r.key.pod.clone(),
                r.key.container.clone(),
                format!("{:.0}", r.bytes_per_sec),
                format!("{:.1}", r.lines_per_sec),
            ];
            if let Some(h) = redraw {
                row.push(
                    h.0.get(&r.key)
                        .map_or_else(String::new, |v| sparkline(v.iter())),
                );
            }
            row
        })
        .collect();
    let mut headers = vec!["NAMESPACE", "POD", "CONTAINER", "BYTES/S", "LINES/S"];
    let mut right = vec![false, false, false, true, true];
    if redraw.is_some() {
        headers.push("BYTES/S HISTORY");
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
    // The first pass is the baseline; each later one prints.
    loop {
        // The sample's time is when its stats begin.
        let at = start.elapsed();
        if let Err(e) = observe(&mut sampler, &args.pods_root, ns) {
            return crate::fail(e);
        }
        if let Some(rates) = sampler.finish(at) {
            history.push(&rates);
            match print(&rates, args.json, redraw.then_some(&history)) {
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

#[cfg(test)]
mod tests {
    use super::sparkline;

    #[test]
    fn sparkline_scales_to_the_largest_and_blanks_idle_samples() {
        let v = [0.0, 1.0, 50.0, 100.0, 0.5];
        assert_eq!(sparkline(v.iter()), " ▁▅█▁");
        assert_eq!(sparkline([0.0, 0.0].iter()), "  ");
        assert_eq!(sparkline([].iter()), "");
    }
}
