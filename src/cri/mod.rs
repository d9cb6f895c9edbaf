//! CRI container logs: the records containerd's CRI plugin writes and kubelet reads, and
//! Docker's json-file records.
//!
//! A CRI record is one line: `<RFC3339Nano time> <stdout|stderr> <P|F> <content>\n`. Lines of
//! the container's output longer than the maximum line length are split into `P` (partial)
//! records closed by an `F` (full) record; readers merge them back.
//!
//! * [`mod@write`]: turn a container's stdout/stderr bytes into records (containerd's
//!   `internal/cri/io/logger.go` semantics, with bounded memory), CRI or Docker json-file.
//! * [`mod@read`]: parse records, merge partials, tail, filter and follow (kubelet's
//!   `pkg/kubelet/kuberuntime/logs/logs.go` semantics).
//!
//! Each submodule lists where it differs from its reference on purpose.

pub mod read;
pub mod write;

/// The stream a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Stream {
    /// The container's standard output.
    Stdout,
    /// The container's standard error.
    Stderr,
}

impl Stream {
    /// Both streams, in [`Stream::index`] order.
    pub const ALL: [Stream; 2] = [Stream::Stdout, Stream::Stderr];

    /// 0 for stdout, 1 for stderr: the index of per-stream arrays (`[T; 2]`).
    #[inline]
    pub const fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }

    /// `stdout` or `stderr`, as written in records.
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            Stream::Stdout => b"stdout",
            Stream::Stderr => b"stderr",
        }
    }

    /// `stdout` or `stderr`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    /// Parses exactly `stdout` or `stderr`.
    pub fn from_bytes(b: &[u8]) -> Option<Stream> {
        match b {
            b"stdout" => Some(Stream::Stdout),
            b"stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a record ends a line of the container's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Tag {
    /// `P`: a piece of a longer line; more of the line follows.
    #[cfg_attr(feature = "serde", serde(rename = "P"))]
    Partial,
    /// `F`: the last (or only) piece of a line.
    #[cfg_attr(feature = "serde", serde(rename = "F"))]
    Full,
}

impl Tag {
    /// `b'P'` or `b'F'`.
    pub const fn as_byte(self) -> u8 {
        match self {
            Tag::Partial => b'P',
            Tag::Full => b'F',
        }
    }
}
