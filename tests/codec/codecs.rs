//! `RecordCodec` and `RuncCodec` give what the sync parsers give, however the input is cut.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use ctrlog::codec::{RecordCodec, RuncCodec};
use ctrlog::cri::read::{OwnedLogRecord, RecordParser};
use ctrlog::cri::{Stream, Tag};
use ctrlog::time::{Offset, Timestamp};
use futures_util::{SinkExt, StreamExt};
use proptest::prelude::*;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::codec::{Decoder, Encoder, FramedRead, FramedWrite};

const REAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/real/");

/// An `AsyncRead` that hands out `chunk` bytes per read, and `Pending` every other poll, so
/// a decoder sees records cut everywhere and a framed reader really waits.
struct Trickle {
    data: Vec<u8>,
    at: usize,
    chunk: usize,
    wait: bool,
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.wait = !self.wait;
        if self.wait {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = self
            .chunk
            .min(self.data.len() - self.at)
            .min(buf.remaining());
        let at = self.at;
        buf.put_slice(&self.data[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

fn trickle(data: Vec<u8>, chunk: usize) -> Trickle {
    Trickle {
        data,
        at: 0,
        chunk,
        wait: false,
    }
}

/// What the sync parser makes of every line of `data`.
fn parsed(data: &[u8]) -> (Vec<OwnedLogRecord>, u64) {
    let mut p = RecordParser::new();
    let (mut out, mut bad) = (Vec::new(), 0);
    for l in data.split_inclusive(|&b| b == b'\n') {
        match p.parse(l) {
            Ok((_, r)) => out.push(r.to_owned_record()),
            Err(_) => bad += 1,
        }
    }
    (out, bad)
}

async fn decoded(data: Vec<u8>, chunk: usize, max: usize) -> (Vec<OwnedLogRecord>, u64) {
    let codec =
        RecordCodec::new_with_max_length(ctrlog::cri::write::CriEncoder::new(Offset::Utc), max);
    let mut fr = FramedRead::new(trickle(data, chunk), codec);
    let mut out = Vec::new();
    while let Some(r) = fr.next().await {
        out.push(r.unwrap());
    }
    (out, fr.decoder().counts().skipped)
}

#[tokio::test]
async fn tokio_record_codec_reads_every_real_cri_and_json_file_as_the_parser_does() {
    for f in [
        "containerd/cri-gen.log",
        "containerd/cri-seq-1-5000.log",
        "conmon/gen.k8s-file.log",
        "conmon/seq-1-5000.k8s-file.log",
        "docker/gen-json.log",
    ] {
        let data = std::fs::read(format!("{REAL}{f}")).unwrap();
        let want = parsed(&data);
        assert!(!want.0.is_empty(), "{f}");
        // One byte at a time on the small files; every file in odd and large pieces.
        let smallest = if data.len() < 100_000 { 1 } else { 7 };
        for chunk in [smallest, 13, 4096, 1 << 20] {
            assert_eq!(
                decoded(data.clone(), chunk, 4 << 20).await,
                want,
                "{f} chunk {chunk}"
            );
        }
    }
}

#[tokio::test]
async fn tokio_record_codec_drops_an_overlong_line_as_it_streams_and_goes_on() {
    let mut data = b"2024-01-01T00:00:00Z stdout F before\n".to_vec();
    data.extend(std::iter::repeat_n(b'x', 10_000));
    data.extend_from_slice(b"\n2024-01-01T00:00:01Z stderr F after\nno newline at the end");
    let (got, skipped) = decoded(data, 333, 64).await;
    let contents: Vec<&[u8]> = got.iter().map(|r| &r.content[..]).collect();
    assert_eq!(contents, [&b"before"[..], b"after"]);
    // The overlong line and the unterminated garbage line.
    assert_eq!(skipped, 2);
    // The buffer never held the long line: only what one read adds past the cap.
    let mut codec =
        RecordCodec::new_with_max_length(ctrlog::cri::write::CriEncoder::new(Offset::Utc), 64);
    let mut buf = BytesMut::new();
    for _ in 0..1000 {
        buf.extend_from_slice(&[b'y'; 100]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        assert!(buf.len() < 64 + 100, "{}", buf.len());
    }
}

#[tokio::test]
async fn tokio_runc_codec_counts_as_the_sync_decoder_on_real_log_json() {
    let dir = format!("{REAL}runc");
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let mut opts = ctrlog::runc::DecoderOptions::default();
        opts.policy = ctrlog::runc::ErrorPolicy::Lenient;
        let mut dec = ctrlog::runc::Decoder::with_options(&data[..], opts);
        let mut want = Vec::new();
        let mut entry = ctrlog::runc::OwnedEntry::default();
        while dec.read_entry(&mut entry).unwrap() {
            want.push(entry.clone());
        }
        for chunk in [1, 13, 1 << 16] {
            let mut fr = FramedRead::new(trickle(data.clone(), chunk), RuncCodec::new(Offset::Utc));
            let mut got = Vec::new();
            while let Some(r) = fr.next().await {
                got.push(r.unwrap());
            }
            assert_eq!(got, want, "{path:?} chunk {chunk}");
            let (s, w) = (fr.decoder().stats(), dec.stats());
            assert_eq!(
                (s.records, s.malformed + s.torn, s.blank),
                (w.records, w.malformed + w.torn, w.blank),
                "{path:?}"
            );
        }
    }
}

#[tokio::test]
async fn tokio_runc_codec_writes_what_runc_writes() {
    let line =
        br#"{"level":"error","msg":"runc run failed: \"x\"","pid":7,"time":"2026-11-23T08:27:21Z"}
"#;
    let mut codec = RuncCodec::new(Offset::Utc);
    let mut buf = BytesMut::from(&line[..]);
    let e = codec.decode(&mut buf).unwrap().unwrap();
    let mut out = BytesMut::new();
    codec.encode(&e.as_entry(), &mut out).unwrap();
    assert_eq!(&out[..], &line[..]);
    let no_time = ctrlog::runc::parse_entry(br#"{"level":"error","msg":"m"}"#).unwrap();
    assert!(codec.encode(&no_time, &mut out).is_err());
}

fn record(secs: i64, stream: bool, partial: bool, content: Vec<u8>) -> OwnedLogRecord {
    let stream = if stream {
        Stream::Stderr
    } else {
        Stream::Stdout
    };
    let tag = if partial { Tag::Partial } else { Tag::Full };
    OwnedLogRecord::new(Timestamp::new(secs, 0), stream, tag, content)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Encoding records and decoding them gives them back, in both formats (json-file keeps
    /// invalid UTF-8 as U+FFFD, as dockerd: only valid UTF-8 content there).
    #[test]
    fn tokio_codecs_round_trip_records(
        recs in proptest::collection::vec(
            (0i64..4_000_000_000, any::<bool>(), any::<bool>(), proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..40)),
            0..20),
        text in proptest::collection::vec("[^\n\u{2028}\u{2029}]{0,30}", 20),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let cri: Vec<OwnedLogRecord> = recs.iter().cloned().map(|(s, e, p, c)| record(s, e, p, c)).collect();
        let json: Vec<OwnedLogRecord> = recs.iter().zip(&text).map(|((s, e, p, _), t)| record(*s, *e, *p, t.clone().into_bytes())).collect();
        let (back_cri, back_json) = rt.block_on(async {
            let mut w = FramedWrite::new(Vec::new(), RecordCodec::cri_utc());
            for r in &cri { w.send(r).await.unwrap(); }
            let cri_bytes = w.into_inner();
            let mut w = FramedWrite::new(Vec::new(), RecordCodec::docker_json());
            for r in &json { w.send(r).await.unwrap(); }
            let json_bytes = w.into_inner();
            (decoded(cri_bytes, 5, 1 << 20).await, decoded(json_bytes, 5, 1 << 20).await)
        });
        prop_assert_eq!(back_cri, (cri, 0));
        prop_assert_eq!(back_json, (json, 0));
    }
}

#[test]
fn tokio_encoding_refuses_a_newline_in_content() {
    let mut out = BytesMut::new();
    let r = record(0, false, false, b"two\nlines".to_vec());
    assert!(RecordCodec::cri_utc().encode(&r, &mut out).is_err());
    assert!(out.is_empty());
}
