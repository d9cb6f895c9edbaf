//! The crate's writer (`ctrlog::cri::write`) then the reader gives back the input bytes of
//! each stream: both formats, any line limit M, any interleaving of stdout and stderr.

use std::fs;
use std::num::NonZeroUsize;

use ctrlog::cri::read::{LogReader, ReadOptions, SplitSink};
use ctrlog::cri::write::{
    CrPolicy, CriEncoder, DockerJsonEncoder, LogWriter, MaxLen, RecordEncoder, SharedWriter,
    WriterOptions,
};
use ctrlog::cri::Stream;
use ctrlog::time::{FixedClock, Offset, Timestamp};
use proptest::prelude::*;

fn run<F: RecordEncoder>(
    make: impl Fn() -> F,
    out: &[u8],
    err: &[u8],
    max: MaxLen,
    steps: &[(bool, usize)],
) -> Vec<u8> {
    let sink = SharedWriter::new(Vec::new());
    let clock = FixedClock(Timestamp::new(1_700_000_000, 123_000_000));
    let mut opts = WriterOptions::default();
    opts.split.max_len = max;
    opts.split.cr_policy = CrPolicy::Keep;
    opts.read_size = 64;
    opts.flush_size = 1;
    let mut w = [
        LogWriter::with_options(Stream::Stdout, make(), sink.clone(), opts.clone())
            .with_clock(clock),
        LogWriter::with_options(Stream::Stderr, make(), sink.clone(), opts).with_clock(clock),
    ];
    let inputs = [out, err];
    let mut at = [0usize, 0];
    let mut steps = steps.iter().copied().chain(std::iter::repeat((false, 7)));
    while at[0] < inputs[0].len() || at[1] < inputs[1].len() {
        let (pick, n) = steps.next().unwrap_or((false, 7));
        let mut i = usize::from(pick);
        if at[i] >= inputs[i].len() {
            i = 1 - i;
        }
        let end = (at[i] + n.max(1)).min(inputs[i].len());
        w[i].write_chunk(&inputs[i][at[i]..end]).unwrap();
        at[i] = end;
    }
    w[0].finish().unwrap();
    w[1].finish().unwrap();
    drop(w);
    sink.with(|v| v.clone())
}

fn read_back(data: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("0.log");
    fs::write(&p, data).unwrap();
    let mut s = SplitSink {
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let mut opts = ReadOptions::default();
    opts.read_size = 48;
    let stats = LogReader::open(&p, opts).unwrap().read_to(&mut s).unwrap();
    assert_eq!(stats.skipped, 0);
    (s.stdout, s.stderr)
}

fn max_len() -> impl Strategy<Value = MaxLen> {
    prop_oneof![
        4 => (1usize..40).prop_map(|m| MaxLen::Bytes(NonZeroUsize::new(m).unwrap())),
        1 => Just(MaxLen::Unlimited),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    /// CRI: any bytes (including `\r`, invalid UTF-8, NUL) come back byte-exact.
    #[test]
    fn cri_writer_then_reader(
        out in prop::collection::vec(prop_oneof![4 => any::<u8>(), 1 => Just(b'\n')], 0..300),
        err in prop::collection::vec(prop_oneof![4 => any::<u8>(), 1 => Just(b'\n')], 0..300),
        max in max_len(),
        steps in prop::collection::vec((any::<bool>(), 1usize..50), 0..100),
    ) {
        let data = run(|| CriEncoder::new(Offset::Utc), &out, &err, max, &steps);
        let (o, e) = read_back(&data);
        prop_assert_eq!(o, out);
        prop_assert_eq!(e, err);
    }

    /// Docker json-file: text (ASCII, so that cutting at M bytes never splits a UTF-8
    /// character, which dockerd and ctrlog's writer turn into U+FFFD) comes back exact,
    /// escapes included.
    #[test]
    fn docker_writer_then_reader(
        out in "[ -~\t\r\n\u{1}\u{1b}]{0,300}",
        err in "[ -~\t\r\n\u{7f}]{0,300}",
        max in max_len(),
        steps in prop::collection::vec((any::<bool>(), 1usize..50), 0..100),
    ) {
        let data = run(DockerJsonEncoder::new, out.as_bytes(), err.as_bytes(), max, &steps);
        let (o, e) = read_back(&data);
        prop_assert_eq!(String::from_utf8(o).unwrap(), out);
        prop_assert_eq!(String::from_utf8(e).unwrap(), err);
    }
}

/// Multi-byte text through the Docker writer with a limit that never cuts a character.
#[test]
fn docker_writer_then_reader_unicode() {
    let out = "héllo € 😀 <tag> & \"q\" \\ \u{2028}\n".repeat(50);
    let data = run(
        DockerJsonEncoder::new,
        out.as_bytes(),
        b"",
        MaxLen::Unlimited,
        &[(false, 1000)],
    );
    let (o, _) = read_back(&data);
    assert_eq!(String::from_utf8(o).unwrap(), out);
}
