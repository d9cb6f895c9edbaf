//! `ctrlog scan [--root DIR] [--cap SIZE] [--prune-residue] [--dry-run] [--json]`: every
//! containerd bundle, largest runc `log.json` first, with its last error and whether it is
//! live or residue; optionally caps each `log.json` and removes the residue.
//!
//! The walk, the verdict and the removal are the library's ([`ctrlog::runc::bundle`]): the
//! root is the containerd state root (`/run/containerd`: both task directories under it) or
//! a task directory itself; any other directory is an error. For each bundle: namespace, id,
//! log.json size, last error message ([`ctrlog::runc::last_error`], the robust tail-first
//! scan) and `live`/`residue` with the reason; sorted by size descending (then namespace,
//! id, path). A `log.json` that is a symlink or not a regular file is listed with that
//! reason as its error, never followed or opened blocking; a bundle without one is listed
//! with size 0. Entries not descended into (symlinks, names that are not containerd
//! identifiers, unreadable namespaces) are reported on stderr.
//!
//! `--prune-residue` removes the residue bundles ([`ctrlog::runc::bundle::prune_residue`]:
//! checked again, never a mounted or live one, never through a symlink); `--dry-run` says
//! what it would remove. Each outcome is in the table's PRUNE column and the JSON's `prune`
//! object, and kept residue is explained on stderr.
//!
//! `--cap SIZE` (Docker's decimal sizes: `10m` is 10,000,000 bytes) brings each `log.json`
//! over SIZE down to its newest whole records, keeping the last error record
//! ([`ctrlog::runc::cap::cap_log`]: safe while runc appends); with `--dry-run` it says what
//! it would reclaim. It runs after the pruning, on the bundles not removed: a cap touches
//! the bundle directory, which would make a residue bundle look freshly created. The bytes
//! reclaimed are in the table's RECLAIMED column and the JSON's `reclaimed`, the details in
//! its `cap` object; SIZE stays the size found.
//!
//! Exit status: 0 (also when nothing is found); 2 the root is missing, not a directory, or
//! neither a state root nor a task directory; 3 a removal or a cap failed.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use ctrlog::regular::{open_read, OpenError, Symlinks};
use ctrlog::runc::bundle::{
    find_bundles, prune_residue, Bundle, PruneAction, PruneOptions, ResidueChecker, ResidueOptions,
    DEFAULT_STATE_ROOT,
};
use ctrlog::runc::cap::{cap_log, CapError, CapOptions};

#[derive(clap::Args)]
pub struct Args {
    /// containerd's state root (holding io.containerd.runtime.v2.task and
    /// io.containerd.runtime.v1.linux) or one task directory.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_STATE_ROOT)]
    root: PathBuf,
    /// Cap each runc log.json over SIZE (decimal: 10k, 10m) to its newest whole records,
    /// keeping the last error record.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    cap: Option<u64>,
    /// Remove residue bundle directories (shim and process gone, nothing mounted, id valid).
    #[arg(long)]
    prune_residue: bool,
    /// With --cap or --prune-residue: report what would be done, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// One JSON array of objects (namespace, id, path, bundle, size, last_error,
    /// last_error_time, error, residue, residue_reason; prune with --prune-residue;
    /// reclaimed and cap with --cap) instead of a table.
    #[arg(long)]
    json: bool,
}

/// The outcome of `--prune-residue` for one bundle.
#[derive(serde::Serialize)]
struct Prune {
    /// `removed`, `would_remove`, `kept` or `failed`.
    action: &'static str,
    /// Why it was kept, or the error.
    reason: Option<String>,
    entries: u64,
    bytes: u64,
}

/// The outcome of `--cap` for one `log.json`.
#[derive(serde::Serialize)]
struct Cap {
    /// `capped`, `would_cap`, `under` (at or under the cap), `skipped` (not a regular
    /// file: see `error`) or `failed`.
    action: &'static str,
    reason: Option<String>,
    before: u64,
    after: u64,
    reclaimed: u64,
    kept_records: u64,
    dropped_records: u64,
    /// The last error record was older than the kept records and kept ahead of them.
    kept_last_error: bool,
    /// Bytes appended during the cap and carried over to the new file.
    carried_over: u64,
    /// `false`: a writer still had the old file open when the retries ran out.
    settled: bool,
}

