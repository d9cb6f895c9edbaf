//! `FollowStream`: every line, in order, across a rotation, on tokio's runtime.

use std::io::Write;
use std::time::Duration;

use ctrlog::codec::FollowStream;
use ctrlog::cri::read::{LogReader, ReadOptions};
use futures_util::StreamExt;

fn append(path: &std::path::Path, from: usize, to: usize) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for i in from..to {
        writeln!(f, "2024-01-01T00:00:{:02}Z stdout F line {i}", i % 60).unwrap();
    }
}

#[tokio::test]
async fn tokio_follow_stream_gives_every_line_across_a_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, 0, 50);
    let mut opts = ReadOptions::default();
    opts.poll_interval = Duration::from_millis(20);
    let follower = LogReader::open(&path, opts)
        .unwrap()
        .into_follower()
        .unwrap();
    let mut lines = FollowStream::new(follower);
    let writer = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(50));
            append(&path, 50, 100);
            // Docker's rotation: the live file becomes `.1`, a new one starts.
            std::fs::rename(&path, path.with_extension("log.1")).unwrap();
            append(&path, 100, 150);
        })
    };
    let mut got = Vec::new();
    while got.len() < 150 {
        let next = tokio::time::timeout(Duration::from_secs(60), lines.next())
            .await
            .expect("a line within a minute")
            .expect("the stream goes on")
            .unwrap();
        got.push(String::from_utf8(next.content().to_vec()).unwrap());
    }
    writer.await.unwrap();
    let want: Vec<String> = (0..150).map(|i| format!("line {i}")).collect();
    assert_eq!(got, want);
}
