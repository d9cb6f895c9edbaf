//! A pod-log shipper: follows a container's log across rotation and emits each line as one
//! JSON object (serde), with the pod's identity from kubelet's path, as a shipper would send
//! them to a collector.
//!
//! Here a writer thread plays kubelet's container: it writes CRI records through a rotating
//! set (kubelet's naming) while the shipper follows; the shipper stops after the last line.
//!
//! Run: `cargo run --example pod_log_shipper --features serde`

use std::io::Write;
use std::time::Duration;

use ctrlog::cri::read::{FollowPoll, LogLine, LogReader, PodLogPath, ReadOptions};
use ctrlog::cri::write::{CriEncoder, LogWriter};
use ctrlog::cri::Stream;
use ctrlog::rotate::{RotateOptions, RotatingFile};
use ctrlog::time::Offset;

/// What is shipped per line.
#[derive(serde::Serialize)]
struct Event<'a> {
    namespace: &'a str,
    pod: &'a str,
    container: &'a str,
    #[serde(flatten)]
    line: &'a LogLine,
}

const LINES: usize = 500;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = tempfile::tempdir()?;
    let pod_path = PodLogPath::parse("/var/log/pods/shop_web-0_1b2c/app/0.log")?;
    let path = pod_path.to_path(root.path());
    std::fs::create_dir_all(path.parent().unwrap())?;
    std::fs::write(&path, "")?;

    let container = {
        let path = path.clone();
        std::thread::spawn(
            move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
                let set = RotatingFile::open(&path, RotateOptions::kubelet(8 * 1024, 5)?)?;
                let mut w = LogWriter::new(Stream::Stdout, CriEncoder::new(Offset::Utc), set);
                for i in 0..LINES {
                    w.write_chunk(format!("GET /item/{i} 200\n").as_bytes())?;
                    if i % 50 == 0 {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                w.finish()?;
                w.into_inner().close()?;
                Ok(())
            },
        )
    };

    let mut opts = ReadOptions::default();
    opts.poll_interval = Duration::from_millis(20);
    let mut follower = LogReader::open(&path, opts)?.into_follower()?;
    let mut out = std::io::stdout().lock();
    let (mut shipped, mut last) = (0usize, String::new());
    while shipped < LINES {
        let poll = follower.poll_lines(&mut |line| {
            let event = Event {
                namespace: &pod_path.namespace,
                pod: &pod_path.pod,
                container: &pod_path.container,
                line,
            };
            last = serde_json::to_string(&event).expect("serializable");
            if shipped % 100 == 0 {
                writeln!(out, "{last}").expect("stdout");
            }
            shipped += 1;
        })?;
        if let FollowPoll::Again(d) = poll {
            std::thread::sleep(d);
        }
    }
    container
        .join()
        .expect("writer thread")
        .map_err(|e| e.to_string())?;
    let stats = follower.stats();
    println!(
        "shipped {shipped} lines over {} rotations; last: {last}",
        stats.rotations
    );
    assert!(
        last.contains(&format!("GET /item/{} 200", LINES - 1)),
        "{last}"
    );
    assert!(stats.rotations > 0);
    Ok(())
}
