//! The non-blocking follow step (`Follower::poll_lines`): lines across a rotation, a
//! writer still appending to the file rotated away, a half-written end skipped, the limit
//! ending it. Bounded polling with generous deadlines, no timing thresholds.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use ctrlog::cri::read::{FollowPoll, Follower, LogReader, ReadOptions};

fn rec(s: &str) -> String {
    format!("2024-01-01T00:00:00Z stdout F {s}\n")
}

fn append(path: &Path, data: &str) {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap()
        .write_all(data.as_bytes())
        .unwrap();
}

/// Polls until `got` holds `n` lines or the follower is done; panics after a minute.
fn poll_until(f: &mut Follower, got: &mut Vec<(String, bool)>, n: usize) -> FollowPoll {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let p = f
            .poll_lines(&mut |l| {
                got.push((String::from_utf8_lossy(l.content()).into(), l.complete()))
            })
            .unwrap();
        if got.len() >= n || p == FollowPoll::Done {
            return p;
        }
        assert!(Instant::now() < deadline, "only {got:?}");
        if let FollowPoll::Again(d) = p {
            // An event loop would wait `d` on a timer.
            std::thread::sleep(d.min(Duration::from_millis(5)));
        }
    }
}

#[test]
fn follower_step_reads_across_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("c.log");
    fs::write(dir.path().join("c.log.1"), rec("backup")).unwrap();
    fs::write(&live, rec("a") + &rec("b")).unwrap();
    let mut opts = ReadOptions::default();
    opts.poll_interval = Duration::from_millis(20);
    opts.tail = Some(2);
    let mut f = LogReader::open(&live, opts)
        .unwrap()
        .into_follower()
        .unwrap();
    let mut got = Vec::new();
    assert_ne!(poll_until(&mut f, &mut got, 2), FollowPoll::Done);
    assert_eq!(got, [("a".into(), true), ("b".into(), true)]);

    // Nothing new: the step says when to look again, and hands out nothing.
    let p = f.poll_lines(&mut |_| panic!("no new line")).unwrap();
    assert!(
        matches!(p, FollowPoll::Again(_) | FollowPoll::Ready),
        "{p:?}"
    );

    // A line in pieces, then a rotation: the writer still appends to the file rotated
    // away (finishing the line), and leaves a half-written record there.
    append(&live, "2024-01-01T00:00:01Z stdout P c1\n");
    let old = OpenOptions::new().append(true).open(&live).unwrap();
    // As Docker rotates: the backups move away first, then the live file.
    fs::rename(dir.path().join("c.log.1"), dir.path().join("c.log.2")).unwrap();
    fs::rename(&live, dir.path().join("c.log.1")).unwrap();
    (&old)
        .write_all(b"2024-01-01T00:00:02Z stdout F c2\n")
        .unwrap();
    (&old)
        .write_all(b"2024-01-01T00:00:03Z stdout F half")
        .unwrap();
    drop(old);
    fs::write(&live, rec("d")).unwrap();
    poll_until(&mut f, &mut got, 4);
    append(&live, &rec("e"));
    poll_until(&mut f, &mut got, 5);
    assert_eq!(
        got[2..],
        [
            ("c1c2".into(), true),
            ("d".into(), true),
            ("e".into(), true)
        ]
    );
    let stats = f.stats();
    assert_eq!(stats.rotations, 1);
    assert_eq!(stats.skipped, 1, "the half-written record");
    assert_eq!(stats.lines_out, 5);
    assert!(f.take_warnings().is_empty());
}

#[test]
fn follower_step_ends_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("c.log");
    fs::write(&live, rec("one")).unwrap();
    let mut opts = ReadOptions::default();
    opts.poll_interval = Duration::from_millis(20);
    opts.output.limit_bytes = Some(6);
    let mut f = LogReader::open(&live, opts)
        .unwrap()
        .into_follower()
        .unwrap();
    let mut got = Vec::new();
    assert_ne!(poll_until(&mut f, &mut got, 1), FollowPoll::Done);
    append(&live, &rec("two"));
    // "one\n" and "tw": the limit cuts the second line and ends following.
    assert_eq!(poll_until(&mut f, &mut got, 3), FollowPoll::Done);
    assert_eq!(got, [("one".into(), true), ("tw".into(), false)]);
    assert!(f.stats().limit_reached);
    assert_eq!(
        f.poll_lines(&mut |_| panic!("over")).unwrap(),
        FollowPoll::Done
    );
}

/// The starting set is read over several polls when large (each poll is bounded), and
/// nothing is lost or repeated between them.
#[test]
fn follower_step_reads_a_large_start_in_bounded_polls() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("c.log");
    let line = "x".repeat(1000);
    let n = 10_000;
    fs::write(&live, rec(&line).repeat(n)).unwrap();
    let mut f = LogReader::open(&live, ReadOptions::default())
        .unwrap()
        .into_follower()
        .unwrap();
    let mut polls = 0;
    let mut count = 0;
    while count < n {
        let p = f
            .poll_lines(&mut |l| {
                assert_eq!(l.content(), line.as_bytes());
                count += 1;
            })
            .unwrap();
        assert_ne!(p, FollowPoll::Done);
        polls += 1;
        assert!(polls < 1000);
    }
    assert_eq!(count, n);
    // ~10 MB of lines at most 4 MiB per poll.
    assert!(polls >= 3, "{polls}");
}

/// An async task may own a follower (tokio's `spawn` needs `Send`), and a reader.
#[test]
fn follower_and_reader_can_move_to_another_thread() {
    fn send<T: Send + 'static>() {}
    send::<Follower>();
    send::<LogReader>();
    send::<ctrlog::cri::read::LogLine>();
}
