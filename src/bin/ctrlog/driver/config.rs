//! The driver's KEY VALUE arguments: parsing and validation, before anything is opened.
//!
//! Every message names the key and quotes the value: `max-size: '10q' is not a size: …`.
//! Parsing goes on after the first error so that a usable `log-path` (and the format) is
//! still known: the driver then records the reason in the log file too.

use std::ffi::OsString;
use std::path::PathBuf;

use ctrlog::cri::write::{MaxLen, TimestampPolicy};
use ctrlog::rotate::{Naming, RotateOptions};

use crate::output::{Rotation, Spelling};

/// The keys the driver understands.
pub const KEYS: &[&str] = &[
    "log-path",
    "format",
    "max-len",
    "max-size",
    "max-file",
    "compress",
    "naming",
    "utc",
    "timestamp-policy",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Cri,
    JsonFile,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub log_path: PathBuf,
    pub format: Format,
    pub max_len: MaxLen,
    /// The rotating set's options; `None`: a plain file.
    pub rotation: Option<RotateOptions>,
    pub utc: bool,
    /// `timestamp-policy`: `per-read` (default) or `per-record`.
    pub timestamps: TimestampPolicy,
}

/// A bad configuration: the first problem, and where the reason can still be recorded.
#[derive(Debug)]
pub struct ConfigError {
    pub message: String,
    /// `log-path`, when it was given exactly once and is not empty.
    pub log_path: Option<PathBuf>,
    /// The format and zone to record the reason in (the defaults when those keys are bad).
    pub format: Format,
    pub utc: bool,
}

/// `KEY: 'VALUE' WHAT`, the value escaped so that a message stays on one line.
fn bad(key: &str, value: &str, what: impl std::fmt::Display) -> String {
    format!("{key}: '{}' {what}", value.escape_debug())
}

/// Go's `strconv.ParseBool` spellings; empty is `true` (`?utc` in a URI gives `utc ""`).
fn parse_bool(key: &str, v: &str) -> Result<bool, String> {
    match v {
        "" | "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(bad(key, v, "is not a boolean (true or false)")),
    }
}

fn note(first: &mut Option<String>, msg: String) {
    first.get_or_insert(msg);
}

