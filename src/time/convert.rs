//! [`Timestamp`] to and from the standard library's [`SystemTime`] and text, and (feature
//! `serde`) as a serde value: the RFC3339Nano text in UTC, as Docker's json-file `time` field
//! and kubelet write it, so a serialized timestamp reads the same in JSON as in the logs.

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{parse_rfc3339nano, ParseTimeError, Timestamp};

impl From<SystemTime> for Timestamp {
    /// Exact for every instant a `Timestamp` can hold; saturates beyond `i64` seconds.
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp::from_unix_nanos(d.as_nanos() as i128),
            // Before the epoch: `e.duration()` is how far before.
            Err(e) => Timestamp::from_unix_nanos(-(e.duration().as_nanos() as i128)),
        }
    }
}

impl Timestamp {
    /// The same instant as a [`SystemTime`], or `None` where the platform's `SystemTime`
    /// cannot hold it (far outside the years 1677..2262 on some platforms).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use ctrlog::time::Timestamp;
    /// let t = UNIX_EPOCH + Duration::new(1_718_802_165, 120);
    /// assert_eq!(Timestamp::from(t), Timestamp::new(1_718_802_165, 120));
    /// assert_eq!(Timestamp::from(t).to_system_time(), Some(t));
    /// ```
    pub fn to_system_time(self) -> Option<SystemTime> {
        if self.secs >= 0 {
            UNIX_EPOCH.checked_add(Duration::new(self.secs as u64, self.nanos))
        } else {
            // secs < 0 ≤ nanos: the instant is |secs| seconds before the epoch, plus nanos.
            let before = Duration::from_secs(self.secs.unsigned_abs());
            UNIX_EPOCH
                .checked_sub(before)?
                .checked_add(Duration::from_nanos(u64::from(self.nanos)))
        }
    }
}

impl FromStr for Timestamp {
    type Err = ParseTimeError;

    /// Parses RFC 3339 text as kubelet does ([`parse_rfc3339nano`]); the inverse of
    /// `Display`, which writes Go's RFC3339Nano in UTC.
    ///
    /// ```
    /// use ctrlog::time::Timestamp;
    /// let t: Timestamp = "2024-06-19T15:02:45.12+02:00".parse()?;
    /// assert_eq!(t.to_string(), "2024-06-19T13:02:45.12Z");
    /// assert!("yesterday".parse::<Timestamp>().is_err());
    /// # Ok::<(), ctrlog::time::ParseTimeError>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_rfc3339nano(s.as_bytes())
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an RFC 3339 timestamp")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Timestamp, E> {
                parse_rfc3339nano(v).map_err(E::custom)
            }
        }
        d.deserialize_str(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_time_round_trips_on_both_sides_of_the_epoch() {
        for (secs, nanos) in [
            (0, 0),
            (1, 1),
            (-1, 0),
            (-1, 999_999_999),
            (-86_400 * 365, 5),
        ] {
            let ts = Timestamp::new(secs, nanos);
            let st = ts.to_system_time().expect("in range");
            assert_eq!(Timestamp::from(st), ts, "{secs} {nanos}");
        }
        let t = UNIX_EPOCH - Duration::new(10, 250);
        assert_eq!(Timestamp::from(t), Timestamp::new(-11, 999_999_750));
    }

    #[test]
    fn the_extremes_convert_exactly_or_give_none() {
        // Linux's SystemTime holds every i64 second; other platforms' may not (then None).
        for ts in [
            Timestamp::new(i64::MAX, 999_999_999),
            Timestamp::new(i64::MIN, 0),
        ] {
            if let Some(st) = ts.to_system_time() {
                assert_eq!(Timestamp::from(st), ts);
            }
        }
    }

    #[test]
    fn from_str_is_display_inverse() {
        let ts = Timestamp::new(1_718_802_165, 120_000_000);
        assert_eq!(ts.to_string().parse::<Timestamp>(), Ok(ts));
        assert!("2024-06-19 15:02:45Z".parse::<Timestamp>().is_err());
    }
}
