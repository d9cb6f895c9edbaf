//! Where "now" and the local zone come from: the only parts of the time module that ask the
//! operating system.

use std::cell::Cell;

use super::Timestamp;

/// The local zone's offset (seconds east of UTC) at `secs`, from `localtime_r`; 0 when the
/// instant cannot be converted.
#[cfg(unix)]
pub(super) fn local_offset_at(secs: i64) -> i32 {
    // time_t is i64 on every target ctrlog supports (64-bit Linux).
    #[allow(clippy::useless_conversion, irrefutable_let_patterns)]
    let Ok(t) = libc::time_t::try_from(secs) else {
        return 0;
    };
    // SAFETY: `tm` is plain data fully written by localtime_r on success; both pointers are
    // valid for the duration of the call.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return 0;
        }
        i32::try_from(tm.tm_gmtoff).unwrap_or(0)
    }
}

/// Off Unix the zone database is not consulted: local time is UTC there (documented in the
/// module docs; the crate's file and fd code is Unix-only anyway).
#[cfg(not(unix))]
pub(super) fn local_offset_at(_secs: i64) -> i32 {
    0
}

/// Where "now" comes from. Writers read it once per input chunk (or once per record, with
/// [`TimestampPolicy::PerRecord`](crate::cri::write::TimestampPolicy::PerRecord)).
///
/// ```
/// use ctrlog::time::{Clock, Timestamp};
/// /// A clock that is always the start of 2024 (a test's fixed instant).
/// struct NewYear;
/// impl Clock for NewYear {
///     fn now(&self) -> Timestamp { Timestamp::new(1_704_067_200, 0) }
/// }
/// assert_eq!(NewYear.now().to_string(), "2024-01-01T00:00:00Z");
/// ```
pub trait Clock {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The system's real-time clock.
///
/// On Unix it calls `clock_gettime(CLOCK_REALTIME)` itself (the vDSO on Linux): 28 ns a read
/// here, where `SystemTime::now()` and the subtraction from the epoch that gives its seconds
/// took 37 ns, which per-record timestamps pay on every record (`cargo bench --bench time --
/// 'system_clock_now|system_time_since_epoch'`). Elsewhere, and should the
/// call fail, it asks `SystemTime`.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Timestamp {
        #[cfg(unix)]
        {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: clock_gettime writes only the timespec it is given, valid for the call.
            if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) } == 0 {
                // `tv_nsec` is in 0..10^9 (POSIX); seconds before 1970 are negative with a
                // positive fraction, as `Timestamp` counts them.
                #[allow(clippy::useless_conversion)]
                return Timestamp::new(
                    i64::from(ts.tv_sec),
                    u32::try_from(ts.tv_nsec).unwrap_or(0),
                );
            }
        }
        system_time_now()
    }
}

/// `SystemTime::now()` as a [`Timestamp`].
fn system_time_now() -> Timestamp {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => Timestamp::new(
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            Timestamp::from_unix_nanos(-(d.as_nanos() as i128))
        }
    }
}

/// A clock stuck at one instant (tests, reproducible output).
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// A clock that returns `start`, then advances by `step_nanos` on every call (tests that need
/// distinct, increasing timestamps).
#[derive(Debug)]
pub struct SteppingClock {
    next: Cell<Timestamp>,
    step_nanos: i128,
}

impl SteppingClock {
    /// Starts at `start`, stepping `step_nanos` per reading.
    pub fn new(start: Timestamp, step_nanos: i128) -> Self {
        SteppingClock {
            next: Cell::new(start),
            step_nanos,
        }
    }
}

impl Clock for SteppingClock {
    fn now(&self) -> Timestamp {
        let t = self.next.get();
        self.next.set(t.add_nanos(self.step_nanos));
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct `clock_gettime` read and `SystemTime` tell the same time (a margin of
    /// seconds: only a clock step between the reads could separate them).
    #[test]
    fn system_clock_agrees_with_system_time() {
        let ours = SystemClock.now().unix_nanos();
        let std = system_time_now().unix_nanos();
        assert!((ours - std).abs() < 5 * 1_000_000_000, "{ours} vs {std}");
        assert!(ours > 1_700_000_000 * 1_000_000_000, "{ours}: before 2023?");
    }

    #[test]
    fn stepping_clock_steps() {
        let c = SteppingClock::new(Timestamp::new(10, 999_999_999), 2);
        assert_eq!(c.now(), Timestamp::new(10, 999_999_999));
        assert_eq!(c.now(), Timestamp::new(11, 1));
    }
}
