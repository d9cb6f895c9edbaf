use std::io::{self, Write};

use super::*;
use crate::cri::read::{parse_cri_record, parse_docker_record};
use crate::cri::{Stream, Tag};

fn opts(scale: f64) -> GenerateOptions {
    GenerateOptions {
        scale,
        ..Default::default()
    }
}

fn gen(w: Workload, scale: f64) -> Vec<u8> {
    let mut v = Vec::new();
    let n = generate(w, &mut v, &opts(scale)).unwrap();
    assert_eq!(n, v.len() as u64, "{w:?}: returned count");
    v
}

fn lines(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split_inclusive(|&b| b == b'\n')
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    for w in Workload::ALL {
        let a = gen(w, 0.0005);
        assert_eq!(a, gen(w, 0.0005), "{w:?}");
        let mut o = opts(0.0005);
        o.seed = 1;
        let mut b = Vec::new();
        generate(w, &mut b, &o).unwrap();
        assert_ne!(a, b, "{w:?}: the seed changes nothing");
    }
}

#[test]
fn sizes_follow_the_scale() {
    let o = opts(1.0);
    assert_eq!(Workload::Short.target_size(&o), 256 << 20);
    assert_eq!(Workload::NvidiaErrEnd.target_size(&o), 32 << 20);
    assert_eq!(Workload::Cri.target_size(&opts(0.5)), 128 << 20);
    assert_eq!(Workload::Cri.target_size(&opts(0.0)), 0);
    assert_eq!(Workload::Cri.target_size(&opts(f64::NAN)), 0);
    assert!(gen(Workload::Short, 0.0).is_empty());
    for (w, slack) in [
        (Workload::Short, 205),
        (Workload::Oneline, 0),
        (Workload::NvidiaErrMid, 1024),
        (Workload::DockerJson, 400),
    ] {
        for scale in [0.001, 0.004] {
            let target = w.target_size(&opts(scale));
            let n = gen(w, scale).len() as u64;
            assert!(
                n >= target && n <= target + slack,
                "{w:?} {scale}: {n} vs {target}"
            );
        }
    }
    for w in Workload::ALL {
        assert_eq!(Workload::from_file_name(w.file_name()), Some(w));
    }
}

/// Records the largest single write: the generator hands its output on in bounded pieces.
struct MaxWrite {
    max: usize,
    writes: usize,
    total: u64,
}

