//! The follower's decisions without I/O: given what the reader saw of the current file and
//! what the watcher found, what to do next. [`super::LogReader::follow_loop`] performs the
//! reads, the waits and the opens; this decides them, so unit tests drive it step by step
//! with made-up instants and no sleeps.
//!
//! One [`FollowState::next`] call is one non-blocking step: it never waits, it says what to
//! do or how long to wait at most ([`Next::Wait`]). An event loop can drive it as well as the
//! blocking loop does (issue 12 item 1).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::regular::FileId;

/// Files read to their end that a later `.gz` or copy is compared with.
const DONE_KEPT: usize = 64;

/// A file read to its end while following.
#[derive(Debug)]
pub(in crate::cri::read) struct Seen {
    pub(in crate::cri::read) id: FileId,
    pub(in crate::cri::read) head: Vec<u8>,
}

impl Seen {
    /// Same content start, and the same inode or a non-empty start: a reused inode number
    /// with other content is a new file; a compressed or copied backup is not.
    fn same(&self, id: FileId, head: &[u8]) -> bool {
        self.head == head && (self.id == id || !head.is_empty())
    }
}

/// What the reader saw of the current file after draining it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::cri::read) enum Cur {
    /// The drain read something: there may be more (the other fields are not looked at).
    Grew,
    /// Nothing new to read. `truncated`: a plain file now shorter than what was read
    /// (copytruncate); `unlinked`: its link count is 0.
    Idle { truncated: bool, unlinked: bool },
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::cri::read) enum Next {
    /// Read the current file again (after the next look at the stop flag and the watcher).
    Drain,
    /// The current file was truncated: read it again from offset 0, count a truncation.
    Restart,
    /// The current file is no longer the live one and its writer had a poll interval to let
    /// go of it: read it to its end, skip a half-written last record, close it, then call
    /// [`FollowState::finished`].
    Finish,
    /// No current file and the watcher found one: take it ([`FollowState::found`]).
    Open,
    /// Nothing to do: flush the output and wait for the watcher at most this long.
    Wait(Duration),
}

/// The follower's state between two steps.
#[derive(Debug)]
pub(in crate::cri::read) struct FollowState {
    poll: Duration,
    /// When the current file was found under a backup name, or first seen deleted: its grace
    /// period runs from then.
    gone_since: Option<Instant>,
    /// The current file was found under a backup name (not the live one).
    is_backup: bool,
    /// The files read to their end, newest last, at most [`DONE_KEPT`].
    done: VecDeque<Seen>,
    /// The number the next file read gets (positions are `(num, offset)`).
    next_num: usize,
}

impl FollowState {
    /// After the initial read: `done` the files of the starting set read to their end,
    /// `next_num` the number of the first file found.
    pub fn new(poll: Duration, done: Vec<Seen>, next_num: usize) -> Self {
        let mut s = FollowState {
            poll,
            gone_since: None,
            is_backup: false,
            done: VecDeque::with_capacity(DONE_KEPT.min(done.len())),
            next_num,
        };
        for d in done {
            s.remember(d);
        }
        s
    }

    /// The step: `cur` is what the reader saw of the current file (`None`: there is none),
    /// `next_found` when the watcher found the next file to read (if any), `now` the time.
    pub fn next(&mut self, cur: Option<Cur>, next_found: Option<Instant>, now: Instant) -> Next {
        let Some(cur) = cur else {
            return match next_found {
                Some(_) => Next::Open,
                None => Next::Wait(self.poll),
            };
        };
        let unlinked = match cur {
            Cur::Grew => return Next::Drain,
            Cur::Idle {
                truncated: true, ..
            } => return Next::Restart,
            Cur::Idle { unlinked, .. } => unlinked,
        };
        // Since when the current file is no longer the live one.
        let since = match next_found {
            Some(next) => next,
            None if self.is_backup || unlinked => *self.gone_since.get_or_insert(now),
            None => return Next::Wait(self.poll),
        };
        // Give the writer a poll interval to let go of it.
        let due = since + self.poll;
        match due.checked_duration_since(now) {
            Some(left) if !left.is_zero() => Next::Wait(left),
            _ => Next::Finish,
        }
    }

    /// The current file was finished and closed ([`Next::Finish`]): `id` and `head` (its
    /// first bytes) recognise a later copy of it.
    pub fn finished(&mut self, id: FileId, head: Vec<u8>) {
        self.remember(Seen { id, head });
        self.gone_since = None;
    }

    /// The watcher's next file is taken ([`Next::Open`]): found at `when`, under the live
    /// name (`at_live`) or a backup name.
    pub fn found(&mut self, at_live: bool, when: Instant) {
        self.is_backup = !at_live;
        self.gone_since = self.is_backup.then_some(when);
    }

    /// Whether a file found under a backup name copies one already read (a `.gz` of it, a
    /// copytruncate copy): it is not read again.
    pub fn is_copy(&self, id: FileId, head: &[u8]) -> bool {
        self.done.iter().any(|d| d.same(id, head))
    }

