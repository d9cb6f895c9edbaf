//! Deterministic benchmark workloads: the files every ctrlog benchmark (and `ctrlog bench`)
//! reads, so that figures from different runs, tools and machines can be set side by side.
//!
//! ```
//! use ctrlog::bench::{generate, GenerateOptions, Workload};
//!
//! let mut opts = GenerateOptions::default();
//! opts.scale = 0.0001; // about 27 KB instead of 256 MiB
//! let mut cri = Vec::new();
//! let written = generate(Workload::Cri, &mut cri, &opts)?;
//! assert_eq!(written, cri.len() as u64);
//! assert!(written >= Workload::Cri.target_size(&opts));
//! // Every line is a CRI record.
//! for line in cri.split_inclusive(|&b| b == b'\n') {
//!     ctrlog::cri::read::parse_cri_record(line)?;
//! }
//! // The same seed gives the same bytes.
//! let mut again = Vec::new();
//! generate(Workload::Cri, &mut again, &opts)?;
//! assert_eq!(cri, again);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Reference
//! The families, their sizes at scale 1 and their shapes are those of the project's
//! `shared/bench/gen_workloads.py` (see [`Workload`]): line-length ranges, the 3% of
//! multi-byte UTF-8 words, the mixed file's proportions (80% short lines, 13% JSON documents,
//! 3% empty, 3% CRLF, 1% 20..200 KiB stack dumps), the NVIDIA runtime's config spam in runc's
//! `log.json` with the error entry at the start, in the middle, in the last 4 KiB or absent,
//! CRI records with 70% stdout and 10% of lines split into 1..4 partial (`P`) records, and
//! Docker json-file records as dockerd writes them.
//!
//! # Limits
//! * **Not byte-identical to the Python script**: the pseudo-random generator differs
//!   (SplitMix64 here, seeded with [`GenerateOptions::seed`] plus the workload's index, as the
//!   script seeds Python's `random` with 8341 plus the index). The distributions match, so
//!   throughput figures compare; byte-exact comparisons between tools must use files from one
//!   generator.
//! * A file ends at the first whole line (record, entry) at or past the target size, where the
//!   script stops at the first batch of 500 or 1000 past it; `oneline.txt` is exactly the
//!   target size (the script writes whole 1 MiB blocks, at least one).
//! * Memory is bounded (about 1 MiB of text fragments and a 256 KiB output buffer), whatever
//!   the scale: a 1 MiB line of `long.txt` is streamed in pieces.

mod families;
#[cfg(test)]
mod tests;

use std::io::{self, Write};

pub use families::RUNC_ERROR_MSG;

const MIB: f64 = (1u64 << 20) as f64;

/// One workload file. Sizes are at scale 1 ([`GenerateOptions::scale`] multiplies them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Workload {
    /// `short.txt`, 256 MiB: lines of 20..200 bytes (ASCII and some multi-byte UTF-8).
    Short,
    /// `long.txt`, 256 MiB: lines of 64 KiB..1 MiB (cut many times by a 16 KiB max-len).
    Long,
    /// `oneline.txt`, 256 MiB: one line without any newline (`max_container_log_line_size =
    /// -1`).
    Oneline,
    /// `mixed.txt`, 256 MiB: mostly short lines, some JSON documents, some 20..200 KiB stack
    /// dumps, empty lines and CRLF endings.
    Mixed,
    /// `nvidia-noerr.json`, 32 MiB: runc `log.json` full of NVIDIA runtime config spam (info),
    /// no error entry.
    NvidiaNoErr,
    /// `nvidia-err-end.json`, 32 MiB: the same, one error entry in the last 4 KiB.
    NvidiaErrEnd,
    /// `nvidia-err-mid.json`, 32 MiB: the same, one error entry in the middle.
    NvidiaErrMid,
    /// `nvidia-err-start.json`, 32 MiB: the same, the error entry first.
    NvidiaErrStart,
    /// `cri.log`, 256 MiB: CRI records, stdout and stderr interleaved, about 10% of the lines
    /// split into partial records.
    Cri,
    /// `docker-json.log`, 256 MiB: Docker json-file records (`{"log":…,"stream":…,"time":…}`).
    DockerJson,
}

/// Where the error entry of a runc `log.json` workload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorAt {
    /// No error entry.
    Absent,
    /// The first entry.
    Start,
    /// The first entry at or past half the target size.
    Middle,
    /// The first entry at or past the target size less 4 KiB.
    End,
}

impl Workload {
    /// Every workload, in the Python script's order (which gives each its seed).
    pub const ALL: [Workload; 10] = [
        Workload::Short,
        Workload::Long,
        Workload::Oneline,
        Workload::Mixed,
        Workload::NvidiaNoErr,
        Workload::NvidiaErrEnd,
        Workload::NvidiaErrMid,
        Workload::NvidiaErrStart,
        Workload::Cri,
        Workload::DockerJson,
    ];

