//! `copy_streams` writes each stream's records as the sync `LogWriter` does, interleaved at
//! record boundaries.

use ctrlog::codec::copy_streams;
use ctrlog::cri::read::RecordParser;
use ctrlog::cri::write::{
    CriEncoder, DockerJsonEncoder, LogWriter, MaxLen, RecordEncoder, WriterOptions,
};
use ctrlog::cri::{Stream, Tag};
use ctrlog::time::Offset;
use proptest::prelude::*;

/// (stream, tag, content) of every record, in order.
fn records(log: &[u8]) -> Vec<(Stream, Tag, Vec<u8>)> {
    let mut p = RecordParser::new();
    log.split_inclusive(|&b| b == b'\n')
        .map(|l| {
            let (_, r) = p
                .parse(l)
                .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(l)));
            (r.stream, r.tag, r.content.to_vec())
        })
        .collect()
}

fn sync_records<F: RecordEncoder>(
    stream: Stream,
    input: &[u8],
    enc: F,
    opts: WriterOptions,
) -> Vec<(Stream, Tag, Vec<u8>)> {
    let mut w = LogWriter::with_options(stream, enc, Vec::new(), opts);
    w.copy_from(input).unwrap();
    records(&w.into_inner())
}

fn check<F: RecordEncoder + Clone>(
    out: &[u8],
    err: &[u8],
    enc: F,
    opts: WriterOptions,
) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut log = Vec::new();
    let [so, se] = rt
        .block_on(copy_streams(out, err, &mut log, enc.clone(), opts.clone()))
        .unwrap();
    let all = records(&log);
    let of = |s: Stream| all.iter().filter(|r| r.0 == s).cloned().collect::<Vec<_>>();
    let want_out = sync_records(Stream::Stdout, out, enc.clone(), opts.clone());
    let want_err = sync_records(Stream::Stderr, err, enc, opts);
    prop_assert_eq!(so.records, want_out.len() as u64);
    prop_assert_eq!(se.records, want_err.len() as u64);
    prop_assert_eq!(of(Stream::Stdout), want_out);
    prop_assert_eq!(of(Stream::Stderr), want_err);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn tokio_copy_streams_matches_the_sync_writer_per_stream(
        out in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'\r'), any::<u8>()], 0..600),
        err in proptest::collection::vec(prop_oneof![Just(b'\n'), any::<u8>()], 0..600),
        max in 1i64..64,
    ) {
        let mut opts = WriterOptions::default();
        opts.split.max_len = MaxLen::from_signed(max);
        opts.read_size = 97;
        check(&out, &err, CriEncoder::new(Offset::Utc), opts.clone())?;
        check(&out, &err, DockerJsonEncoder::new(), opts)?;
    }
}

#[tokio::test]
async fn tokio_copy_streams_reads_whichever_stream_has_data() {
    // stdout stays open and silent while stderr writes and ends: stderr's records must
    // arrive without waiting for stdout.
    let (mut out_w, out_r) = tokio::io::duplex(64);
    let (mut err_w, err_r) = tokio::io::duplex(64);
    let (log_w, mut log_r) = tokio::io::duplex(1 << 16);
    let task = tokio::spawn(async move {
        let mut log_w = log_w;
        copy_streams(
            out_r,
            err_r,
            &mut log_w,
            CriEncoder::new(Offset::Utc),
            WriterOptions::default(),
        )
        .await
    });
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    err_w.write_all(b"first\n").await.unwrap();
    let mut got = vec![0u8; 256];
    let n = log_r.read(&mut got).await.unwrap();
    assert!(
        String::from_utf8_lossy(&got[..n]).ends_with(" stderr F first\n"),
        "{:?}",
        &got[..n]
    );
    drop(err_w);
    out_w.write_all(b"last").await.unwrap();
    drop(out_w);
    let [o, e] = task.await.unwrap().unwrap();
    assert_eq!((o.records, e.records), (1, 1));
    let mut rest = Vec::new();
    log_r.read_to_end(&mut rest).await.unwrap();
    assert!(
        String::from_utf8_lossy(&rest).ends_with(" stdout P last\n"),
        "{rest:?}"
    );
}