/// Parses `[k1, v1, k2, v2, …]` (any order).
pub fn parse(pairs: &[OsString]) -> Result<Config, ConfigError> {
    // The first problem is reported; parsing goes on to find log-path and format.
    let mut first: Option<String> = None;
    let mut seen: Vec<&str> = Vec::new();
    let mut log_paths = 0;
    let mut log_path = None;
    let mut cfg = Config {
        log_path: PathBuf::new(),
        format: Format::Cri,
        max_len: MaxLen::CONTAINERD_DEFAULT,
        rotation: None,
        utc: false,
        timestamps: TimestampPolicy::PerRead,
    };
    // The rotation keys, turned into options once all are known.
    let (mut max_size, mut max_file) = (None, None);
    let (mut compress, mut naming) = (false, Naming::Docker);
    for pair in pairs.chunks(2) {
        let (key, value) = match pair {
            [k, v] => (k, v),
            [k] => {
                note(
                    &mut first,
                    format!(
                        "key '{}' has no value (arguments are KEY VALUE pairs)",
                        k.to_string_lossy().escape_debug()
                    ),
                );
                continue;
            }
            _ => continue,
        };
        let key_text = key.to_string_lossy();
        let Some(k) = KEYS.iter().copied().find(|k| *k == key_text) else {
            note(
                &mut first,
                format!(
                    "unknown key '{}' (known: {})",
                    key_text.escape_debug(),
                    KEYS.join(", ")
                ),
            );
            continue;
        };
        if k == "log-path" {
            log_paths += 1;
        }
        if seen.contains(&k) {
            note(&mut first, format!("key {k} given twice"));
            continue;
        }
        seen.push(k);
        if k == "log-path" {
            if value.is_empty() {
                note(&mut first, "log-path: '' is empty".into());
            } else {
                log_path = Some(PathBuf::from(value));
            }
            continue;
        }
        let Some(v) = value.to_str() else {
            note(&mut first, bad(k, &value.to_string_lossy(), "is not UTF-8"));
            continue;
        };
        let r: Result<(), String> = match k {
            "format" => match v {
                "cri" => {
                    cfg.format = Format::Cri;
                    Ok(())
                }
                "json-file" => {
                    cfg.format = Format::JsonFile;
                    Ok(())
                }
                _ => Err(bad(k, v, "is not a format (cri or json-file)")),
            },
            "max-len" => v
                .trim()
                .parse::<i64>()
                .map(|n| cfg.max_len = MaxLen::from_signed(n))
                .map_err(|_| bad(k, v, "is not an integer")),
            "max-size" => {
                max_size = Some(v);
                Ok(())
            }
            "max-file" => {
                max_file = Some(v);
                Ok(())
            }
            "compress" => parse_bool(k, v).map(|b| compress = b),
            "naming" => v
                .parse()
                .map(|n| naming = n)
                .map_err(|_| bad(k, v, "is not a naming scheme (docker, kubelet or ctrlog)")),
            "utc" => parse_bool(k, v).map(|b| cfg.utc = b),
            "timestamp-policy" => match v {
                "per-read" => {
                    cfg.timestamps = TimestampPolicy::PerRead;
                    Ok(())
                }
                "per-record" => {
                    cfg.timestamps = TimestampPolicy::PerRecord;
                    Ok(())
                }
                _ => Err(bad(
                    k,
                    v,
                    "is not a timestamp policy (per-read or per-record)",
                )),
            },
            _ => Err(format!("unknown key '{k}'")),
        };
        if let Err(e) = r {
            note(&mut first, e);
        }
    }
    if log_paths > 1 {
        // Which one was meant is unknown: record nowhere.
        log_path = None;
    }
    match &log_path {
        Some(p) => cfg.log_path = p.clone(),
        None if log_paths == 0 => note(
            &mut first,
            "log-path is required (e.g. ?log-path=/var/log/ctr/ID.log)".into(),
        ),
        None => {}
    }
    if first.is_none() {
        let rotation = Rotation {
            max_size,
            max_file,
            compress,
            naming,
            spelling: Spelling::Keys,
        };
        match rotation.options() {
            Ok(r) => cfg.rotation = r,
            Err(e) => note(&mut first, e),
        }
    }
    match first {
        None => Ok(cfg),
        Some(message) => Err(ConfigError {
            message,
            log_path,
            format: cfg.format,
            utc: cfg.utc,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn timestamp_policy_key() {
        let c = parse(&os(&["log-path", "/x"])).unwrap();
        assert_eq!(c.timestamps, TimestampPolicy::PerRead);
        let c = parse(&os(&["timestamp-policy", "per-record", "log-path", "/x"])).unwrap();
        assert_eq!(c.timestamps, TimestampPolicy::PerRecord);
        let e = parse(&os(&["timestamp-policy", "often", "log-path", "/x"])).unwrap_err();
        assert!(
            e.message
                .contains("timestamp-policy: 'often' is not a timestamp policy"),
            "{}",
            e.message
        );
    }

    #[test]
    fn parses_pairs_in_any_order() {
        let c = parse(&os(&[
            "utc",
            "",
            "format",
            "json-file",
            "log-path",
            "/x",
            "max-len",
            "-1",
        ]))
        .unwrap();
        assert_eq!(c.log_path, PathBuf::from("/x"));
        assert_eq!(c.format, Format::JsonFile);
        assert_eq!(c.max_len, MaxLen::Unlimited);
        assert!(c.utc);
        assert!(c.rotation.is_none());
        let c = parse(&os(&[
            "max-len", "100", "naming", "kubelet", "log-path", "y", "max-size", "1k", "max-file",
            "3",
        ]))
        .unwrap();
        assert_eq!(c.max_len, MaxLen::from_signed(100));
        let r = c.rotation.unwrap();
        assert_eq!(r.naming, Naming::Kubelet);
        assert_eq!(r.max_size, Some(1000));
        assert!(!c.utc);
    }

    #[test]
    fn every_message_names_its_key() {
        for (args, want) in [
            (&["format", "cri"][..], "log-path is required"),
            (&["log-path", ""], "log-path: '' is empty"),
            (&["log-path", "/x", "bogus", "1"], "unknown key 'bogus'"),
            (&["log-path", "/x", "format"], "key 'format' has no value"),
            (
                &["log-path", "/x", "format", "syslog"],
                "format: 'syslog' is not a format",
            ),
            (
                &["log-path", "/x", "log-path", "/y"],
                "key log-path given twice",
            ),
            (
                &["log-path", "/x", "utc", "yes"],
                "utc: 'yes' is not a boolean",
            ),
            (
                &["log-path", "/x", "compress", "2"],
                "compress: '2' is not a boolean",
            ),
            (
                &["log-path", "/x", "max-len", "16k"],
                "max-len: '16k' is not an integer",
            ),
            (
                &["log-path", "/x", "naming", "weird"],
                "naming: 'weird' is not a naming",
            ),
            (
                &["log-path", "/x", "max-size", "10q"],
                "max-size: '10q' is not a size: ",
            ),
            (
                &["log-path", "/x", "max-size", "0"],
                "max-size: '0' must be positive",
            ),
            (
                &["log-path", "/x", "max-file", "0"],
                "max-file: '0' must be at least 1",
            ),
            (
                &["log-path", "/x", "max-file", "x"],
                "max-file: 'x' is not an integer",
            ),
            (
                &["log-path", "/x", "max-file", "99999999999999999999"],
                "max-file: '99999999999999999999' is out of range",
            ),
            (
                &["log-path", "/x", "compress", "1", "max-file", "3"],
                "compress: 'true' needs max-size",
            ),
            (
                &["log-path", "/x", "max-len", "a\nb"],
                "max-len: 'a\\nb' is not",
            ),
        ] {
            let e = parse(&os(args)).unwrap_err();
            assert!(e.message.starts_with(want), "{args:?}: {:?}", e.message);
        }
    }

    #[test]
    fn an_error_keeps_the_usable_log_path_and_format() {
        // The error comes first in argv; log-path and format are still picked up.
        let e = parse(&os(&[
            "max-len",
            "x",
            "format",
            "json-file",
            "log-path",
            "/l",
        ]))
        .unwrap_err();
        assert_eq!(e.log_path, Some(PathBuf::from("/l")));
        assert_eq!(e.format, Format::JsonFile);
        // A bad format: the reason is recorded in CRI.
        let e = parse(&os(&["format", "x", "log-path", "/l", "utc", "1"])).unwrap_err();
        assert_eq!((e.format, e.utc), (Format::Cri, true));
        // Two log-paths, or none: nowhere to record.
        let e = parse(&os(&["log-path", "/a", "log-path", "/b"])).unwrap_err();
        assert_eq!(e.log_path, None);
        let e = parse(&os(&["log-path", ""])).unwrap_err();
        assert_eq!(e.log_path, None);
        let e = parse(&os(&["utc", "1"])).unwrap_err();
        assert_eq!(e.log_path, None);
    }
}
