//! The `rotate_ops` fuzz target: arbitrary sequences of writes, rotations, reopens and
//! close/open cycles on a writer in a temporary directory, then the set is checked.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{classify, Backups, EntryKind, Naming, RecordEnd, RotateOptions, RotatingFile};
use crate::time::{FixedClock, Offset, Timestamp};

static DIRS: AtomicU64 = AtomicU64::new(0);

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Record `i` of `len` bytes (at least 8): its number, filler, `\n`.
fn record(i: usize, len: usize) -> Vec<u8> {
    let mut r = format!("{i:06}:").into_bytes();
    let fill = len.saturating_sub(r.len() + 1);
    r.extend(vec![b'a' + (i % 26) as u8; fill]);
    r.push(b'\n');
    r
}

/// Runs the operations in `data` and panics if an invariant breaks: the set holds whole
/// records only, a contiguous run ending with the last record written (nothing lost but whole
/// old files, nothing duplicated, so bytes are conserved); at most the allowed number of
/// backups; no file over the cap unless it holds a single record; no temporaries left.
pub fn fuzz_rotate_ops(data: &[u8]) {
    let (Some(&a), Some(&b)) = (data.first(), data.get(1)) else {
        return;
    };
    let ops = &data[2..];
    let max = 16 + u64::from(a % 64);
    let backups = match b % 4 {
        0 => Backups::Unlimited,
        n => Backups::Count(u32::from(n - 1)),
    };
    let naming = match (b / 4) % 3 {
        0 => Naming::Ctrlog,
        1 => Naming::Docker,
        _ => Naming::Kubelet,
    };
    let compress = cfg!(feature = "gzip") && (b / 16) % 2 == 1;
    let opts = RotateOptions {
        max_size: Some(max),
        backups,
        naming,
        compress,
        record_end: RecordEnd::Newline,
        durability: super::Durability::None,
        offset: Offset::Utc,
        clock: Arc::new(FixedClock(Timestamp::new(1_514_764_800, 0))),
        check_interval: std::time::Duration::ZERO,
        ..RotateOptions::default()
    };
    let dir = std::env::temp_dir().join(format!(
        "ctrlog-fuzz-rotate-{}-{}",
        std::process::id(),
        DIRS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let dir = TempDir(dir);
    let path = dir.0.join("f.log");
    let Ok(mut w) = RotatingFile::open(&path, opts.clone()) else {
        return;
    };
    let mut written: Vec<Vec<u8>> = Vec::new();
    let mut it = ops.iter();
    while let Some(&op) = it.next() {
        match op % 8 {
            0..=4 => {
                let len = 8 + usize::from(it.next().copied().unwrap_or(0) % 120);
                let r = record(written.len(), len);
                assert!(w.write_all(&r).is_ok(), "write failed");
                written.push(r);
            }
            5 => assert!(w.reopen().is_ok(), "reopen failed"),
            6 => assert!(w.rotate().is_ok(), "rotate failed"),
            _ => {
                assert!(w.close().is_ok(), "close failed");
                match RotatingFile::open(&path, opts.clone()) {
                    Ok(n) => w = n,
                    Err(e) => panic!("reopen after close: {e}"),
                }
            }
        }
    }
    assert!(w.close().is_ok(), "close failed");
    check_set(&dir.0, &opts, max, &written);
}

fn read_file(path: &Path, gz: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let Ok(mut f) = std::fs::File::open(path) else {
        panic!("cannot open {}", path.display());
    };
    if gz {
        #[cfg(feature = "gzip")]
        {
            let mut d = flate2::read::MultiGzDecoder::new(f);
            assert!(
                d.read_to_end(&mut out).is_ok(),
                "bad gzip {}",
                path.display()
            );
            return out;
        }
        #[cfg(not(feature = "gzip"))]
        panic!("gzip file without the gzip feature: {}", path.display());
    }
    assert!(f.read_to_end(&mut out).is_ok());
    out
}

fn check_set(dir: &Path, opts: &RotateOptions, max: u64, written: &[Vec<u8>]) {
    let scheme = opts.naming.scheme(opts.offset);
    let mut files: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut live = None;
    let Ok(rd) = std::fs::read_dir(dir) else {
        panic!("read_dir")
    };
    for e in rd.flatten() {
        let name = e.file_name().into_string().unwrap_or_default();
        if name == "f.log" {
            live = Some(read_file(&e.path(), false));
            continue;
        }
        let Some((key, kind, _)) = classify(&*scheme, "f.log", &name) else {
            panic!("unrecognised file {name}");
        };
        let data = match kind {
            EntryKind::Raw => read_file(&e.path(), false),
            EntryKind::Gz => read_file(&e.path(), true),
            EntryKind::Tmp => panic!("temporary left: {name}"),
        };
        assert!(
            files.insert(key, data).is_none(),
            "raw and gz twins for {name}"
        );
    }
    if let Backups::Count(n) = opts.backups {
        assert!(files.len() <= n as usize, "{} backups > {n}", files.len());
    }
    let Some(live) = live else {
        panic!("live file missing")
    };
    // Walk the files oldest to newest, matching whole records.
    let mut next: Option<usize> = None;
    for data in files.values().chain(std::iter::once(&live)) {
        let mut rest = data.as_slice();
        let mut count = 0;
        while !rest.is_empty() {
            let Some(num) = rest.get(..6).and_then(|d| std::str::from_utf8(d).ok()) else {
                panic!("garbage in set")
            };
            let Ok(i) = num.parse::<usize>() else {
                panic!("garbage in set")
            };
            if let Some(want) = next {
                assert_eq!(i, want, "records not contiguous");
            }
            let Some(r) = written.get(i) else {
                panic!("unknown record {i}")
            };
            assert!(rest.starts_with(r), "record {i} split or damaged");
            rest = &rest[r.len()..];
            next = Some(i + 1);
            count += 1;
        }
        assert!(
            data.len() as u64 <= max || count == 1,
            "file of {} bytes over the cap {max} with {count} records",
            data.len()
        );
    }
    // Nothing after the last record written was lost.
    assert_eq!(
        next.unwrap_or(written.len()),
        written.len(),
        "newest records lost"
    );
    // With unlimited backups, every byte is kept.
    if opts.backups == Backups::Unlimited {
        let total: usize = files.values().map(Vec::len).sum::<usize>() + live.len();
        let want: usize = written.iter().map(Vec::len).sum();
        assert_eq!(total, want, "bytes not conserved");
    }
}
