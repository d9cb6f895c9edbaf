//! A one-pass summary of a log.json: counts per level, time range, top repeated messages.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::BufRead;

use super::decoder::{DecodeStats, Decoder, DecoderOptions};
use super::entry::OwnedEntry;
use super::RuncError;
use crate::time::{parse_rfc3339nano, Timeline};

/// Levels longer than this many bytes are counted as `"(other)"` (real ones are a few bytes).
const MAX_LEVEL_LEN: usize = 64;

const OTHER: &str = "(other)";

/// Settings for [`summarize`]; set fields on `default()` (the crate's
/// [conventions](crate#conventions)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SummaryOptions {
    /// How many repeated messages to report.
    pub top: usize,
    /// Distinct messages counted at once (Space-Saving; counts are exact while the number of
    /// distinct messages stays at or below this).
    pub max_tracked: usize,
    /// Distinct levels counted; further ones, and levels longer than 64 bytes,
    /// are counted under `"(other)"`.
    pub max_levels: usize,
    /// Characters of each message kept for display.
    pub preview_chars: usize,
    /// Decoder settings (policy is forced to lenient).
    pub decoder: DecoderOptions,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        SummaryOptions {
            top: 5,
            max_tracked: 512,
            max_levels: 32,
            preview_chars: 100,
            decoder: DecoderOptions::default(),
        }
    }
}

/// A repeated message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct MessageCount {
    /// How many records carried it (an upper bound if [`Summary::approximate`]).
    pub count: u64,
    /// The level of its first occurrence.
    pub level: String,
    /// Its length in bytes (unescaped).
    pub len: usize,
    /// Bytes its records take in the file (with their `\n`).
    pub record_bytes: u64,
    /// Its first characters (`preview_chars`), `…` appended when cut.
    pub preview: String,
    /// When its records were written (from their `time`). Not serialized: the JSON form
    /// stays the counts.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub timeline: Timeline,
}

/// What [`summarize`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Summary {
    /// Decoder counts: records, blank, malformed, torn, overlong.
    pub stats: DecodeStats,
    /// Records per level, most frequent first (`""` for records without a level).
    pub levels: Vec<(String, u64)>,
    /// `time` of the first record that has one, as written.
    pub first_time: Option<String>,
    /// `time` of the last record that has one, as written.
    pub last_time: Option<String>,
    /// The most repeated messages, most frequent first.
    pub top_messages: Vec<MessageCount>,
    /// Bytes of input read.
    pub bytes: u64,
    /// Whether more distinct messages arrived than were tracked (counts are then upper
    /// bounds, Space-Saving style).
    pub approximate: bool,
    /// When the records were written (from their `time`; records without a valid one are
    /// not placed). Not serialized.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub timeline: Timeline,
}

struct Slot {
    key: u64,
    record_bytes: u64,
    level: String,
    len: usize,
    preview: String,
    timeline: Timeline,
}

fn preview(msg: &str, chars: usize) -> String {
    let mut out = String::new();
    push_preview(&mut out, msg, chars);
    out
}

/// Appends the first `chars` characters of `msg` to `out`, and `…` if `msg` is longer.
fn push_preview(out: &mut String, msg: &str, chars: usize) {
    let cut = msg.char_indices().nth(chars).map_or(msg.len(), |(i, _)| i);
    // `cut` is a character boundary (from `char_indices`) or the end.
    out.push_str(&msg[..cut]);
    if cut < msg.len() {
        out.push('…');
    }
}

