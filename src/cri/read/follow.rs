//! Following a log and its rotations (`LogReader::follow`, `ctrlog logs -f`).

use std::fs::{self, File};
use std::sync::atomic::{AtomicBool, Ordering};

use super::emit::{Flow, LogSink};
use super::files::{plain, snapshot, LogFile, Opened};
use super::pipeline::Pipeline;
use super::reader::{drain, end_fragment, Current, LogReader};
use super::scan::Chunker;
use super::ReadError;

/// Bytes compared to recognise a file already read under a new inode (a backup compressed
/// after it was read, a copy made by copytruncate).
const HEAD_LEN: usize = 256;

/// A file read to its end while following.
#[derive(Debug)]
pub(super) struct Seen {
    pub(super) id: (u64, u64),
    pub(super) head: Vec<u8>,
}

impl Seen {
    /// Same content start, and the same inode or a non-empty start: a reused inode number
    /// with other content is a new file; a compressed or copied backup is not.
    fn same(&self, id: (u64, u64), head: &[u8]) -> bool {
        self.head == head && (self.id == id || !head.is_empty())
    }
}

/// The first [`HEAD_LEN`] bytes of a plain (decompressed) file.
pub(super) fn head_of_plain(file: &File) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; HEAD_LEN];
    let mut n = 0;
    while n < HEAD_LEN {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    buf.truncate(n);
    buf
}

/// The first [`HEAD_LEN`] decompressed bytes of a file of a set.
fn head_of(handle: &File, f: &LogFile) -> Vec<u8> {
    if !f.gzip {
        return head_of_plain(handle);
    }
    gz_head(handle)
}

#[cfg(feature = "gzip")]
fn gz_head(handle: &File) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut h) = handle.try_clone() else {
        return Vec::new();
    };
    if h.seek(SeekFrom::Start(0)).is_err() {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(HEAD_LEN);
    let _ = flate2::read::MultiGzDecoder::new(h)
        .take(HEAD_LEN as u64)
        .read_to_end(&mut out);
    out
}

#[cfg(not(feature = "gzip"))]
fn gz_head(_handle: &File) -> Vec<u8> {
    Vec::new()
}

impl LogReader {
    pub(super) fn follow_loop<S: LogSink>(
        &mut self,
        pipe: &mut Pipeline,
        mut cur: Option<Current>,
        mut done: Vec<Seen>,
        sink: &mut S,
        stop: &AtomicBool,
    ) -> Result<(), ReadError> {
        let mut next_num = self.files.len();
        let mut rotation_seen = false;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            if let Some(c) = cur.as_mut() {
                let before = c.chunker.read_off;
                if drain(pipe, c, sink)? == Flow::LimitReached {
                    return Ok(());
                }
                if c.chunker.read_off != before {
                    rotation_seen = false;
                    continue;
                }
                // Idle: truncated?
                let len = c
                    .file
                    .metadata()
                    .map_err(|e| ReadError::io(&c.path, e))?
                    .len();
                if len < c.chunker.read_off {
                    pipe.stats.truncations += 1;
                    c.chunker.reset(0);
                    continue;
                }
            }
            sink.flush().map_err(ReadError::Output)?;
            // Rotated (renamed/removed and recreated)?
            let live = fs::metadata(&self.path).ok().map(|m| {
                use std::os::unix::fs::MetadataExt;
                (m.dev(), m.ino())
            });
            let rotated = match (&cur, live) {
                (Some(c), Some(id)) => id != c.id,
                (Some(_), None) => true,
                (None, Some(_)) => true,
                (None, None) => false,
            };
            if rotated {
                if cur.is_some() && !rotation_seen {
                    // Give the writer one more poll to finish with the old file.
                    rotation_seen = true;
                    std::thread::sleep(self.opts.poll_interval);
                    continue;
                }
                rotation_seen = false;
                if let Some(mut c) = cur.take() {
                    if drain(pipe, &mut c, sink)? == Flow::LimitReached {
                        return Ok(());
                    }
                    end_fragment(pipe, &mut c, sink, false)?;
                    done.push(Seen {
                        id: c.id,
                        head: head_of_plain(&c.file),
                    });
                    pipe.stats.rotations += 1;
                }
                // Files written since: the backups newer than the old file, then the live one.
                let snap = snapshot(&self.path)?;
                for (f, e) in &snap.problems {
                    pipe.warn(&f.path, e, sink);
                }
                let set = snap.files;
                let heads: Vec<Vec<u8>> = set.iter().map(|(f, h, _)| head_of(h, f)).collect();
                let is_done =
                    |done: &[Seen], k: usize| done.iter().any(|d| d.same(set[k].2, &heads[k]));
                done.retain(|d| (0..set.len()).any(|k| d.same(set[k].2, &heads[k])));
                let after = (0..set.len())
                    .rposition(|k| is_done(&done, k))
                    .map_or(0, |i| i + 1);
                let mut found = Vec::new();
                for k in after..set.len() {
                    if !is_done(&done, k) {
                        found.push(k);
                    }
                }
                let mut set: Vec<Option<Opened>> = set.into_iter().map(Some).collect();
                for k in found {
                    let Some((f, handle, id)) = set[k].take() else {
                        continue;
                    };
                    let Ok(file) = plain(handle, &f) else {
                        continue;
                    };
                    let mut c = Current {
                        file,
                        path: f.path.clone(),
                        num: next_num,
                        chunker: Chunker::new(0, self.opts.read_size, self.opts.max_record_len),
                        id,
                    };
                    next_num += 1;
                    pipe.stats.files_read += 1;
                    if f.scheme.is_none() {
                        cur = Some(c);
                        break;
                    }
                    if drain(pipe, &mut c, sink)? == Flow::LimitReached {
                        return Ok(());
                    }
                    end_fragment(pipe, &mut c, sink, false)?;
                    done.push(Seen {
                        id,
                        head: heads[k].clone(),
                    });
                }
                continue;
            }
            std::thread::sleep(self.opts.poll_interval);
        }
    }
}
