//! Both streams byte-exact through a real shim, in both formats; rotation with compress.

use std::fs;
use std::io::Read;

use super::{id, poll, stderr_bytes, stdout_bytes, uri, Containerd};

/// One record: stream, tag (`P`/`F`; json-file: `P` when `log` has no final `\n`), content.
type Record = (String, String, Vec<u8>);

/// The CRI records of `text`; every line must be `TIME STREAM TAG CONTENT` with a UTC time.
fn cri_records(text: &[u8]) -> Vec<Record> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    if text.is_empty() {
        return Vec::new();
    }
    text.split(|&b| b == b'\n')
        .map(|l| {
            let mut it = l.splitn(4, |&b| b == b' ');
            let ts = it.next().unwrap();
            assert!(
                ctrlog::time::parse_rfc3339nano(ts).is_ok() && ts.ends_with(b"Z"),
                "bad time (utc) in {:?}",
                String::from_utf8_lossy(l)
            );
            let word = |w: Option<&[u8]>| String::from_utf8(w.unwrap().to_vec()).unwrap();
            let stream = word(it.next());
            let tag = word(it.next());
            (stream, tag, it.next().unwrap_or_default().to_vec())
        })
        .collect()
}

/// The json-file records of `text` (Docker's `{"log","stream","time"}`).
fn json_records(text: &[u8]) -> Vec<Record> {
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_slice(l).unwrap();
            let time = v["time"].as_str().unwrap();
            assert!(
                ctrlog::time::parse_rfc3339nano(time.as_bytes()).is_ok() && time.ends_with('Z'),
                "{v}"
            );
            let log = v["log"].as_str().unwrap().as_bytes().to_vec();
            let tag = if log.ends_with(b"\n") { "F" } else { "P" };
            (v["stream"].as_str().unwrap().to_owned(), tag.into(), log)
        })
        .collect()
}

/// The stream `name` rebuilt from CRI records (`F` ends a line).
fn cri_stream(recs: &[Record], name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (_, tag, content) in recs.iter().filter(|r| r.0 == name) {
        out.extend_from_slice(content);
        if tag == "F" {
            out.push(b'\n');
        }
    }
    out
}

fn json_stream(recs: &[Record], name: &str) -> Vec<u8> {
    recs.iter()
        .filter(|r| r.0 == name)
        .flat_map(|r| r.2.iter().copied())
        .collect()
}

fn tags(recs: &[Record], name: &str) -> Vec<(String, usize)> {
    recs.iter()
        .filter(|r| r.0 == name)
        .map(|r| (r.1.clone(), r.2.len()))
        .collect()
}

/// containerd's CRI logger drops the one `\r` directly before each `\n`.
fn strip_cr(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        if !(c == b'\r' && b.get(i + 1) == Some(&b'\n')) {
            out.push(c);
        }
    }
    out
}

/// Asserts `got == want`, showing where they first differ (not 40 KB of bytes).
fn same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).take_while(|(a, b)| a == b).count();
        let show = |b: &[u8]| {
            String::from_utf8_lossy(&b[at.saturating_sub(20)..b.len().min(at + 40)]).into_owned()
        };
        panic!(
            "{what}: {} bytes, want {}; first difference at {at}: got {:?}, want {:?}",
            got.len(),
            want.len(),
            show(got),
            show(want)
        );
    }
}

/// Runs `streams.sh` with `query` (plus log-path) and returns the log file's bytes once the
/// task is gone and the unterminated tails are in (stdout's ends the file's stdout records).
fn run_streams(d: &Containerd, name: &str, query: &str, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let log = d.dir().join(format!("{name}.log"));
    let id = id(name);
    let uri = uri(&format!("{query}&log-path={}", log.display()));
    let out = d.ctr_run(&["--rm"], &uri, &id, &["/bin/streams.sh"]);
    assert!(out.status.success(), "{out:?}");
    // `ctr run --rm` returns once the task is deleted; the logger drains after that.
    poll(20, "log complete", || {
        let b = fs::read(&log).unwrap_or_default();
        (done(&b), b.len())
    });
    fs::read(&log).unwrap()
}

#[test]
#[ignore = "needs root, containerd, ctr, runc, busybox-static, python3: \
            CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: -- --ignored"]
