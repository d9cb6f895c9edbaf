//! The workload families, one function each, following `gen_workloads.py` function by
//! function (`gen_short`, `gen_long`, …) so that the shapes can be checked side by side.

use std::io::{self, Write};

use super::{ErrorAt, Out, Rng};

const ALPHA: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_=+/()[]{}<>'\"!?@#$%^&*";
const UTF8_WORDS: &[&str] = &["日志", "容器", "ошибка", "journal", "λ", "🙂", "données"];
const KIB: u64 = 1 << 10;

/// The message of the error entry in the runc workloads (what `last-error` must print).
pub const RUNC_ERROR_MSG: &str =
    r#"exec: "/bin/healthz": stat /bin/healthz: no such file or directory"#;

/// `json.dumps` of the NVIDIA runtime's "Running with config:" message (`indent=2`), escaped
/// as a JSON string: the spam entry that fills the runc workloads.
const NVIDIA_CONFIG_MSG_JSON: &str = r#""Running with config:\n{\n  \"AcceptEnvvarUnprivileged\": true,\n  \"NVIDIAContainerCLIConfig\": {\n    \"Root\": \"\"\n  },\n  \"NVIDIACTKConfig\": {\n    \"Path\": \"nvidia-ctk\"\n  },\n  \"NVIDIAContainerRuntimeConfig\": {\n    \"DebugFilePath\": \"/dev/null\",\n    \"LogLevel\": \"info\",\n    \"Runtimes\": [\n      \"docker-runc\",\n      \"runc\"\n    ],\n    \"Mode\": \"auto\"\n  }\n}""#;
const RUNTIME_MSG_JSON: &str = r#""Using low-level runtime /usr/bin/runc""#;
const ERROR_MSG_JSON: &str =
    r#""exec: \"/bin/healthz\": stat /bin/healthz: no such file or directory""#;

