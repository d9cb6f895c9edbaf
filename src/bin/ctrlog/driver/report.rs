//! Where the driver's errors go: stderr, the system log, `ctrlog-driver.err` inside a bundle,
//! and (by [`record`]) a `ctrlog:` record in the log file itself.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use ctrlog::cri::write::{
    CrPolicy, CriEncoder, DockerJsonEncoder, LogWriter, RecordEncoder, RecordWriter, WriteError,
    WriteErrorPolicy, WriterOptions,
};
use ctrlog::cri::Stream;
use ctrlog::regular::{open_regular, Symlinks};
use ctrlog::time::{Clock, Offset, SystemClock};

use super::config::Format;
use super::syslog;

/// File in the bundle directory that errors are appended to.
pub const ERR_FILE: &str = "ctrlog-driver.err";

/// Sends every message to all the places an operator may look.
#[derive(Debug, Clone)]
pub struct Reporter {
    /// ` [namespace/id]` or empty.
    who: String,
    /// `<bundle>/ctrlog-driver.err`, when running in a bundle.
    err_file: Option<PathBuf>,
    syslog: Option<PathBuf>,
}

/// The cwd, if it is the bundle of the container named by `CONTAINER_ID` and
/// `CONTAINER_NAMESPACE`. containerd starts the shim in the bundle
/// (`runtime/v2/shim/util.go` `Command`: `cmd.Dir = bundle path`), the runc v2 shim starts the
/// logger without changing it (`pkg/process/utils.go` `NewBinaryCmd` sets no `Dir`), and the
/// bundle is `<state>/io.containerd.runtime.v2.task/<namespace>/<id>` holding the OCI
/// `config.json` (as observed in `shared/testdata/real/containerd/binary-logger-*.json`).
/// Anything else (a run by hand, even with `CONTAINER_ID` set) is not a bundle.
pub fn bundle_dir(id: &str, ns: &str, cwd: &Path) -> Option<PathBuf> {
    if id.is_empty() || ns.is_empty() {
        return None;
    }
    let named = cwd.file_name()? == id && cwd.parent()?.file_name()? == ns;
    (named && cwd.join("config.json").is_file()).then(|| cwd.to_owned())
}

impl Reporter {
    /// From `CONTAINER_ID`, `CONTAINER_NAMESPACE`, the cwd and [`syslog::SOCKET_ENV`].
    pub fn from_env() -> Reporter {
        let id = std::env::var("CONTAINER_ID").unwrap_or_default();
        let ns = std::env::var("CONTAINER_NAMESPACE").unwrap_or_default();
        let who = if id.is_empty() {
            String::new()
        } else {
            format!(" [{ns}/{id}]")
        };
        let err_file = std::env::current_dir()
            .ok()
            .and_then(|cwd| bundle_dir(&id, &ns, &cwd))
            .map(|b| b.join(ERR_FILE));
        Reporter {
            who,
            err_file,
            syslog: syslog::socket_path(),
        }
    }

    /// `msg` on stderr, to the system log and, inside a bundle, appended to [`ERR_FILE`].
    /// Best effort everywhere; nothing here blocks on the system log.
    pub fn report(&self, msg: &str) {
        let line = format!("ctrlog driver{}: {msg}\n", self.who);
        let _ = io::stderr().write_all(line.as_bytes());
        if let Some(path) = &self.err_file {
            // Never append through a symlink planted in the bundle, nor block on a FIFO.
            let opts = OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o640)
                .clone();
            if let Ok(mut f) = open_regular(path, &opts, Symlinks::Refuse) {
                let _ = f.write_all(line.as_bytes());
            }
        }
        if let Some(socket) = &self.syslog {
            let mut packet = Vec::with_capacity(line.len() + 48);
            syslog::format(
                syslog::PRI_DAEMON_ERR,
                SystemClock.now(),
                Offset::Local,
                "ctrlog",
                std::process::id(),
                &format!("driver{}: {msg}", self.who),
                &mut packet,
            );
            let _ = syslog::send(socket, &packet);
        }
    }
}

/// Writes `ctrlog: <msg>` as one stderr record (CRI or json-file, as the log is written) into
/// `output`, through the same writer as the container's output, so `ctrlog logs` and
/// `kubectl logs` show it.
pub fn record<K: RecordWriter>(
    output: K,
    format: Format,
    utc: bool,
    msg: &str,
) -> Result<(), WriteError> {
    let offset = if utc { Offset::Utc } else { Offset::Local };
    let text = format!("ctrlog: {msg}\n");
    match format {
        Format::Cri => write_one(CriEncoder::new(offset), CrPolicy::Strip, output, &text),
        Format::JsonFile => write_one(DockerJsonEncoder::new(), CrPolicy::Keep, output, &text),
    }
}

fn write_one<F: RecordEncoder, K: RecordWriter>(
    format: F,
    cr: CrPolicy,
    output: K,
    text: &str,
) -> Result<(), WriteError> {
    let mut opts = WriterOptions::default();
    opts.split.cr_policy = cr;
    opts.write_error_policy = WriteErrorPolicy::Stop;
    let mut w = LogWriter::with_options(Stream::Stderr, format, output, opts);
    w.write_chunk(text.as_bytes())?;
    w.finish().map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundle_is_the_containers_directory_with_config_json() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path().join("default").join("c1");
        std::fs::create_dir_all(&b).unwrap();
        assert_eq!(bundle_dir("c1", "default", &b), None, "no config.json");
        std::fs::write(b.join("config.json"), b"{}").unwrap();
        assert_eq!(bundle_dir("c1", "default", &b), Some(b.clone()));
        assert_eq!(bundle_dir("c2", "default", &b), None);
        assert_eq!(bundle_dir("c1", "k8s.io", &b), None);
        assert_eq!(bundle_dir("", "default", &b), None);
        assert_eq!(bundle_dir("c1", "", &b), None);
    }

    #[test]
    fn records_are_whole_stderr_records() {
        let mut v = Vec::new();
        record(&mut v, Format::Cri, true, "max-len: 'x' is not an integer").unwrap();
        let s = String::from_utf8(v).unwrap();
        let (time, rest) = s.split_once(' ').unwrap();
        assert!(time.ends_with('Z'), "{s}");
        assert_eq!(rest, "stderr F ctrlog: max-len: 'x' is not an integer\n");
        let mut v = Vec::new();
        record(&mut v, Format::JsonFile, false, "a \"b\"").unwrap();
        let j: serde_json::Value = serde_json::from_slice(&v).unwrap();
        assert_eq!(j["log"], "ctrlog: a \"b\"\n");
        assert_eq!(j["stream"], "stderr");
    }
}
