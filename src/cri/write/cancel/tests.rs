//! The cancellable copy, driven by test signals and readers: no sleeps.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::*;
use crate::cri::write::{CriEncoder, LogWriter, WriteError};
use crate::cri::Stream;
use crate::time::{FixedClock, Offset, Timestamp};

type Writer = LogWriter<CriEncoder, Vec<u8>, FixedClock>;

fn writer() -> Writer {
    LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), Vec::new())
        .with_clock(FixedClock(Timestamp::new(0, 0)))
}

/// The contents of the records in `w`'s output, as `P`/`F` plus content.
fn records(w: Writer) -> Vec<String> {
    String::from_utf8(w.into_inner())
        .unwrap()
        .lines()
        .map(|l| {
            l.strip_prefix("1970-01-01T00:00:00Z stdout ")
                .unwrap()
                .to_owned()
        })
        .collect()
}

const DRAIN_ALL: StopPolicy = StopPolicy::Drain {
    max_bytes: u64::MAX,
    max_wait: Duration::ZERO,
};

/// Yields its chunks one per read, calling `after(i)` once chunk `i` was returned; counts reads.
struct Chunks<'a, F: Fn(usize)> {
    chunks: &'a [&'a [u8]],
    next: usize,
    after: F,
    reads: &'a Cell<usize>,
}

impl<F: Fn(usize)> Read for Chunks<'_, F> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads.set(self.reads.get() + 1);
        let Some(c) = self.chunks.get(self.next) else {
            return Ok(0);
        };
        assert!(c.len() <= buf.len(), "test chunks fit one read");
        buf[..c.len()].copy_from_slice(c);
        (self.after)(self.next);
        self.next += 1;
        Ok(c.len())
    }
}

const CHUNKS: &[&[u8]] = &[b"one\ntw", b"o\nthr", b"ee\n", b"four"];

fn chunks<'a>(reads: &'a Cell<usize>, after: impl Fn(usize) + 'a) -> impl Read + 'a {
    Chunks {
        chunks: CHUNKS,
        next: 0,
        after,
        reads,
    }
}

#[test]
fn no_stop_runs_to_eof_like_copy_from() {
    let reads = Cell::new(0);
    let mut a = writer();
    let end = a.copy_until(chunks(&reads, |_| {}), NoStop, StopPolicy::Now);
    assert_eq!(end.unwrap(), CopyEnd::Eof);
    let mut b = writer();
    let s = b.copy_from(chunks(&reads, |_| {})).unwrap();
    assert_eq!(a.summary(), &s);
    assert_eq!(s.records, 4);
    assert_eq!(s.bytes_read, 18);
    assert_eq!(records(a), ["F one", "F two", "F three", "P four"]);
    assert_eq!(records(b), ["F one", "F two", "F three", "P four"]);
}

#[test]
fn stopped_before_start_reads_nothing() {
    let stop = AtomicBool::new(true);
    let reads = Cell::new(0);
    let mut w = writer();
    let end = w.copy_until(chunks(&reads, |_| {}), &stop, StopPolicy::Now);
    assert_eq!(end.unwrap(), CopyEnd::Stopped);
    assert_eq!(reads.get(), 0);
    assert_eq!(w.summary().bytes_read, 0);
    assert!(records(w).is_empty());
}

#[test]
fn stopped_mid_stream_writes_the_tail_read_so_far() {
    let stop = AtomicBool::new(false);
    let reads = Cell::new(0);
    let mut w = writer();
    // The second chunk trips the stop: nothing after it is read.
    let trip = |i: usize| stop.store(i == 1, Ordering::Release);
    let end = w.copy_until(chunks(&reads, trip), &stop, StopPolicy::Now);
    assert_eq!(end.unwrap(), CopyEnd::Stopped);
    assert_eq!(reads.get(), 2);
    assert_eq!(w.summary().bytes_read, 11);
    assert_eq!(w.summary().partial_records, 1);
    assert_eq!(records(w), ["F one", "F two", "P thr"]);
}

#[test]
fn a_drain_reads_to_eof() {
    let stop = AtomicBool::new(false);
    let reads = Cell::new(0);
    let mut w = writer();
    let trip = |i: usize| stop.store(i == 0, Ordering::Release);
    let end = w.copy_until(chunks(&reads, trip), &stop, DRAIN_ALL);
    assert_eq!(end.unwrap(), CopyEnd::Eof);
    assert_eq!(reads.get(), 5);
    assert_eq!(records(w), ["F one", "F two", "F three", "P four"]);
}

