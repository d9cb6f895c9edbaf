//! One file of a set being read forward: where its bytes come from (a plain file with
//! `pread`, a `.gz` decoded as a stream, a pipe), the [`LineBuffer`] that frames them, and
//! the loop that feeds its lines to the [`Pipeline`].
//!
//! Nothing decompressed is ever written to disk: a `.gz` backup is decoded forward, and
//! read again from its start when it must be (tail finds where to start, then output
//! streams it again, skipping to that offset). A damaged `.gz` (truncated, as Docker's
//! compressor leaves it after a crash, or corrupt) yields what it decodes up to the damage,
//! then a [`FileWarning`](super::FileWarning) and the next file.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use super::files::LogFile;
use super::pipeline::{Go, Out, Pipeline, SkipReason};
use super::ReadError;
use crate::lines::{LineBuffer, LineItem, OffsetReader};
use crate::regular::FileId;

/// Bytes compared to recognise a file already read under a new inode (a backup compressed
/// after it was read, a copy made by copytruncate).
pub(crate) const HEAD_LEN: usize = 256;

/// A gzip decoder over a file read with `pread` from its start.
#[cfg(feature = "gzip")]
pub(crate) type GzStream = flate2::read::MultiGzDecoder<io::BufReader<OffsetReader<File>>>;

/// How the bytes of a [`Current`] file are read.
pub(crate) enum Decode {
    /// A regular uncompressed file: `pread` at the line buffer's offset (restartable after a
    /// truncation, unaffected by other handles' offsets).
    Plain,
    /// A `.gz` file decoded forward from its start; offsets are in the decompressed data.
    #[cfg(feature = "gzip")]
    Gzip(Box<GzStream>),
    /// A pipe or other input that cannot seek: `read(2)` on the handle.
    Stream,
}

impl std::fmt::Debug for Decode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decode::Plain => "Plain",
            #[cfg(feature = "gzip")]
            Decode::Gzip(_) => "Gzip",
            Decode::Stream => "Stream",
        })
    }
}

/// A gzip decoder of `file` from its start.
#[cfg(feature = "gzip")]
pub(crate) fn gz_stream(file: &File) -> io::Result<GzStream> {
    Ok(flate2::read::MultiGzDecoder::new(
        io::BufReader::with_capacity(1 << 16, OffsetReader::new(file.try_clone()?, 0)),
    ))
}

/// The decoder for a file of a set: plain, or gzip (an error without the `gzip` feature).
pub(crate) fn decode_for(f: &LogFile, file: &File) -> io::Result<Decode> {
    if !f.gzip {
        return Ok(Decode::Plain);
    }
    #[cfg(feature = "gzip")]
    {
        Ok(Decode::Gzip(Box::new(gz_stream(file)?)))
    }
    #[cfg(not(feature = "gzip"))]
    {
        let _ = file;
        Err(io::Error::other(
            "a compressed backup needs ctrlog's `gzip` feature",
        ))
    }
}

/// The file of a set being read.
#[derive(Debug)]
pub(crate) struct Current {
    /// The open handle (identity, size, `pread`).
    pub file: File,
    pub path: PathBuf,
    /// Its number in the read (positions are `(num, offset)`).
    pub num: usize,
    pub line_buf: LineBuffer,
    pub id: FileId,
    pub decode: Decode,
    /// Lines starting before this offset are not fed on (a `.gz` read again from its start
    /// up to where tail starts).
    pub skip_before: u64,
    /// A read error ends this file with a warning instead of failing the read (every file
    /// but the live one the user named).
    pub warn_on_error: bool,
    /// A read error (warned) ended it: nothing more is read.
    pub ended: bool,
}

impl Current {
    /// `file` of the set, read from `off` (for a `.gz`: decoded from its start, lines before
    /// `off` skipped).
    pub fn new(
        f: &LogFile,
        file: File,
        num: usize,
        id: FileId,
        off: u64,
        opts: (usize, usize),
    ) -> io::Result<Self> {
        let decode = decode_for(f, &file)?;
        let plain = matches!(decode, Decode::Plain);
        let (start, skip_before) = if plain { (off, 0) } else { (0, off) };
        Ok(Current {
            file,
            path: f.path.clone(),
            num,
            line_buf: LineBuffer::new(start, opts.0, opts.1),
            id,
            decode,
            skip_before,
            warn_on_error: f.backup.is_some(),
            ended: false,
        })
    }

