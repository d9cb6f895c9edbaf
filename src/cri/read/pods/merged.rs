//! Several containers' logs as one output (`kubectl logs --all-containers`), merged by the
//! timestamp of each logical line, with kubectl's `--prefix`.
//!
//! Each container is read by its own [`LogReader`] on a thread (tail, since, byte limit and
//! timestamps apply per container, as kubectl asks kubelet per container). The threads hand
//! batches of output to the caller's thread through bounded channels; each batch entry is a
//! run of bytes of one stream keyed by its logical line's first timestamp
//! ([`LogSink::line_start`]). The caller's thread writes entries k-way: always the smallest
//! key among the containers' next entries, so the output is ordered by time wherever each
//! container's own log is, and a container's own order is never changed. Memory: two
//! batches of about 64 KiB per container in flight, plus the readers' own buffers.
//!
//! Following, the backlog (what each reader finds before it first goes idle) is merged so;
//! after that no container can be waited for, so new output is written as it arrives, as
//! kubectl does for several containers; a logical line is never cut by another container's
//! output unless it is longer than a batch or pauses mid-line. The caller's thread sleeps
//! until a reader rings a shared doorbell after each send (a polling loop woke it every
//! 10 ms on idle containers).

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TryRecvError};
use std::sync::Arc;

use crate::cri::read::{FileWarning, LogReader, LogSink, ReadError, ReadStats, MAX_WARNINGS};
use crate::cri::Stream;
use crate::time::Timestamp;

/// Bytes gathered before a batch is handed over.
const BATCH: usize = 64 << 10;
/// Batches in flight per channel.
const DEPTH: usize = 2;

/// One container to read: its reader and the `--prefix` label.
#[derive(Debug)]
#[non_exhaustive]
pub struct ContainerSource {
    /// `[pod/<pod>/<container>] `, kubectl's `--prefix`.
    pub prefix: String,
    /// The container's log, opened with the read options.
    pub reader: LogReader,
}

impl ContainerSource {
    /// A source labelled as kubectl labels it: `[pod/<pod>/<container>] `.
    pub fn new(pod: &str, container: &str, reader: LogReader) -> Self {
        ContainerSource {
            prefix: format!("[pod/{pod}/{container}] "),
            reader,
        }
    }
}

#[derive(Debug)]
struct Entry {
    key: Timestamp,
    stream: Stream,
    starts_line: bool,
    end: usize,
}

#[derive(Debug, Default)]
struct Batch {
    buf: Vec<u8>,
    entries: Vec<Entry>,
}

enum Msg {
    Batch(Batch),
    Warning(FileWarning),
    /// The reader has read all there was (its first idle flush): the end of the backlog.
    Idle,
}

/// A reader thread's sink: output cut into keyed entries, sent in batches.
struct ChannelSink {
    idx: usize,
    tx: SyncSender<(usize, Msg)>,
    /// The doorbell: rung after each send. Its one slot holds at most one ring, so a full
    /// slot already wakes the caller's thread and a ring is never lost.
    bell: SyncSender<()>,
    batch: Batch,
    key: [Timestamp; 2],
    pending_start: [bool; 2],
    idle_sent: bool,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "output closed")
}

impl ChannelSink {
    fn send(&mut self, msg: Msg) -> io::Result<()> {
        self.tx.send((self.idx, msg)).map_err(|_| closed())?;
        let _ = self.bell.try_send(());
        Ok(())
    }

    fn send_batch(&mut self) -> io::Result<()> {
        if self.batch.entries.is_empty() {
            return Ok(());
        }
        let b = std::mem::take(&mut self.batch);
        self.batch.buf.reserve(BATCH);
        self.send(Msg::Batch(b))
    }
}

