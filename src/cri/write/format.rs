//! Record encoders: CRI text lines and Docker json-file objects.

use crate::cri::{Stream, Tag};
use crate::time::{Offset, Timestamp, TimestampFormatter, MAX_TS_LEN};

/// Turns one `(tag, content)` piece into one whole encoded record.
///
/// A writer calls [`start_batch`](Self::start_batch) once per input chunk (every record of one
/// read arrived at the same moment), then [`encode`](Self::encode) for each record of the
/// chunk. Every encoded record must end with `\n` and contain no other `\n`, so a record writer can find
/// record boundaries in a batch with one `memchr`.
///
/// A custom format (the `custom_format` example writes and reads one end to end):
///
/// ```
/// use ctrlog::cri::write::{LogWriter, RecordEncoder};
/// use ctrlog::cri::{Stream, Tag};
/// use ctrlog::time::{FixedClock, Timestamp};
///
/// /// `<unix seconds> <1|2> <content>`, partial records dropped.
/// #[derive(Default)]
/// struct Short { prefix: String }
/// impl RecordEncoder for Short {
///     fn start_batch(&mut self, ts: Timestamp, stream: Stream) {
///         self.prefix = format!("{} {} ", ts.secs, stream.index() + 1);
///     }
///     fn encode(&self, tag: Tag, content: &[u8], out: &mut Vec<u8>) {
///         if tag == Tag::Full {
///             out.extend_from_slice(self.prefix.as_bytes());
///             out.extend_from_slice(content);
///             out.push(b'\n');
///         }
///     }
/// }
/// let mut w = LogWriter::new(Stream::Stderr, Short::default(), Vec::new())
///     .with_clock(FixedClock(Timestamp::new(7, 0)));
/// w.copy_from(&b"oops\n"[..])?;
/// assert_eq!(w.into_inner(), b"7 2 oops\n");
/// # Ok::<(), ctrlog::cri::write::WriteError>(())
/// ```
pub trait RecordEncoder {
    /// Sets the time and stream of the records that follow.
    fn start_batch(&mut self, ts: Timestamp, stream: Stream);
    /// Appends one record holding `content` to `out`.
    fn encode(&self, tag: Tag, content: &[u8], out: &mut Vec<u8>);

    /// Appends one record holding `text[..len]` to `out`, like [`encode`](Self::encode).
    /// The bytes of `text` after `len` are the input that follows the content (the writer
    /// passes them when the content lies in its read buffer): an encoder may read them, to
    /// work on whole blocks without copying the content's end, but never outputs them.
    /// [`DockerJsonEncoder`] escapes that way. The default encodes `&text[..len]`.
    ///
    /// # Panics
    /// If `len` is greater than `text.len()`.
    ///
    /// ```
    /// use ctrlog::cri::write::{DockerJsonEncoder, RecordEncoder};
    /// use ctrlog::cri::Tag;
    ///
    /// let f = DockerJsonEncoder::new();
    /// let (mut a, mut b) = (Vec::new(), Vec::new());
    /// f.encode(Tag::Full, b"<a>", &mut a);
    /// f.encode_ahead(Tag::Full, b"<a>\n<b>\n", 3, &mut b);
    /// assert_eq!(a, b);
    /// ```
    // `always`: the writer's loop inlines this call, and with plain `inline` the compiler left
    // the default out of line (a call per CRI record, +20% instructions).
    #[inline(always)]
    fn encode_ahead(&self, tag: Tag, text: &[u8], len: usize, out: &mut Vec<u8>) {
        self.encode(tag, &text[..len], out);
    }
}

impl<F: RecordEncoder + ?Sized> RecordEncoder for &mut F {
    fn start_batch(&mut self, ts: Timestamp, stream: Stream) {
        (**self).start_batch(ts, stream);
    }
    fn encode(&self, tag: Tag, content: &[u8], out: &mut Vec<u8>) {
        (**self).encode(tag, content, out);
    }
    fn encode_ahead(&self, tag: Tag, text: &[u8], len: usize, out: &mut Vec<u8>) {
        (**self).encode_ahead(tag, text, len, out);
    }
}

