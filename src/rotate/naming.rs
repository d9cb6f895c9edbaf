//! Backup naming schemes: how a file set names the files rotated out of the live file.
//!
//! Every scheme names a backup `<live>.<suffix>`, compressed `<live>.<suffix>.gz`, and the
//! compressor's temporary file `<live>.<suffix>.gz.tmp`. A scheme only decides the suffix: it
//! recognises suffixes on disk ([`NamingScheme::parse`], giving an order key where larger means
//! newer), names the next backup ([`NamingScheme::next`]), and, for Docker, says where an
//! existing backup moves when a new one arrives ([`NamingScheme::shift`]).
//!
//! This module is the crate's one grammar of backup names: the rotating writer names and
//! prunes with it, and the reader ([`crate::cri::read::rotated_set`]) recognises a set's
//! backups with it ([`BackupName::parse`], [`split_kind`]), so the reader reads exactly the
//! files a writer would create and prune, never a look-alike such as `app.log.01` or
//! `app.log.s1`. The three grammars are disjoint (Docker's are bare digits, kubelet's contain
//! a `-`, ctrlog's start with `s`), so a suffix names a backup of at most one scheme.
//!
//! [`NamingScheme`] is **sealed**: the reader must recognise every backup name any supported
//! writer produces without being told which writer made the set, which a user-defined scheme
//! would break (the reader would skip its backups, or worse, take another file for one). A
//! new scheme is a new [`Naming`] variant, which both sides then know.
//!
//! References: moby `daemon/logger/loggerutils/logfile.go` (Docker and nerdctl json-file),
//! kubelet `pkg/kubelet/logs/container_log_manager.go`.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use crate::time::{civil_from_unix, Civil, Offset, Timestamp};

use super::{EntryKind, OptionError, OptionProblem, RotateOption};

mod sealed {
    /// Keeps [`super::NamingScheme`] implemented only here (see the module docs).
    pub trait Sealed {}
}

/// Parses and produces backup suffixes (the part of a backup's name after `<live>.`).
/// Sealed: implemented by [`DockerNaming`], [`KubeletNaming`] and [`CtrlogNaming`] only.
///
/// ```
/// use ctrlog::rotate::{DockerNaming, NamingScheme};
/// use ctrlog::time::Timestamp;
/// // Docker's `name.1` is the newest backup; the next rotation shifts `1` to `2`.
/// assert_eq!(DockerNaming.next(None, Timestamp::new(0, 0)).as_deref(), Some("1"));
/// assert_eq!(DockerNaming.shift("1").as_deref(), Some("2"));
/// assert!(DockerNaming.parse("1") > DockerNaming.parse("2"));
/// assert_eq!(DockerNaming.parse("01"), None); // no writer makes it
/// ```
pub trait NamingScheme: sealed::Sealed + fmt::Debug + Send + Sync {
    /// Recognises `suffix` (without `.gz`/`.gz.tmp`) as one of this scheme's backups and returns
    /// its order key: a larger key is a newer backup. `None` means "not part of the set".
    fn parse(&self, suffix: &str) -> Option<u64>;

    /// The suffix of the backup the next rotation creates. `newest` is the largest order key
    /// on disk (all backups, compressed or not, and temporaries), after shifting for shifting
    /// schemes. `None` if no name is available (the rotation then fails and is retried).
    fn next(&self, newest: Option<u64>, now: Timestamp) -> Option<String>;

    /// For shifting schemes (Docker's `name.1` is always the newest): the suffix an existing
    /// backup moves to when a new backup is created. `None` (the default) for stable names.
    fn shift(&self, _suffix: &str) -> Option<String> {
        None
    }

    /// Whether the newest backup stays uncompressed (kubelet keeps it raw so that a log shipper
    /// can finish reading it). Default `false`: every backup is compressed.
    fn keeps_newest_raw(&self) -> bool {
        false
    }
}

/// Docker's json-file scheme (moby `daemon/logger/loggerutils/logfile.go`): `name.1` is the
/// newest backup, `name.2` the next older, ...; on rotation every backup moves up one number.
/// The order key of `name.N` is `u64::MAX - N`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DockerNaming;

