//! A node doctor: every runc bundle's last error, whether it is residue, and one merged
//! summary of all their log.json files, from containerd's state directory.
//!
//! With no argument it builds a small fake state root (two bundles, one spamming hook
//! warnings) in a temporary directory; give it `/run/containerd` on a node.
//!
//! Run: `cargo run --example node_doctor [STATE_ROOT]`

use std::fs::{self, File};
use std::io::BufReader;
use std::path::PathBuf;

use ctrlog::runc::bundle::{find_bundles, ResidueChecker, ResidueOptions};
use ctrlog::runc::{last_error, summarize, Summary, SummaryOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::tempdir()?;
    let root = match std::env::args_os().nth(1) {
        Some(root) => PathBuf::from(root),
        None => fake_state_root(tmp.path())?,
    };
    let found = find_bundles(&root)?;
    let checker = ResidueChecker::new(ResidueOptions::default())?;
    let mut node = Summary::default();
    for b in &found.bundles {
        let state = checker.check(b);
        let log = b.path.join("log.json");
        let err = match File::open(&log) {
            Ok(f) => last_error(f)?.map(|e| e.msg).unwrap_or_default(),
            Err(_) => continue,
        };
        println!(
            "{}/{}: {} ({}); last error: {err:?}",
            b.namespace,
            b.id,
            if state.residue { "residue" } else { "live" },
            state.reason
        );
        node.merge(&summarize(
            BufReader::new(File::open(&log)?),
            SummaryOptions::default(),
        )?);
    }
    for s in &found.skipped {
        println!("skipped {}: {}", s.path.display(), s.reason);
    }
    println!(
        "{} records over {} bundles; levels {:?}",
        node.stats.records,
        found.bundles.len(),
        node.levels
    );
    for m in node.top_messages.iter().take(3) {
        println!("  {:>6} × {} {}", m.count, m.level, m.preview);
    }
    Ok(())
}

/// containerd's layout: `<root>/io.containerd.runtime.v2.task/<namespace>/<id>/log.json`.
fn fake_state_root(dir: &std::path::Path) -> std::io::Result<PathBuf> {
    let tasks = dir.join("io.containerd.runtime.v2.task").join("k8s.io");
    let rec = |level: &str, msg: &str, s: u32| {
        format!(
            "{{\"level\":\"{level}\",\"msg\":\"{msg}\",\"time\":\"2026-01-01T00:00:{s:02}Z\"}}\n"
        )
    };
    let a = tasks.join("a1b2c3");
    fs::create_dir_all(&a)?;
    let mut log = String::new();
    for i in 0..50 {
        log += &rec("warning", "nvidia-container-runtime: config spam", i % 60);
    }
    log += &rec(
        "error",
        "exec: \\\"nvidia-smi\\\": executable file not found in $PATH",
        59,
    );
    fs::write(a.join("log.json"), log)?;
    let b = tasks.join("d4e5f6");
    fs::create_dir_all(&b)?;
    fs::write(
        b.join("log.json"),
        rec("warning", "nvidia-container-runtime: config spam", 1),
    )?;
    Ok(dir.to_path_buf())
}