impl<F: RecordEncoder + ?Sized> RecordEncoder for Box<F> {
    fn start_batch(&mut self, ts: Timestamp, stream: Stream) {
        (**self).start_batch(ts, stream);
    }
    fn encode(&self, tag: Tag, content: &[u8], out: &mut Vec<u8>) {
        (**self).encode(tag, content, out);
    }
    fn encode_ahead(&self, tag: Tag, text: &[u8], len: usize, out: &mut Vec<u8>) {
        (**self).encode_ahead(tag, text, len, out);
    }
}

/// CRI records, as containerd writes them: `<time> <stream> <P|F> <content>\n`.
///
/// The time is Go's `RFC3339Nano` (trailing zeros trimmed) in the formatter's zone; containerd
/// uses the node's local zone ([`CriEncoder::default`]). The content is written raw: no
/// escaping, so it may hold NUL, `\r` or invalid UTF-8. An empty line is `<time> stdout F \n`
/// (the space before the empty content stays).
///
/// ```
/// use ctrlog::cri::write::{CriEncoder, RecordEncoder};
/// use ctrlog::cri::{Stream, Tag};
/// use ctrlog::time::{Offset, Timestamp};
///
/// let mut f = CriEncoder::new(Offset::Utc);
/// f.start_batch(Timestamp::new(1_700_000_000, 120_000_000), Stream::Stderr);
/// let mut out = Vec::new();
/// f.encode(Tag::Partial, b"abc", &mut out);
/// f.encode(Tag::Full, b"", &mut out);
/// assert_eq!(out, b"2023-11-14T22:13:20.12Z stderr P abc\n2023-11-14T22:13:20.12Z stderr F \n");
/// ```
#[derive(Clone, Debug)]
pub struct CriEncoder {
    formatter: TimestampFormatter,
    /// `<time> <stream> ` for the current batch in its first `prefix_len` bytes. It is built
    /// and copied as whole arrays: fixed-size copies are a few vector moves, where copies of
    /// the prefix's own length were `memcpy` calls, three per record when every record has
    /// its own time.
    prefix: [u8; PREFIX_CAP],
    prefix_len: usize,
}

/// The longest prefix: a timestamp and ` stdout `.
const PREFIX_CAP: usize = MAX_TS_LEN + 8;

impl CriEncoder {
    /// Timestamps in `offset` (containerd: [`Offset::Local`]; tests: [`Offset::Utc`]).
    pub fn new(offset: Offset) -> Self {
        let mut f = CriEncoder {
            formatter: TimestampFormatter::new(offset),
            prefix: [0; PREFIX_CAP],
            prefix_len: 0,
        };
        f.start_batch(Timestamp::new(0, 0), Stream::Stdout);
        f
    }
}

impl Default for CriEncoder {
    /// Local time, like containerd (`time.Now()`).
    fn default() -> Self {
        CriEncoder::new(Offset::Local)
    }
}

impl RecordEncoder for CriEncoder {
    fn start_batch(&mut self, ts: Timestamp, stream: Stream) {
        let (time, len) = self.formatter.format_padded(ts);
        self.prefix[..MAX_TS_LEN].copy_from_slice(time);
        let len = len.min(MAX_TS_LEN);
        let stream: &[u8; 8] = match stream {
            Stream::Stdout => b" stdout ",
            Stream::Stderr => b" stderr ",
        };
        self.prefix[len..len + 8].copy_from_slice(stream);
        self.prefix_len = len + 8;
    }

    #[inline]
    fn encode(&self, tag: Tag, content: &[u8], out: &mut Vec<u8>) {
        self.encode_ahead(tag, content, content.len(), out);
    }

