//! Helpers shared by the rotation tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use ctrlog::rotate::{Backups, Naming, RecordEnd, RotateOptions};
use ctrlog::time::{FixedClock, Offset, Timestamp};

/// Sorted names of the entries of `dir`.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[cfg(feature = "gzip")]
pub fn gunzip(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(f)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    out
}

#[cfg(feature = "gzip")]
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// 2018-01-01T00:00:00Z
pub const T0: i64 = 1_514_764_800;

/// Options with a fixed clock and opaque records (lumberjack's tests write no newlines).
pub fn opts(max_size: Option<u64>, backups: Backups, naming: Naming) -> RotateOptions {
    let mut o = RotateOptions::default();
    o.max_size = max_size;
    o.backups = backups;
    o.naming = naming;
    o.record_end = RecordEnd::Any;
    o.offset = Offset::Utc;
    o.clock = Arc::new(FixedClock(Timestamp::new(T0, 0)));
    o
}
