//! The system log: one datagram per message on the `/dev/log` Unix socket, in the BSD
//! (RFC 3164) frame that glibc's `syslog(3)` and Go's `log/syslog` send there:
//! `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`, local time. journald reads that socket (its
//! `systemd-journald-dev-log.socket`), so does rsyslog without journald.
//!
//! Never blocking, never failing: the socket is non-blocking, a full queue, a missing socket
//! or any other error drops the message. Nothing is retried, nothing is logged about it.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use ctrlog::time::{format_rfc3339nano, Offset, Timestamp};

/// Where the system log listens.
pub const DEFAULT_SOCKET: &str = "/dev/log";

/// Overrides [`DEFAULT_SOCKET`] (tests); empty disables the system log.
pub const SOCKET_ENV: &str = "CTRLOG_SYSLOG_SOCKET";

/// Facility `daemon` (3), severity `err` (3).
pub const PRI_DAEMON_ERR: u8 = 3 * 8 + 3;

/// Longest message sent, in bytes (RFC 3164 allows 1024 for the whole packet; journald and
/// rsyslog take far more, and a message names at most a path or two).
pub const MAX_MESSAGE: usize = 2048;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The socket to send to: [`SOCKET_ENV`] if set (empty: none), else [`DEFAULT_SOCKET`].
pub fn socket_path() -> Option<PathBuf> {
    match std::env::var_os(SOCKET_ENV) {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(PathBuf::from(p)),
        None => Some(PathBuf::from(DEFAULT_SOCKET)),
    }
}

/// Appends one RFC 3164 packet to `out`. The time is `now` in `offset` (`Mmm dd hh:mm:ss`,
/// day padded with a space, as `syslog(3)`); control characters in `msg` are escaped so the
/// message stays one line; `msg` is cut at [`MAX_MESSAGE`] bytes.
pub fn format(
    pri: u8,
    now: Timestamp,
    offset: Offset,
    tag: &str,
    pid: u32,
    msg: &str,
    out: &mut Vec<u8>,
) {
    use std::io::Write as _;
    // The crate's RFC 3339 formatter does the calendar: `YYYY-MM-DDThh:mm:ss…`.
    let mut t = Vec::with_capacity(40);
    format_rfc3339nano(now, offset, &mut t);
    let field = |r: std::ops::Range<usize>| t.get(r).and_then(|b| std::str::from_utf8(b).ok());
    let month = field(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)));
    let day = field(8..10).and_then(|d| d.parse::<u8>().ok());
    let time = field(11..19);
    let _ = write!(out, "<{pri}>");
    if let (Some(month), Some(day), Some(time)) = (month, day, time) {
        let _ = write!(out, "{month} {day:>2} {time} ");
    }
    let _ = write!(out, "{tag}[{pid}]: ");
    let mut text = String::with_capacity(msg.len().min(MAX_MESSAGE));
    crate::pods::push_printable(&mut text, msg, MAX_MESSAGE);
    out.extend_from_slice(text.as_bytes());
}

/// Sends `packet` to `socket` without blocking.
pub fn send(socket: &Path, packet: &[u8]) -> io::Result<()> {
    let s = UnixDatagram::unbound()?;
    s.set_nonblocking(true)?;
    s.send_to(packet, socket).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(ts: Timestamp, msg: &str) -> String {
        let mut out = Vec::new();
        format(PRI_DAEMON_ERR, ts, Offset::Utc, "ctrlog", 42, msg, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rfc3164_frame() {
        // 2023-11-14T22:13:20Z; 1970-01-01T00:00:00Z (day padded with a space).
        assert_eq!(
            packet(Timestamp::new(1_700_000_000, 5), "driver [default/c1]: bad"),
            "<27>Nov 14 22:13:20 ctrlog[42]: driver [default/c1]: bad"
        );
        assert_eq!(
            packet(Timestamp::new(0, 0), "x"),
            "<27>Jan  1 00:00:00 ctrlog[42]: x"
        );
        let mut out = Vec::new();
        format(
            30,
            Timestamp::new(0, 0),
            Offset::Fixed(3600),
            "t",
            1,
            "",
            &mut out,
        );
        assert_eq!(out, b"<30>Jan  1 01:00:00 t[1]: ");
    }

    #[test]
    fn one_line_and_bounded() {
        let p = packet(Timestamp::new(0, 0), "a\nb\r\u{1b}c");
        assert!(p.ends_with(r"a\nb\r\u{1b}c"), "{p}");
        let p = packet(Timestamp::new(0, 0), &"é".repeat(5000));
        let msg = p.split_once("]: ").unwrap().1;
        assert!(
            msg.len() <= MAX_MESSAGE + 4 && msg.len() >= MAX_MESSAGE,
            "{}",
            msg.len()
        );
    }

    #[test]
    fn send_never_blocks_and_reports_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        assert!(send(&path, b"<27>x").is_err(), "nobody listens");
        let rx = UnixDatagram::bind(&path).unwrap();
        send(&path, b"<27>hello").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"<27>hello");
        // A receiver that does not read: the queue fills, then sends fail at once.
        let mut failed = false;
        for _ in 0..100_000 {
            if send(&path, b"<27>filler").is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed);
    }
}
