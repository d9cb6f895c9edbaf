//! Hand-written rule tests for `ctrlog::runc`'s containerd-compatible mode: one test row per
//! Go `encoding/json` / `getLastRuntimeError` rule (robust mode, decoder, writer and summary
//! are in `rules.rs`).

use ctrlog::runc::{
    last_error_compat, last_error_compat_with, CompatErrorKind, CompatOptions, CompatScanner,
    RuncError,
};

/// `Ok(s)`: containerd returns `s`; `Err(())`: containerd returns an error.
fn compat(input: &[u8]) -> Result<String, ()> {
    let whole = last_error_compat(input).map_err(|_| ());
    // Same answer when fed one byte at a time.
    let mut s = CompatScanner::new(CompatOptions::default());
    let mut r = Ok(());
    for b in input.chunks(1) {
        r = s.feed(b);
        if r.is_err() {
            break;
        }
    }
    let bytewise = r.and_then(|_| s.finish()).map_err(|_| ());
    assert_eq!(
        whole,
        bytewise,
        "chunking changed the answer for {:?}",
        String::from_utf8_lossy(input)
    );
    whole
}

fn ok(s: &str) -> Result<String, ()> {
    Ok(s.to_owned())
}

const E: Result<String, ()> = Err(());

/// (rule, input, containerd's result)
const COMPAT_TABLE: &[(&str, &str, Result<&str, ()>)] = &[
    ("empty file", "", Ok("")),
    ("whitespace only", " \n\t\r\n", Ok("")),
    (
        "one error",
        r#"{"level":"error","msg":"boom","time":"2026-11-23T08:27:21Z"}"#,
        Ok("boom"),
    ),
    (
        "last error wins",
        "{\"level\":\"error\",\"msg\":\"a\"}\n{\"level\":\"error\",\"msg\":\"b\"}\n",
        Ok("b"),
    ),
    (
        "info after error keeps error",
        "{\"level\":\"error\",\"msg\":\"a\"}\n{\"level\":\"info\",\"msg\":\"b\"}\n",
        Ok("a"),
    ),
    (
        "no newline between values",
        r#"{"level":"error","msg":"a"}{"level":"error","msg":"b"}"#,
        Ok("b"),
    ),
    (
        "any JSON whitespace between",
        "{\"level\":\"error\",\"msg\":\"a\"}\r\n\t {\"level\":\"info\"}",
        Ok("a"),
    ),
    (
        "form feed is not JSON whitespace",
        "{\"level\":\"error\",\"msg\":\"a\"}\x0c",
        Err(()),
    ),
    (
        "msg trimmed",
        "{\"level\":\"error\",\"msg\":\"  \\n spaced \\t\"}",
        Ok("spaced"),
    ),
    (
        "unicode whitespace trimmed",
        "{\"level\":\"error\",\"msg\":\"\u{a0}\u{2003}x\u{3000}\\u0085\"}",
        Ok("x"),
    ),
    (
        "blank error msg overwrites",
        "{\"level\":\"error\",\"msg\":\"a\"}{\"level\":\"error\",\"msg\":\"  \"}",
        Ok(""),
    ),
    (
        "level compared exactly: Error",
        r#"{"level":"Error","msg":"a"}"#,
        Ok(""),
    ),
    (
        "level compared exactly: ERROR",
        r#"{"level":"ERROR","msg":"a"}"#,
        Ok(""),
    ),
    (
        "level compared exactly: padded",
        r#"{"level":" error","msg":"a"}"#,
        Ok(""),
    ),
    (
        "level fatal is not error",
        r#"{"level":"fatal","msg":"a"}"#,
        Ok(""),
    ),
    (
        "level escaped",
        r#"{"level":"\u0065rror","msg":"a"}"#,
        Ok("a"),
    ),
    (
        "keys case-insensitive",
        r#"{"LEVEL":"error","Msg":"a"}"#,
        Ok("a"),
    ),
    (
        "key long s folds to s",
        r#"{"level":"error","mſg":"a"}"#,
        Ok("a"),
    ),
    (
        "key escaped long s",
        r#"{"level":"error","m\u017fg":"a"}"#,
        Ok("a"),
    ),
    (
        "key escaped ascii",
        r#"{"\u006cevel":"error","msg":"a"}"#,
        Ok("a"),
    ),
    (
        "key with other unicode does not match",
        r#"{"level":"error","msg":"a"}{"level":"error","mśg":"b"}"#,
        Ok("a"),
    ),
    (
        "duplicate key: last wins",
        r#"{"level":"error","msg":"a","level":"info"}"#,
        Ok(""),
    ),
    (
        "duplicate key differing case: last wins",
        r#"{"level":"info","Level":"error","msg":"a"}"#,
        Ok("a"),
    ),
    (
        "reused struct: msg kept",
        "{\"level\":\"info\",\"msg\":\"a\"}\n{\"level\":\"error\"}",
        Ok("a"),
    ),
    (
        "reused struct: level kept",
        "{\"level\":\"error\",\"msg\":\"a\"}\n{\"msg\":\"b\"}",
        Ok("b"),
    ),
    (
        "reused struct: empty object repeats",
        "{\"level\":\"error\",\"msg\":\"a\"}{\"level\":\"error\",\"msg\":\"b\"}{}",
        Ok("b"),
    ),
    (
        "null level keeps previous",
        "{\"level\":\"error\",\"msg\":\"a\"}{\"level\":null,\"msg\":\"b\"}",
        Ok("b"),
    ),
    (
        "null msg keeps previous",
        "{\"level\":\"error\",\"msg\":\"a\"}{\"level\":\"error\",\"msg\":null}",
        Ok("a"),
    ),
    (
        "top-level null is a no-op",
        "{\"level\":\"error\",\"msg\":\"a\"} null null",
        Ok("a"),
    ),
    ("nullnull", "nullnull", Ok("")),
    (
        "unknown fields ignored",
        r#"{"file":"x.go:1","func":"f","level":"error","msg":"a","pid":14036,"x":[1,{"y":null}],"t":true}"#,
        Ok("a"),
    ),
    (
        "torn last record",
        "{\"level\":\"error\",\"msg\":\"a\"}\n{\"level\":\"err",
        Err(()),
    ),
    (
        "torn after key",
        "{\"level\":\"error\",\"msg\":\"a\"}\n{",
        Err(()),
    ),
    ("torn literal", "null\nnul", Err(())),
    (
        "BOM",
        "\u{feff}{\"level\":\"error\",\"msg\":\"a\"}",
        Err(()),
    ),
    (
        "text log",
        "time=\"2026-11-23T08:27:45Z\" level=error msg=\"container does not exist\"\n",
        Err(()),
    ),
    (
        "garbage after record",
        "{\"level\":\"error\",\"msg\":\"a\"}x",
        Err(()),
    ),
    ("trailing comma", r#"{"level":"error","msg":"a",}"#, Err(())),
    ("top-level string", r#""error""#, Err(())),
    (
        "top-level array",
        r#"[{"level":"error","msg":"a"}]"#,
        Err(()),
    ),
    ("top-level number", "1", Err(())),
    ("top-level bool", "true", Err(())),
    ("level number", r#"{"level":1,"msg":"a"}"#, Err(())),
    ("msg object", r#"{"level":"error","msg":{"a":1}}"#, Err(())),
    ("msg bool", r#"{"level":"error","msg":true}"#, Err(())),
    ("time absent ok", r#"{"level":"error","msg":"a"}"#, Ok("a")),
    (
        "time null ok",
        r#"{"level":"error","msg":"a","time":null}"#,
        Ok("a"),
    ),
    (
        "time Z",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:27:21Z"}"#,
        Ok("a"),
    ),
    (
        "time offset",
        r#"{"level":"error","msg":"a","time":"2024-01-20T16:00:00+08:00"}"#,
        Ok("a"),
    ),
    (
        "time micro (crun)",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:28:02.050071Z"}"#,
        Ok("a"),
    ),
    (
        "time many fraction digits",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:28:02.0500710000000000000000001Z"}"#,
        Ok("a"),
    ),
    (
        "time comma fraction",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:28:02,5Z"}"#,
        Ok("a"),
    ),
    (
        "time one-digit hour",
        r#"{"level":"error","msg":"a","time":"2026-11-23T8:28:02Z"}"#,
        Ok("a"),
    ),
    (
        "time zone +24:00",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:28:02+24:00"}"#,
        Ok("a"),
    ),
    (
        "time zone +24:60 (Go's lax range)",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:28:02+24:60"}"#,
        Ok("a"),
    ),
    (
        "time zone +25:00",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:28:02+25:00"}"#,
        Err(()),
    ),
    (
        "time leap day",
        r#"{"level":"error","msg":"a","time":"2024-02-29T00:00:00Z"}"#,
        Ok("a"),
    ),
    (
        "time not a leap day",
        r#"{"level":"error","msg":"a","time":"2023-02-29T00:00:00Z"}"#,
        Err(()),
    ),
    (
        "time empty",
        r#"{"level":"error","msg":"a","time":""}"#,
        Err(()),
    ),
    (
        "time lowercase t",
        r#"{"level":"error","msg":"a","time":"2026-11-23t08:27:21Z"}"#,
        Err(()),
    ),
    (
        "time lowercase z",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:27:21z"}"#,
        Err(()),
    ),
    (
        "time no zone",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:27:21"}"#,
        Err(()),
    ),
    (
        "time hour 24",
        r#"{"level":"error","msg":"a","time":"2026-11-23T24:00:00Z"}"#,
        Err(()),
    ),
    (
        "time second 60",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:27:60Z"}"#,
        Err(()),
    ),
    (
        "time dot without digits",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:27:21.Z"}"#,
        Err(()),
    ),
    (
        "time escaped (raw bytes parsed)",
        r#"{"level":"error","msg":"a","time":"2026-11-23T08:27:21\u005a"}"#,
        Err(()),
    ),
    (
        "time number",
        r#"{"level":"error","msg":"a","time":1700000000}"#,
        Err(()),
    ),
    (
        "time object",
        r#"{"level":"error","msg":"a","time":{}}"#,
        Err(()),
    ),
    (
        "bad time in a later info record discards all",
        "{\"level\":\"error\",\"msg\":\"a\"}\n{\"level\":\"info\",\"time\":\"yesterday\"}",
        Err(()),
    ),
    (
        "raw NUL in a string is an error",
        "{\"level\":\"error\",\"msg\":\"a\u{0}\"}",
        Err(()),
    ),
    (
        "lone high surrogate",
        r#"{"level":"error","msg":"a\ud800b"}"#,
        Ok("a\u{fffd}b"),
    ),
    (
        "lone low surrogate",
        r#"{"level":"error","msg":"\udc00"}"#,
        Ok("\u{fffd}"),
    ),
    (
        "surrogate pair",
        r#"{"level":"error","msg":"\ud83d\ude00"}"#,
        Ok("😀"),
    ),
    (
        "high then high then low",
        r#"{"level":"error","msg":"\ud800\ud83d\ude00"}"#,
        Ok("\u{fffd}😀"),
    ),
    (
        "escapes",
        r#"{"level":"error","msg":"q\"b\\s\/n\nt\tu\u003c"}"#,
        Ok("q\"b\\s/n\nt\tu<"),
    ),
    ("bad escape", r#"{"level":"error","msg":"\x"}"#, Err(())),
    (
        "bad number in unknown field",
        r#"{"level":"error","msg":"a","n":01}"#,
        Err(()),
    ),
    (
        "number forms",
        r#"{"level":"error","msg":"a","n":[-0,1.5e+3,2E-2,0.0]}"#,
        Ok("a"),
    ),
    (
        "control char in string",
        "{\"level\":\"error\",\"msg\":\"a\nb\"}",
        Err(()),
    ),
];

#[test]
fn compat_rules_table() {
    for (rule, input, want) in COMPAT_TABLE {
        let want = want.map(str::to_owned);
        assert_eq!(compat(input.as_bytes()), want, "rule: {rule}");
    }
}

#[test]
fn compat_invalid_utf8_bytes() {
    // Go replaces each byte of an invalid sequence with U+FFFD (E2 82 is two bytes: two FFFD).
    let mut input = b"{\"level\":\"error\",\"msg\":\"a".to_vec();
    input.extend_from_slice(&[0xE2, 0x82, b'x', 0xFF, 0xED, 0xA0, 0x80]);
    input.extend_from_slice(b"\"}");
    assert_eq!(
        compat(&input),
        ok("a\u{fffd}\u{fffd}x\u{fffd}\u{fffd}\u{fffd}\u{fffd}")
    );
    // Invalid UTF-8 in a key: no match.
    assert_eq!(compat(b"{\"level\":\"error\",\"m\xffg\":\"a\"}"), ok(""));
}

#[test]
fn compat_max_depth() {
    let nest = |n: usize| {
        let mut s = String::from("{\"level\":\"error\",\"msg\":\"a\",\"x\":");
        s.push_str(&"[".repeat(n));
        s.push_str(&"]".repeat(n));
        s.push('}');
        s
    };
    // The record object is level 1: 9 999 arrays inside are fine, 10 000 are not.
    assert_eq!(compat(nest(9_999).as_bytes()), ok("a"));
    assert_eq!(compat(nest(10_000).as_bytes()), E);
}

#[test]
fn compat_error_kinds_and_offsets() {
    let e = last_error_compat(&b"{\"level\":\"error\",\"msg\":\"a\"}\n{\"lev"[..]).unwrap_err();
    assert!(
        matches!(
            e,
            RuncError::Compat {
                kind: CompatErrorKind::UnexpectedEof,
                offset: 33
            }
        ),
        "{e:?}"
    );
    let e = last_error_compat(&b"\xef\xbb\xbf{}"[..]).unwrap_err();
    assert!(
        matches!(
            e,
            RuncError::Compat {
                kind: CompatErrorKind::Syntax { byte: 0xef, .. },
                offset: 0
            }
        ),
        "{e:?}"
    );
    let e = last_error_compat(&b"{\"level\":\"error\",\"time\":\"x\"}"[..]).unwrap_err();
    assert!(
        matches!(
            e,
            RuncError::Compat {
                kind: CompatErrorKind::BadTime,
                ..
            }
        ),
        "{e:?}"
    );
    let e = last_error_compat(&b"{\"level\":7}"[..]).unwrap_err();
    assert!(
        matches!(
            e,
            RuncError::Compat {
                kind: CompatErrorKind::FieldType("Level"),
                ..
            }
        ),
        "{e:?}"
    );
    // Go's message for a text log: a syntax error before the type error.
    let e = last_error_compat(&b"time=\"x\""[..]).unwrap_err();
    assert!(
        e.to_string().contains("invalid character 'i' in literal"),
        "{e}"
    );
}

#[test]
fn compat_message_cap() {
    let big = format!("{{\"level\":\"error\",\"msg\":\"{}\"}}", "m".repeat(100));
    let mut small = CompatOptions::default();
    small.max_msg_len = 50;
    let e = last_error_compat_with(big.as_bytes(), small).unwrap_err();
    assert!(matches!(
        e,
        RuncError::Compat {
            kind: CompatErrorKind::MessageTooLong(50),
            ..
        }
    ));
    // A long message that is later replaced does not matter.
    let later = format!("{big}{{\"level\":\"error\",\"msg\":\"short\"}}");
    assert_eq!(
        last_error_compat_with(later.as_bytes(), small).unwrap(),
        "short"
    );
    // A long non-error message is never kept.
    let info = format!("{{\"level\":\"info\",\"msg\":\"{}\"}}", "m".repeat(100));
    assert_eq!(last_error_compat_with(info.as_bytes(), small).unwrap(), "");
}
