//! SIGTERM and SIGINT at every stage: a watchdog thread owns the signals.
//!
//! The handlers are installed first thing, before anything that can block. The handler only
//! writes the signal number into a non-blocking pipe; the watchdog thread reads it and acts on
//! the stage the driver is in:
//! - **opening** (configuration, opening log-path, recording a configuration error; no ready
//!   byte sent): report and exit 2 at once, whatever the main thread is blocked in (an
//!   `open(2)` that never returns, a hung mount);
//! - **running**: wake the pumps (the stop pipe becomes readable), which drain what is readable
//!   and finish; if the drain, the last records and the close (pending compressions) are not
//!   done within [`DRAIN_GRACE`], or a second signal comes, report and exit 1 (a write blocked
//!   on a hung mount must not keep the driver alive until the shim's SIGKILL, 12 s after its
//!   SIGTERM, which leaves no trace).

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};

use super::report::Reporter;

/// How long the drain and close may take after a signal (under the shim's 12 s).
pub const DRAIN_GRACE: Duration = Duration::from_secs(10);

const OPENING: u8 = 0;
const RUNNING: u8 = 1;
const STOPPED: u8 = 2;

/// What the watchdog decided.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The driver finished on its own (or the watchdog's inputs closed).
    Finished,
    /// Exit now with this status, after reporting this message.
    Exit(u8, String),
}

fn signal_name(sig: u8) -> &'static str {
    match i32::from(sig) {
        SIGTERM => "SIGTERM",
        SIGINT => "SIGINT",
        _ => "a signal",
    }
}

/// Readiness of `fds` (POLLIN, POLLHUP, POLLERR or POLLNVAL) within `timeout` (`None`:
/// forever); `EINTR` is retried. (The pumps wait through the library's `PollStop`.)
fn poll<const N: usize>(fds: [RawFd; N], timeout: Option<Duration>) -> io::Result<[bool; N]> {
    let mut p = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    let ms = match timeout {
        None => -1,
        Some(t) => libc::c_int::try_from(t.as_millis()).unwrap_or(libc::c_int::MAX),
    };
    loop {
        // SAFETY: `p` is a valid array of N pollfd for the duration of the call.
        let n = unsafe { libc::poll(p.as_mut_ptr(), N as libc::nfds_t, ms) };
        if n >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let any = libc::POLLIN | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL;
    Ok(p.map(|x| x.revents & any != 0))
}

/// Reads one signal number from `sig`: after `poll` said it is readable, or with a read
/// timeout set (then `None` when it passes).
fn read_signal(mut sig: &UnixStream) -> Option<u8> {
    let mut b = [0u8; 1];
    match sig.read(&mut b) {
        Ok(1) => Some(b[0]),
        _ => None,
    }
}

/// `poll` for two descriptors (the watchdog's; a test substitutes a failing one).
pub type Poll2 = fn([RawFd; 2], Option<Duration>) -> io::Result<[bool; 2]>;

/// The watchdog's decisions (no side effects besides the stop pipe and `report`, which gets
/// non-fatal problems): waits for a signal on `sig` or for `done` to hang up; see the module
/// docs. `poll` is [`poll`] (a test substitutes a failing one); `opening_what` describes the
/// opening stage in the message.
#[allow(clippy::too_many_arguments)]
pub fn watch(
    poll: Poll2,
    report: &dyn Fn(&str),
    sig: &UnixStream,
    done: &UnixStream,
    stage: &AtomicU8,
    stop: &UnixStream,
    grace: Duration,
    opening_what: &str,
) -> Outcome {
    let mut w = Waiter {
        poll: Some(poll),
        report,
        sig,
        done,
    };
    // Wait for the first signal.
    let first = loop {
        match w.next(None) {
            Event::Done => return Outcome::Finished,
            Event::Signal(s) => break s,
            Event::Nothing => {}
        }
    };
    let name = signal_name(first);
    if stage
        .compare_exchange(OPENING, STOPPED, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        return Outcome::Exit(
            2,
            format!("{name} while {opening_what}: exiting without logging anything"),
        );
    }
    // Running: the pumps drain and the driver closes the output.
    let mut stop = stop;
    let _ = stop.write_all(&[1]);
    let deadline = Instant::now() + grace;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match w.next(Some(left)) {
            Event::Done => return Outcome::Finished,
            Event::Signal(s) => {
                return Outcome::Exit(
                    1,
                    format!(
                        "{} during the drain after {name}: exiting now, records still \
                         buffered or being written are lost",
                        signal_name(s)
                    ),
                );
            }
            Event::Nothing if left.is_zero() => {
                return Outcome::Exit(
                    1,
                    format!(
                        "the output did not finish within {} s after {name} (a write or a \
                         compression is stuck): exiting, records not yet written are lost",
                        grace.as_secs()
                    ),
                )
            }
            Event::Nothing => {}
        }
    }
}