/// Summarises a log.json read from any `BufRead` in one pass, in bounded memory.
///
/// ```
/// use ctrlog::runc::{summarize, SummaryOptions};
/// let log = b"{\"level\":\"info\",\"msg\":\"Running with config\",\"time\":\"2024-01-20T16:00:00+08:00\"}\n\
///             {\"level\":\"info\",\"msg\":\"Running with config\",\"time\":\"2024-01-20T16:00:09+08:00\"}\n\
///             {\"level\":\"error\",\"msg\":\"exec failed\",\"time\":\"2024-01-20T16:00:10+08:00\"}\n";
/// let s = summarize(&log[..], SummaryOptions::default()).unwrap();
/// assert_eq!(s.levels, [("info".to_string(), 2), ("error".to_string(), 1)]);
/// assert_eq!(s.top_messages[0].count, 2);
/// assert_eq!(s.last_time.as_deref(), Some("2024-01-20T16:00:10+08:00"));
/// ```
pub fn summarize<R: BufRead>(reader: R, opts: SummaryOptions) -> Result<Summary, RuncError> {
    let mut dopts = opts.decoder;
    dopts.policy = super::ErrorPolicy::Lenient;
    let mut dec = Decoder::with_options(reader, dopts);
    let mut levels: Vec<(String, u64)> = Vec::new();
    // Tracked messages: `counts[i]` is the count of `slots[i]`, kept apart so the search for
    // the least counted one (once full) scans a plain `u64` array; `index` maps a message
    // hash to its position. The first least counted is evicted, so output is deterministic.
    let mut slots: Vec<Slot> = Vec::new();
    let mut counts: Vec<u64> = Vec::new();
    let mut index: HashMap<u64, usize> = HashMap::new();
    let mut approximate = false;
    let mut first_time = None;
    let mut last_time: Option<String> = None;
    let max_tracked = opts.max_tracked.max(1);
    let mut e = OwnedEntry::default();
    let mut timeline = Timeline::new();
    // The parsed `time` of the last record: runc writes whole seconds, so consecutive records
    // mostly share their text and it is parsed once per change.
    let mut second: Option<i64> = None;
    while dec.read_entry(&mut e)? {
        // Real levels are a few bytes; a long one is not kept (memory stays bounded).
        let level = match e.level.as_deref().unwrap_or("") {
            l if l.len() <= MAX_LEVEL_LEN => l,
            _ => OTHER,
        };
        let name = if levels.iter().any(|(l, _)| l == level) || levels.len() < opts.max_levels {
            level
        } else {
            OTHER
        };
        match levels.iter_mut().find(|(l, _)| l == name) {
            Some((_, n)) => *n += 1,
            None => levels.push((name.to_owned(), 1)),
        }
        if let Some(t) = e.time.as_deref() {
            if first_time.is_none() {
                first_time = Some(t.to_owned());
            }
            match last_time.as_mut() {
                Some(l) if l == t => {}
                Some(l) => {
                    l.clear();
                    l.push_str(t);
                    second = parse_rfc3339nano(t.as_bytes()).ok().map(|ts| ts.secs);
                }
                None => {
                    last_time = Some(t.to_owned());
                    second = parse_rfc3339nano(t.as_bytes()).ok().map(|ts| ts.secs);
                }
            }
        }
        // A record without `time` is not placed (nor given the previous record's time).
        let second = if e.time.is_some() { second } else { None };
        if let Some(secs) = second {
            timeline.add_n(secs, 1);
        }
        let msg = e.msg.as_deref().unwrap_or("");
        let mut h = DefaultHasher::new();
        msg.hash(&mut h);
        let key = h.finish();
        let span = dec.record_span();
        let rec_bytes = span.end - span.start + 1;
        if let Some(&i) = index.get(&key) {
            // `index` maps to slots that exist: `counts` and `slots` grow together.
            counts[i] += 1;
            // Saturating: an inherited (Space-Saving) estimate may overstate the bytes.
            slots[i].record_bytes = slots[i].record_bytes.saturating_add(rec_bytes);
            if let Some(secs) = second {
                slots[i].timeline.add_n(secs, 1);
            }
            continue;
        }
        if slots.len() < max_tracked {
            index.insert(key, slots.len());
            counts.push(1);
            slots.push(Slot {
                key,
                record_bytes: rec_bytes,
                level: level.to_owned(),
                len: msg.len(),
                preview: preview(msg, opts.preview_chars),
                timeline: second.map_or_else(Timeline::new, |secs| {
                    let mut t = Timeline::new();
                    t.add_n(secs, 1);
                    t
                }),
            });
            continue;
        }
        // Space-Saving: replace the least counted message, inheriting its count; the slot's
        // strings are reused.
        approximate = true;
        let victim = counts
            .iter()
            .enumerate()
            .min_by_key(|&(_, c)| *c)
            .map(|(i, &c)| (i, c));
        let Some((i, c)) = victim else { continue };
        // `i` indexes `counts`, and `slots` has the same length.
        let (count, slot) = (&mut counts[i], &mut slots[i]);
        index.remove(&slot.key);
        index.insert(key, i);
        // A count never exceeds the records read.
        *count = c + 1;
        slot.key = key;
        // Saturating: the inherited count makes this an estimate, and it may overstate.
        slot.record_bytes = rec_bytes.saturating_mul(*count);
        slot.level.clear();
        slot.level.push_str(level);
        slot.len = msg.len();
        slot.preview.clear();
        push_preview(&mut slot.preview, msg, opts.preview_chars);
        // The evicted message's times are not this one's.
        slot.timeline = Timeline::new();
        if let Some(secs) = second {
            slot.timeline.add_n(secs, 1);
        }
    }
    levels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut top: Vec<MessageCount> = slots
        .into_iter()
        .zip(counts)
        .map(|(s, count)| MessageCount {
            count,
            record_bytes: s.record_bytes,
            level: s.level,
            len: s.len,
            preview: s.preview,
            timeline: s.timeline,
        })
        .collect();
    top.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.preview.cmp(&b.preview))
    });
    top.truncate(opts.top);
    Ok(Summary {
        stats: dec.stats(),
        levels,
        first_time,
        last_time,
        top_messages: top,
        bytes: dec.position(),
        approximate,
        timeline,
    })
}

