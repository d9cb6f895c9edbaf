//! A shim-style logger: a container's stdout and stderr into one size-capped rotating set of
//! CRI logs, as containerd's shim plus kubelet's log manager would write it.
//!
//! The "container" here is `sh` printing to both streams; on a node it would be the two pipes
//! the runtime hands over. Each stream is copied by its own thread; both share one rotating
//! file, and records interleave at record boundaries only.
//!
//! Run: `cargo run --example shim_logger`

use std::process::{Command, Stdio};
use std::thread;

use ctrlog::cri::read::{LogReader, ReadOptions, SplitSink};
use ctrlog::cri::write::{CriEncoder, LogWriter, SharedWriter};
use ctrlog::cri::Stream;
use ctrlog::rotate::{RotateOptions, RotatingFile};
use ctrlog::time::Offset;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("0.log");
    // kubelet's containerLogMaxSize / containerLogMaxFiles, tiny so that it rotates here.
    let set = RotatingFile::open(&path, RotateOptions::kubelet(16 * 1024, 3)?)?;
    let out = SharedWriter::new(set);

    let mut child = Command::new("sh")
        .args(["-c", "i=0; while [ $i -lt 300 ]; do echo \"line $i\"; echo \"warn $i\" >&2; i=$((i+1)); done"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pipes = [
        (
            Stream::Stdout,
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        ),
        (Stream::Stderr, Box::new(child.stderr.take().unwrap())),
    ];
    let summaries = thread::scope(|s| {
        let handles: Vec<_> = pipes
            .into_iter()
            .map(|(stream, pipe)| {
                let out = out.clone();
                s.spawn(move || {
                    let mut w = LogWriter::new(stream, CriEncoder::new(Offset::Utc), out);
                    w.copy_from(pipe)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("copy thread"))
            .collect::<Vec<_>>()
    });
    child.wait()?;
    for s in summaries {
        let s = s?;
        println!("{} records, {} bytes read", s.records, s.bytes_read);
    }
    out.try_into_inner().map_err(|_| "still shared")?.close()?;

    // Read the whole set back, oldest backup first, as `kubectl logs` would.
    let mut sink = SplitSink {
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let stats = LogReader::open(&path, ReadOptions::default())?.read_to(&mut sink)?;
    let files = std::fs::read_dir(dir.path())?.count();
    println!("{files} files on disk, {} lines read back", stats.lines_out);
    // ~31 KB of records rotated into three files of at most 16 KiB (the oldest compressed):
    // nothing lost, every line whole, in order per stream.
    assert!((2..=3).contains(&files), "{files}");
    let want = |p: &str| {
        (0..300)
            .map(|i| format!("{p} {i}\n"))
            .collect::<String>()
            .into_bytes()
    };
    assert_eq!(sink.stdout, want("line"));
    assert_eq!(sink.stderr, want("warn"));
    Ok(())
}
