//! The jobs `ctrlog bench` runs, and each one in-process: the library calls the subcommands
//! make, on the same files, without process start or output to a terminal.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::thread;

use ctrlog::bench::{Workload, RUNC_ERROR_MSG};
use ctrlog::cri::read::{LogReader, LogSink, ReadOptions};
use ctrlog::cri::write::{
    CrPolicy, CriEncoder, DockerJsonEncoder, LogWriter, MaxLen, RecordEncoder, RecordWriter,
    SharedWriter, TimestampPolicy, WriterOptions,
};
use ctrlog::cri::Stream;
use ctrlog::rotate::{PlainFile, RotateOptions, RotatingFile};
use ctrlog::time::Offset;

/// Record format of a writing job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Cri,
    JsonFile,
}

impl Format {
    pub fn word(self) -> &'static str {
        match self {
            Format::Cri => "cri",
            Format::JsonFile => "json-file",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `ctrlog write --format F --max-len N -o OUT < INPUT`, rotating (max-file 3, max-size an
    /// eighth of the input) when `rotate`, with `--timestamp-policy per-record` when
    /// `per_record`.
    Write {
        format: Format,
        max_len: i64,
        rotate: bool,
        per_record: bool,
    },
    /// `ctrlog last-error [--compat] INPUT`.
    LastError { compat: bool },
    /// `ctrlog logs [--tail N] INPUT > /dev/null`.
    Read { tail: Option<u64> },
    /// containerd's `binary://` driver: INPUT on the container's stdout and stderr at once.
    Driver { format: Format },
}

#[derive(Clone, Copy, Debug)]
pub struct Job {
    pub name: &'static str,
    pub workload: Workload,
    pub kind: Kind,
}

const fn write(name: &'static str, w: Workload, format: Format, max_len: i64, rotate: bool) -> Job {
    Job {
        name,
        workload: w,
        kind: Kind::Write {
            format,
            max_len,
            rotate,
            per_record: false,
        },
    }
}

/// Every job, in the order of the table.
pub const JOBS: &[Job] = &[
    write(
        "cri-write-short",
        Workload::Short,
        Format::Cri,
        16384,
        false,
    ),
    write(
        "cri-write-mixed",
        Workload::Mixed,
        Format::Cri,
        16384,
        false,
    ),
    write("cri-write-long", Workload::Long, Format::Cri, 16384, false),
    write(
        "cri-write-oneline",
        Workload::Oneline,
        Format::Cri,
        -1,
        false,
    ),
    Job {
        name: "cri-write-per-record",
        workload: Workload::Short,
        kind: Kind::Write {
            format: Format::Cri,
            max_len: 16384,
            rotate: false,
            per_record: true,
        },
    },
    write(
        "json-write-short",
        Workload::Short,
        Format::JsonFile,
        16384,
        false,
    ),
    write(
        "rotate-write-short",
        Workload::Short,
        Format::Cri,
        16384,
        true,
    ),
    Job {
        name: "last-error",
        workload: Workload::NvidiaErrEnd,
        kind: Kind::LastError { compat: false },
    },
    Job {
        name: "last-error-compat",
        workload: Workload::NvidiaErrEnd,
        kind: Kind::LastError { compat: true },
    },
    Job {
        name: "cri-read",
        workload: Workload::Cri,
        kind: Kind::Read { tail: None },
    },
    Job {
        name: "json-read",
        workload: Workload::DockerJson,
        kind: Kind::Read { tail: None },
    },
    Job {
        name: "tail-10",
        workload: Workload::Cri,
        kind: Kind::Read { tail: Some(10) },
    },
    Job {
        name: "driver-cri",
        workload: Workload::Short,
        kind: Kind::Driver {
            format: Format::Cri,
        },
    },
    Job {
        name: "driver-json-file",
        workload: Workload::Short,
        kind: Kind::Driver {
            format: Format::JsonFile,
        },
    },
];

impl Job {
    /// Bytes the job takes in: the input, twice for the driver (one copy per stream).
    pub fn bytes(&self, input_len: u64) -> u64 {
        match self.kind {
            Kind::Driver { .. } => 2 * input_len,
            _ => input_len,
        }
    }

    /// Whether the job writes a log (into `out/` of its scratch directory) that it keeps whole,
    /// so that the copy of that output is a second floor. Not the rotating job: it deletes
    /// most of what it wrote, so the files it leaves are no measure of its writing.
    pub fn writes(&self) -> bool {
        matches!(
            self.kind,
            Kind::Write { rotate: false, .. } | Kind::Driver { .. }
        )
    }

    /// How many times the floor reads the input (the driver's two streams).
    pub fn copies(&self) -> usize {
        match self.kind {
            Kind::Driver { .. } => 2,
            _ => 1,
        }
    }
}

/// Docker's `max-size` for the rotating job: an eighth of the input (at least 64 KiB), so the
/// set rotates about eight times at any scale.
pub fn rotate_max_size(input_len: u64) -> String {
    (input_len / 8).max(64 << 10).to_string()
}

/// Where a job's output goes: `dir/out/`, emptied before each run.
pub fn fresh_out(dir: &Path) -> io::Result<PathBuf> {
    let out = dir.join("out");
    match fs::remove_dir_all(&out) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::create_dir(&out)?;
    Ok(out)
}

/// The files a writing job left in `dir/out/`, sorted, and their total size.
pub fn output_files(dir: &Path) -> io::Result<(Vec<PathBuf>, u64)> {
    let mut files = Vec::new();
    let mut total = 0;
    for e in fs::read_dir(dir.join("out"))? {
        let e = e?;
        let meta = e.metadata()?;
        if meta.is_file() {
            total += meta.len();
            files.push(e.path());
        }
    }
    files.sort();
    Ok((files, total))
}

/// The output floor in-process: `files` copied into `dest` through one 256 KiB buffer (what
/// moving the job's output bytes through the page cache costs at the least). `dest` is
/// removed after.
pub fn copy_floor(files: &[PathBuf], dest: &Path) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 << 10];
    let mut out = File::create(dest)?;
    let mut total = 0;
    for f in files {
        total += read_chunks(f, &mut buf, |chunk| io::Write::write_all(&mut out, chunk))?;
    }
    drop(out);
    fs::remove_file(dest)?;
    Ok(total)
}