impl DecodeStats {
    /// Adds `other`'s counts to these (saturating).
    pub fn add(&mut self, other: &DecodeStats) {
        self.records = self.records.saturating_add(other.records);
        self.blank = self.blank.saturating_add(other.blank);
        self.malformed = self.malformed.saturating_add(other.malformed);
        self.torn = self.torn.saturating_add(other.torn);
        self.overlong = self.overlong.saturating_add(other.overlong);
    }
}

impl Summary {
    /// Folds `other` into this summary, as over the log.json files of several bundles.
    ///
    /// Counts and bytes add up. The time range is the earliest `first_time` and the latest
    /// `last_time` (compared as instants; a time that does not parse loses to one that
    /// does). A repeated message is identified by its level, length and preview, so two
    /// messages whose first `preview_chars` characters agree are counted as one. Each input
    /// lists only its `top` messages, so a message outside one input's list counts 0 from
    /// it: the merged counts are exact when each input listed all its distinct messages, and
    /// [`Summary::approximate`] is set when either input was approximate. The merged list holds
    /// every message either input listed, most frequent first: truncate `top_messages` to the
    /// number to show.
    ///
    /// ```
    /// use ctrlog::runc::{summarize, SummaryOptions};
    /// let a = br#"{"level":"warning","msg":"hook spam","time":"2026-01-01T00:00:02Z"}"#;
    /// let b = br#"{"level":"warning","msg":"hook spam","time":"2026-01-01T00:00:01Z"}"#;
    /// let mut node = summarize(&a[..], SummaryOptions::default())?;
    /// node.merge(&summarize(&b[..], SummaryOptions::default())?);
    /// assert_eq!(node.stats.records, 2);
    /// assert_eq!(node.top_messages[0].count, 2);
    /// assert_eq!(node.first_time.as_deref(), Some("2026-01-01T00:00:01Z"));
    /// # Ok::<(), ctrlog::runc::RuncError>(())
    /// ```
    pub fn merge(&mut self, other: &Summary) {
        self.stats.add(&other.stats);
        self.bytes = self.bytes.saturating_add(other.bytes);
        self.approximate |= other.approximate;
        self.timeline.merge(&other.timeline);
        for (level, n) in &other.levels {
            match self.levels.iter_mut().find(|(l, _)| l == level) {
                Some((_, m)) => *m = m.saturating_add(*n),
                None => self.levels.push((level.clone(), *n)),
            }
        }
        self.levels
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        pick_time(
            &mut self.first_time,
            &other.first_time,
            std::cmp::Ordering::Less,
        );
        pick_time(
            &mut self.last_time,
            &other.last_time,
            std::cmp::Ordering::Greater,
        );
        for m in &other.top_messages {
            let same = |x: &&mut MessageCount| {
                x.level == m.level && x.len == m.len && x.preview == m.preview
            };
            match self.top_messages.iter_mut().find(same) {
                Some(x) => {
                    x.count = x.count.saturating_add(m.count);
                    x.record_bytes = x.record_bytes.saturating_add(m.record_bytes);
                    x.timeline.merge(&m.timeline);
                }
                None => self.top_messages.push(m.clone()),
            }
        }
        self.top_messages.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.preview.cmp(&b.preview))
        });
    }
}

