//! An async logger on tokio: a child process's stdout and stderr copied into one CRI log by
//! `copy_streams`, then read back as records with `RecordCodec` through `FramedRead`.
//!
//! Run: `cargo run --example async_logger --features tokio`

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;

use ctrlog::codec::{copy_streams, RecordCodec};
use ctrlog::cri::write::{CriEncoder, WriterOptions};
use ctrlog::cri::Tag;
use ctrlog::time::Offset;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("0.log");
    // Two in-memory pipes stand in for the container's: a task writes into them as a
    // container would, with a line longer than the 16 KiB record limit.
    let (mut out_w, out_r) = tokio::io::duplex(1 << 16);
    let (mut err_w, err_r) = tokio::io::duplex(1 << 16);
    let container = tokio::spawn(async move {
        for i in 0..100 {
            out_w
                .write_all(format!("request {i} served\n").as_bytes())
                .await?;
            if i % 10 == 0 {
                err_w
                    .write_all(format!("slow request {i}\n").as_bytes())
                    .await?;
            }
        }
        out_w.write_all(&vec![b'x'; 40_000]).await?;
        out_w.write_all(b"\n").await?;
        Ok::<_, std::io::Error>(())
    });
    let mut file = tokio::fs::File::create(&path).await?;
    let [out, err] = copy_streams(
        out_r,
        err_r,
        &mut file,
        CriEncoder::new(Offset::Utc),
        WriterOptions::default(),
    )
    .await?;
    container.await??;
    println!(
        "stdout: {} records, stderr: {} records",
        out.records, err.records
    );

    let mut records = FramedRead::new(tokio::fs::File::open(&path).await?, RecordCodec::cri_utc());
    let (mut lines, mut partial) = (0, 0);
    while let Some(r) = records.next().await {
        match r?.tag {
            Tag::Full => lines += 1,
            Tag::Partial => partial += 1,
        }
    }
    println!("read back {lines} lines, {partial} partial records");
    assert_eq!(lines, 111);
    assert_eq!(partial, 2); // 40 000 bytes: two 16 KiB pieces, then the rest closes the line
    Ok(())
}