    /// One capacity check and one length update per record, where an `extend_from_slice` per
    /// piece paid its own (9% of a short-line CRI write's instructions, cachegrind through
    /// `benches/instructions.sh`). The content is copied by `memcpy`: a loop of 32-byte moves
    /// reading ahead in `text` ran 8% slower on short lines (`benches/ab.py`).
    #[inline(always)]
    fn encode_ahead(&self, tag: Tag, text: &[u8], len: usize, out: &mut Vec<u8>) {
        let content = &text[..len];
        out.reserve(PREFIX_CAP + len + 3);
        let at = out.len();
        // `start_batch` keeps it within the array; the clamp only spares a bounds argument.
        debug_assert!(self.prefix_len <= PREFIX_CAP);
        let p = self.prefix_len.min(PREFIX_CAP);
        // SAFETY: `reserve` made room for `PREFIX_CAP + len + 3` bytes after `at`, and the
        // writes stay inside it (`p <= PREFIX_CAP`); they initialise every byte up to the new
        // length: the prefix's first `p` bytes, the tag and space, the content and the
        // newline. `content` is the caller's, never inside `out`'s spare capacity.
        unsafe {
            let dst = out.as_mut_ptr().add(at);
            dst.cast::<[u8; PREFIX_CAP]>().write_unaligned(self.prefix);
            dst.add(p)
                .cast::<[u8; 2]>()
                .write_unaligned([tag.as_byte(), b' ']);
            std::ptr::copy_nonoverlapping(content.as_ptr(), dst.add(p + 2), len);
            *dst.add(p + 2 + len) = b'\n';
            out.set_len(at + p + 3 + len);
        }
    }
}

/// Docker json-file records, byte-identical to dockerd's (moby
/// `daemon/logger/jsonfilelog/jsonlog/jsonlogbytes.go`):
/// `{"log":"<content>","stream":"stdout","time":"<RFC3339Nano UTC>"}\n`.
///
/// An `F` record's `log` ends with `\n` (the line terminator, as Docker keeps it); a `P`
/// record's does not, which is how Docker marks its partial lines. Escaping follows
/// [`escape_docker_json`]. Use it with a splitter in [`CrPolicy::Keep`](super::CrPolicy::Keep)
/// mode and a 16 KiB limit to match dockerd (`\r` before `\n` stays in `log`).
///
/// Differences from dockerd: no `attrs` key (log labels/env are not supported); a line of
/// exactly 16384 bytes is one record here, while dockerd's copier, whose 16 KiB buffer fills
/// before it sees the `\n`, writes the 16384 bytes as a partial and then `{"log":"\n",...}`.
///
/// ```
/// use ctrlog::cri::write::{DockerJsonEncoder, RecordEncoder};
/// use ctrlog::cri::{Stream, Tag};
/// use ctrlog::time::Timestamp;
///
/// let mut f = DockerJsonEncoder::new();
/// f.start_batch(Timestamp::new(1_700_000_000, 5), Stream::Stdout);
/// let mut out = Vec::new();
/// f.encode(Tag::Full, b"<b>\t\"hi\"", &mut out);
/// assert_eq!(
///     String::from_utf8(out).unwrap(),
///     r#"{"log":"\u003cb\u003e\u0009\"hi\"\n","stream":"stdout","time":"2023-11-14T22:13:20.000000005Z"}"#
///         .to_owned() + "\n"
/// );
/// ```
#[derive(Clone, Debug)]
pub struct DockerJsonEncoder {
    formatter: TimestampFormatter,
    /// `"stream":"<stream>","time":"<time>"}\n` for the current batch in its first
    /// `suffix_len` bytes, copied as a whole array (the CRI prefix's reason).
    suffix: [u8; SUFFIX_CAP],
    suffix_len: usize,
}

/// `"stream":"stdout","time":"` before the time.
const SUFFIX_HEAD: usize = 26;
/// The longest suffix: its head, a timestamp and `"}\n`.
const SUFFIX_CAP: usize = SUFFIX_HEAD + MAX_TS_LEN + 3;

impl DockerJsonEncoder {
    /// UTC timestamps, as dockerd writes them.
    pub fn new() -> Self {
        let mut f = DockerJsonEncoder {
            formatter: TimestampFormatter::new(Offset::Utc),
            suffix: [0; SUFFIX_CAP],
            suffix_len: 0,
        };
        f.start_batch(Timestamp::new(0, 0), Stream::Stdout);
        f
    }
}

impl Default for DockerJsonEncoder {
    fn default() -> Self {
        DockerJsonEncoder::new()
    }
}