/// Replaces `mine` with `theirs` when `theirs` is `want` than it (earlier or later), comparing
/// the instants the texts name; a time that parses beats one that does not.
fn pick_time(mine: &mut Option<String>, theirs: &Option<String>, want: std::cmp::Ordering) {
    let Some(t) = theirs else { return };
    let parse = |s: &str| crate::time::parse_rfc3339nano(s.as_bytes()).ok();
    let replace = match mine.as_deref() {
        None => true,
        Some(m) => match (parse(t), parse(m)) {
            (Some(a), Some(b)) => a.cmp(&b) == want,
            (Some(_), None) => true,
            _ => false,
        },
    };
    if replace {
        *mine = Some(t.clone());
    }
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    fn sum(log: &str) -> Summary {
        summarize(log.as_bytes(), SummaryOptions::default()).unwrap()
    }

    #[test]
    fn merge_adds_counts_and_widens_the_time_range() {
        let mut a = sum(concat!(
            r#"{"level":"info","msg":"x","time":"2026-01-01T00:00:05+01:00"}"#,
            "\n",
            r#"{"level":"error","msg":"boom","time":"2026-01-01T00:00:09Z"}"#,
            "\nnot json\n"
        ));
        let b = sum(concat!(
            r#"{"level":"info","msg":"x","time":"2026-01-01T00:00:01Z"}"#,
            "\n",
            r#"{"level":"info","msg":"y","time":"2026-01-01T00:00:30Z"}"#,
            "\n"
        ));
        a.merge(&b);
        assert_eq!(a.stats.records, 4);
        assert_eq!(a.stats.malformed, 1);
        assert_eq!(
            a.levels,
            [("info".to_string(), 3), ("error".to_string(), 1)]
        );
        // 00:00:05+01:00 is 23:00:05Z the day before: the earliest of the three.
        assert_eq!(a.first_time.as_deref(), Some("2026-01-01T00:00:05+01:00"));
        assert_eq!(a.last_time.as_deref(), Some("2026-01-01T00:00:30Z"));
        let x = a.top_messages.iter().find(|m| m.preview == "x").unwrap();
        assert_eq!(x.count, 2);
        assert_eq!(a.top_messages[0].preview, "x");
        assert_eq!(a.top_messages.len(), 3);
        assert!(!a.approximate);
    }

    #[test]
    fn merge_into_empty_is_the_other() {
        let b = sum("{\"level\":\"info\",\"msg\":\"x\",\"time\":\"2026-01-01T00:00:01Z\"}\n");
        let mut a = Summary::default();
        a.merge(&b);
        assert_eq!(a, b);
    }
}