/// kubelet's scheme (`pkg/kubelet/logs/container_log_manager.go`): `name.YYYYMMDD-HHMMSS` in
/// the configured offset (kubelet uses local time). Two rotations in the same second would
/// collide; ctrlog moves the second one to the next free second after the newest backup, so
/// names stay unique and still sort by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KubeletNaming {
    /// The offset the timestamp is written in.
    pub offset: Offset,
}

/// ctrlog's default scheme: `name.sNNNNNNNN` with an 8-or-more digit, zero-padded sequence
/// number (`name.s00000001`, ...). Larger is newer; the next number is one more than the largest
/// on disk, so readers can order a set without clocks and two rotations never collide.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CtrlogNaming;

fn parse_decimal(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl sealed::Sealed for DockerNaming {}
impl sealed::Sealed for KubeletNaming {}
impl sealed::Sealed for CtrlogNaming {}

impl NamingScheme for DockerNaming {
    fn parse(&self, suffix: &str) -> Option<u64> {
        // Canonical decimal >= 1 without leading zeros: `1`, `2`, ..., not `01` or `0`.
        if suffix.starts_with('0') {
            return None;
        }
        let n = parse_decimal(suffix)?;
        Some(u64::MAX - n)
    }

    fn next(&self, _newest: Option<u64>, _now: Timestamp) -> Option<String> {
        Some("1".to_owned())
    }

    fn shift(&self, suffix: &str) -> Option<String> {
        let n = self.parse(suffix).map(|k| u64::MAX - k)?;
        n.checked_add(1).map(|m| m.to_string())
    }
}

/// The width of [`CtrlogNaming`]'s sequence numbers.
pub const CTRLOG_SEQ_WIDTH: usize = 8;

impl CtrlogNaming {
    /// The suffix for sequence number `seq` (`s00000001`).
    pub fn suffix(seq: u64) -> String {
        format!("s{seq:0width$}", width = CTRLOG_SEQ_WIDTH)
    }
}

impl NamingScheme for CtrlogNaming {
    fn parse(&self, suffix: &str) -> Option<u64> {
        let digits = suffix.strip_prefix('s')?;
        // Canonical: exactly 8 digits, or more than 8 without a leading zero, so that every
        // number has one spelling.
        if digits.len() < CTRLOG_SEQ_WIDTH
            || (digits.len() > CTRLOG_SEQ_WIDTH && digits.starts_with('0'))
        {
            return None;
        }
        parse_decimal(digits)
    }

    fn next(&self, newest: Option<u64>, _now: Timestamp) -> Option<String> {
        let seq = match newest {
            None => 1,
            Some(n) => n.checked_add(1)?,
        };
        Some(Self::suffix(seq))
    }
}

/// Packs `YYYYMMDDHHMMSS` into a key (`None` outside years 0..=9999).
fn kubelet_key(c: &Civil) -> Option<u64> {
    let year = u64::try_from(c.year).ok().filter(|y| *y <= 9999)?;
    Some(
        year * 10_000_000_000
            + u64::from(c.month) * 100_000_000
            + u64::from(c.day) * 1_000_000
            + u64::from(c.hour) * 10_000
            + u64::from(c.minute) * 100
            + u64::from(c.second),
    )
}

/// Unpacks a key into its fields, which need not form a real date (kubelet's own tests use
/// `00000000-000000`).
fn kubelet_fields(key: u64) -> Civil {
    // Each field is below 100 and the year below 2^31: all fit their types.
    let field = |div: u64| (key / div % 100) as u32;
    Civil {
        year: (key / 10_000_000_000) as i64,
        month: field(100_000_000),
        day: field(1_000_000),
        hour: field(10_000),
        minute: field(100),
        second: field(1),
    }
}

/// The smallest key greater than `key` reachable by adding one second with carries
/// ([`Civil::next_second`]). Works on any 14-digit key, even one that is not a real date, so
/// the result always sorts after `key`; `None` past year 9999.
fn kubelet_bump(key: u64) -> Option<u64> {
    let out = kubelet_key(&kubelet_fields(key).next_second())?;
    (out > key).then_some(out)
}

fn kubelet_format(key: u64) -> String {
    format!("{:08}-{:06}", key / 1_000_000, key % 1_000_000)
}

impl KubeletNaming {
    /// The key (`YYYYMMDDHHMMSS`) of instant `now` in this scheme's offset.
    fn key_at(&self, now: Timestamp) -> Option<u64> {
        let east = self.offset.seconds_at(now.secs);
        kubelet_key(&civil_from_unix(now.secs.checked_add(i64::from(east))?))
    }
}

/// kubelet's suffix grammar (Go layout `20060102-150405`, not checked to be a real date).
fn kubelet_parse(suffix: &str) -> Option<u64> {
    let (date, time) = suffix.split_once('-')?;
    if date.len() != 8 || time.len() != 6 {
        return None;
    }
    let d = parse_decimal(date)?;
    let t = parse_decimal(time)?;
    Some(d * 1_000_000 + t)
}

impl NamingScheme for KubeletNaming {
    fn parse(&self, suffix: &str) -> Option<u64> {
        kubelet_parse(suffix)
    }

    fn next(&self, newest: Option<u64>, now: Timestamp) -> Option<String> {
        let now_key = self.key_at(now);
        let key = match (now_key, newest) {
            (Some(k), Some(n)) if k <= n => kubelet_bump(n)?,
            (Some(k), _) => k,
            (None, Some(n)) => kubelet_bump(n)?,
            (None, None) => return None,
        };
        Some(kubelet_format(key))
    }

    fn keeps_newest_raw(&self) -> bool {
        true
    }
}

/// The naming scheme of a file set, parseable from `docker`, `kubelet` or `ctrlog`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Naming {
    /// Docker json-file: `name.1` (newest), `name.2`, ...; `.gz` when compressed.
    Docker,
    /// kubelet: `name.YYYYMMDD-HHMMSS`; every backup but the newest is `.gz` when compressed.
    Kubelet,
    /// ctrlog: `name.s00000001`, ... (larger is newer); `.gz` when compressed.
    #[default]
    Ctrlog,
}