impl Write for MaxWrite {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.max = self.max.max(b.len());
        self.writes += 1;
        self.total += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn output_streams_in_bounded_pieces() {
    // long.txt has lines up to 1 MiB, mixed.txt 200 KiB ones: neither is held whole.
    for w in [Workload::Long, Workload::Mixed, Workload::Oneline] {
        let mut m = MaxWrite {
            max: 0,
            writes: 0,
            total: 0,
        };
        let n = generate(w, &mut m, &opts(0.02)).unwrap();
        assert_eq!(n, m.total);
        assert!(m.max <= OUT_BUF + 4096, "{w:?}: a write of {}", m.max);
        assert!(m.writes as u64 >= n / (OUT_BUF as u64 + 4096), "{w:?}");
    }
}

#[test]
fn text_shapes() {
    let short = gen(Workload::Short, 0.002);
    let mut non_ascii = 0;
    for l in lines(&short) {
        let text = std::str::from_utf8(l).expect("valid UTF-8");
        // 20..200 bytes, less at most 3 bytes of a character cut at the end.
        assert!((17..=201).contains(&l.len()), "{} bytes", l.len());
        assert!(text.ends_with('\n') && !text[..text.len() - 1].contains('\n'));
        non_ascii += usize::from(!text.is_ascii());
    }
    assert!(non_ascii > 0);

    let long = gen(Workload::Long, 0.01);
    for l in lines(&long) {
        assert!(
            (64 * 1024 - 3..=1024 * 1024 + 1).contains(&l.len()),
            "{}",
            l.len()
        );
    }

    let one = gen(Workload::Oneline, 0.005);
    assert!(!one.contains(&b'\n'));
    assert!(std::str::from_utf8(&one).is_ok());

    let mixed = gen(Workload::Mixed, 0.01);
    let (mut json, mut empty, mut crlf, mut dumps, mut plain) = (0, 0, 0, 0, 0);
    for l in lines(&mixed) {
        if l == b"\n" {
            empty += 1;
        } else if l.ends_with(b"\r\n") {
            crlf += 1;
        } else if l.len() > 20 * 1024 {
            dumps += 1;
        } else if l.starts_with(b"{\"level\": ") {
            let v: serde_json::Value = serde_json::from_slice(l).expect("a JSON document");
            assert!(v["msg"].is_string() && v["req"]["id"].is_u64());
            json += 1;
        } else {
            plain += 1;
        }
    }
    let all = (json + empty + crlf + dumps + plain) as f64;
    // 80 / 13 / 3 / 3 / 1 percent, loosely (a few thousand lines).
    assert!(
        (0.74..0.86).contains(&(plain as f64 / all)),
        "{plain} of {all}"
    );
    assert!(
        (0.09..0.17).contains(&(json as f64 / all)),
        "{json} of {all}"
    );
    assert!(empty > 0 && crlf > 0 && dumps > 0, "{empty} {crlf} {dumps}");
}

#[test]
fn runc_error_where_the_name_says() {
    for w in [
        Workload::NvidiaNoErr,
        Workload::NvidiaErrStart,
        Workload::NvidiaErrMid,
        Workload::NvidiaErrEnd,
    ] {
        let v = gen(w, 0.002);
        let size = w.target_size(&opts(0.002));
        let mut errors = Vec::new();
        let mut off = 0u64;
        for l in lines(&v) {
            let e = crate::runc::parse_entry(l).expect("a runc entry");
            if e.level.as_deref() == Some("error") {
                assert_eq!(e.msg.as_deref(), Some(RUNC_ERROR_MSG));
                errors.push(off);
            } else {
                assert_eq!(e.level.as_deref(), Some("info"));
            }
            off += l.len() as u64;
        }
        let last = crate::runc::last_error(io::Cursor::new(&v)).unwrap();
        match w.error_at().unwrap() {
            ErrorAt::Absent => assert!(errors.is_empty() && last.is_none()),
            at => {
                assert_eq!(errors.len(), 1, "{w:?}");
                let o = errors[0];
                let ok = match at {
                    ErrorAt::Start => o == 0,
                    // The first entry at or past the mark (entries are < 1 KiB).
                    ErrorAt::Middle => (size / 2..size / 2 + 1024).contains(&o),
                    _ => (size - 4096..size - 4096 + 1024).contains(&o),
                };
                assert!(ok, "{w:?} at {o} of {size}");
                assert_eq!(last.unwrap().msg, RUNC_ERROR_MSG);
            }
        }
    }
}

#[test]
fn every_cri_and_json_file_line_parses() {
    let cri = gen(Workload::Cri, 0.005);
    let (mut partial, mut full, mut stderr) = (0, 0, 0);
    let mut last = None;
    for l in lines(&cri) {
        let r = parse_cri_record(l).expect("a CRI record");
        match r.tag {
            Tag::Partial => partial += 1,
            Tag::Full => full += 1,
        }
        stderr += usize::from(r.stream == Stream::Stderr);
        assert!(last <= Some(r.timestamp), "time goes forwards");
        last = Some(r.timestamp);
    }
    // About 10% of the lines are split, into 1..4 partial records each.
    assert!(
        partial > full / 40 && partial < full / 2,
        "{partial} P, {full} F"
    );
    assert!(stderr > 0);

    let docker = gen(Workload::DockerJson, 0.005);
    let mut scratch = Vec::new();
    let mut quoted = 0;
    for l in lines(&docker) {
        let r = parse_docker_record(l, &mut scratch).expect("a json-file record");
        assert_eq!(r.tag, Tag::Full);
        quoted += usize::from(r.content.contains(&b'"'));
    }
    assert!(quoted > 0, "escapes are exercised");
}