/// What the watchdog waited for.
enum Event {
    /// The driver is done (`done` hung up).
    Done,
    /// A signal arrived.
    Signal(u8),
    /// Nothing (the timeout passed, or a wake-up without a signal).
    Nothing,
}

/// The watchdog's wait: `poll` on the signal pipe and `done`; if `poll` fails (it retries
/// `EINTR` itself; `ENOMEM` is what is left), the failure is reported once and the wait falls
/// back to a read of the signal pipe with a timeout. `done` is then no longer watched, which
/// only keeps this thread alive until the process exits; signals are still honoured.
struct Waiter<'a> {
    /// `None` once it failed.
    poll: Option<Poll2>,
    report: &'a dyn Fn(&str),
    sig: &'a UnixStream,
    done: &'a UnixStream,
}

impl Waiter<'_> {
    fn next(&mut self, timeout: Option<Duration>) -> Event {
        if let Some(poll) = self.poll {
            match poll([self.done.as_raw_fd(), self.sig.as_raw_fd()], timeout) {
                Ok(r) if r[0] => return Event::Done,
                Ok(r) if r[1] => {
                    return read_signal(self.sig).map_or(Event::Nothing, Event::Signal)
                }
                Ok(_) => return Event::Nothing,
                Err(e) => {
                    (self.report)(&format!(
                        "the signal watchdog cannot poll ({e}): it now waits for signals alone"
                    ));
                    self.poll = None;
                }
            }
        }
        // SO_RCVTIMEO: `None` blocks; zero is not allowed, so the least wait is 1 ms.
        let t = timeout.map(|t| t.max(Duration::from_millis(1)));
        if self.sig.set_read_timeout(t).is_err() {
            return Event::Nothing;
        }
        read_signal(self.sig).map_or(Event::Nothing, Event::Signal)
    }
}

/// The signal side of the driver: the pumps' stop pipe and the stage.
pub struct Signals {
    /// Readable once the pumps must drain and stop.
    pub stop: UnixStream,
    stage: Arc<AtomicU8>,
    /// Dropped when the driver is done: the watchdog then ends.
    done: Option<UnixStream>,
}

impl Signals {
    /// Installs the SIGTERM/SIGINT handlers. Call first: until [`Pending::watch`] runs,
    /// signals are kept in the pipe.
    pub fn install() -> io::Result<(Signals, Pending)> {
        let (sig_r, sig_w) = UnixStream::pair()?;
        // A handler must never block: a full pipe drops the signal (one is enough).
        sig_w.set_nonblocking(true)?;
        let w = sig_w.as_raw_fd();
        for sig in [SIGTERM, SIGINT] {
            let byte = sig as u8;
            // SAFETY: the action only calls write(2), which is async-signal-safe, on a
            // descriptor kept open for the life of the process (`sig_w` is leaked below).
            unsafe {
                signal_hook::low_level::register(sig, move || {
                    let _ = libc::write(w, (&byte as *const u8).cast(), 1);
                })
            }?;
        }
        std::mem::forget(sig_w);
        let (stop, stop_w) = UnixStream::pair()?;
        let (done_r, done_w) = UnixStream::pair()?;
        let stage = Arc::new(AtomicU8::new(OPENING));
        Ok((
            Signals {
                stop,
                stage: Arc::clone(&stage),
                done: Some(done_w),
            },
            Pending {
                sig: sig_r,
                done: done_r,
                stop: stop_w,
                stage,
            },
        ))
    }

