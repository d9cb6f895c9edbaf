//! A sink that fails part way through a batch (adversarial pass on issue 9: `ctrlog write`
//! to stdout under `ulimit -f` reported the whole batch lost although its first records
//! reached the file, and left a torn record): the count is exact, and a regular file keeps
//! its whole records and loses only the torn one.

use std::io;
use std::os::unix::fs::OpenOptionsExt;

use ctrlog::cri::write::{CriEncoder, FileWriter, LogWriter, PartialWrite, RecordWriter};
use ctrlog::cri::Stream;
use ctrlog::time::{FixedClock, Offset, Timestamp};

/// Takes `room` bytes in all, then fails with ENOSPC, saying how much of the batch went in.
struct Cramped {
    got: Vec<u8>,
    room: usize,
}

impl RecordWriter for Cramped {
    fn write_records(&mut self, records: &[u8]) -> io::Result<()> {
        let n = records.len().min(self.room - self.got.len());
        self.got.extend_from_slice(&records[..n]);
        if n == records.len() {
            return Ok(());
        }
        Err(PartialWrite::error(
            n,
            io::Error::from_raw_os_error(libc::ENOSPC),
        ))
    }
}

#[test]
fn log_writer_counts_the_whole_records_of_a_partial_write() {
    let input: String = (0..1000).map(|i| format!("line {i}\n")).collect();
    let sink = Cramped {
        got: Vec::new(),
        room: 5000,
    };
    let mut w = LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), sink)
        .with_clock(FixedClock(Timestamp::new(0, 0)));
    let s = w.copy_from(input.as_bytes()).unwrap();
    let got = &w.get_mut().got;
    let whole = got.iter().filter(|&&b| b == b'\n').count() as u64;
    assert!(whole > 0 && whole < 1000);
    assert_eq!(s.records, whole);
    assert_eq!(s.records_lost, 1000 - whole);
    assert_eq!(s.write_errors, 1);
    let end = got.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    assert_eq!(s.bytes_written, end as u64);
    assert_eq!(s.last_write_error, Some(io::ErrorKind::StorageFull));
}

/// RLIMIT_FSIZE makes the kernel take a short write up to the limit, then EFBIG: the file keeps
/// its whole records, the torn one is cut, and the descriptor (opened without `O_APPEND`, as a
/// shell's `>`) is moved back so the next record follows without a hole. A descriptor that
/// writes inside a file never cuts what follows.
#[test]
fn file_sink_keeps_whole_records_and_cuts_the_torn_one() {
    // The file-size limit is the whole process's: no other test may write meanwhile.
    let _g = crate::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.log");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    let mut sink = FileWriter::new(file);
    let batch: Vec<u8> = (0..100)
        .flat_map(|i| format!("record {i:03}\n").into_bytes())
        .collect();
    // SAFETY: plain libc calls on valid arguments; the old limit is restored right after.
    let err = unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut old: libc::rlimit = std::mem::zeroed();
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut old), 0);
        let lim = libc::rlimit {
            rlim_cur: 500,
            rlim_max: old.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
        let r = sink.write_records(&batch);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &old), 0);
        r.unwrap_err()
    };
    assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
    // 500 bytes hold 45 records of 11 bytes (495) and 5 torn bytes.
    assert_eq!(PartialWrite::written(&err), 495);
    assert_eq!(std::fs::read(&path).unwrap(), &batch[..495]);
    sink.write_records(b"next\n").unwrap();
    let mut want = batch[..495].to_vec();
    want.extend_from_slice(b"next\n");
    assert_eq!(std::fs::read(&path).unwrap(), want);
}