/// Reads `path` to its end through `buf`, handing each read's bytes to `each`; returns the
/// bytes read. The floors' one read loop, as ctrlog's readers read (retrying `Interrupted`).
fn read_chunks(
    path: &Path,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]) -> io::Result<()>,
) -> io::Result<u64> {
    let mut f = File::open(path)?;
    let mut total = 0;
    loop {
        let n = match f.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        each(&buf[..n])?;
        total += n as u64;
    }
}

/// The writer options of `ctrlog write` and the driver for this format and max-len.
fn writer_options(format: Format, max_len: i64) -> WriterOptions {
    let mut opts = WriterOptions::default();
    opts.split.max_len = MaxLen::from_signed(max_len);
    opts.split.cr_policy = match format {
        Format::Cri => CrPolicy::Strip,
        Format::JsonFile => CrPolicy::Keep,
    };
    opts
}

/// Counts what a read prints, as `> /dev/null` would take it.
struct CountSink(u64);

impl LogSink for CountSink {
    fn write_stream(&mut self, _: Stream, data: &[u8]) -> io::Result<()> {
        self.0 += data.len() as u64;
        Ok(())
    }
}

fn other(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// Runs `job` in-process on `input`, with scratch space in `dir`; errors name the job.
pub fn run_in_process(job: &Job, input: &Path, dir: &Path) -> io::Result<()> {
    let fail = |e: &dyn std::fmt::Display| other(format!("{} (in-process): {e}", job.name));
    match job.kind {
        Kind::Write {
            format,
            max_len,
            rotate,
            per_record,
        } => {
            let out = fresh_out(dir)?.join("c.log");
            let mut opts = writer_options(format, max_len);
            if per_record {
                opts.timestamps = TimestampPolicy::PerRecord;
            }
            let file = File::open(input)?;
            if rotate {
                let size = rotate_max_size(fs::metadata(input)?.len());
                let ro = RotateOptions::from_docker(Some(&size), Some("3"), false)
                    .map_err(|e| fail(&e))?;
                let set = RotatingFile::open(&out, ro).map_err(|e| fail(&e))?;
                let set = copy(format, set, opts, file).map_err(|e| fail(&e))?;
                set.close().map_err(|e| fail(&e))?;
            } else {
                let f = PlainFile::open(&out, 0o640).map_err(|e| fail(&e))?;
                copy(format, f, opts, file).map_err(|e| fail(&e))?;
            }
        }
        Kind::LastError { compat } => {
            let f = File::open(input)?;
            let msg = if compat {
                ctrlog::runc::last_error_compat(f).map_err(|e| fail(&e))?
            } else {
                ctrlog::runc::last_error(f)
                    .map_err(|e| fail(&e))?
                    .map(|e| e.msg)
                    .unwrap_or_default()
            };
            if msg != RUNC_ERROR_MSG {
                return Err(fail(&format_args!("found {msg:?}, not the error entry")));
            }
        }
        Kind::Read { tail } => {
            let mut opts = ReadOptions::default();
            opts.tail = tail;
            let mut sink = CountSink(0);
            let stats = LogReader::open(input, opts)
                .and_then(|mut r| r.read_to(&mut sink))
                .map_err(|e| fail(&e))?;
            if sink.0 == 0 || stats.skipped > 0 {
                return Err(fail(&format_args!(
                    "{} bytes printed, {} records skipped",
                    sink.0, stats.skipped
                )));
            }
        }
        Kind::Driver { format } => {
            let out = fresh_out(dir)?.join("c.log");
            let shared = SharedWriter::new(PlainFile::open(&out, 0o640).map_err(|e| fail(&e))?);
            let pumps: Vec<_> = [Stream::Stdout, Stream::Stderr]
                .into_iter()
                .map(|stream| -> io::Result<_> {
                    let (r, w) = pipe()?;
                    let src = input.to_owned();
                    let feeder = thread::spawn(move || -> io::Result<u64> {
                        io::copy(&mut File::open(src)?, &mut File::from(w))
                    });
                    let shared = shared.clone();
                    let opts = writer_options(format, 16384);
                    let pump = thread::spawn(move || match format {
                        Format::Cri => {
                            pump_one(stream, CriEncoder::new(Offset::Local), shared, opts, r)
                        }
                        Format::JsonFile => {
                            pump_one(stream, DockerJsonEncoder::new(), shared, opts, r)
                        }
                    });
                    Ok((feeder, pump))
                })
                .collect::<io::Result<_>>()?;
            for (feeder, pump) in pumps {
                let fed = feeder.join().map_err(|_| fail(&"a feeder panicked"))?;
                fed.map_err(|e| fail(&e))?;
                let pumped = pump.join().map_err(|_| fail(&"a pump panicked"))?;
                pumped.map_err(|e| fail(&e))?;
            }
        }
    }
    Ok(())
}

fn copy<K: RecordWriter>(
    format: Format,
    out: K,
    opts: WriterOptions,
    input: File,
) -> Result<K, ctrlog::cri::write::WriteError> {
    match format {
        Format::Cri => copy_with(CriEncoder::new(Offset::Local), out, opts, input),
        Format::JsonFile => copy_with(DockerJsonEncoder::new(), out, opts, input),
    }
}

fn copy_with<F: RecordEncoder, K: RecordWriter>(
    enc: F,
    out: K,
    opts: WriterOptions,
    input: File,
) -> Result<K, ctrlog::cri::write::WriteError> {
    let mut w = LogWriter::with_options(Stream::Stdout, enc, out, opts);
    w.copy_from(input)?;
    Ok(w.into_inner())
}

fn pump_one<F: RecordEncoder>(
    stream: Stream,
    enc: F,
    out: SharedWriter<PlainFile>,
    opts: WriterOptions,
    input: OwnedFd,
) -> Result<(), ctrlog::cri::write::WriteError> {
    let mut w = LogWriter::with_options(stream, enc, out, opts);
    w.copy_from(File::from(input))?;
    Ok(())
}

/// A pipe `(read, write)`, both ends close-on-exec, moved to fds >= 100 so that placing them
/// on 3, 4 and 5 in a child never clobbers one another.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just returned by pipe2 and are owned here.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let high = |fd: OwnedFd| -> io::Result<OwnedFd> {
        use std::os::fd::AsRawFd;
        // SAFETY: F_DUPFD_CLOEXEC on a descriptor we hold returns a new one we own.
        let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 100) };
        if new < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `new` is a fresh descriptor.
        Ok(unsafe { OwnedFd::from_raw_fd(new) })
    };
    Ok((high(r)?, high(w)?))
}

/// The floors over `copies` reads of `input`: a plain read loop (`cat FILE > /dev/null` in
/// the process), and the same read counting newlines with memchr. Returns the newline count
/// so the work cannot be optimised away.
pub fn read_floor(input: &Path, copies: usize, count_newlines: bool) -> io::Result<u64> {
    // ctrlog's read size (ReadOptions::read_size), so the floor reads as ctrlog does.
    let mut buf = vec![0u8; 256 << 10];
    let mut lines = 0u64;
    for _ in 0..copies {
        read_chunks(input, &mut buf, |chunk| {
            if count_newlines {
                lines += memchr::memchr_iter(b'\n', chunk).count() as u64;
            } else {
                std::hint::black_box(chunk);
            }
            Ok(())
        })?;
    }
    Ok(lines)
}
