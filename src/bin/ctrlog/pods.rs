//! `ctrlog pods`: every container in kubelet's log tree, from the files alone: restarts on
//! disk, bytes on disk, the time of the last record, and the state of its
//! `/var/log/containers` symlink.
//!
//! What is not a container's logs (names that do not parse, entries that are not logs, bad
//! links) is reported on stderr as `ctrlog: warning: PATH: REASON`, and the exit status is
//! then 3 (after the output). 2: the pods root cannot be listed.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use ctrlog::cri::read::{inventory, ContainerRow, CONTAINER_LOGS_ROOT, POD_LOGS_ROOT};
use ctrlog::time::{format_rfc3339nano_fixed, Offset, Timeline, Timestamp};

use crate::summary::When;

#[derive(clap::Args)]
pub struct Args {
    /// kubelet's pod log directory (<namespace>_<pod>_<uid>/<container>/<restart>.log).
    #[arg(long, value_name = "DIR", default_value = POD_LOGS_ROOT)]
    pods_root: PathBuf,
    /// kubelet's legacy symlink directory (<pod>_<namespace>_<container>-<id>.log); the links
    /// are read, never followed.
    #[arg(long, value_name = "DIR", default_value = CONTAINER_LOGS_ROOT)]
    containers_root: PathBuf,
    /// Only this namespace.
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    namespace: Option<String>,
    /// One JSON array of objects: namespace, pod, uid, container, restarts, bytes,
    /// last_record (RFC 3339 UTC or null), symlink (ok, missing, stale, dangling, outside).
    #[arg(long)]
    json: bool,
    /// A WRITTEN column: when each container's bytes on disk were written (each file's size at
    /// its last change), one grid for all rows; `auto` draws it when stdout is a terminal.
    #[arg(long, value_enum, default_value_t = When::Auto, value_name = "WHEN")]
    sparkline: When,
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(super::printable("web-0"), "web-0");
        assert_eq!(
            super::printable("a\u{1b}]0;x\u{7}b\nc"),
            "a\\u{1b}]0;x\\u{7}b\\nc"
        );
    }
}

#[derive(serde::Serialize)]
struct JsonRow<'a> {
    namespace: &'a str,
    pod: &'a str,
    uid: &'a str,
    container: &'a str,
    restarts: u32,
    bytes: u64,
    last_record: Option<String>,
    symlink: &'static str,
}

/// `s` with control characters escaped (`\u{1b}`, `\n`): names come from directory
/// entries, which anyone who can write under the roots chooses, and must not move the cursor
/// or start a terminal escape sequence (kubelet itself only makes DNS-label names).
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_printable(&mut out, s, usize::MAX);
    out
}

/// Appends `s` to `out` with control characters escaped, stopping once `out` grew by `max`
/// bytes: the one escaper of names and messages the CLI prints (tables, warnings, syslog).
pub fn push_printable(out: &mut String, s: &str, max: usize) {
    use std::fmt::Write as _;
    let start = out.len();
    for c in s.chars() {
        if out.len() - start >= max {
            break;
        }
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
}

/// RFC 3339 in UTC with nine fraction digits (what `logs --timestamps` prints).
pub fn utc(ts: Timestamp) -> String {
    let mut b = Vec::with_capacity(32);
    format_rfc3339nano_fixed(ts, Offset::Utc, &mut b);
    String::from_utf8_lossy(&b).into_owned()
}

/// Prints `rows` under `headers`, columns padded, those in `right` right-aligned.
pub fn table(
    out: &mut impl Write,
    headers: &[&str],
    right: &[bool],
    rows: &[Vec<String>],
) -> io::Result<()> {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            // Characters, not bytes: a sparkline's bars are three bytes each.
            rows.iter()
                .map(|r| r[i].chars().count())
                .fold(h.len(), usize::max)
        })
        .collect();
    let line = |out: &mut dyn Write, cells: &mut dyn Iterator<Item = &str>| -> io::Result<()> {
        let mut s = String::new();
        for (i, c) in cells.enumerate() {
            let w = widths[i];
            if i > 0 {
                s.push_str("  ");
            }
            if right[i] {
                s.push_str(&format!("{c:>w$}"));
            } else {
                s.push_str(&format!("{c:<w$}"));
            }
        }
        writeln!(out, "{}", s.trim_end())
    };
    line(out, &mut headers.iter().copied())?;
    for r in rows {
        line(out, &mut r.iter().map(String::as_str))?;
    }
    Ok(())
}

fn print(rows: &[ContainerRow], json: bool, spark: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    if json {
        let rows: Vec<JsonRow> = rows
            .iter()
            .map(|r| JsonRow {
                namespace: &r.namespace,
                pod: &r.pod,
                uid: &r.uid,
                container: &r.container,
                restarts: r.restarts,
                bytes: r.bytes,
                last_record: r.last_record.map(utc),
                symlink: r.symlink.as_str(),
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        out.write_all(b"\n")?;
        return out.flush();
    }
    // One grid for every row, so that the columns line up in time.
    let mut grid = Timeline::new();
    for r in rows {
        grid.merge(&r.written);
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut cells = vec![
                printable(&r.namespace),
                printable(&r.pod),
                printable(&r.uid),
                printable(&r.container),
                r.restarts.to_string(),
                r.bytes.to_string(),
                r.last_record.map_or_else(|| "-".to_owned(), utc),
                r.symlink.as_str().to_owned(),
            ];
            if spark {
                cells.push(r.written.sparkline_on(&grid));
            }
            cells
        })
        .collect();
    let headers = [
        "NAMESPACE",
        "POD",
        "UID",
        "CONTAINER",
        "RESTARTS",
        "BYTES",
        "LAST RECORD",
        "SYMLINK",
    ];
    let right = [false, false, false, false, true, true, false, false, false];
    let n = headers.len() + usize::from(spark);
    let mut headers = headers.to_vec();
    headers.push("WRITTEN");
    table(&mut out, &headers[..n], &right[..n], &cells)?;
    out.flush()
}

pub fn run(args: Args) -> ExitCode {
    let inv = match inventory(
        &args.pods_root,
        Some(&args.containers_root),
        args.namespace.as_deref(),
    ) {
        Ok(inv) => inv,
        Err(e) => return crate::fail(e),
    };
    match print(&inv.rows, args.json, !args.json && args.sparkline.draw()) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => return crate::fail(format_args!("writing stdout: {e}")),
    }
    for p in &inv.problems {
        say!("ctrlog: warning: {}", printable(&p.to_string()));
    }
    if inv.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}