    /// The file name the Python script gives it (`short.txt`, `cri.log`, …).
    pub fn file_name(self) -> &'static str {
        match self {
            Workload::Short => "short.txt",
            Workload::Long => "long.txt",
            Workload::Oneline => "oneline.txt",
            Workload::Mixed => "mixed.txt",
            Workload::NvidiaNoErr => "nvidia-noerr.json",
            Workload::NvidiaErrEnd => "nvidia-err-end.json",
            Workload::NvidiaErrMid => "nvidia-err-mid.json",
            Workload::NvidiaErrStart => "nvidia-err-start.json",
            Workload::Cri => "cri.log",
            Workload::DockerJson => "docker-json.log",
        }
    }

    /// The workload whose [`file_name`](Self::file_name) is `name`.
    pub fn from_file_name(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.file_name() == name)
    }

    /// For the runc `log.json` workloads, where the error entry is.
    pub fn error_at(self) -> Option<ErrorAt> {
        match self {
            Workload::NvidiaNoErr => Some(ErrorAt::Absent),
            Workload::NvidiaErrEnd => Some(ErrorAt::End),
            Workload::NvidiaErrMid => Some(ErrorAt::Middle),
            Workload::NvidiaErrStart => Some(ErrorAt::Start),
            _ => None,
        }
    }

    /// The size the file grows to at least ([`generate`] stops at the first whole line at or
    /// past it; `oneline.txt` is exactly this): 256 MiB or 32 MiB times the scale, as the
    /// script computes it (`int(256 * MiB * scale)`).
    pub fn target_size(self, opts: &GenerateOptions) -> u64 {
        let base = if self.error_at().is_some() {
            32.0
        } else {
            256.0
        };
        let size = base * MIB * opts.scale;
        if size.is_finite() && size > 0.0 {
            size as u64
        } else {
            0
        }
    }

    fn index(self) -> u64 {
        Workload::ALL.iter().position(|&w| w == self).unwrap_or(0) as u64
    }
}

/// Settings of [`generate`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct GenerateOptions {
    /// Multiplies every size (`--scale`; 0.05 gives small files for quick runs). Default 1.
    pub scale: f64,
    /// The base seed; each workload is seeded with it plus its index in [`Workload::ALL`].
    /// Default 8341, the Python script's.
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        GenerateOptions {
            scale: 1.0,
            seed: 8341,
        }
    }
}

/// Writes `workload` to `out`, streaming (bounded memory whatever the size), and returns the
/// bytes written. The same options give the same bytes on every platform. Errors are `out`'s.
pub fn generate<W: Write>(workload: Workload, out: W, opts: &GenerateOptions) -> io::Result<u64> {
    let size = workload.target_size(opts);
    let mut rng = Rng::new(opts.seed.wrapping_add(workload.index()));
    let mut out = Out::new(out);
    match workload {
        Workload::Short => families::short(&mut out, size, &mut rng)?,
        Workload::Long => families::long(&mut out, size, &mut rng)?,
        Workload::Oneline => families::oneline(&mut out, size, &mut rng)?,
        Workload::Mixed => families::mixed(&mut out, size, &mut rng)?,
        Workload::Cri => families::cri(&mut out, size, &mut rng)?,
        Workload::DockerJson => families::docker(&mut out, size, &mut rng)?,
        w => {
            let at = w.error_at().unwrap_or(ErrorAt::Absent);
            families::runc(&mut out, size, &mut rng, at)?
        }
    }
    out.finish()
}

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same sequence everywhere; the
/// workloads need reproducibility, not cryptographic quality.
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform integer in `lo..=hi` (Python's `randint`); the modulo bias is below 2^-40
    /// for the ranges used here.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// A uniform float in `[0, 1)` (Python's `random()`).
    pub(crate) fn float(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as u64 - 1) as usize]
    }
}

/// Bytes flushed to the writer at a time: the generator's only buffer that grows with the
/// output, and bounded.
pub(crate) const OUT_BUF: usize = 256 << 10;

/// A buffered, counting writer (a `BufWriter` would not count, and would hide the bound).
pub(crate) struct Out<W: Write> {
    inner: W,
    buf: Vec<u8>,
    written: u64,
}

impl<W: Write> Out<W> {
    fn new(inner: W) -> Self {
        Out {
            inner,
            buf: Vec::with_capacity(OUT_BUF),
            written: 0,
        }
    }

    /// Bytes accepted so far (buffered ones included).
    pub(crate) fn len(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    pub(crate) fn put(&mut self, b: &[u8]) -> io::Result<()> {
        // In pieces: `oneline.txt` puts 1 MiB blocks.
        for piece in b.chunks(OUT_BUF) {
            self.buf.extend_from_slice(piece);
            if self.buf.len() >= OUT_BUF {
                self.flush_buf()?;
            }
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> io::Result<u64> {
        self.flush_buf()?;
        self.inner.flush()?;
        Ok(self.written)
    }
}