impl Naming {
    /// The scheme object; `offset` is used by [`Naming::Kubelet`] only.
    pub fn scheme(self, offset: Offset) -> Box<dyn NamingScheme> {
        match self {
            Naming::Docker => Box::new(DockerNaming),
            Naming::Kubelet => Box::new(KubeletNaming { offset }),
            Naming::Ctrlog => Box::new(CtrlogNaming),
        }
    }

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Naming::Docker => "docker",
            Naming::Kubelet => "kubelet",
            Naming::Ctrlog => "ctrlog",
        }
    }
}

impl Naming {
    /// Every scheme, in the order a reader ranks backups of different schemes in one
    /// directory (oldest first): Docker, kubelet, ctrlog.
    pub const ALL: [Naming; 3] = [Naming::Docker, Naming::Kubelet, Naming::Ctrlog];

    /// [`NamingScheme::parse`] of this scheme: the order key of the backup suffix `stem`
    /// (without `.gz`/`.tmp`, see [`split_kind`]), `None` if this scheme never names a backup
    /// so.
    pub fn parse(self, stem: &str) -> Option<u64> {
        match self {
            Naming::Docker => DockerNaming.parse(stem),
            Naming::Kubelet => kubelet_parse(stem),
            Naming::Ctrlog => CtrlogNaming.parse(stem),
        }
    }

    fn rank(self) -> u8 {
        match self {
            Naming::Docker => 0,
            Naming::Kubelet => 1,
            Naming::Ctrlog => 2,
        }
    }
}

/// A backup suffix recognised by one of the schemes: which one, and its order key.
///
/// Ordered oldest first: by scheme ([`Naming::ALL`]'s order, for a directory that holds
/// backups of more than one), then by key (larger is newer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BackupName {
    /// The scheme whose grammar the suffix follows.
    pub naming: Naming,
    /// Its order key ([`NamingScheme::parse`]): larger is newer.
    pub key: u64,
}