    /// An input read forwards with `read(2)` (a pipe, a FIFO, standard input).
    pub fn stream(file: File, path: &std::path::Path, opts: (usize, usize)) -> Self {
        Current {
            file,
            path: path.to_path_buf(),
            num: 0,
            line_buf: LineBuffer::new(0, opts.0, opts.1),
            id: FileId { dev: 0, ino: 0 },
            decode: Decode::Stream,
            skip_before: 0,
            warn_on_error: false,
            ended: false,
        }
    }

    /// One read into the line buffer; 0 at the end (for now).
    pub fn fill(&mut self) -> io::Result<usize> {
        if self.ended {
            return Ok(0);
        }
        match &mut self.decode {
            Decode::Plain => self.line_buf.fill_at(&self.file),
            #[cfg(feature = "gzip")]
            Decode::Gzip(d) => self.line_buf.fill_from(d.as_mut()),
            Decode::Stream => self.line_buf.fill_from(&mut &self.file),
        }
    }

    /// The first [`HEAD_LEN`] bytes of its content (decompressed).
    pub fn head(&self) -> Vec<u8> {
        match self.decode {
            Decode::Plain => head_of_plain(&self.file),
            _ => head_of_gz(&self.file),
        }
    }
}

/// The first [`HEAD_LEN`] bytes of a plain file.
pub(crate) fn head_of_plain(file: &File) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEAD_LEN);
    let _ = OffsetReader::new(file, 0)
        .take(HEAD_LEN as u64)
        .read_to_end(&mut out);
    out
}

/// The first [`HEAD_LEN`] decompressed bytes of a file of a set (what a damaged `.gz`
/// yields of them; nothing without the `gzip` feature).
pub(crate) fn head_of(handle: &File, f: &LogFile) -> Vec<u8> {
    if !f.gzip {
        return head_of_plain(handle);
    }
    head_of_gz(handle)
}

fn head_of_gz(handle: &File) -> Vec<u8> {
    #[cfg(feature = "gzip")]
    {
        let mut out = Vec::with_capacity(HEAD_LEN);
        if let Ok(d) = gz_stream(handle) {
            let _ = d.take(HEAD_LEN as u64).read_to_end(&mut out);
        }
        out
    }
    #[cfg(not(feature = "gzip"))]
    {
        let _ = handle;
        Vec::new()
    }
}

/// Reads and processes every complete line now in the file, or up to the first line the
/// output pauses, stops or ends at (then call again to resume). A read error of a file that is
/// not the live one (a damaged `.gz`, EIO on a backup) is reported as a warning and ends
/// that file.
pub(crate) fn drain<S: Out>(
    pipe: &mut Pipeline,
    c: &mut Current,
    sink: &mut S,
) -> Result<Go, ReadError> {
    drain_upto(pipe, c, sink, u64::MAX)
}

/// [`drain`], returning once about `budget` bytes were read even if there is more (a
/// follower checks its stop flag between calls, also while a writer outpaces it).
pub(crate) fn drain_upto<S: Out>(
    pipe: &mut Pipeline,
    c: &mut Current,
    sink: &mut S,
    budget: u64,
) -> Result<Go, ReadError> {
    let r = drain_lines(pipe, c, sink, budget);
    pipe.sync_out();
    // The lines output stay in the buffer until the next fill: a sink that kept ranges of it
    // writes them now, whatever ended the drain.
    let released = sink.release(c.line_buf.window().1);
    let go = r?;
    released.map_err(ReadError::Output)?;
    Ok(go)
}

