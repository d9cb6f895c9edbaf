//! The sans-IO line splitter: bytes in, `(Tag, content)` pieces out.

use std::num::NonZeroUsize;

use crate::cri::Tag;
use crate::lines::extend_capped;

mod newlines;

#[cfg(target_arch = "x86_64")]
pub(crate) use newlines::Avx2 as Avx2Newlines;
use newlines::Newlines;
pub(crate) use newlines::{Baseline, NewlineMask};

/// containerd's default `max_container_log_line_size` (and Docker's copier buffer): 16 KiB.
pub const DEFAULT_MAX_LEN: usize = 16 * 1024;

/// Default [`SplitOptions::memory_cap`]: the most a splitter buffers for one line, 2 MiB.
pub const DEFAULT_MEMORY_CAP: usize = 2 * 1024 * 1024;

/// The maximum content length of one record (containerd's `max_container_log_line_size`).
///
/// # Overlong lines
///
/// A line longer than the limit is never dropped or truncated: it is cut into `P` (partial)
/// records of exactly the limit, and the rest of the line closes it in one `F` (full) record.
/// Readers (kubelet, `ctrlog logs`) join the pieces back. Cuts are byte-based: a UTF-8
/// character may be split between two records, exactly as in containerd and Docker.
///
/// # Differences from containerd
///
/// * `Bytes(n)` for `n` from 1 to 15: containerd silently reads through a 16-byte buffer and
///   panics (killing the daemon) on a line of 17 bytes or more; ctrlog cuts at exactly `n`.
/// * [`Unlimited`](MaxLen::Unlimited) (containerd's `0` or `-1`): containerd keeps the whole
///   line in memory (it grew to ~3.6x the line: 960 MB for a 256 MiB line). ctrlog buffers at
///   most the splitter's memory cap ([`DEFAULT_MEMORY_CAP`]) and, past it, emits `P` records
///   of the cap's size, which every CRI reader merges back. The same cap also bounds a large
///   `Bytes(n)`: records are never longer than `min(n, cap)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MaxLen {
    /// Records hold at most this many content bytes.
    Bytes(NonZeroUsize),
    /// No line length limit (only the memory cap applies).
    Unlimited,
}

impl MaxLen {
    /// containerd's default, 16384 bytes.
    pub const CONTAINERD_DEFAULT: MaxLen = match NonZeroUsize::new(DEFAULT_MAX_LEN) {
        Some(n) => MaxLen::Bytes(n),
        None => MaxLen::Unlimited,
    };

    /// containerd's `max_container_log_line_size` meaning: `n <= 0` is unlimited.
    ///
    /// ```
    /// use ctrlog::cri::write::MaxLen;
    /// assert_eq!(MaxLen::from_signed(-1), MaxLen::Unlimited);
    /// assert_eq!(MaxLen::from_signed(0), MaxLen::Unlimited);
    /// assert_eq!(MaxLen::from_signed(16384), MaxLen::CONTAINERD_DEFAULT);
    /// ```
    pub fn from_signed(n: i64) -> MaxLen {
        match usize::try_from(n).ok().and_then(NonZeroUsize::new) {
            Some(n) => MaxLen::Bytes(n),
            None if n > 0 => MaxLen::Bytes(NonZeroUsize::MAX),
            None => MaxLen::Unlimited,
        }
    }
}

impl Default for MaxLen {
    fn default() -> Self {
        MaxLen::CONTAINERD_DEFAULT
    }
}

/// What happens to a `\r` directly before a line's `\n`.
///
/// Only the one `\r` directly before `\n` is concerned; every other `\r` is content, and so is
/// a `\r` at the very end of input (an unterminated tail keeps all its bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CrPolicy {
    /// Drop it with the `\n` (containerd's CRI logger), also when the `\r\n` pair straddles two
    /// input chunks.
    #[default]
    Strip,
    /// Keep it as the last content byte of the line (Docker's json-file, conmon).
    Keep,
}

