//! `ctrlog scan [--root DIR] [--json]`: every containerd bundle's runc `log.json`, largest
//! first, with its last error.
//!
//! containerd's runc v2 shim keeps one bundle directory per task under
//! `/run/containerd/io.containerd.runtime.v2.task/<namespace>/<id>/`, and runc appends to
//! `log.json` there for the task's whole life (never rotated). A GPU hook that warns on every
//! exec, or a probe loop that fails every few seconds, grows that file without bound; this
//! command shows those at once: namespace, id, size, last error message
//! ([`ctrlog::runc::last_error`], the robust tail-first scan), sorted by size descending (then
//! namespace and id).
//!
//! Only `<root>/<ns>/<id>/log.json` entries are listed; bundles without one are skipped, and an
//! unreadable namespace or bundle directory is reported on stderr and skipped. A `log.json`
//! that is a symlink or not a regular file is listed with that reason as its error, never
//! followed or opened blocking.
//!
//! Exit status: 0 (also when nothing is found); 2 the root is missing or not a directory.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use ctrlog::regular::{open_read, Symlinks};

/// containerd's default state directory for runtime v2 tasks.
pub const DEFAULT_ROOT: &str = "/run/containerd/io.containerd.runtime.v2.task";

#[derive(clap::Args)]
pub struct Args {
    /// The task state directory holding `<namespace>/<id>/` bundles.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_ROOT)]
    root: PathBuf,
    /// One JSON array of objects (namespace, id, path, size, last_error, last_error_time,
    /// error) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Entry {
    namespace: String,
    id: String,
    path: PathBuf,
    size: u64,
    last_error: Option<String>,
    last_error_time: Option<String>,
    /// Why the last error could not be read, if so.
    error: Option<String>,
}

fn subdirs(dir: &Path) -> io::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let e = e?;
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push((e.file_name().to_string_lossy().into_owned(), e.path()));
        }
    }
    Ok(out)
}

fn inspect(namespace: &str, id: &str, path: PathBuf) -> Option<Entry> {
    // No log.json: not a bundle runc has written to. Anything else at that name is listed,
    // with the reason it cannot be read: a symlink found by listing is never followed (as
    // root it could point anywhere) and a FIFO must not block the scan.
    fs::symlink_metadata(&path).ok()?;
    let mut entry = Entry {
        namespace: namespace.to_owned(),
        id: id.to_owned(),
        size: 0,
        path,
        last_error: None,
        last_error_time: None,
        error: None,
    };
    let found = open_read(&entry.path, Symlinks::Refuse).and_then(|f| {
        entry.size = f.metadata()?.len();
        Ok(f)
    });
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
    Some(entry)
}

/// Every `<root>/<ns>/<id>/log.json`, largest first.
fn scan(root: &Path) -> Result<Vec<Entry>, String> {
    let namespaces = subdirs(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut entries = Vec::new();
    for (ns, ns_dir) in namespaces {
        let bundles = match subdirs(&ns_dir) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("ctrlog: skipping {}: {e}", ns_dir.display());
                continue;
            }
        };
        for (id, dir) in bundles {
            entries.extend(inspect(&ns, &id, dir.join("log.json")));
        }
    }
    entries.sort_by(|a, b| {
        b.size
            .cmp(&a.size)
            .then_with(|| a.namespace.cmp(&b.namespace))
            .then_with(|| a.id.cmp(&b.id))
    });
    Ok(entries)
}

fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn print(entries: &[Entry], json: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, entries)?;
        out.write_all(b"\n")?;
        return out.flush();
    }
    let w_ns = entries
        .iter()
        .map(|e| e.namespace.len())
        .max()
        .unwrap_or(0)
        .max(9);
    let w_id = entries.iter().map(|e| e.id.len()).max().unwrap_or(0).max(2);
    writeln!(
        out,
        "{:>12}  {:<w_ns$}  {:<w_id$}  LAST ERROR",
        "SIZE", "NAMESPACE", "ID"
    )?;
    for e in entries {
        let last = match (&e.last_error, &e.error) {
            (Some(m), _) => one_line(m),
            (None, Some(err)) => format!("(unreadable: {})", one_line(err)),
            (None, None) => "-".to_owned(),
        };
        writeln!(
            out,
            "{:>12}  {:<w_ns$}  {:<w_id$}  {last}",
            e.size, e.namespace, e.id
        )?;
    }
    out.flush()
}

pub fn run(args: Args) -> ExitCode {
    match fs::metadata(&args.root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return crate::fail(format_args!("{}: not a directory", args.root.display())),
        Err(e) => return crate::fail(format_args!("{}: {e}", args.root.display())),
    }
    let entries = match scan(&args.root) {
        Ok(e) => e,
        Err(e) => return crate::fail(e),
    };
    match print(&entries, args.json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => crate::fail(format_args!("writing stdout: {e}")),
    }
}