fn drain_lines<S: Out>(
    pipe: &mut Pipeline,
    c: &mut Current,
    sink: &mut S,
    budget: u64,
) -> Result<Go, ReadError> {
    let start = c.line_buf.read_off();
    loop {
        // Where the window handed to `release` starts: lines are at their offset past it.
        let base = c.line_buf.window().0;
        loop {
            // A Docker record is found and decoded in one pass over its bytes (not a newline
            // search, then the decoder's scan) when the decoder can: else framed below.
            if pipe.in_line_ready() {
                let off = c.line_buf.consumed_off();
                if off >= c.skip_before {
                    if let Some(buf) = c.line_buf.unframed() {
                        let at = usize::try_from(off - base).ok();
                        if let Some((r, len)) = pipe.line_in(&c.path, buf, (c.num, off), sink, at) {
                            c.line_buf.take_line(len);
                            let go = r.map_err(ReadError::Output)?;
                            if go != Go::Continue {
                                return Ok(go);
                            }
                            continue;
                        }
                    }
                }
            }
            match c.line_buf.next_line() {
                Some(LineItem::Line { offset: off, .. })
                | Some(LineItem::Overlong { offset: off, .. })
                    if off < c.skip_before => {}
                Some(LineItem::Line {
                    offset: off,
                    bytes: line,
                }) => {
                    pipe.in_line_framed();
                    // In the window by construction; `try_from` only guards 32-bit targets.
                    let at = usize::try_from(off - base).ok();
                    let go = pipe
                        .line_at(&c.path, line, (c.num, off), true, sink, at)
                        .map_err(ReadError::Output)?;
                    if go != Go::Continue {
                        return Ok(go);
                    }
                }
                Some(LineItem::Overlong { offset: off, .. }) => {
                    pipe.skip(&c.path, off, SkipReason::Overlong)
                }
                None => {
                    // No whole line left: what the in-line decoder did not take may have
                    // been a record cut by the end of the read, so it tries again after it.
                    pipe.in_line_retry();
                    break;
                }
            }
        }
        // Within one drain the read offset only grows (a truncation resets it between
        // drains): a smaller one is a bug, not "nothing read".
        let read = c
            .line_buf
            .read_off()
            .checked_sub(start)
            .expect("the read offset went back during a drain");
        if read >= budget {
            return Ok(Go::Continue);
        }
        sink.release(c.line_buf.window().1)
            .map_err(ReadError::Output)?;
        match c.fill() {
            Ok(0) => return Ok(Go::Continue),
            Ok(_) => {}
            Err(e) if c.warn_on_error || !matches!(c.decode, Decode::Plain | Decode::Stream) => {
                pipe.warn(&c.path, &e, sink);
                c.ended = true;
                return Ok(Go::Continue);
            }
            Err(e) => return Err(ReadError::io(&c.path, e)),
        }
    }
}

/// The unterminated bytes at the end of a file: printed (`print`) or skipped and counted.
pub(crate) fn end_fragment<S: Out>(
    pipe: &mut Pipeline,
    c: &mut Current,
    sink: &mut S,
    print: bool,
) -> Result<Go, ReadError> {
    // `finish`, not the buffer: a line longer than the record cap has had its start dropped
    // while it was being skipped, and its last bytes must never be read as a record of
    // their own (a forged one can hide there): it is skipped as overlong, at its start.
    let (off, frag) = match c.line_buf.finish() {
        None => return Ok(Go::Continue),
        Some(LineItem::Overlong { offset, .. }) => {
            c.line_buf.reset(c.line_buf.read_off());
            if offset >= c.skip_before {
                pipe.skip(&c.path, offset, SkipReason::Overlong);
            }
            return Ok(Go::Continue);
        }
        Some(LineItem::Line { offset, bytes }) => (offset, bytes.to_vec()),
    };
    c.line_buf.reset(c.line_buf.read_off());
    if off < c.skip_before {
        return Ok(Go::Continue);
    }
    if print {
        return pipe
            .line(&c.path, &frag, (c.num, off), false, sink)
            .map_err(ReadError::Output);
    }
    pipe.skip(&c.path, off, SkipReason::HalfWritten);
    Ok(Go::Continue)
}