impl LogSink for ChannelSink {
    fn write_stream(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        let i = stream.index();
        let starts_line = std::mem::take(&mut self.pending_start[i]);
        self.batch.buf.extend_from_slice(data);
        let end = self.batch.buf.len();
        match self.batch.entries.last_mut() {
            Some(e) if !starts_line && e.stream == stream => e.end = end,
            _ => self.batch.entries.push(Entry {
                key: self.key[i],
                stream,
                starts_line,
                end,
            }),
        }
        if end >= BATCH {
            self.send_batch()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_batch()?;
        if !std::mem::replace(&mut self.idle_sent, true) {
            self.send(Msg::Idle)?;
        }
        Ok(())
    }

    fn warning(&mut self, w: &FileWarning) {
        // The output before it first, so the warning shows where it happened.
        let _ = self.send_batch();
        let _ = self.send(Msg::Warning(w.clone()));
    }

    fn line_start(&mut self, stream: Stream, timestamp: Timestamp) {
        self.key[stream.index()] = timestamp;
        self.pending_start[stream.index()] = true;
    }
}

/// A batch being written out.
struct Head {
    batch: Batch,
    next: usize,
}

impl Head {
    fn key(&self) -> Timestamp {
        self.batch.entries[self.next].key
    }
}

/// Writes the next entry of `head` (with its source's prefix when it starts a line).
fn write_entry<S: LogSink>(head: &mut Head, prefix: Option<&str>, sink: &mut S) -> io::Result<()> {
    let start = match head.next {
        0 => 0,
        n => head.batch.entries[n - 1].end,
    };
    let e = &head.batch.entries[head.next];
    if e.starts_line {
        sink.line_start(e.stream, e.key);
        if let Some(p) = prefix {
            sink.write_stream(e.stream, p.as_bytes())?;
        }
    }
    sink.write_stream(e.stream, &head.batch.buf[start..e.end])?;
    head.next += 1;
    Ok(())
}

/// Reads every source and writes their logical lines to `sink` ordered by timestamp
/// (each container's own order kept), each line prefixed with its source's
/// [`ContainerSource::prefix`] when `prefix` is set.
///
/// With `follow`, the readers follow their logs until the flag is set: the backlog is
/// merged by time, then output is written as it arrives. Returns the readers' stats added up; the first reader's error,
/// if any, once every other reader is done.
///
/// ```
/// use ctrlog::cri::read::{read_containers, ContainerSource, LogReader, MergedSink, ReadOptions};
/// let dir = tempfile::tempdir()?;
/// let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
/// std::fs::write(&a, "2024-01-01T00:00:01Z stdout F a1\n2024-01-01T00:00:03Z stdout F a3\n")?;
/// std::fs::write(&b, "2024-01-01T00:00:02Z stdout F b2\n")?;
/// let sources = vec![
///     ContainerSource::new("web", "a", LogReader::open(&a, ReadOptions::default())?),
///     ContainerSource::new("web", "b", LogReader::open(&b, ReadOptions::default())?),
/// ];
/// let mut out = MergedSink(Vec::new());
/// read_containers(sources, true, None, &mut out)?;
/// assert_eq!(out.0, b"[pod/web/a] a1\n[pod/web/b] b2\n[pod/web/a] a3\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_containers<S: LogSink>(
    sources: Vec<ContainerSource>,
    prefix: bool,
    follow: Option<Arc<AtomicBool>>,
    sink: &mut S,
) -> Result<ReadStats, ReadError> {
    let n = sources.len();
    let prefixes: Vec<String> = sources.iter().map(|s| s.prefix.clone()).collect();
    let prefix_of = |i: usize| prefix.then(|| prefixes[i].as_str());
    let (txs, rxs): (Vec<_>, Vec<_>) = (0..n).map(|_| sync_channel(DEPTH)).unzip();
    let (bell_tx, bell) = sync_channel(1);
    std::thread::scope(|scope| {
        let mut handles = Vec::with_capacity(n);
        for (idx, (src, tx)) in sources.into_iter().zip(txs).enumerate() {
            let stop = follow.clone();
            let bell = bell_tx.clone();
            handles.push(scope.spawn(move || {
                let mut reader = src.reader;
                let mut ch = ChannelSink {
                    idx,
                    tx,
                    bell,
                    batch: Batch::default(),
                    key: [Timestamp::default(); 2],
                    pending_start: [false; 2],
                    idle_sent: false,
                };
                let r = match &stop {
                    Some(stop) => reader.follow(&mut ch, stop),
                    None => reader.read_to(&mut ch),
                };
                r.and_then(|stats| ch.send_batch().map(|()| stats).map_err(ReadError::Output))
            }));
        }
        // Only the readers hold the bell's senders: once they are all gone, waiting on it ends.
        drop(bell_tx);
        let written = if follow.is_some() {
            // The backlog merged by time, then new output as it arrives.
            write_merged(&rxs, &prefix_of, true, sink).and_then(|()| {
                sink.flush()?;
                write_arrivals(&rxs, &bell, &prefix_of, sink)
            })
        } else {
            write_merged(&rxs, &prefix_of, false, sink)
        };
        drop(rxs);
        let written = written.and_then(|()| sink.flush());
        if written.is_err() {
            // The receivers are dropped: the readers' next send fails and they stop.
            if let Some(stop) = &follow {
                stop.store(true, Ordering::Relaxed);
            }
        }
        let mut total = ReadStats::default();
        let mut first_err = None;
        for h in handles {
            match h.join() {
                Ok(Ok(stats)) => add_stats(&mut total, stats),
                // A reader stopped by the closed output: the output error says it.
                Ok(Err(ReadError::Output(_))) if written.is_err() => {}
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        written.map_err(ReadError::Output)?;
        match first_err {
            Some(e) => Err(e),
            None => Ok(total),
        }
    })
}

/// Writes entries k-way by key until every source is closed (or, with `backlog`, idle once).
fn write_merged<'p, S: LogSink>(
    rxs: &[Receiver<(usize, Msg)>],
    prefix_of: &dyn Fn(usize) -> Option<&'p str>,
    backlog: bool,
    sink: &mut S,
) -> io::Result<()> {
    let mut heads: Vec<Option<Head>> = rxs.iter().map(|_| None).collect();
    let mut open: Vec<bool> = vec![true; rxs.len()];
    let mut last = usize::MAX;
    loop {
        // Every source must show its next entry (or be done) before the smallest is known.
        for (i, rx) in rxs.iter().enumerate() {
            while open[i] && heads[i].is_none() {
                match rx.recv() {
                    Ok((_, Msg::Batch(batch))) => heads[i] = Some(Head { batch, next: 0 }),
                    Ok((_, Msg::Warning(w))) => sink.warning(&w),
                    Ok((_, Msg::Idle)) => open[i] = !backlog,
                    Err(_) => open[i] = false,
                }
            }
        }
        // The smallest key; on a tie the source written last, so a line cut into several
        // entries stays whole.
        let pick = (0..heads.len())
            .filter_map(|i| heads[i].as_ref().map(|h| (h.key(), i != last, i)))
            .min();
        let Some((_, _, i)) = pick else {
            return Ok(());
        };
        let head = heads[i].as_mut().expect("picked a head");
        write_entry(head, prefix_of(i), sink)?;
        if head.next == head.batch.entries.len() {
            heads[i] = None;
        }
        last = i;
    }
}

/// Writes batches as they arrive until every source is closed, sleeping on `bell` while all
/// are quiet.
fn write_arrivals<'p, S: LogSink>(
    rxs: &[Receiver<(usize, Msg)>],
    bell: &Receiver<()>,
    prefix_of: &dyn Fn(usize) -> Option<&'p str>,
    sink: &mut S,
) -> io::Result<()> {
    let mut open = vec![true; rxs.len()];
    let mut bell_gone = false;
    while open.iter().any(|&o| o) {
        let mut quiet = true;
        for (i, rx) in rxs.iter().enumerate() {
            if !open[i] {
                continue;
            }
            let msg = rx.try_recv();
            // Any message, not only output: the ring that announced it may also have
            // announced the ones queued behind it (rings coalesce in the one slot), so the
            // thread sleeps only after a scan that found every channel empty.
            quiet &= msg.is_err();
            match msg {
                Ok((_, Msg::Batch(batch))) => {
                    let mut head = Head { batch, next: 0 };
                    while head.next < head.batch.entries.len() {
                        write_entry(&mut head, prefix_of(i), sink)?;
                    }
                    sink.flush()?;
                }
                Ok((_, Msg::Warning(w))) => sink.warning(&w),
                Ok((_, Msg::Idle)) | Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => open[i] = false,
            }
        }
        // A reader rings after its send, so a message that came after this scan has rung
        // (or found the slot full) and `recv` returns at once. When every reader is gone,
        // their channels are closed too and the next scan ends the loop.
        if quiet {
            if bell_gone {
                // Not expected (each reader drops its data sender with its bell sender); a
                // pause, not a spin, if a data sender outlived its bell.
                std::thread::sleep(std::time::Duration::from_millis(10));
            } else if bell.recv().is_err() {
                bell_gone = true;
            }
        }
    }
    Ok(())
}

