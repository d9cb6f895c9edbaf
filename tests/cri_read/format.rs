//! `ReadOptions::format`: one format only, or a custom `RecordDecoder`, on every read path
//! (whole read, `--tail` backwards, a pipe).

use ctrlog::cri::read::{
    parse_cri_record, LogReader, LogRecord, ParseError, ReadFormat, ReadOptions, RecordDecoder,
    SplitSink,
};

const MIXED: &str = concat!(
    "2024-01-01T00:00:00Z stdout F cri one\n",
    r#"{"log":"json one\n","stream":"stdout","time":"2024-01-01T00:00:01Z"}"#,
    "\n",
    "2024-01-01T00:00:02Z stdout F cri two\n",
);

fn read(format: ReadFormat, tail: Option<u64>) -> (String, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0.log");
    std::fs::write(&path, MIXED).unwrap();
    let mut opts = ReadOptions::default();
    opts.format = format;
    opts.tail = tail;
    let mut sink = SplitSink {
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    let stats = LogReader::open(&path, opts)
        .unwrap()
        .read_to(&mut sink)
        .unwrap();
    (String::from_utf8(sink.stdout).unwrap(), stats.skipped)
}

#[test]
fn one_format_skips_the_other() {
    assert_eq!(
        read(ReadFormat::Auto, None),
        ("cri one\njson one\ncri two\n".into(), 0)
    );
    assert_eq!(
        read(ReadFormat::Cri, None),
        ("cri one\ncri two\n".into(), 1)
    );
    assert_eq!(read(ReadFormat::DockerJson, None), ("json one\n".into(), 2));
    // The backward tail scan uses the same decoder.
    assert_eq!(read(ReadFormat::Cri, Some(1)).0, "cri two\n");
    assert_eq!(read(ReadFormat::DockerJson, Some(1)).0, "json one\n");
}

/// CRI records with their content upper-cased on the way: proves the custom decoder is the
/// one in use (and that its scratch buffer can hold the content).
#[derive(Default)]
struct Shout {
    buf: Vec<u8>,
}

impl RecordDecoder for Shout {
    fn decode<'a>(&'a mut self, line: &'a [u8]) -> Result<LogRecord<'a>, ParseError> {
        let r = parse_cri_record(line)?;
        self.buf.clear();
        self.buf
            .extend(r.content.iter().map(u8::to_ascii_uppercase));
        Ok(LogRecord {
            content: &self.buf,
            ..r
        })
    }
}

#[test]
fn a_custom_decoder_reads_files_tails_and_pipes() {
    assert_eq!(
        read(ReadFormat::custom(Shout::default), None),
        ("CRI ONE\nCRI TWO\n".into(), 1)
    );
    assert_eq!(
        read(ReadFormat::custom(Shout::default), Some(1)).0,
        "CRI TWO\n"
    );
    // A pipe (read forwards, with a tail ring).
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, MIXED).unwrap())
    };
    let mut opts = ReadOptions::default();
    opts.format = ReadFormat::custom(Shout::default);
    opts.tail = Some(1);
    let mut sink = SplitSink {
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    LogReader::open(&fifo, opts)
        .unwrap()
        .read_to(&mut sink)
        .unwrap();
    writer.join().unwrap();
    assert_eq!(sink.stdout, b"CRI TWO\n");
}