/// Settings of a [`LineSplitter`], given to [`LineSplitter::with_options`]. `Default` is
/// containerd's CRI logger; set fields on it by assignment (the crate's
/// [conventions](crate#conventions)).
///
/// ```
/// use std::num::NonZeroUsize;
/// use ctrlog::cri::write::{CrPolicy, LineSplitter, MaxLen, SplitOptions};
/// let mut opts = SplitOptions::default();
/// opts.max_len = MaxLen::Unlimited;
/// opts.memory_cap = NonZeroUsize::new(1 << 20).unwrap();
/// opts.cr_policy = CrPolicy::Keep;
/// assert_eq!(LineSplitter::with_options(opts).max_record_len(), 1 << 20);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SplitOptions {
    /// The longest record content. Default: [`MaxLen::CONTAINERD_DEFAULT`] (16 KiB).
    pub max_len: MaxLen,
    /// The most bytes buffered for one line; records are never longer than this, whatever
    /// `max_len` is. Default: [`DEFAULT_MEMORY_CAP`] (2 MiB).
    pub memory_cap: NonZeroUsize,
    /// What happens to a `\r` before `\n`. Default: [`CrPolicy::Strip`] (containerd).
    pub cr_policy: CrPolicy,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            max_len: MaxLen::CONTAINERD_DEFAULT,
            memory_cap: NonZeroUsize::new(DEFAULT_MEMORY_CAP).unwrap_or(NonZeroUsize::MIN),
            cr_policy: CrPolicy::Strip,
        }
    }
}

/// The next step of [`LineSplitter::split`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split<'a> {
    /// One record's tag and content; call `split` again with the rest of the input.
    Record(Tag, &'a [u8]),
    /// The input is used up (some of it may be buffered): feed more, or call
    /// [`LineSplitter::finish`] at end of input.
    NeedInput,
}

/// Splits a byte stream into CRI record pieces, exactly as containerd's `redirectLogs` does,
/// with memory bounded for every input.
///
/// Feed it slices with [`split`](Self::split) (in any chunking: the pieces do not depend on
/// where the chunks end), then call [`finish`](Self::finish) at end of input. Pieces borrow
/// from the input whenever a whole record is inside one chunk; only a line that straddles two
/// chunks is copied, into one carry-over buffer of at most `max_record_len() + 1` bytes.
///
/// Rules, for a maximum record length `M` ([`MaxLen`], capped by the memory cap):
///
/// * A line of `L` content bytes (terminator excluded) gives `max(1, ceil(L / M))` records:
///   `P` records of exactly `M` bytes, then one `F` with the rest. An empty line is one empty `F`.
/// * The terminator is `\n`; with [`CrPolicy::Strip`] one `\r` directly before it goes too.
/// * A tail without `\n` at end of input is cut the same way, but all its records are `P`.
///   Empty input gives no records.
///
/// ```
/// use ctrlog::cri::write::{LineSplitter, MaxLen, Split};
/// use ctrlog::cri::Tag;
///
/// let mut s = LineSplitter::new(MaxLen::from_signed(4));
/// let mut got = Vec::new();
/// for chunk in [&b"abcdef\r"[..], b"\nxy"] {
///     let mut pos = 0;
///     loop {
///         let (step, used) = s.split(&chunk[pos..]);
///         pos += used;
///         match step {
///             Split::Record(tag, content) => got.push((tag, content.to_vec())),
///             Split::NeedInput => break,
///         }
///     }
/// }
/// while let Some((tag, content)) = s.finish() {
///     got.push((tag, content.to_vec()));
/// }
/// assert_eq!(got, vec![
///     (Tag::Partial, b"abcd".to_vec()),
///     (Tag::Full, b"ef".to_vec()),
///     (Tag::Partial, b"xy".to_vec()),
/// ]);
/// ```
#[derive(Clone, Debug)]
pub struct LineSplitter {
    /// Effective maximum record length (>= 1).
    max: usize,
    cr: CrPolicy,
    /// Bytes of the current line not yet emitted (at most `max + 1`).
    carry: Vec<u8>,
    /// Bytes at the front of `carry` handed out by the last call, dropped on the next one.
    emitted: usize,
}

impl LineSplitter {
    /// A splitter cutting at `max_len`, with the other [`SplitOptions`] at their defaults
    /// ([`DEFAULT_MEMORY_CAP`], [`CrPolicy::Strip`]).
    pub fn new(max_len: MaxLen) -> Self {
        Self::with_options(SplitOptions {
            max_len,
            ..SplitOptions::default()
        })
    }

    /// A splitter with `opts`.
    pub fn with_options(opts: SplitOptions) -> Self {
        LineSplitter {
            max: effective_max(opts.max_len, opts.memory_cap.get()),
            cr: opts.cr_policy,
            carry: Vec::new(),
            emitted: 0,
        }
    }

    /// The longest content a record can have: `min(max_len, memory cap)`.
    pub fn max_record_len(&self) -> usize {
        self.max
    }

