//! [`FollowStream`]: following a container log as an async `Stream` of lines.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::cri::read::{FollowPoll, Follower, LogLine, ReadError};

/// Polls of the follower in a row that read lines before the stream yields to the executor:
/// a large starting set is read in bounded steps without starving other tasks.
const POLLS_BEFORE_YIELD: u32 = 4;

/// Follows a log as `kubectl logs -f` does, as a tokio-compatible [`Stream`] of owned
/// [`LogLine`]s: the non-blocking [`Follower::poll_lines`] step, with tokio's timer between
/// looks when there is nothing new.
///
/// Each poll of the follower reads what is there (at most about 4 MiB of lines while the
/// starting set is read) on the task's thread: file reads of data the writer just wrote come
/// from the page cache. New data is seen within
/// [`ReadOptions::poll_interval`](crate::cri::read::ReadOptions::poll_interval) (the
/// follower has no readiness fd). Each
/// line is a copy (the stream hands out owned lines). The stream ends with `None` when the
/// follower is done (`limit_bytes`, or a pipe read to its end) and after an error; drop it
/// to stop following.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// use futures_util::StreamExt;
/// use ctrlog::codec::FollowStream;
/// use ctrlog::cri::read::{LogReader, ReadOptions};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("0.log");
/// std::fs::write(&path, "2024-01-01T00:00:00Z stdout F first\n")?;
/// let mut lines = FollowStream::new(LogReader::open(&path, ReadOptions::default())?.into_follower()?);
/// assert_eq!(lines.next().await.unwrap()?.content(), b"first");
/// // A line appended later arrives on the same stream.
/// use std::io::Write;
/// std::fs::OpenOptions::new().append(true).open(&path)?
///     .write_all(b"2024-01-01T00:00:01Z stdout F second\n")?;
/// assert_eq!(lines.next().await.unwrap()?.content(), b"second");
/// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct FollowStream {
    follower: Follower,
    queue: VecDeque<LogLine>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    done: bool,
}

impl FollowStream {
    /// Follows with `follower` (from
    /// [`LogReader::into_follower`](crate::cri::read::LogReader::into_follower)).
    pub fn new(follower: Follower) -> Self {
        FollowStream {
            follower,
            queue: VecDeque::new(),
            sleep: None,
            done: false,
        }
    }

    /// The follower, for its [`stats`](Follower::stats) and warnings.
    pub fn follower_mut(&mut self) -> &mut Follower {
        &mut self.follower
    }
}

impl Stream for FollowStream {
    type Item = Result<LogLine, ReadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Every field is `Unpin` (the timer is boxed).
        let this = self.get_mut();
        let mut polls = 0;
        loop {
            if let Some(line) = this.queue.pop_front() {
                return Poll::Ready(Some(Ok(line)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(sleep) = this.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                this.sleep = None;
            }
            if polls == POLLS_BEFORE_YIELD {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            polls += 1;
            let queue = &mut this.queue;
            match this
                .follower
                .poll_lines(&mut |l: &LogLine| queue.push_back(l.clone()))
            {
                Ok(FollowPoll::Again(d)) => this.sleep = Some(Box::pin(tokio::time::sleep(d))),
                Ok(FollowPoll::Done) => this.done = true,
                // `Ready`, and any step added later: look again at once.
                Ok(_) => {}
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}
