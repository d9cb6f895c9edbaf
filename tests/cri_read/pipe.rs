//! Inputs that cannot seek: `-` (stdin), a FIFO, `/dev/stdin` (issue 9 item 7).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use ctrlog::cri::read::{LogReader, MergedSink, ReadOptions, TailMode};

fn cri(stream: &str, tag: &str, c: &str) -> String {
    format!("2024-01-01T00:00:00Z {stream} {tag} {c}\n")
}

/// Mixed records: both streams, partial lines, garbage, an unterminated end.
fn body() -> String {
    let mut s = String::new();
    for i in 0..3000 {
        let stream = if i % 7 == 0 { "stderr" } else { "stdout" };
        let tag = if i % 5 == 1 { "P" } else { "F" };
        if i % 97 == 0 {
            s.push_str("garbage\n");
        }
        s.push_str(&cri(stream, tag, &format!("r{i}")));
    }
    s.push_str("2024-01-01T00:00:00Z stdout F unterminated");
    s
}

fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Reads the FIFO `fifo` while a thread writes `data` into it; fails instead of hanging.
fn read_fifo(fifo: &Path, data: String, opts: ReadOptions) -> (Vec<u8>, u64) {
    let w = {
        let fifo = fifo.to_path_buf();
        std::thread::spawn(move || {
            let mut f = fs::OpenOptions::new().write(true).open(fifo).unwrap();
            // Small writes: the reader sees many short reads.
            for chunk in data.as_bytes().chunks(1000) {
                f.write_all(chunk).unwrap();
            }
        })
    };
    let (tx, rx) = mpsc::channel();
    let fifo = fifo.to_path_buf();
    std::thread::spawn(move || {
        let mut sink = MergedSink(Vec::new());
        let st = LogReader::open(&fifo, opts)
            .unwrap()
            .read_to(&mut sink)
            .unwrap();
        let _ = tx.send((sink.0, st.skipped));
    });
    let r = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("reading the FIFO blocked");
    w.join().unwrap();
    r
}

/// A stderr line begun at the start and ended at the end, 3000 stdout lines between.
fn rare_stream() -> String {
    let mut s = cri("stderr", "P", "begun ");
    for i in 0..3000 {
        s.push_str(&cri("stdout", "F", &format!("r{i}")));
    }
    s + &cri("stderr", "F", "ended")
}

#[test]
fn fifo_is_read_forwards_with_and_without_tail() {
    for body in [body, rare_stream] {
        fifo_agrees_with_file(body);
    }
}

fn fifo_agrees_with_file(body: fn() -> String) {
    let d = tempfile::tempdir().unwrap();
    let plain = d.path().join("plain.log");
    fs::write(&plain, body()).unwrap();
    let mut k = 0;
    for mode in [TailMode::Lines, TailMode::Records] {
        for tail in [
            None,
            Some(0),
            Some(1),
            Some(2),
            Some(10),
            Some(100),
            Some(2500),
            Some(9999),
        ] {
            let mut opts = ReadOptions::default();
            opts.tail = tail;
            opts.tail_mode = mode;
            opts.read_size = 4096;
            let mut want = MergedSink(Vec::new());
            LogReader::open(&plain, opts.clone())
                .unwrap()
                .read_to(&mut want)
                .unwrap();
            // A new FIFO each time: a child process forked by another test may hold a copy
            // of the last one's ends for a moment.
            k += 1;
            let fifo = d.path().join(format!("fifo{k}"));
            mkfifo(&fifo);
            let (got, _) = read_fifo(&fifo, body(), opts);
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want.0).unwrap(),
                "{mode:?} {tail:?}"
            );
        }
    }
}