    /// Bytes of the current, unfinished line held in the carry-over buffer.
    pub fn buffered(&self) -> usize {
        // `emitted` counts bytes of `carry` already handed out: never more than it holds.
        self.carry.len() - self.emitted
    }

    /// Heap bytes held by the carry-over buffer (at most about `max_record_len() + 1`).
    pub fn capacity(&self) -> usize {
        self.carry.capacity()
    }

    /// Drops any buffered bytes (a new stream starts).
    pub fn reset(&mut self) {
        self.carry.clear();
        self.emitted = 0;
    }

    /// Looks for the next record in `input`; returns the step and how many input bytes it
    /// used. Call again with `&input[used..]` until [`Split::NeedInput`].
    #[inline(always)]
    pub fn split<'a>(&'a mut self, input: &'a [u8]) -> (Split<'a>, usize) {
        if self.emitted != 0 {
            self.drop_emitted();
        }
        let m = self.max;
        // Deciding a record needs at most M content bytes, one '\r' and the '\n'.
        // Saturating: an unlimited `max` (`usize::MAX`) has no window either.
        let window = m.saturating_add(2);
        if self.carry.is_empty() {
            let look = &input[..input.len().min(window)];
            match memchr::memchr(b'\n', look) {
                Some(i) => {
                    let line = &input[..i];
                    let content = self.strip(line);
                    if content.len() <= m {
                        (Split::Record(Tag::Full, content), i + 1)
                    } else {
                        (Split::Record(Tag::Partial, &input[..m]), m)
                    }
                }
                None if look.len() == window => (Split::Record(Tag::Partial, &input[..m]), m),
                None => {
                    self.extend_carry(input);
                    (Split::NeedInput, input.len())
                }
            }
        } else {
            self.split_carry(input, window)
        }
    }

    #[cold]
    #[inline(never)]
    fn split_carry<'a>(&'a mut self, input: &'a [u8], window: usize) -> (Split<'a>, usize) {
        let m = self.max;
        let c = self.carry.len();
        // c <= m + 1 < window, so `room` >= 1.
        assert!(c < window, "the carry holds a whole record's window");
        let room = window - c;
        let look = &input[..input.len().min(room)];
        match memchr::memchr(b'\n', look) {
            Some(j) => {
                self.extend_carry(&input[..j]);
                let content_len = self.strip(&self.carry).len();
                if content_len <= m {
                    self.emitted = self.carry.len();
                    (Split::Record(Tag::Full, &self.carry[..content_len]), j + 1)
                } else {
                    self.emitted = m;
                    (Split::Record(Tag::Partial, &self.carry[..m]), j)
                }
            }
            None if look.len() == room => {
                // No '\n' within M + 2 bytes: at least M + 1 content bytes, so cut M.
                let take = m.saturating_sub(c).min(input.len());
                self.extend_carry(&input[..take]);
                self.emitted = m;
                (
                    Split::Record(Tag::Partial, &self.carry[..m.min(self.carry.len())]),
                    take,
                )
            }
            None => {
                self.extend_carry(input);
                (Split::NeedInput, input.len())
            }
        }
    }

    /// End of input: returns the unterminated tail as `P` records, one per call, then `None`.
    pub fn finish(&mut self) -> Option<(Tag, &[u8])> {
        if self.emitted != 0 {
            self.drop_emitted();
        }
        if self.carry.is_empty() {
            return None;
        }
        let n = self.carry.len().min(self.max);
        self.emitted = n;
        Some((Tag::Partial, &self.carry[..n]))
    }

    /// Splits one chunk, calling `f` for every record: the records of [`split`](Self::split)
    /// called until [`Split::NeedInput`], found faster (see [`try_for_each`](Self::try_for_each)).
    pub fn for_each<F: FnMut(Tag, &[u8])>(&mut self, input: &[u8], mut f: F) {
        let done: Result<(), std::convert::Infallible> =
            self.try_for_each(input, |tag, content| {
                f(tag, content);
                Ok(())
            });
        let Ok(()) = done;
    }

    /// Splits one chunk as [`for_each`](Self::for_each) does, stopping at the first error of
    /// `f` (the rest of the chunk is then not split; the carry-over stays as it was at that
    /// record).
    ///
    /// The records are those of [`split`](Self::split) called in a loop, but the newlines of
    /// the whole lines inside the chunk are found in one pass, 64 bytes at a time (a bit mask
    /// per block: SSE2 on x86_64), instead of one `memchr` call per record: on short lines
    /// (~110 bytes) that call's setup was the splitter's main cost. Past a few blocks without
    /// a newline, the rest of a long line is left to `memchr`; a line longer than the maximum
    /// is cut without a second scan. A line straddling the chunk's start or end goes through
    /// `split` as before; so does the unterminated tail (scanned twice: once here).
    pub fn try_for_each<E, F: FnMut(Tag, &[u8]) -> Result<(), E>>(
        &mut self,
        input: &[u8],
        f: F,
    ) -> Result<(), E> {
        self.try_for_each_with(Baseline, input, f)
    }

    /// [`try_for_each`](Self::try_for_each) with the newline masks of `kind`; inlined, so that
    /// a caller compiled for a wider instruction set compiles the whole loop with it.
    #[inline(always)]
    pub(crate) fn try_for_each_with<M: NewlineMask, E, F: FnMut(Tag, &[u8]) -> Result<(), E>>(
        &mut self,
        kind: M,
        input: &[u8],
        mut f: F,
    ) -> Result<(), E> {
        let mut rest = input;
        if self.buffered() > 0 {
            // A line carried over from the last chunk: one record at a time until it is done.
            let used = self.split_loop(rest, &mut f, true)?;
            if self.buffered() > 0 {
                // All of `rest` went into the carry.
                return Ok(());
            }
            rest = &rest[used..];
        }
        // Nothing unemitted is buffered: what the carry holds was handed out already.
        self.reset();
        let m = self.max;
        let mut start = 0;
        // `f` is called at one place in this loop so that it is inlined here; the rare cases
        // go through `split_loop`.
        for nl in Newlines::new(rest, kind) {
            let content = self.strip(&rest[start..nl]);
            if content.len() <= m {
                f(Tag::Full, content)?;
            } else {
                long_line(content, m, &mut f)?;
            }
            start = nl + 1;
        }
        // The unterminated tail: cut `P` records or carried to the next chunk.
        self.split_loop(&rest[start..], &mut f, false)?;
        Ok(())
    }

    /// [`split`](Self::split) in a loop over `input`, each record to `f`, until it needs input
    /// or, with `to_line_start`, until no carried byte is left to emit. Returns the bytes of
    /// `input` used.
    #[inline(never)]
    fn split_loop<E, F: FnMut(Tag, &[u8]) -> Result<(), E>>(
        &mut self,
        input: &[u8],
        f: &mut F,
        to_line_start: bool,
    ) -> Result<usize, E> {
        let mut pos = 0;
        while !(to_line_start && self.buffered() == 0) {
            // `split` never reports more than it was given.
            let (step, used) = self.split(&input[pos..]);
            match step {
                Split::Record(tag, content) => f(tag, content)?,
                Split::NeedInput => return Ok(input.len()),
            }
            pos += used;
        }
        Ok(pos)
    }

    /// End of input for [`for_each`](Self::for_each) users: calls `f` for the tail records.
    pub fn finish_each<F: FnMut(Tag, &[u8])>(&mut self, mut f: F) {
        while let Some((tag, content)) = self.finish() {
            f(tag, content);
        }
    }

    /// Appends to the carry-over, growing it at most to `max + 1` bytes of capacity (the
    /// crate's one capped-grow rule, [`extend_capped`]).
    fn extend_carry(&mut self, bytes: &[u8]) {
        extend_capped(&mut self.carry, bytes, self.max.saturating_add(1));
    }

    fn drop_emitted(&mut self) {
        let n = self.emitted.min(self.carry.len());
        self.carry.drain(..n);
        self.emitted = 0;
    }

    #[inline]
    fn strip<'b>(&self, line: &'b [u8]) -> &'b [u8] {
        match (self.cr, line.split_last()) {
            (CrPolicy::Strip, Some((b'\r', rest))) => rest,
            _ => line,
        }
    }
}

fn effective_max(max_len: MaxLen, cap: usize) -> usize {
    match max_len {
        MaxLen::Bytes(n) => n.get().min(cap),
        MaxLen::Unlimited => cap,
    }
    .max(1)
}

/// A whole line of more than `m` content bytes: `P` records of `m` bytes, then an `F` with
/// the rest (`split`'s rule, without scanning the line again).
#[cold]
#[inline(never)]
fn long_line<E, F: FnMut(Tag, &[u8]) -> Result<(), E>>(
    content: &[u8],
    m: usize,
    f: &mut F,
) -> Result<(), E> {
    let mut pieces = content.chunks(m);
    let last = pieces.next_back().unwrap_or_default();
    for p in pieces {
        f(Tag::Partial, p)?;
    }
    f(Tag::Full, last)
}

#[cfg(test)]
mod tests;