#[test]
fn a_drain_stops_at_its_byte_limit() {
    let stop = AtomicBool::new(true);
    let reads = Cell::new(0);
    let mut w = writer();
    // Checked before each read: 6 + 5 bytes reach 10, the third chunk is not read.
    let policy = StopPolicy::Drain {
        max_bytes: 10,
        max_wait: Duration::ZERO,
    };
    let end = w.copy_until(chunks(&reads, |_| {}), &stop, policy);
    assert_eq!(end.unwrap(), CopyEnd::DrainLimit);
    assert_eq!(reads.get(), 2);
    assert_eq!(records(w), ["F one", "F two", "P thr"]);
    // A zero limit reads nothing.
    let mut w = writer();
    let policy = StopPolicy::Drain {
        max_bytes: 0,
        max_wait: Duration::ZERO,
    };
    let end = w.copy_until(chunks(&reads, |_| {}), &stop, policy);
    assert_eq!(end.unwrap(), CopyEnd::DrainLimit);
    assert_eq!(w.summary().bytes_read, 0);
}

/// Plays back a script of wakes and records what it was asked.
struct Script {
    wakes: Vec<io::Result<Wake>>,
    asked: Vec<(bool, Option<Duration>)>,
}

impl StopSignal for &mut Script {
    fn wait(&mut self, watch_stop: bool, timeout: Option<Duration>) -> io::Result<Wake> {
        self.asked.push((watch_stop, timeout));
        assert!(
            !self.wakes.is_empty(),
            "the copy asked more than the script says"
        );
        self.wakes.remove(0)
    }
}

fn script(wakes: Vec<io::Result<Wake>>) -> Script {
    Script {
        wakes,
        asked: Vec::new(),
    }
}

#[test]
fn the_drain_waits_no_longer_than_its_time() {
    let reads = Cell::new(0);
    let hour = Duration::from_secs(3600);
    let mut s = script(vec![
        Ok(Wake::Input),
        Ok(Wake::Idle), // not draining: ask again
        Ok(Wake::Stop),
        Ok(Wake::Input),
        Ok(Wake::Idle), // draining, time left: ask again
        Ok(Wake::Input),
        Ok(Wake::Input),
        Ok(Wake::Input), // end of input
    ]);
    let mut w = writer();
    let policy = StopPolicy::Drain {
        max_bytes: u64::MAX,
        max_wait: hour,
    };
    let end = w.copy_until(chunks(&reads, |_| {}), &mut s, policy);
    assert_eq!(end.unwrap(), CopyEnd::Eof);
    assert!(s.wakes.is_empty());
    assert_eq!(s.asked[..3], [(true, None); 3]);
    for &(watch_stop, t) in &s.asked[3..] {
        assert!(!watch_stop);
        let t = t.expect("a drain's wait is bounded");
        assert!(t <= hour && t > hour - Duration::from_secs(600), "{t:?}");
    }
    assert_eq!(records(w), ["F one", "F two", "F three", "P four"]);
}

#[test]
fn a_drain_without_time_reads_only_what_is_ready() {
    let reads = Cell::new(0);
    let mut s = script(vec![Ok(Wake::Stop), Ok(Wake::Input), Ok(Wake::Idle)]);
    let mut w = writer();
    let end = w.copy_until(chunks(&reads, |_| {}), &mut s, DRAIN_ALL);
    assert_eq!(end.unwrap(), CopyEnd::Stopped);
    let zero = Some(Duration::ZERO);
    assert_eq!(s.asked, [(true, None), (false, zero), (false, zero)]);
    assert_eq!(reads.get(), 1);
    assert_eq!(records(w), ["F one", "P tw"]);
}

#[test]
fn a_stop_during_the_drain_does_not_start_it_again() {
    // A signal that reports the stop again while draining (it was not asked to): that counts
    // as nothing ready, so the drain without time ends, and its byte limit is not reset.
    let reads = Cell::new(0);
    let mut s = script(vec![Ok(Wake::Stop), Ok(Wake::Input), Ok(Wake::Stop)]);
    let mut w = writer();
    let end = w.copy_until(chunks(&reads, |_| {}), &mut s, DRAIN_ALL);
    assert_eq!(end.unwrap(), CopyEnd::Stopped);
    assert_eq!(reads.get(), 1);
    let mut s = script(vec![
        Ok(Wake::Stop),
        Ok(Wake::Input),
        Ok(Wake::Stop),
        Ok(Wake::Input),
    ]);
    let policy = StopPolicy::Drain {
        max_bytes: 7,
        max_wait: Duration::from_secs(3600),
    };
    let mut w = writer();
    let end = w.copy_until(chunks(&reads, |_| {}), &mut s, policy);
    assert_eq!(end.unwrap(), CopyEnd::DrainLimit);
    assert_eq!(w.summary().bytes_read, 11);
}

