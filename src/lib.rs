//! Container runtime logs, byte-exact with containerd and kubelet, with bounded memory.
//!
//! ```
//! use ctrlog::cri::read::{LogReader, ReadOptions, SplitSink};
//! use ctrlog::cri::write::{CriEncoder, LogWriter, MaxLen, WriterOptions};
//! use ctrlog::cri::Stream;
//! use ctrlog::time::Offset;
//!
//! // Write: a container's stdout as containerd's CRI plugin writes it, long lines cut into
//! // partial (P) records of at most 8 bytes here (16 KiB in containerd).
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("0.log");
//! let mut opts = WriterOptions::default();
//! opts.split.max_len = MaxLen::from_signed(8);
//! let mut w = LogWriter::with_options(Stream::Stdout, CriEncoder::new(Offset::Utc), Vec::new(), opts);
//! w.copy_from(&b"short\na line longer than eight bytes\n"[..])?;
//! std::fs::write(&path, w.into_inner())?;
//!
//! // Read: as `kubectl logs` does, merging the partial records back into lines.
//! let mut sink = SplitSink { stdout: Vec::new(), stderr: Vec::new() };
//! LogReader::open(&path, ReadOptions::default())?.read_to(&mut sink)?;
//! assert_eq!(sink.stdout, b"short\na line longer than eight bytes\n");
//!
//! // runc's log.json: the last error, read backwards from the end of the file.
//! let log = br#"{"level":"info","msg":"starting","time":"2026-11-23T08:27:14Z"}
//! {"level":"error","msg":"exec failed: no such file","time":"2026-11-23T08:27:15Z"}
//! "#;
//! let err = ctrlog::runc::last_error(std::io::Cursor::new(&log[..]))?.unwrap();
//! assert_eq!(err.msg, "exec failed: no such file");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Modules
//! * [`runc`]: runc/crun `log.json`: streaming decoder, last error (tail-first, and a mode
//!   that returns exactly what containerd's `getLastRuntimeError` returns), a runc-format
//!   writer, a spam summary.
//! * [`cri`]: CRI records (containerd's writer, kubelet's reader) and Docker json-file
//!   records: line splitting with bounded memory, parsing, partial merging, tail, follow.
//! * [`rotate`]: size-capped rotating files with Docker, kubelet and ctrlog naming,
//!   compressed backups (feature `gzip`), crash recovery.
//! * [`lines`]: the line framers every reader uses: [`lines::LineBuffer`] forwards over any
//!   `io::Read`, [`lines::BackScanner`] backwards over any positional source, with one
//!   overlong-line policy.
//! * [`time`]: Go-compatible RFC 3339 timestamps (hot path of every writer and reader).
//! * [`size`]: Docker's human sizes (`max-size=10m`).
//! * [`bench`](mod@bench) (feature `bench`, enabled by `cli`): the deterministic benchmark
//!   workloads (short, long, one-line and mixed text, runc `log.json` spam with an error at a
//!   known place, CRI and Docker json-file logs), streamed to any writer at any scale.
//! * [`regular`]: opening files that must be regular, without blocking on a FIFO and without
//!   following a planted symlink.
//!
//! Cores are sans-IO state machines over `&[u8]` ([`cri::write::LineSplitter`],
//! [`cri::read::parse_cri_record`], [`runc::CompatScanner`]); `std::io` adapters wrap them.
//! The `ctrlog` command-line tool is behind the `cli` feature.
//!
//! # Conventions
//! * **Options.** Every set of settings is a struct named `…Options` (and the timestamp
//!   parser's [`time::ParseConfig`]) with public fields, `#[non_exhaustive]`, whose `Default`
//!   is the reference tool's behaviour (where there is one). Start from `default()` or a
//!   preset constructor ([`rotate::RotateOptions::from_docker`],
//!   [`rotate::RotateOptions::kubelet`], [`time::ParseConfig::kubelet`]) and assign the fields
//!   to change, so a new option is not a breaking change:
//!   ```
//!   let mut opts = ctrlog::runc::DecoderOptions::default();
//!   opts.max_record_len = 4096;
//!   ```
//!   The type that uses them takes them in a constructor, `new` being the defaults or taking
//!   only what has no default ([`cri::write::LogWriter::with_options`],
//!   [`cri::write::LineSplitter::with_options`], [`runc::Decoder::with_options`],
//!   [`lines::BackScanner::with_options`]). The one builder method left is
//!   [`cri::write::LogWriter::with_clock`]: the clock is a type parameter, so setting it
//!   changes the writer's type.
//! * **Results.** Counters and reports ([`cri::write::CopySummary`], [`cri::read::ReadStats`],
//!   [`cri::read::SkippedLine`], [`cri::read::FileWarning`], [`cri::read::LogFile`],
//!   [`runc::DecodeStats`], [`runc::Summary`], [`runc::LastError`], [`rotate::RotateStats`],
//!   ...) are `#[non_exhaustive]` too: read their fields, do not build them.
//! * **Records** that mirror a fixed format ([`runc::Entry`], [`runc::Record`],
//!   [`cri::read::LogRecord`], [`cri::read::Piece`], [`cri::read::Line`],
//!   [`cri::read::PodLogPath`], [`rotate::BackupName`], [`time::Timestamp`],
//!   [`time::ParsedTime`], [`regular::FileId`]) stay exhaustive: their fields are the
//!   format's, and tests and callers build and match them whole. So do the sinks whose fields
//!   are their writers ([`cri::read::SplitSink`]).
//!
//! # Features
//! | feature | what it adds | extra dependencies |
//! |---|---|---|
//! | (none) | the library: `cri`, `runc`, `rotate`, `lines`, `time`, `size`, `regular` | serde, serde_json, memchr, thiserror, bytes; libc on Unix |
//! | `gzip` | compressed backups: rotation's `compress`, reading `.gz` files | flate2 (zlib-rs backend) |
//! | `serde` | `Serialize`/`Deserialize` on timestamps, streams, tags, records, runc entries, last errors, summaries | none (serde is always used) |
//! | `tokio` | [`codec`]: tokio-util codecs for the three formats, an async two-stream copy | tokio, tokio-util |
//! | `bench` | [`bench`](mod@bench): the deterministic benchmark workloads `ctrlog bench` runs on | none |
//! | `cli` | the `ctrlog` binary (enables `gzip`, `serde` and `bench`) | clap, signal-hook |
//!
//! ```toml
//! [dependencies]
//! ctrlog = { version = "0.1", features = ["gzip", "serde"] }
//! ```
//!
//! The minimum supported Rust version is 1.85 (checked in CI against every dependency's
//! declared MSRV).
//!
//! # Platforms
//! The sans-IO cores (splitting, encoding, parsing, merging, the runc decoder, `time`, `size`,
//! `lines`) build on any target, `wasm32` included. Opening, locking, rotating and following
//! files is Unix-only (`regular`, `rotate`, the file reader): it relies on `O_NOFOLLOW`,
//! `flock`, `renameat2` and inode identities; `libc` is a Unix-only dependency.
//! The library has 38 `unsafe` blocks outside its tests: the `libc` calls (`fcntl` including
//! `F_SETLEASE`, `flock`, `renameat2`, `sync_file_range`, `poll`, `getrlimit`, `sysconf`,
//! `socket`, `connect`, `localtime_r`, `clock_gettime`);
//! five SSE2 classifiers, the CRI writer's newline scan, the JSON escaper's byte classes,
//! the Docker unescaper's `"`/`\` search and its `"`/`\`/`\n` twin for in-line decoding, and
//! the JSON string walk of `runc::compat` (x86_64 only; portable versions elsewhere, tested
//! against them); the AVX2 code, each reached only after `is_x86_feature_detected!("avx2")`
//! and tested against the SSE2 or baseline path: the block escaper's classifier and the two
//! calls that reach it, the CRI writer's newline masks and the call to its loop compiled for
//! AVX2, the in-line unescaper's 32-byte classifier and the three calls that reach it; and
//! three writes into a `Vec`'s spare capacity ended by `set_len`: the block escaper's, the
//! CRI encoder's (prefix, tag, content and newline of one record) and the json-file
//! encoder's (the end of one record).
//! `rustix` would remove the `libc` ones but `localtime_r`'s and is the planned replacement,
//! not yet made.

#![deny(missing_docs)]

#[cfg(feature = "bench")]
pub mod bench;
#[cfg(feature = "tokio")]
pub mod codec;
pub mod cri;
mod go_utf8;
mod json_bytes;
pub mod lines;
#[cfg(unix)]
pub mod regular;
#[cfg(unix)]
pub mod rotate;
pub mod runc;
pub mod size;
mod swar;
pub mod time;

/// README.md's Rust examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