fn add_stats(total: &mut ReadStats, s: ReadStats) {
    total.records += s.records;
    total.skipped += s.skipped;
    if total.first_skipped.is_none() {
        total.first_skipped = s.first_skipped;
    }
    total.files_skipped += s.files_skipped;
    let room = MAX_WARNINGS.saturating_sub(total.warnings.len());
    total.warnings.extend(s.warnings.into_iter().take(room));
    total.lines_out += s.lines_out;
    total.bytes_out += s.bytes_out;
    total.limit_reached |= s.limit_reached;
    total.files_read += s.files_read;
    total.rotations += s.rotations;
    total.truncations += s.truncations;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    /// Sends each write to the test.
    struct Probe(std::sync::mpsc::Sender<Vec<u8>>);

    impl LogSink for Probe {
        fn write_stream(&mut self, _: Stream, data: &[u8]) -> io::Result<()> {
            let _ = self.0.send(data.to_vec());
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
        fn warning(&mut self, _: &FileWarning) {}
    }

    /// Messages sent while the caller's thread was busy share one ring (the slot holds one):
    /// every one of them is still written before it sleeps. Here two warnings then output,
    /// as a reader sends them when the watcher reports two problems in one step (with
    /// `DEPTH` 2 the output's send blocks until the first warning is taken, and its ring
    /// finds the slot still full).
    #[test]
    fn messages_behind_one_ring_are_all_written() {
        let (tx, rx) = sync_channel(4);
        let (bell_tx, bell) = sync_channel(1);
        let warning = || {
            Msg::Warning(FileWarning {
                path: "0.log.gz".into(),
                reason: "damaged".into(),
            })
        };
        let batch = Batch {
            buf: b"out\n".to_vec(),
            entries: vec![Entry {
                key: Timestamp::default(),
                stream: Stream::Stdout,
                starts_line: true,
                end: 4,
            }],
        };
        for msg in [warning(), warning(), Msg::Batch(batch)] {
            tx.send((0, msg)).unwrap();
            let _ = bell_tx.try_send(());
        }
        let (seen_tx, seen) = channel();
        std::thread::scope(|s| {
            let writer =
                s.spawn(move || write_arrivals(&[rx], &bell, &|_| None, &mut Probe(seen_tx)));
            // Not a time limit on the writer: a guard so that a writer asleep with the
            // output queued fails the test instead of hanging it.
            let got = seen.recv_timeout(Duration::from_secs(20));
            // The reader ends: the writer wakes and returns either way.
            drop((tx, bell_tx));
            writer.join().unwrap().unwrap();
            assert_eq!(
                got.ok(),
                Some(b"out\n".to_vec()),
                "the output stayed queued while the caller's thread slept"
            );
        });
    }
}