#[test]
fn a_failed_wait_is_a_read_error_after_the_tail() {
    let reads = Cell::new(0);
    let enomem = io::Error::from_raw_os_error(libc::ENOMEM);
    let mut s = script(vec![Ok(Wake::Input), Err(enomem)]);
    let mut w = writer();
    match w.copy_until(chunks(&reads, |_| {}), &mut s, DRAIN_ALL) {
        Err(WriteError::Read { offset, source }) => {
            assert_eq!(offset, 6);
            assert_eq!(source.raw_os_error(), Some(libc::ENOMEM));
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(records(w), ["F one", "P tw"]);
}

/// `data`, then one `Interrupted`, then `error` (if any) or end of input.
struct Failing(&'static [u8], u8, Option<io::ErrorKind>);

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.1 += 1;
        match self.1 {
            1 => {
                buf[..self.0.len()].copy_from_slice(self.0);
                Ok(self.0.len())
            }
            2 => Err(io::ErrorKind::Interrupted.into()),
            _ => self.2.map_or(Ok(0), |k| Err(k.into())),
        }
    }
}

#[test]
fn interrupted_reads_are_retried_and_read_errors_end_the_copy() {
    let stop = AtomicBool::new(false);
    let mut w = writer();
    let end = w.copy_until(Failing(b"a\nb", 0, None), &stop, StopPolicy::Now);
    assert_eq!(end.unwrap(), CopyEnd::Eof);
    assert_eq!(records(w), ["F a", "P b"]);
    let mut w = writer();
    let broken = Some(io::ErrorKind::BrokenPipe);
    match w.copy_until(Failing(b"a\nb", 0, broken), &stop, StopPolicy::Now) {
        Err(WriteError::Read { offset: 3, source }) => {
            assert_eq!(source.kind(), io::ErrorKind::BrokenPipe)
        }
        r => panic!("{r:?}"),
    }
    assert_eq!(records(w), ["F a", "P b"]);
}

/// A container's pipe and the stop pipe, as the `binary://` driver has them.
struct Pipes {
    input: UnixStream,
    container: Option<UnixStream>,
    stop: UnixStream,
    stopper: UnixStream,
}

fn pipes(written: &[u8]) -> Pipes {
    let (input, mut container) = UnixStream::pair().unwrap();
    let (stop, stopper) = UnixStream::pair().unwrap();
    container.write_all(written).unwrap();
    Pipes {
        input,
        container: Some(container),
        stop,
        stopper,
    }
}

impl Pipes {
    fn copy(&self, w: &mut Writer, policy: StopPolicy) -> CopyEnd {
        let signal = PollStop::new(self.input.as_fd(), self.stop.as_fd());
        w.copy_until(&self.input, signal, policy).unwrap()
    }

    fn request_stop(&mut self) {
        self.stopper.write_all(&[1]).unwrap();
    }
}

#[test]
fn poll_stop_runs_to_eof_without_a_stop() {
    let mut p = pipes(b"a\nb");
    p.container = None;
    let mut w = writer();
    assert_eq!(p.copy(&mut w, StopPolicy::Now), CopyEnd::Eof);
    assert_eq!(records(w), ["F a", "P b"]);
}

#[test]
fn poll_stop_stops_a_copy_whose_input_is_silent() {
    // The input is open and empty: a plain read would block for ever.
    let mut p = pipes(b"");
    p.request_stop();
    let mut w = writer();
    assert_eq!(p.copy(&mut w, DRAIN_ALL), CopyEnd::Stopped);
    assert_eq!(w.summary().bytes_read, 0);
    // With a little time to wait, it still ends (the time is up, the input silent).
    let timed = StopPolicy::Drain {
        max_bytes: u64::MAX,
        max_wait: Duration::from_millis(5),
    };
    assert_eq!(p.copy(&mut w, timed), CopyEnd::Stopped);
    assert_eq!(w.summary().bytes_read, 0);
}

#[test]
fn poll_stop_drains_what_the_pipe_holds() {
    let mut p = pipes(b"a\nb");
    p.request_stop();
    // Stop first: nothing is read with `Now`, even though the input is readable.
    let mut w = writer();
    assert_eq!(p.copy(&mut w, StopPolicy::Now), CopyEnd::Stopped);
    assert_eq!(w.summary().bytes_read, 0);
    // The drain reads it, and stops without end of input.
    assert_eq!(p.copy(&mut w, DRAIN_ALL), CopyEnd::Stopped);
    assert_eq!(records(w), ["F a", "P b"]);
    // Or reads to end of input when the writer is gone.
    let mut p = pipes(b"a\nb");
    p.request_stop();
    p.container = None;
    let mut w = writer();
    assert_eq!(p.copy(&mut w, DRAIN_ALL), CopyEnd::Eof);
    assert_eq!(records(w), ["F a", "P b"]);
}