    /// The number the file about to be read gets.
    pub fn num(&self) -> usize {
        self.next_num
    }

    /// The file numbered [`FollowState::num`] is being read: the next one gets the next
    /// number.
    pub fn opened(&mut self) {
        self.next_num += 1;
    }

    fn remember(&mut self, seen: Seen) {
        if self.done.len() >= DONE_KEPT {
            self.done.pop_front();
        }
        self.done.push_back(seen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLL: Duration = Duration::from_millis(100);
    const IDLE: Option<Cur> = Some(Cur::Idle {
        truncated: false,
        unlinked: false,
    });

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn id(ino: u64) -> FileId {
        FileId { dev: 1, ino }
    }

    #[test]
    fn no_file_waits_or_opens() {
        let t0 = Instant::now();
        let mut s = FollowState::new(POLL, Vec::new(), 3);
        assert_eq!(s.next(None, None, t0), Next::Wait(POLL));
        assert_eq!(s.next(None, Some(t0), t0), Next::Open);
        assert_eq!(s.num(), 3);
        s.opened();
        assert_eq!(s.num(), 4);
    }

    #[test]
    fn growing_and_truncated_files_are_read() {
        let t0 = Instant::now();
        let mut s = FollowState::new(POLL, Vec::new(), 0);
        // Growth wins over a newer file: the current one is drained first.
        assert_eq!(s.next(Some(Cur::Grew), Some(t0), t0), Next::Drain);
        let truncated = Cur::Idle {
            truncated: true,
            unlinked: true,
        };
        assert_eq!(s.next(Some(truncated), None, t0), Next::Restart);
        // The live file, idle, nothing newer: look again after a poll interval.
        assert_eq!(s.next(IDLE, None, t0), Next::Wait(POLL));
    }

    /// A newer file found at `t0`: the current one is finished one poll interval later,
    /// never before, and the wait says how long is left.
    #[test]
    fn rotated_file_gets_a_poll_interval() {
        let t0 = Instant::now();
        let mut s = FollowState::new(POLL, Vec::new(), 0);
        s.found(true, t0);
        assert_eq!(s.next(IDLE, Some(t0), t0), Next::Wait(POLL));
        assert_eq!(s.next(IDLE, Some(t0), t0 + ms(30)), Next::Wait(ms(70)));
        assert_eq!(s.next(IDLE, Some(t0), t0 + POLL), Next::Finish);
        assert_eq!(s.next(IDLE, Some(t0), t0 + ms(500)), Next::Finish);
    }

    /// A deleted live file (no newer one) gets its poll interval from when it was first
    /// seen deleted, not from each look.
    #[test]
    fn deleted_file_counts_from_first_sight() {
        let t0 = Instant::now();
        let mut s = FollowState::new(POLL, Vec::new(), 0);
        s.found(true, t0);
        let gone = Some(Cur::Idle {
            truncated: false,
            unlinked: true,
        });
        assert_eq!(s.next(gone, None, t0 + ms(10)), Next::Wait(POLL));
        assert_eq!(s.next(gone, None, t0 + ms(60)), Next::Wait(ms(50)));
        assert_eq!(s.next(gone, None, t0 + ms(110)), Next::Finish);
        s.finished(id(1), b"x".to_vec());
        // The next file starts a new grace period.
        s.found(true, t0 + ms(200));
        assert_eq!(s.next(gone, None, t0 + ms(200)), Next::Wait(POLL));
    }

    /// A file found under a backup name is no longer the live one from when it was found.
    #[test]
    fn backup_counts_from_when_found() {
        let t0 = Instant::now();
        let mut s = FollowState::new(POLL, Vec::new(), 0);
        s.found(false, t0);
        assert_eq!(s.next(IDLE, None, t0 + ms(40)), Next::Wait(ms(60)));
        assert_eq!(s.next(IDLE, None, t0 + POLL), Next::Finish);
        // The live one is not.
        s.found(true, t0);
        assert_eq!(s.next(IDLE, None, t0 + ms(400)), Next::Wait(POLL));
    }

    #[test]
    fn copies_of_read_files_are_recognised() {
        let start = vec![Seen {
            id: id(1),
            head: b"2024 stdout F a\n".to_vec(),
        }];
        let mut s = FollowState::new(POLL, start, 1);
        // The `.gz` of a file read: another inode, same start.
        assert!(s.is_copy(id(9), b"2024 stdout F a\n"));
        assert!(!s.is_copy(id(9), b"2024 stdout F b\n"));
        // A reused inode number with other content is a new file; an empty file is a copy
        // only under the same inode.
        s.finished(id(2), Vec::new());
        assert!(s.is_copy(id(2), b""));
        assert!(!s.is_copy(id(3), b""));
        // Only the last DONE_KEPT are kept.
        for k in 0..DONE_KEPT as u64 {
            s.finished(id(100 + k), k.to_le_bytes().to_vec());
        }
        assert!(!s.is_copy(id(9), b"2024 stdout F a\n"));
        assert!(s.is_copy(id(7), &(DONE_KEPT as u64 - 1).to_le_bytes()));
    }
}
