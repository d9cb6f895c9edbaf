//! Workload files for benches: `$CTRLOG_WORKLOADS` if set, else a small generated set.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Path of the workload file `name` (e.g. `short.txt`). Uses `$CTRLOG_WORKLOADS` when set
/// (`python3 ../shared/bench/gen_workloads.py DIR` makes the full-size set); otherwise
/// generates a small set (scale 0.02) under `target/workloads` once.
pub fn workload(name: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("CTRLOG_WORKLOADS") {
        return Path::new(&dir).join(name);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/workloads");
    let path = dir.join(name);
    if !path.exists() {
        let gen = root.join("../shared/bench/gen_workloads.py");
        let status = Command::new("python3")
            .arg(&gen)
            .arg(&dir)
            .args(["--scale", "0.02"])
            .status()
            .expect("run python3 gen_workloads.py");
        assert!(status.success(), "gen_workloads.py failed");
    }
    path
}