impl BackupName {
    /// Recognises the backup suffix `stem` (after `<live>.`, without `.gz`/`.tmp`: see
    /// [`split_kind`]) in whichever scheme names it; `None` if no supported writer names a
    /// backup so (`01`, `s1`, `0`).
    pub fn parse(stem: &str) -> Option<BackupName> {
        Naming::ALL.into_iter().find_map(|naming| {
            Some(BackupName {
                naming,
                key: naming.parse(stem)?,
            })
        })
    }
}

impl Ord for BackupName {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.naming.rank(), self.key).cmp(&(other.naming.rank(), other.key))
    }
}

impl PartialOrd for BackupName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Splits what follows `<live>.` in a name of the set into the backup's suffix stem and what
/// file it is: `<stem>.gz.tmp` and `<stem>.tmp` (a compressor's temporary, ctrlog's and
/// Docker's or kubelet's), `<stem>.gz`, or the raw `<stem>`. The stem is not checked: see
/// [`NamingScheme::parse`] and [`BackupName::parse`].
pub fn split_kind(rest: &str) -> (&str, EntryKind) {
    if let Some(s) = rest.strip_suffix(".gz.tmp") {
        (s, EntryKind::Tmp)
    } else if let Some(s) = rest.strip_suffix(".tmp") {
        (s, EntryKind::Tmp)
    } else if let Some(s) = rest.strip_suffix(".gz") {
        (s, EntryKind::Gz)
    } else {
        (rest, EntryKind::Raw)
    }
}

