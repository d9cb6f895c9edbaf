//! Regression tests of `LogReader::follow` around its start and its watcher's reports
//! (review findings 3 and 8). No timing thresholds: each follow is stopped by a helper
//! thread once the expected report came, or after a generous deadline (a hang guard).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ctrlog::cri::read::{FileWarning, LogReader, LogSink, ReadOptions};
use ctrlog::cri::Stream;

/// Hang guard: a follow that never sees what the test waits for is stopped after this.
const DEADLINE: Duration = Duration::from_secs(10);

/// Stops the follow once `done` holds or the deadline passed.
fn stopper(
    stop: Arc<AtomicBool>,
    done: impl Fn() -> bool + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let t = Instant::now();
        while !done() && t.elapsed() < DEADLINE {
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
    })
}

fn rec(n: usize) -> String {
    format!("2024-01-01T00:00:00.000000000Z stdout F line {n}\n")
}

/// Files created and deleted while the `--tail` scan runs are reported as lost: the watcher
/// (and its count of `IN_CREATE` events) starts before the scan. The scan's own warning (a
/// damaged `.gz` backup) is the moment the sink rotates the live file away, creates a new
/// one and deletes it, as a writer with max-file pruning does under load.
#[cfg(feature = "gzip")]
#[test]
fn file_created_and_pruned_during_tail_scan_is_reported() {
    struct Sink {
        dir: PathBuf,
        rotated: bool,
        warnings: Arc<Mutex<Vec<FileWarning>>>,
    }
    impl LogSink for Sink {
        fn write_stream(&mut self, _: Stream, _: &[u8]) -> io::Result<()> {
            Ok(())
        }
        fn warning(&mut self, w: &FileWarning) {
            if !self.rotated {
                self.rotated = true;
                let live = self.dir.join("c.log");
                fs::rename(&live, self.dir.join("c.log.1")).unwrap();
                fs::write(&live, rec(99)).unwrap();
                fs::remove_file(&live).unwrap();
            }
            self.warnings.lock().unwrap().push(w.clone());
        }
    }
    let d = tempfile::tempdir().unwrap();
    fs::write(d.path().join("c.log.2.gz"), b"not a gzip file at all").unwrap();
    fs::write(d.path().join("c.log"), rec(1) + &rec(2)).unwrap();
    let opts = ReadOptions {
        tail: Some(100),
        poll_interval: Duration::from_millis(20),
        ..ReadOptions::default()
    };
    let mut r = LogReader::open(d.path().join("c.log"), opts).unwrap();
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let lost = |w: &FileWarning| w.reason.contains("deleted before the follower could open");
    let stop = Arc::new(AtomicBool::new(false));
    let guard = {
        let w = warnings.clone();
        stopper(stop.clone(), move || w.lock().unwrap().iter().any(lost))
    };
    let mut sink = Sink {
        dir: d.path().to_path_buf(),
        rotated: false,
        warnings: warnings.clone(),
    };
    let res = r.follow(&mut sink, &stop);
    guard.join().unwrap();
    assert!(sink.rotated, "the damaged .gz was not reported: {res:?}");
    let w = warnings.lock().unwrap();
    assert!(
        w.iter().any(lost),
        "the file created and deleted during the tail scan was not reported: {w:?} ({res:?})"
    );
}

#[allow(dead_code)]
fn unused(_: &Path) {}
#[allow(dead_code)]
fn unused_w(w: &mut dyn Write) {
    let _ = w.flush();
}