fn cri_both_streams_byte_exact() {
    let d = Containerd::start();
    let (want_out, want_err) = (strip_cr(&stdout_bytes()), strip_cr(&stderr_bytes()));
    let text = run_streams(&d, "cri", "format=cri&utc=true", |b| {
        let r = cri_records(b);
        cri_stream(&r, "stdout").len() >= want_out.len()
            && cri_stream(&r, "stderr").len() >= want_err.len()
    });
    let recs = cri_records(&text);
    same(&cri_stream(&recs, "stdout"), &want_out, "cri stdout");
    same(&cri_stream(&recs, "stderr"), &want_err, "cri stderr");
    // containerd's 16 KiB split, and `P` for the unterminated tails.
    let t = |s: &str, n| (s.to_owned(), n);
    assert_eq!(
        tags(&recs, "stdout"),
        [
            t("F", 10),
            t("P", 16384),
            t("P", 16384),
            t("F", 40_000 - 2 * 16384),
            t("F", 9),
            t("F", 11),
            t("F", 7),
            t("P", 21)
        ]
    );
    assert_eq!(
        tags(&recs, "stderr"),
        [t("F", 7), t("P", 16384), t("F", 1), t("F", 17), t("P", 8)]
    );
}

#[test]
#[ignore = "needs root, containerd, ctr, runc, busybox-static, python3: \
            CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: -- --ignored"]
fn json_file_both_streams_exact() {
    let d = Containerd::start();
    // JSON strings hold text: like Docker (Go's encoding/json), each invalid byte becomes
    // U+FFFD; everything else, `\r` included, is kept.
    let lossy = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned().into_bytes();
    let (want_out, want_err) = (lossy(stdout_bytes()), lossy(stderr_bytes()));
    let text = run_streams(&d, "json", "format=json-file", |b| {
        let r = json_records(b);
        json_stream(&r, "stdout").len() >= want_out.len()
            && json_stream(&r, "stderr").len() >= want_err.len()
    });
    let recs = json_records(&text);
    same(&json_stream(&recs, "stdout"), &want_out, "json-file stdout");
    same(&json_stream(&recs, "stderr"), &want_err, "json-file stderr");
    // Docker's 16 KiB partial messages.
    assert!(
        recs.iter().all(|r| r.2.len() <= 16385),
        "a record over 16 KiB"
    );
    assert_eq!(
        tags(&recs, "stdout").len(),
        8,
        "{:?}",
        tags(&recs, "stdout")
    );
}

/// The `seq` numbers in CRI records, in order.
fn numbers(text: &[u8]) -> Vec<u64> {
    cri_records(text)
        .iter()
        .map(|r| {
            assert_eq!((r.0.as_str(), r.1.as_str()), ("stdout", "F"));
            std::str::from_utf8(&r.2).unwrap().parse().unwrap()
        })
        .collect()
}

#[test]
#[ignore = "needs root, containerd, ctr, runc, busybox-static, python3: \
            CTRLOG_E2E_CONTAINERD=1 cargo test --all-features --test driver e2e:: -- --ignored"]
fn rotation_with_compress() {
    let d = Containerd::start();
    let dir = d.dir().join("rot");
    fs::create_dir(&dir).unwrap();
    let log = dir.join("c.log");
    let id = id("rot");
    let uri = uri(&format!(
        "log-path={}&max-size=100k&max-file=3&compress=true&utc",
        log.display()
    ));
    let n = 20_000u64;
    let out = d.ctr_run(&["--rm"], &uri, &id, &["/bin/seq.sh", &n.to_string()]);
    assert!(out.status.success(), "{out:?}");
    let gz = |i| dir.join(format!("c.log.{i}.gz"));
    // Done when the last number is in and no rotated file waits for compression.
    let names = poll(30, "rotation complete", || {
        let mut names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        let live = fs::read(&log).unwrap_or_default();
        let last = numbers(&live).last().copied();
        (
            last == Some(n) && names.iter().all(|f| f == "c.log" || f.ends_with(".gz")),
            names,
        )
    });
    assert_eq!(names, ["c.log", "c.log.1.gz", "c.log.2.gz"]);
    let mut all = Vec::new();
    for i in [2, 1] {
        let raw = fs::read(gz(i)).unwrap();
        assert!(
            raw.starts_with(&[0x1f, 0x8b]),
            "{} is not gzip",
            gz(i).display()
        );
        assert!(
            raw.len() < 100_000 / 2,
            "{} not compressed",
            gz(i).display()
        );
        let mut text = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut text)
            .unwrap();
        assert!(text.len() <= 100_000, "{} over max-size", gz(i).display());
        all.extend(numbers(&text));
    }
    let live = fs::read(&log).unwrap();
    assert!(live.len() <= 100_000);
    all.extend(numbers(&live));
    // The kept files hold an unbroken run of the newest numbers: no gap, nothing twice.
    let first = n + 1 - all.len() as u64;
    assert!(first > 1, "nothing rotated away: {}", all.len());
    assert!(
        all.iter().copied().eq(first..=n),
        "not consecutive: {:?}…",
        &all[..10.min(all.len())]
    );
}