    /// Leaves the opening stage (the ready byte may go out). False when a signal came first:
    /// the watchdog is exiting, the caller must not go on (see [`Signals::halt`]).
    pub fn running(&self) -> bool {
        self.stage
            .compare_exchange(OPENING, RUNNING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Waits for the watchdog to end the process.
    pub fn halt(&self) -> ! {
        loop {
            std::thread::park();
        }
    }

    /// The driver is done: the watchdog stops watching.
    pub fn done(&mut self) {
        self.done = None;
    }
}

/// The watchdog's ends, until it is started.
pub struct Pending {
    sig: UnixStream,
    done: UnixStream,
    stop: UnixStream,
    stage: Arc<AtomicU8>,
}

impl Pending {
    /// Starts the watchdog thread; `opening_what` names the opening stage in its message.
    pub fn watch(self, reporter: Reporter, opening_what: String) -> io::Result<()> {
        std::thread::Builder::new()
            .name("ctrlog-signals".into())
            .spawn(move || {
                let Pending {
                    sig,
                    done,
                    stop,
                    stage,
                } = self;
                let report = |m: &str| reporter.report(m);
                let out = watch(
                    poll,
                    &report,
                    &sig,
                    &done,
                    &stage,
                    &stop,
                    DRAIN_GRACE,
                    &opening_what,
                );
                if let Outcome::Exit(code, msg) = out {
                    reporter.report(&msg);
                    std::process::exit(i32::from(code));
                }
                // Closing the stop pipe would read as a stop to the pumps: keep it open.
                std::mem::forget(stop);
            })
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ends {
        sig_w: UnixStream,
        done_w: Option<UnixStream>,
        stop_r: UnixStream,
        sig: UnixStream,
        done: UnixStream,
        stop: UnixStream,
        stage: AtomicU8,
    }

    fn ends(stage: u8) -> Ends {
        let (sig, sig_w) = UnixStream::pair().unwrap();
        let (done, done_w) = UnixStream::pair().unwrap();
        let (stop_r, stop) = UnixStream::pair().unwrap();
        Ends {
            sig_w,
            done_w: Some(done_w),
            stop_r,
            sig,
            done,
            stop,
            stage: AtomicU8::new(stage),
        }
    }

    fn run(e: &Ends, grace: Duration) -> Outcome {
        watch(
            poll,
            &|_| {},
            &e.sig,
            &e.done,
            &e.stage,
            &e.stop,
            grace,
            "opening log-path /x",
        )
    }

    /// A `poll` that always fails, as with `ENOMEM`.
    fn failing_poll(_: [RawFd; 2], _: Option<Duration>) -> io::Result<[bool; 2]> {
        Err(io::Error::from_raw_os_error(libc::ENOMEM))
    }

    fn run_failing(
        e: &Ends,
        grace: Duration,
        reports: &std::cell::RefCell<Vec<String>>,
    ) -> Outcome {
        let report = |m: &str| reports.borrow_mut().push(m.to_owned());
        watch(
            failing_poll,
            &report,
            &e.sig,
            &e.done,
            &e.stage,
            &e.stop,
            grace,
            "opening log-path /x",
        )
    }

    /// Finding 10: a failing `poll` is reported and the watchdog still acts on the next
    /// signal (it used to return `Finished`, and every later SIGTERM was ignored).
    #[test]
    fn a_failing_poll_still_honours_signals() {
        let reports = std::cell::RefCell::new(Vec::new());
        // Opening: the signal exits 2 as usual.
        let e = ends(OPENING);
        (&e.sig_w).write_all(&[SIGTERM as u8]).unwrap();
        match run_failing(&e, Duration::from_secs(3600), &reports) {
            Outcome::Exit(2, m) => assert!(m.starts_with("SIGTERM while opening"), "{m}"),
            o => panic!("{o:?}"),
        }
        assert!(
            reports.borrow().iter().any(|m| m.contains("poll")),
            "{:?}",
            reports.borrow()
        );
        // Running: the pumps are told to stop and the grace still ends the drain.
        let e = ends(RUNNING);
        (&e.sig_w).write_all(&[SIGTERM as u8]).unwrap();
        match run_failing(&e, Duration::ZERO, &reports) {
            Outcome::Exit(1, m) => {
                assert!(m.contains("did not finish within 0 s after SIGTERM"), "{m}")
            }
            o => panic!("{o:?}"),
        }
        assert!(stop_readable(&e), "the pumps were told to stop");
        // Running: a second signal ends the drain.
        let e = ends(RUNNING);
        (&e.sig_w)
            .write_all(&[SIGTERM as u8, SIGINT as u8])
            .unwrap();
        match run_failing(&e, Duration::from_secs(3600), &reports) {
            Outcome::Exit(1, m) => assert!(m.starts_with("SIGINT during the drain"), "{m}"),
            o => panic!("{o:?}"),
        }
    }

    fn stop_readable(e: &Ends) -> bool {
        poll([e.stop_r.as_raw_fd()], Some(Duration::ZERO)).unwrap()[0]
    }

    #[test]
    fn a_signal_while_opening_exits_2_at_once() {
        let mut e = ends(OPENING);
        e.sig_w.write_all(&[SIGTERM as u8]).unwrap();
        match run(&e, Duration::from_secs(3600)) {
            Outcome::Exit(2, m) => assert_eq!(
                m,
                "SIGTERM while opening log-path /x: exiting without logging anything"
            ),
            o => panic!("{o:?}"),
        }
        assert_eq!(e.stage.load(Ordering::SeqCst), STOPPED);
        assert!(!stop_readable(&e));
        e.done_w = None;
    }

    #[test]
    fn a_signal_while_running_stops_the_pumps_and_waits_for_done() {
        let mut e = ends(RUNNING);
        let mut sig_w = e.sig_w.try_clone().unwrap();
        let stop_r = e.stop_r.try_clone().unwrap();
        let done_w = e.done_w.take().unwrap();
        let waiter = std::thread::spawn(move || {
            sig_w.write_all(&[SIGINT as u8]).unwrap();
            // The pumps are told to stop; the driver then finishes.
            // (Bounded: a failure drops `done_w` while unwinding, which ends `run`.)
            assert!(poll([stop_r.as_raw_fd()], Some(Duration::from_secs(60))).unwrap()[0]);
            drop(done_w);
        });
        assert_eq!(run(&e, Duration::from_secs(3600)), Outcome::Finished);
        waiter.join().unwrap();
        assert_eq!(e.stage.load(Ordering::SeqCst), RUNNING);
    }

    #[test]
    fn a_stuck_drain_ends_after_the_grace() {
        let mut e = ends(RUNNING);
        e.sig_w.write_all(&[SIGTERM as u8]).unwrap();
        match run(&e, Duration::ZERO) {
            Outcome::Exit(1, m) => {
                assert!(m.contains("did not finish within 0 s after SIGTERM"), "{m}")
            }
            o => panic!("{o:?}"),
        }
        assert!(stop_readable(&e), "the pumps were told to stop");
    }

    #[test]
    fn a_second_signal_ends_the_drain() {
        let mut e = ends(RUNNING);
        e.sig_w.write_all(&[SIGTERM as u8, SIGINT as u8]).unwrap();
        match run(&e, Duration::from_secs(3600)) {
            Outcome::Exit(1, m) => assert!(
                m.starts_with("SIGINT during the drain after SIGTERM"),
                "{m}"
            ),
            o => panic!("{o:?}"),
        }
    }

    #[test]
    fn no_signal_no_action() {
        let mut e = ends(RUNNING);
        e.done_w = None;
        assert_eq!(run(&e, Duration::ZERO), Outcome::Finished);
        assert!(!stop_readable(&e));
        drop(e.sig_w);
    }
}