impl fmt::Display for Naming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Naming {
    type Err = OptionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "docker" => Ok(Naming::Docker),
            "kubelet" => Ok(Naming::Kubelet),
            "ctrlog" => Ok(Naming::Ctrlog),
            _ => Err(OptionError {
                option: RotateOption::Naming,
                input: s.to_owned(),
                problem: OptionProblem::NotOneOf("docker, kubelet or ctrlog"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(secs: i64) -> Timestamp {
        Timestamp { secs, nanos: 0 }
    }

    #[test]
    fn docker_parse_and_shift() {
        let d = DockerNaming;
        assert!(d.parse("1").unwrap() > d.parse("2").unwrap());
        assert_eq!(d.parse("0"), None);
        assert_eq!(d.parse("01"), None);
        assert_eq!(d.parse("1a"), None);
        assert_eq!(d.parse(""), None);
        assert_eq!(d.shift("9").as_deref(), Some("10"));
        assert_eq!(d.next(None, ts(0)).as_deref(), Some("1"));
    }

    #[test]
    fn ctrlog_parse_canonical() {
        let c = CtrlogNaming;
        assert_eq!(c.parse("s00000001"), Some(1));
        assert_eq!(c.parse("s0000001"), None);
        assert_eq!(c.parse("s000000001"), None);
        assert_eq!(c.parse("s123456789"), Some(123_456_789));
        assert_eq!(c.parse("00000001"), None);
        assert_eq!(
            c.next(Some(99_999_999), ts(0)).as_deref(),
            Some("s100000000")
        );
        assert_eq!(c.next(None, ts(0)).as_deref(), Some("s00000001"));
        assert_eq!(c.next(Some(u64::MAX), ts(0)), None);
    }

    #[test]
    fn kubelet_names() {
        let k = KubeletNaming {
            offset: Offset::Utc,
        };
        // 2018-01-01T00:00:00Z
        let t = ts(1_514_764_800);
        assert_eq!(k.next(None, t).as_deref(), Some("20180101-000000"));
        let key = k.parse("20180101-000000").unwrap();
        // Same second: moved one second on.
        assert_eq!(k.next(Some(key), t).as_deref(), Some("20180101-000001"));
        let key = k.parse("20171231-235959").unwrap();
        assert_eq!(k.next(Some(key), ts(0)).as_deref(), Some("20180101-000000"));
        let key = k.parse("20240228-235959").unwrap();
        assert_eq!(k.next(Some(key), ts(0)).as_deref(), Some("20240229-000000"));
        // kubelet test names that are not dates still order and bump.
        let key = k.parse("11111111-111111").unwrap();
        assert_eq!(k.next(Some(key), ts(0)).as_deref(), Some("19700101-000000"));
        let key = k.parse("99991231-235958").unwrap();
        assert_eq!(k.next(Some(key), ts(0)).as_deref(), Some("99991231-235959"));
        let key = k.parse("99991231-235959").unwrap();
        assert_eq!(k.next(Some(key), ts(0)), None);
        assert_eq!(k.parse("2018010-1000000"), None);
        assert_eq!(k.parse("20180101-00000"), None);
        let fixed = KubeletNaming {
            offset: Offset::Fixed(3600),
        };
        assert_eq!(fixed.next(None, t).as_deref(), Some("20180101-010000"));
    }

    #[test]
    fn kubelet_bump_always_increases() {
        for key in [
            0u64,
            99_999_999_999_999 - 10_000_000_000,
            20_181_231_235_959,
            20_180_199_999_999,
            12_345_678_901_234,
        ] {
            if let Some(b) = kubelet_bump(key) {
                assert!(b > key, "{key} -> {b}");
            }
        }
        assert_eq!(kubelet_bump(99_991_231_235_959), None);
    }

    #[test]
    fn civil_matches_known_dates() {
        assert_eq!(
            civil_from_unix(0),
            Civil {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0
            }
        );
        let c = civil_from_unix(951_782_400); // 2000-02-29
        assert_eq!((c.year, c.month, c.day), (2000, 2, 29));
    }

    /// The one grammar: each suffix any writer produces is recognised by exactly its own
    /// scheme; look-alikes no writer produces by none.
    #[test]
    fn backup_names_are_one_grammar() {
        let cases: &[(&str, Option<(Naming, u64)>)] = &[
            ("1", Some((Naming::Docker, u64::MAX - 1))),
            ("12", Some((Naming::Docker, u64::MAX - 12))),
            (
                "20240102-030405",
                Some((Naming::Kubelet, 20_240_102_030_405)),
            ),
            ("s00000042", Some((Naming::Ctrlog, 42))),
            ("s123456789", Some((Naming::Ctrlog, 123_456_789))),
            ("01", None),
            ("0", None),
            ("s1", None),
            ("s0000001", None),
            ("s000000001", None),
            ("2024010-030405", None),
            ("20240102-03040", None),
            ("20240102_030405", None),
            ("+1", None),
            ("", None),
        ];
        for (stem, want) in cases {
            let got = BackupName::parse(stem).map(|b| (b.naming, b.key));
            assert_eq!(got, *want, "{stem:?}");
            let matching = Naming::ALL.iter().filter(|n| n.parse(stem).is_some());
            assert_eq!(matching.count(), usize::from(want.is_some()), "{stem:?}");
        }
        // Oldest first: Docker's larger numbers, then kubelet, then ctrlog.
        let order = ["3", "1", "20240101-000000", "20240102-000000", "s00000001"];
        let parsed: Vec<BackupName> = order
            .iter()
            .map(|s| BackupName::parse(s).unwrap())
            .collect();
        assert!(parsed.windows(2).all(|w| w[0] < w[1]), "{parsed:?}");
        assert_eq!(split_kind("1.gz.tmp"), ("1", EntryKind::Tmp));
        assert_eq!(split_kind("1.tmp"), ("1", EntryKind::Tmp));
        assert_eq!(split_kind("1.gz"), ("1", EntryKind::Gz));
        assert_eq!(split_kind("1.bz2"), ("1.bz2", EntryKind::Raw));
    }

    #[test]
    fn naming_from_str() {
        assert_eq!("docker".parse::<Naming>().unwrap(), Naming::Docker);
        assert_eq!("kubelet".parse::<Naming>().unwrap(), Naming::Kubelet);
        assert_eq!("ctrlog".parse::<Naming>().unwrap(), Naming::Ctrlog);
        assert!("Docker".parse::<Naming>().is_err());
        for n in [Naming::Docker, Naming::Kubelet, Naming::Ctrlog] {
            assert_eq!(n.to_string().parse::<Naming>().unwrap(), n);
        }
    }
}