/// The longest prefix of `s` of at most `n` bytes that ends on a character boundary.
fn floor_char(s: &str, mut n: usize) -> &str {
    n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// `rand_text`: `n` bytes (or a little less, cut at a character boundary) of printable ASCII
/// with an occasional multi-byte word.
fn rand_text(rng: &mut Rng, n: usize) -> String {
    let mut out = String::with_capacity(n + 16);
    while out.len() < n {
        if rng.float() < 0.03 {
            out.push_str(rng.pick::<&str>(UTF8_WORDS));
        } else {
            let k = (n - out.len()).min(rng.range(4, 40) as usize);
            for _ in 0..k {
                out.push(*rng.pick(ALPHA) as char);
            }
        }
    }
    let cut = floor_char(&out, n).len();
    out.truncate(cut);
    out
}

/// `Pool`: 4096 text fragments of 1..220 bytes; lines are runs of random fragments.
struct Pool {
    items: Vec<String>,
}

impl Pool {
    fn new(rng: &mut Rng) -> Pool {
        let items = (0..4096)
            .map(|_| {
                let n = rng.range(1, 220) as usize;
                rand_text(rng, n)
            })
            .collect();
        Pool { items }
    }

    /// `Pool.line`: `lo..=hi` bytes (less a partial character at the cut), handed to `emit`
    /// one fragment at a time, so a 1 MiB line is never held whole.
    fn line_with(
        &self,
        rng: &mut Rng,
        lo: u64,
        hi: u64,
        mut emit: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        let want = rng.range(lo, hi) as usize;
        let mut done = 0;
        while done < want {
            let item = rng.pick(&self.items);
            let piece = floor_char(item, want - done);
            emit(piece.as_bytes())?;
            if piece.len() < item.len() {
                break;
            }
            done += piece.len();
        }
        Ok(())
    }

    fn line_to<W: Write>(
        &self,
        out: &mut Out<W>,
        rng: &mut Rng,
        lo: u64,
        hi: u64,
    ) -> io::Result<()> {
        self.line_with(rng, lo, hi, |b| out.put(b))
    }

    fn line_into(&self, buf: &mut Vec<u8>, rng: &mut Rng, lo: u64, hi: u64) {
        buf.clear();
        let _ = self.line_with(rng, lo, hi, |b| {
            buf.extend_from_slice(b);
            Ok(())
        });
    }
}

/// `json.dumps(s, ensure_ascii=False)`: quotes, backslashes and control characters escaped,
/// everything else as it is.
fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => {
                let _ = write!(out, "\\u{b:04x}");
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

pub(super) fn short<W: Write>(out: &mut Out<W>, size: u64, rng: &mut Rng) -> io::Result<()> {
    let pool = Pool::new(rng);
    while out.len() < size {
        pool.line_to(out, rng, 20, 200)?;
        out.put(b"\n")?;
    }
    Ok(())
}

pub(super) fn long<W: Write>(out: &mut Out<W>, size: u64, rng: &mut Rng) -> io::Result<()> {
    let pool = Pool::new(rng);
    while out.len() < size {
        pool.line_to(out, rng, 64 * KIB, 1024 * KIB)?;
        out.put(b"\n")?;
    }
    Ok(())
}

pub(super) fn oneline<W: Write>(out: &mut Out<W>, size: u64, rng: &mut Rng) -> io::Result<()> {
    // ALPHA and the words hold no newline: the block repeats into one line.
    let block = rand_text(rng, 1 << 20);
    while out.len() < size {
        let left = (size - out.len()).min(block.len() as u64) as usize;
        let piece = floor_char(&block, left);
        out.put(piece.as_bytes())?;
        // Pad a cut character with spaces: exactly `size` bytes, still valid UTF-8.
        for _ in piece.len()..left {
            out.put(b" ")?;
        }
    }
    Ok(())
}

pub(super) fn mixed<W: Write>(out: &mut Out<W>, size: u64, rng: &mut Rng) -> io::Result<()> {
    let pool = Pool::new(rng);
    let mut text = Vec::new();
    let mut doc = Vec::new();
    while out.len() < size {
        let r = rng.float();
        if r < 0.80 {
            pool.line_to(out, rng, 20, 200)?;
            out.put(b"\n")?;
        } else if r < 0.93 {
            // json.dumps(doc, ensure_ascii=False) with its default ", " and ": " separators.
            let level = *rng.pick(&["info", "warn", "error"]);
            let ts = rng.float() * 1e9;
            pool.line_into(&mut text, rng, 10, 120);
            let id = rng.range(0, 1 << 32);
            doc.clear();
            let _ = write!(doc, "{{\"level\": \"{level}\", \"ts\": {ts:?}, \"msg\": ");
            json_string(&mut doc, &text);
            let _ = writeln!(
                doc,
                ", \"req\": {{\"id\": {id}, \"path\": \"/api/v1/items\"}}}}"
            );
            out.put(&doc)?;
        } else if r < 0.96 {
            out.put(b"\n")?;
        } else if r < 0.99 {
            pool.line_to(out, rng, 20, 200)?;
            out.put(b"\r\n")?;
        } else {
            pool.line_to(out, rng, 20 * KIB, 200 * KIB)?;
            out.put(b"\n")?;
        }
    }
    Ok(())
}

/// `runc_entry`: one logrus JSON entry as runc writes it, at minute:second `t` of the hour.
fn runc_entry<W: Write>(out: &mut Out<W>, level: &str, msg_json: &str, t: u64) -> io::Result<()> {
    let mut e = Vec::with_capacity(msg_json.len() + 64);
    let _ = writeln!(
        e,
        "{{\"level\":\"{level}\",\"msg\":{msg_json},\"time\":\"2024-01-20T16:{:02}:{:02}+08:00\"}}",
        (t / 60) % 60,
        t % 60
    );
    out.put(&e)
}

pub(super) fn runc<W: Write>(
    out: &mut Out<W>,
    size: u64,
    rng: &mut Rng,
    at: ErrorAt,
) -> io::Result<()> {
    let mut t = 0;
    let mut placed = false;
    while out.len() < size {
        let n = out.len();
        let error_now = !placed
            && match at {
                ErrorAt::Absent => false,
                ErrorAt::Start => true,
                ErrorAt::Middle => n >= size / 2,
                ErrorAt::End => n >= size.saturating_sub(4096),
            };
        if error_now {
            placed = true;
            runc_entry(out, "error", ERROR_MSG_JSON, 7)?;
        } else if rng.float() < 0.5 {
            runc_entry(out, "info", NVIDIA_CONFIG_MSG_JSON, t)?;
        } else {
            runc_entry(out, "info", RUNTIME_MSG_JSON, t)?;
        }
        t += rng.range(1, 30);
    }
    Ok(())
}

/// `cri_time`: nanosecond `ns` of 2026-11-23 (hours wrap), nine fraction digits, UTC.
fn cri_time(buf: &mut Vec<u8>, ns: u64) {
    let (s, frac) = (ns / 1_000_000_000, ns % 1_000_000_000);
    let (h, rem) = (s / 3600, s % 3600);
    let _ = write!(
        buf,
        "2026-11-23T{:02}:{:02}:{:02}.{frac:09}Z",
        h % 24,
        rem / 60,
        rem % 60
    );
}

fn stream(rng: &mut Rng) -> &'static str {
    if rng.float() < 0.7 {
        "stdout"
    } else {
        "stderr"
    }
}

pub(super) fn cri<W: Write>(out: &mut Out<W>, size: u64, rng: &mut Rng) -> io::Result<()> {
    let pool = Pool::new(rng);
    let mut clock = 0;
    let mut head = Vec::new();
    while out.len() < size {
        clock += rng.range(1000, 5_000_000);
        let s = stream(rng);
        head.clear();
        cri_time(&mut head, clock);
        let _ = write!(head, " {s} ");
        if rng.float() >= 0.9 {
            for _ in 0..rng.range(1, 4) {
                out.put(&head)?;
                out.put(b"P ")?;
                pool.line_to(out, rng, 1000, 16384)?;
                out.put(b"\n")?;
            }
        }
        out.put(&head)?;
        out.put(b"F ")?;
        pool.line_to(out, rng, 0, 200)?;
        out.put(b"\n")?;
    }
    Ok(())
}

pub(super) fn docker<W: Write>(out: &mut Out<W>, size: u64, rng: &mut Rng) -> io::Result<()> {
    let pool = Pool::new(rng);
    let mut clock = 0;
    let mut text = Vec::new();
    let mut rec = Vec::new();
    while out.len() < size {
        clock += rng.range(1000, 5_000_000);
        let s = stream(rng);
        pool.line_into(&mut text, rng, 0, 200);
        text.push(b'\n');
        rec.clear();
        rec.extend_from_slice(b"{\"log\":");
        json_string(&mut rec, &text);
        let _ = write!(rec, ",\"stream\":\"{s}\",\"time\":\"");
        cri_time(&mut rec, clock);
        rec.extend_from_slice(b"\"}\n");
        out.put(&rec)?;
    }
    Ok(())
}
