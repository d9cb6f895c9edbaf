//! `BackScanner` over a line spanning many blocks: linear work, bounded memory (issue 9
//! item 19). A counting global allocator measures the bytes allocated during the scan: a
//! scanner that allocates a new buffer per block and re-copies what it keeps allocates
//! (and copies) about `len² / (2 × block)` bytes, 32 GiB for a 64 MiB line.

use std::io::Write;
use std::sync::atomic::Ordering;

use ctrlog::cri::read::{LogReader, LogSink, ReadOptions};
use ctrlog::cri::Stream;
use ctrlog::lines::{BackScanner, LineItem};

use crate::{SERIAL, TOTAL};

const LINE: usize = 64 << 20;
const PREFIX: &str = "2024-01-01T00:00:00Z stdout F ";

/// Counts output bytes and keeps the last few.
#[derive(Default)]
struct Tally {
    len: usize,
    last: Vec<u8>,
}

impl LogSink for Tally {
    fn write_stream(&mut self, _: Stream, data: &[u8]) -> std::io::Result<()> {
        self.len += data.len();
        self.last
            .extend_from_slice(&data[data.len().saturating_sub(8)..]);
        let cut = self.last.len().saturating_sub(8);
        self.last.drain(..cut);
        Ok(())
    }
}

#[test]
fn a_64_mib_last_line_is_scanned_in_linear_work() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut f = tempfile::NamedTempFile::new().unwrap();
    let first = format!("{PREFIX}first\n");
    f.write_all(first.as_bytes()).unwrap();
    f.write_all(PREFIX.as_bytes()).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..LINE >> 20 {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b"\nunterminated").unwrap();
    f.flush().unwrap();
    let file = f.as_file();
    let size = file.metadata().unwrap().len();
    let second_len = PREFIX.len() + LINE + 1;

    let before = TOTAL.load(Ordering::SeqCst);
    let mut items = Vec::new();
    {
        let mut b = BackScanner::new(file, size, 64 << 10, 80 << 20).unwrap();
        while let Some(item) = b.prev().unwrap() {
            items.push(match item {
                LineItem::Line { offset, bytes } => (offset, bytes.len(), bytes.ends_with(b"x\n")),
                LineItem::Overlong { offset, .. } => panic!("overlong at {offset}"),
            });
        }
    }
    let allocated = TOTAL.load(Ordering::SeqCst) - before;
    assert_eq!(
        items,
        [
            (first.len() as u64, second_len, true),
            (0, first.len(), false)
        ]
    );
    assert!(
        allocated <= 4 * LINE,
        "allocated {allocated} bytes to scan a {LINE}-byte line"
    );

    // Under the cap it is skipped, in the same linear work.
    let before = TOTAL.load(Ordering::SeqCst);
    let mut b = BackScanner::new(file, size, 64 << 10, 1 << 20).unwrap();
    assert_eq!(
        b.prev().unwrap(),
        Some(LineItem::Overlong {
            offset: first.len() as u64,
            len: second_len as u64 - 1
        })
    );
    assert!(matches!(
        b.prev().unwrap(),
        Some(LineItem::Line { offset: 0, .. })
    ));
    assert!(TOTAL.load(Ordering::SeqCst) - before <= 4 << 20);

    // `--tail 1` through the reader prints the whole line.
    let mut out = Tally::default();
    let mut opts = ReadOptions::default();
    opts.tail = Some(1);
    opts.max_record_len = 80 << 20;
    let st = LogReader::open(f.path(), opts)
        .unwrap()
        .read_to(&mut out)
        .unwrap();
    // The line's content and its newline; the unterminated garbage after it is skipped.
    assert_eq!(
        (out.len, out.last.as_slice()),
        (LINE + 1, &b"xxxxxxx\n"[..])
    );
    assert_eq!((st.lines_out, st.skipped), (1, 1));
}
