//! The single-file reader (`LogReader::open_single`, `ctrlog logs --no-backups`, also what
//! `follow` then reads) opens its file without blocking and only as a regular file (review
//! finding 2): the path is classified when the reader is made and opened again when read,
//! and what is there by then may be a FIFO (`open(2)` would block until a writer comes) or a
//! link to `/dev/zero` (read for ever). Each read runs in a thread with a deadline; a FIFO
//! open left blocked is released by opening the write end, so nothing hangs.

use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use ctrlog::cri::read::{LogReader, LogSink, ReadError, ReadOptions, ReadStats};
use ctrlog::cri::Stream;

/// Hang guard (never reached when the open does not block).
const DEADLINE: Duration = Duration::from_secs(10);

struct Null;
impl LogSink for Null {
    fn write_stream(&mut self, _: Stream, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Reads `r` to its end in a thread; `None` if it did not finish by the deadline.
fn read_within(mut r: LogReader, fifo: Option<&Path>) -> Option<Result<ReadStats, ReadError>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(r.read_to(&mut Null));
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(res) => Some(res),
        Err(_) => {
            // Release an open(2) blocked on the FIFO: a writer comes and goes.
            if let Some(p) = fifo {
                let _ = fs::OpenOptions::new()
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(p);
            }
            None
        }
    }
}

#[test]
fn file_replaced_by_fifo_is_refused_without_blocking() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("c.log");
    fs::write(&path, "2024-01-01T00:00:00.000000000Z stdout F a\n").unwrap();
    let r = LogReader::open_single(&path, ReadOptions::default()).unwrap();
    fs::remove_file(&path).unwrap();
    mkfifo(&path);
    let res = read_within(r, Some(&path)).expect("opening the FIFO blocked");
    let e = res.expect_err("a FIFO swapped in was read as the log file");
    let msg = e.to_string();
    assert!(msg.contains("c.log") && msg.contains("FIFO"), "{msg}");
}

#[test]
fn file_replaced_by_link_to_dev_zero_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("c.log");
    fs::write(&path, "2024-01-01T00:00:00.000000000Z stdout F a\n").unwrap();
    let r = LogReader::open_single(&path, ReadOptions::default()).unwrap();
    fs::remove_file(&path).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
    let res = read_within(r, None).expect("/dev/zero was read without end");
    let e = res.expect_err("/dev/zero swapped in was read as the log file");
    let msg = e.to_string();
    assert!(
        msg.contains("c.log") && msg.contains("character device"),
        "{msg}"
    );
}