#[derive(serde::Serialize)]
struct Entry {
    namespace: String,
    id: String,
    /// The bundle's `log.json` (whether or not it exists).
    path: PathBuf,
    /// The bundle directory.
    bundle: PathBuf,
    size: u64,
    last_error: Option<String>,
    last_error_time: Option<String>,
    /// Why the last error could not be read, if so.
    error: Option<String>,
    residue: bool,
    residue_reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    prune: Option<Prune>,
    /// With --cap: bytes reclaimed (or, dry, that would be).
    #[serde(skip_serializing_if = "Option::is_none")]
    reclaimed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cap: Option<Cap>,
    #[serde(skip)]
    source: Bundle,
    /// Whether a `log.json` entry exists (of any type).
    #[serde(skip)]
    has_log: bool,
}

fn inspect(bundle: Bundle, checker: &ResidueChecker) -> Entry {
    let live = checker.check(&bundle);
    let mut entry = Entry {
        namespace: bundle.namespace.clone(),
        id: bundle.id.clone(),
        path: bundle.log_json(),
        bundle: bundle.path.clone(),
        size: 0,
        last_error: None,
        last_error_time: None,
        error: None,
        residue: live.residue,
        residue_reason: live.reason,
        prune: None,
        reclaimed: None,
        cap: None,
        source: bundle,
        has_log: true,
    };
    // A symlink found by listing is never followed (as root it could point anywhere) and a
    // FIFO must not block the scan: both are listed with the reason. No log.json at all is
    // a bundle runc has not written to: size 0, no error.
    let found = match open_read(&entry.path, Symlinks::Refuse) {
        Err(OpenError::Io(e)) if e.kind() == io::ErrorKind::NotFound => {
            entry.has_log = false;
            return entry;
        }
        found => found.map_err(io::Error::from).and_then(|f| {
            entry.size = f.metadata()?.len();
            Ok(f)
        }),
    };
    match found
        .map_err(|e| e.to_string())
        .and_then(|f| ctrlog::runc::last_error(f).map_err(|e| e.to_string()))
    {
        Ok(Some(e)) => {
            entry.last_error_time = e.time.map(|t| {
                let mut b = Vec::new();
                ctrlog::time::format_rfc3339nano(t, ctrlog::time::Offset::Utc, &mut b);
                String::from_utf8_lossy(&b).into_owned()
            });
            entry.last_error = Some(e.msg);
        }
        Ok(None) => {}
        Err(e) => entry.error = Some(e),
    }
    entry
}

/// Removes (or, dry, reports) each residue bundle; `false` if a removal failed.
fn prune(entries: &mut [Entry], dry_run: bool) -> bool {
    let mut opts = PruneOptions::default();
    opts.dry_run = dry_run;
    let mut ok = true;
    for e in entries.iter_mut().filter(|e| e.residue) {
        let p = match prune_residue(&e.source, &opts) {
            Ok(r) => {
                let (action, reason) = match &r.action {
                    PruneAction::Removed => ("removed", None),
                    PruneAction::WouldRemove => ("would_remove", None),
                    PruneAction::Kept(why) => {
                        say!("ctrlog: kept {}: {why}", e.bundle.display());
                        ("kept", Some(why.clone()))
                    }
                    other => ("kept", Some(format!("{other:?}"))),
                };
                Prune {
                    action,
                    reason,
                    entries: r.entries,
                    bytes: r.bytes,
                }
            }
            Err(err) => {
                say!("ctrlog: removing {}: {err}", e.bundle.display());
                ok = false;
                Prune {
                    action: "failed",
                    reason: Some(err.to_string()),
                    entries: 0,
                    bytes: 0,
                }
            }
        };
        e.prune = Some(p);
    }
    ok
}

fn parse_size(s: &str) -> Result<u64, String> {
    ctrlog::size::from_human_size(s).map_err(|e| e.to_string())
}

