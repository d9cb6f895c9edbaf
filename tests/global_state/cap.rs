//! `runc::cap::cap_log` holds no record whole: a log.json with an 8 MB record capped to 9 MB
//! (the record kept, copied through the fixed buffer) peaks at a few MB of heap.

use std::fs;
use std::io::Write;
use std::sync::atomic::Ordering;

use ctrlog::runc::cap::{cap_log, CapOptions};

use crate::{CUR, PEAK, SERIAL};

#[test]
fn capping_a_file_with_an_8_mb_record_stays_under_4_mib_of_heap() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.json");
    let mut f = fs::File::create(&path).unwrap();
    f.write_all(b"{\"level\":\"error\",\"msg\":\"the old error\"}\n")
        .unwrap();
    let filler = b"{\"level\":\"info\",\"msg\":\"filler\"}\n".repeat(100_000); // 3.2 MB
    f.write_all(&filler).unwrap();
    f.write_all(b"{\"level\":\"warning\",\"msg\":\"").unwrap();
    f.write_all(&vec![b'x'; 8_000_000]).unwrap();
    f.write_all(b"\"}\n{\"level\":\"info\",\"msg\":\"last\"}\n")
        .unwrap();
    drop(f);
    let mut opts = CapOptions::default();
    opts.max_size = 9_000_000;
    let base = CUR.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let r = cap_log(&path, &opts).unwrap();
    let peak = PEAK.load(Ordering::SeqCst).saturating_sub(base);
    assert!(r.capped && r.kept_last_error, "{r:?}");
    let kept = fs::read(&path).unwrap();
    assert!(kept.starts_with(b"{\"level\":\"error\",\"msg\":\"the old error\"}\n"));
    assert!(kept.ends_with(b"\"}\n{\"level\":\"info\",\"msg\":\"last\"}\n"));
    assert!(
        kept.len() > 8_000_000 && kept.len() <= 9_000_000,
        "{}",
        kept.len()
    );
    eprintln!("cap peak heap: {peak} bytes");
    assert!(peak < 4 << 20, "peak heap {peak} bytes");
}
