//! [`copy_streams`]: a container's two output streams into one log, on tokio.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use crate::cri::write::{CopySummary, LogWriter, RecordEncoder, WriterOptions};
use crate::cri::Stream;

/// Copies `stdout` and `stderr` to their ends into `sink` as records, as containerd's shim
/// and ctrlog's `binary://` driver do: each stream is split into lines (long ones cut into
/// partial records, [`WriterOptions::split`]) and encoded by its own copy of `encoder`, and
/// whole records of the two streams interleave in `sink` at record boundaries, never inside
/// one. An unterminated last line is written when its stream ends. Returns what each stream
/// did, `[stdout, stderr]`.
///
/// Whichever stream has data is read (the other never holds it up), into one buffer of
/// [`WriterOptions::read_size`] per stream; memory is bounded by that, the splitter's cap
/// and one read's records. A read or write error ends the copy (records of that read not
/// yet written are lost with it); to stop early, drop the future (tokio's `select!` or
/// `timeout`): records already handed to `sink` stay written.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use ctrlog::codec::copy_streams;
/// use ctrlog::cri::write::{CriEncoder, WriterOptions};
/// use ctrlog::time::{FixedClock, Offset};
///
/// let mut log = Vec::new();
/// let [out, err] = copy_streams(&b"hello\nwor"[..], &b"oops\n"[..], &mut log,
///     CriEncoder::new(Offset::Utc), WriterOptions::default()).await?;
/// assert_eq!((out.records, err.records), (2, 1));
/// let text = String::from_utf8(log).unwrap();
/// assert!(text.contains(" stdout F hello\n") && text.contains(" stdout P wor\n"));
/// assert!(text.contains(" stderr F oops\n"));
/// # Ok::<(), std::io::Error>(()) }).unwrap();
/// ```
pub async fn copy_streams<O, E, W, F>(
    mut stdout: O,
    mut stderr: E,
    sink: &mut W,
    encoder: F,
    opts: WriterOptions,
) -> io::Result<[CopySummary; 2]>
where
    O: AsyncRead + Unpin,
    E: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + ?Sized,
    F: RecordEncoder + Clone,
{
    let read_size = opts.read_size.max(1);
    let mut writers = [
        LogWriter::with_options(Stream::Stdout, encoder.clone(), Vec::new(), opts.clone()),
        LogWriter::with_options(Stream::Stderr, encoder, Vec::new(), opts),
    ];
    let mut bufs = [vec![0u8; read_size], vec![0u8; read_size]];
    let mut open = [true, true];
    // Which stream is polled first: alternates, so a stream that always has data cannot
    // starve the other.
    let mut first = 0;
    while open[0] || open[1] {
        let (i, n) = poll_fn(|cx| {
            for k in 0..2 {
                let i = (first + k) % 2;
                if !open[i] {
                    continue;
                }
                let mut rb = ReadBuf::new(&mut bufs[i]);
                let polled = match i {
                    0 => Pin::new(&mut stdout).poll_read(cx, &mut rb),
                    _ => Pin::new(&mut stderr).poll_read(cx, &mut rb),
                };
                match polled {
                    Poll::Ready(Ok(())) => return Poll::Ready(Ok((i, rb.filled().len()))),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            }
            Poll::Pending
        })
        .await?;
        first = 1 - i;
        let w = &mut writers[i];
        // The output is a `Vec`, which cannot fail: a `WriteError` here would be a bug.
        let done = if n == 0 {
            open[i] = false;
            w.finish().map(drop)
        } else {
            w.write_chunk(&bufs[i][..n])
        };
        done.map_err(io::Error::other)?;
        let records = w.get_mut();
        if !records.is_empty() {
            sink.write_all(records).await?;
            records.clear();
        }
    }
    sink.flush().await?;
    Ok([writers[0].summary().clone(), writers[1].summary().clone()])
}
