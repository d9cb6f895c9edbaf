//! `LogReader::next_line` reuses the caller's line: once its buffers have grown, a pull loop
//! allocates nothing per line (issue 12 item 1, csv's `read_record` contract).

use ctrlog::cri::read::{LogLine, LogReader, ReadOptions};

use super::{allocs_so_far, SERIAL};

#[test]
fn next_line_allocates_nothing_per_line() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/real/containerd/cri-seq-1-5000.log"
    );
    for opts in [ReadOptions::default(), {
        let mut o = ReadOptions::default();
        o.tail = Some(4000);
        o
    }] {
        let mut r = LogReader::open_single(path, opts).unwrap();
        let mut line = LogLine::new();
        // Warm-up: the reader's buffers and the lines it swaps in and out.
        for _ in 0..100 {
            assert!(r.next_line(&mut line).unwrap());
        }
        let before = allocs_so_far();
        let mut n = 0;
        while r.next_line(&mut line).unwrap() {
            n += 1;
        }
        let allocs = allocs_so_far() - before;
        assert!(n > 3000, "{n}");
        assert_eq!(allocs, 0, "{allocs} allocations for {n} lines");
    }
}