#[cfg(feature = "cli")]
mod cli {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    /// `ctrlog logs ARGS` with `input` on a pipe as stdin, killed after 30 s.
    fn logs_stdin(args: &[&str], input: String) -> std::process::Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ctrlog"))
            .arg("logs")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let w = std::thread::spawn(move || {
            let _ = stdin.write_all(input.as_bytes());
        });
        let t0 = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if t0.elapsed() > Duration::from_secs(30) {
                child.kill().unwrap();
                panic!("ctrlog logs {args:?} blocked");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        w.join().unwrap();
        child.wait_with_output().unwrap()
    }

    #[test]
    fn stdin_dash_and_dev_stdin() {
        let input = cri("stdout", "F", "a") + &cri("stderr", "F", "b") + &cri("stdout", "F", "c");
        for path in ["-", "/dev/stdin"] {
            let o = logs_stdin(&[path], input.clone());
            assert_eq!(
                (o.stdout.as_slice(), o.stderr.as_slice()),
                (&b"a\nc\n"[..], &b"b\n"[..]),
                "{path}"
            );
            assert!(o.status.success());
            let o = logs_stdin(&["--tail", "1", path], input.clone());
            assert_eq!(
                (o.stdout.as_slice(), o.stderr.as_slice()),
                (&b"c\n"[..], &b""[..]),
                "{path}"
            );
            // -f on a pipe reads to its end.
            let o = logs_stdin(&["-f", "--tail", "2", path], input.clone());
            assert_eq!(
                (o.stdout.as_slice(), o.stderr.as_slice()),
                (&b"c\n"[..], &b"b\n"[..]),
                "{path}"
            );
            assert!(o.status.success());
        }
        // Big input: tail keeps only a ring.
        let big: String = (0..200_000)
            .map(|i| cri("stdout", "F", &format!("{i}")))
            .collect();
        let o = logs_stdin(&["--tail", "3", "-"], big);
        assert_eq!(o.stdout, b"199997\n199998\n199999\n");
    }
}

/// `--tail` on a pipe keeps the last lines in a buffer of `tail_buffer` bytes: a logical line
/// (many `P` pieces) that does not fit is left out whole and counted, never printed cut
/// (adversarial pass over issue 9: 20 MiB lines through `--tail 30` printed 6 lines, the first
/// cut, in silence).
#[test]
fn fifo_tail_drops_lines_too_long_for_the_buffer_whole() {
    let long = |c: char| {
        let piece = c.to_string().repeat(100);
        cri("stdout", "P", &piece).repeat(4) + &cri("stdout", "F", "")
    };
    let mut data = String::new();
    for i in 0..10u8 {
        if i % 3 == 0 {
            data.push_str(&long(char::from(b'a' + i)));
        } else {
            data.push_str(&cri("stdout", "F", &format!("s{i}")));
        }
        data.push_str(&cri("stderr", "F", &format!("e{i}")));
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let opts = |buf| {
        let mut o = ReadOptions::default();
        o.tail = Some(8);
        o.max_record_len = 256;
        o.tail_buffer = buf;
        o
    };
    // Room for everything: the last 8 lines, the long ones whole.
    let (out, skipped) = read_fifo(&fifo, data.clone(), opts(1 << 20));
    let text = String::from_utf8(out).unwrap();
    let (g, j) = ("g".repeat(400), "j".repeat(400));
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [&*g, "e6", "s7", "e7", "s8", "e8", &*j, "e9"]
    );
    assert_eq!(skipped, 0);
    // 1000 bytes: one long line (4 × 131 bytes) fits, not two: the oldest goes, whole.
    let (out, skipped) = read_fifo(&fifo, data.clone(), opts(1000));
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["e6", "s7", "e7", "s8", "e8", &*j, "e9"]
    );
    assert_eq!(skipped, 1, "{text}");
    // 400 bytes: no long line fits; what is left out is counted, nothing is printed cut.
    let (out, skipped) = read_fifo(&fifo, data, opts(400));
    let text = String::from_utf8(out).unwrap();
    assert!(text.lines().all(|l| l.len() == 2), "{text}");
    assert_eq!(skipped + text.lines().count() as u64, 8, "{text}");
}