impl RecordEncoder for DockerJsonEncoder {
    fn start_batch(&mut self, ts: Timestamp, stream: Stream) {
        let head: &[u8; SUFFIX_HEAD] = match stream {
            Stream::Stdout => b"\"stream\":\"stdout\",\"time\":\"",
            Stream::Stderr => b"\"stream\":\"stderr\",\"time\":\"",
        };
        let (time, len) = self.formatter.format_padded(ts);
        let len = len.min(MAX_TS_LEN);
        self.suffix[..SUFFIX_HEAD].copy_from_slice(head);
        self.suffix[SUFFIX_HEAD..SUFFIX_HEAD + MAX_TS_LEN].copy_from_slice(time);
        let end = SUFFIX_HEAD + len;
        self.suffix[end..end + 3].copy_from_slice(b"\"}\n");
        self.suffix_len = end + 3;
    }

    fn encode(&self, tag: Tag, content: &[u8], out: &mut Vec<u8>) {
        self.encode_ahead(tag, content, content.len(), out);
    }

    /// The escaped content between `{"log":"` and the end of the record, which is written
    /// with one capacity check and one length update: the `\n` of a full line, `",` and the
    /// suffix, as whole arrays.
    #[inline(always)]
    fn encode_ahead(&self, tag: Tag, text: &[u8], len: usize, out: &mut Vec<u8>) {
        let (mid, mid_len): ([u8; 4], usize) = if len == 0 && tag == Tag::Partial {
            // dockerd omits an empty `log` (`omitempty`); only reachable through this trait.
            (*b"{\0\0\0", 1)
        } else {
            out.reserve(len + 8);
            out.extend_from_slice(b"{\"log\":\"");
            crate::json_bytes::escape_ahead(text, len, out, &crate::json_bytes::DOCKER, 0);
            match tag {
                Tag::Full => (*b"\\n\",", 4),
                Tag::Partial => (*b"\",\0\0", 2),
            }
        };
        out.reserve(mid.len() + SUFFIX_CAP);
        let at = out.len();
        // SAFETY: `reserve` made room for `4 + SUFFIX_CAP` bytes after `at`, and the writes
        // stay inside it (`mid_len <= 4`); they initialise every byte up to the new length:
        // `mid`'s first `mid_len` bytes, then the suffix's first `suffix_len` bytes.
        unsafe {
            let dst = out.as_mut_ptr().add(at);
            dst.cast::<[u8; 4]>().write_unaligned(mid);
            dst.add(mid_len)
                .cast::<[u8; SUFFIX_CAP]>()
                .write_unaligned(self.suffix);
            debug_assert!(self.suffix_len <= SUFFIX_CAP);
            out.set_len(at + mid_len + self.suffix_len.min(SUFFIX_CAP));
        }
    }
}

/// Appends `s` as the inside of a JSON string exactly as dockerd's json-file writer does
/// (moby `ffjsonWriteJSONBytesAsString`), without the surrounding quotes.
///
/// The crate's JSON escapers share this convention: they append the string's contents and
/// the caller writes the quotes (here because a `Full` record's `\n` goes inside the string
/// after the content). [`escape_logrus_json`](crate::runc::escape_logrus_json) is the other
/// one, with logrus's rules (tab as `\t`, input already valid UTF-8).
///
/// * `"` and `\` are backslash-escaped, `\n` and `\r` become `\n` and `\r`;
/// * every other byte below 0x20 and `<`, `>`, `&` become `\u00XX` (lowercase hex: tab is
///   `\u0009`); DEL (0x7f) is raw;
/// * U+2028 and U+2029 become `\u2028` and `\u2029`; other valid UTF-8 is raw;
/// * each byte that does not start a valid UTF-8 sequence becomes `\ufffd` (one per byte,
///   as Go's `utf8.DecodeRune` consumes one byte per error).
///
/// ```
/// let mut out = Vec::new();
/// ctrlog::cri::write::escape_docker_json(b"a&b\x00\xff\xe2\x80\xa8", &mut out);
/// assert_eq!(out, br"a\u0026b\u0000\ufffd\u2028");
/// ```
pub fn escape_docker_json(s: &[u8], out: &mut Vec<u8>) {
    crate::json_bytes::escape(s, out, &crate::json_bytes::DOCKER, 0);
}