/// Caps (or, dry, measures) each `log.json` not removed by the pruning; `false` if a cap
/// failed.
fn cap(entries: &mut [Entry], max_size: u64, dry_run: bool) -> bool {
    let mut opts = CapOptions::default();
    opts.max_size = max_size;
    opts.dry_run = dry_run;
    let mut ok = true;
    let gone = |e: &Entry| {
        e.prune
            .as_ref()
            .is_some_and(|p| matches!(p.action, "removed" | "would_remove"))
    };
    for e in entries.iter_mut().filter(|e| e.has_log && !gone(e)) {
        let c = match cap_log(&e.path, &opts) {
            Ok(r) => {
                if !r.settled {
                    say!("ctrlog: {r}");
                }
                Cap {
                    action: match (r.capped, r.dry_run) {
                        (false, _) => "under",
                        (true, true) => "would_cap",
                        (true, false) => "capped",
                    },
                    reason: None,
                    before: r.before,
                    after: r.after,
                    reclaimed: r.reclaimed,
                    kept_records: r.kept_records,
                    dropped_records: r.dropped_records,
                    kept_last_error: r.kept_last_error,
                    carried_over: r.carried_over,
                    settled: r.settled,
                }
            }
            Err(err) => {
                // Not a regular file: already listed with the reason, nothing to cap.
                let skipped = matches!(err, CapError::Open { .. });
                if !skipped {
                    say!("ctrlog: capping {err}");
                    ok = false;
                }
                Cap {
                    action: if skipped { "skipped" } else { "failed" },
                    reason: Some(err.to_string()),
                    before: e.size,
                    after: e.size,
                    reclaimed: 0,
                    kept_records: 0,
                    dropped_records: 0,
                    kept_last_error: false,
                    carried_over: 0,
                    settled: true,
                }
            }
        };
        e.reclaimed = Some(c.reclaimed);
        e.cap = Some(c);
    }
    ok
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A table column: its header, whether it is right-aligned, and its cell.
struct Column {
    header: &'static str,
    right: bool,
    cell: fn(&Entry) -> String,
}

/// The table's columns; LAST ERROR, free text, is always last.
fn columns(args: &Args) -> Vec<Column> {
    let mut cols = vec![Column {
        header: "SIZE",
        right: true,
        cell: |e| e.size.to_string(),
    }];
    if args.cap.is_some() {
        cols.push(Column {
            header: "RECLAIMED",
            right: true,
            cell: |e| match &e.cap {
                Some(c) if c.action == "failed" => "failed".to_owned(),
                Some(c) => c.reclaimed.to_string(),
                None => "-".to_owned(),
            },
        });
    }
    cols.extend([
        Column {
            header: "NAMESPACE",
            right: false,
            cell: |e| e.namespace.clone(),
        },
        Column {
            header: "ID",
            right: false,
            cell: |e| e.id.clone(),
        },
        Column {
            header: "STATE",
            right: false,
            cell: |e| if e.residue { "residue" } else { "live" }.to_owned(),
        },
    ]);
    if args.prune_residue {
        cols.push(Column {
            header: "PRUNE",
            right: false,
            cell: |e| e.prune.as_ref().map_or("-", |p| p.action).replace('_', "-"),
        });
    }
    cols
}

fn print(entries: &[Entry], args: &Args) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, entries)?;
        out.write_all(b"\n")?;
        return out.flush();
    }
    let cols = columns(args);
    let cells: Vec<Vec<String>> = entries
        .iter()
        .map(|e| cols.iter().map(|c| (c.cell)(e)).collect())
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let w = cells.iter().map(|r| r[i].len()).max().unwrap_or(0);
            w.max(c.header.len()).max(if c.right { 12 } else { 0 })
        })
        .collect();
    let row = |out: &mut io::StdoutLock, cells: &[&str], last: &str| -> io::Result<()> {
        for ((c, w), s) in cols.iter().zip(&widths).zip(cells) {
            if c.right {
                write!(out, "{s:>w$}  ")?;
            } else {
                write!(out, "{s:<w$}  ")?;
            }
        }
        writeln!(out, "{last}")
    };
    let headers: Vec<&str> = cols.iter().map(|c| c.header).collect();
    row(&mut out, &headers, "LAST ERROR")?;
    for (e, cells) in entries.iter().zip(&cells) {
        let last = match (&e.last_error, &e.error) {
            (Some(m), _) => one_line(m),
            (None, Some(err)) => format!("(unreadable: {})", one_line(err)),
            (None, None) => "-".to_owned(),
        };
        let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
        row(&mut out, &cells, &last)?;
    }
    out.flush()
}

pub fn run(args: Args) -> ExitCode {
    if args.dry_run && !args.prune_residue && args.cap.is_none() {
        return crate::fail("--dry-run needs --cap or --prune-residue");
    }
    let found = match find_bundles(&args.root) {
        Ok(f) => f,
        Err(e) => return crate::fail(e),
    };
    for s in &found.skipped {
        say!("ctrlog: skipping {}: {}", s.path.display(), s.reason);
    }
    let checker = match ResidueChecker::new(ResidueOptions::default()) {
        Ok(c) => c,
        Err(e) => return crate::fail(e),
    };
    let mut entries: Vec<Entry> = found
        .bundles
        .into_iter()
        .map(|b| inspect(b, &checker))
        .collect();
    entries.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then_with(|| a.namespace.cmp(&b.namespace))
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.bundle.cmp(&b.bundle))
    });
    let pruned_ok = !args.prune_residue || prune(&mut entries, args.dry_run);
    let capped_ok = args
        .cap
        .is_none_or(|max| cap(&mut entries, max, args.dry_run));
    match print(&entries, &args) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return crate::fail(format_args!("writing stdout: {e}")),
    }
    if pruned_ok && capped_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}
