//! `ctrlog demo`: the crate's main jobs on data embedded in the binary.

use std::io::Write;
use std::process::ExitCode;

use ctrlog::time::{format_rfc3339nano, parse_rfc3339nano, Offset};

#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let stamp = b"2026-11-23T08:33:47.339619953Z";
    let mut buf = Vec::new();
    let result = (|| -> std::io::Result<()> {
        writeln!(
            out,
            "ctrlog demo: Go-compatible timestamps and Docker sizes"
        )?;
        match parse_rfc3339nano(stamp) {
            Ok(ts) => {
                format_rfc3339nano(ts, Offset::Fixed(9000), &mut buf);
                writeln!(
                    out,
                    "  {} parsed; in +02:30: {}",
                    String::from_utf8_lossy(stamp),
                    String::from_utf8_lossy(&buf)
                )?;
            }
            Err(e) => writeln!(out, "  parse error: {e}")?,
        }
        for s in ["10m", "10MiB", "1.5g"] {
            match ctrlog::size::from_human_size(s) {
                Ok(n) => writeln!(out, "  max-size={s} is {n} bytes (Docker, decimal)")?,
                Err(e) => writeln!(out, "  {e}")?,
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::fail(format_args!("writing to stdout: {e}")),
    }
}
