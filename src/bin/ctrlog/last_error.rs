//! `ctrlog last-error [--compat] PATH`: the last error message of a runc/crun log.json.
//!
//! Exit status: 0 an error record was found (message on stdout), 1 none, 2 failure (message
//! on stderr). PATH must be a regular file (a FIFO or device is refused at once: `/dev/zero`
//! would never end); `-` reads stdin. With `--compat`, prints exactly containerd's `getLastRuntimeError` string
//! (possibly empty) and exits 0, or exits 2 where containerd returns an error.

use std::io::{self, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use ctrlog::regular::{open_read, Symlinks};
use ctrlog::runc::{
    last_error_compat_with, last_error_stream_with, last_error_with, CompatOptions,
    LastErrorOptions,
};

#[derive(clap::Args)]
pub struct Args {
    /// Return exactly what containerd's getLastRuntimeError returns (Go json.Decoder rules).
    #[arg(long)]
    compat: bool,
    /// Longest record considered, in bytes (robust mode); the kept message cap with --compat.
    #[arg(long, default_value_t = ctrlog::runc::DEFAULT_MAX_RECORD_LEN)]
    max_record_size: usize,
    /// The log.json file (`-` for stdin).
    path: PathBuf,
}

fn print(msg: &str) -> ExitCode {
    let mut out = io::stdout().lock();
    let r = out
        .write_all(msg.as_bytes())
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush());
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => crate::fail(format_args!("writing stdout: {e}")),
    }
}

pub fn run(args: Args) -> ExitCode {
    let stdin = args.path.as_os_str() == "-";
    let path = args.path.display();
    if args.compat {
        let mut opts = CompatOptions::default();
        opts.max_msg_len = args.max_record_size;
        let res = if stdin {
            last_error_compat_with(io::stdin().lock(), opts)
        } else {
            match open_read(&args.path, Symlinks::Follow) {
                Ok(f) => last_error_compat_with(f, opts),
                Err(e) => return crate::fail(format_args!("{path}: {e}")),
            }
        };
        return match res {
            Ok(msg) => print(&msg),
            Err(e) => crate::fail(format_args!("{path}: {e}")),
        };
    }
    let mut opts = LastErrorOptions::default();
    opts.max_record_len = args.max_record_size;
    let res = if stdin {
        last_error_stream_with(
            BufReader::with_capacity(opts.block_size, io::stdin().lock()),
            opts,
        )
    } else {
        // A FIFO or device would block in open() or never end (`/dev/zero`): only a
        // regular file is read from a path; `-` streams stdin on purpose.
        match open_read(&args.path, Symlinks::Follow) {
            Ok(f) => last_error_with(f, opts),
            Err(e) => return crate::fail(format_args!("{path}: {e}")),
        }
    };
    match res {
        Ok(Some(e)) => print(&e.msg),
        Ok(None) => ExitCode::from(1),
        Err(e) => crate::fail(format_args!("{path}: {e}")),
    }
}
