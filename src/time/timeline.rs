//! [`Timeline`]: how many events fell in each stretch of time, in fixed memory, and its
//! sparkline.

use super::Timestamp;

/// Buckets of a [`Timeline`].
pub const TIMELINE_BUCKETS: usize = 32;

/// Counts of events over time in [`TIMELINE_BUCKETS`] buckets whose width (a power of two of
/// seconds) doubles as the span grows, so one pass over records in any order needs neither
/// the time range up front nor more memory.
///
/// Bucket starts are multiples of the width (in seconds since the epoch), so two timelines
/// merge exactly ([`Timeline::merge`]) once the narrower is widened. An instant is placed by
/// its whole second.
///
/// ```
/// use ctrlog::time::{Timeline, Timestamp};
/// let mut t = Timeline::new();
/// for s in 0..10 { t.add(Timestamp::new(1_700_000_000 + s, 0)); }   // a steady trickle
/// for _ in 0..200 { t.add(Timestamp::new(1_700_000_040, 0)); }      // then a burst
/// assert_eq!(t.total(), 210);
/// // 41 seconds do not fit 32 one-second buckets: two seconds per bucket.
/// assert_eq!(t.bucket_secs(), 2);
/// assert_eq!(t.sparkline(), "▂▂▂▂▂▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁█");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeline {
    /// Start of bucket 0, seconds since the epoch (a multiple of `width`); `None` when empty.
    start: Option<i64>,
    /// Seconds per bucket, a power of two (1 when empty).
    width: u64,
    counts: Vec<u64>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline::new()
    }
}

impl Timeline {
    /// An empty timeline.
    pub fn new() -> Self {
        Timeline {
            start: None,
            width: 1,
            counts: Vec::new(),
        }
    }

    /// Counts one event at `ts`.
    pub fn add(&mut self, ts: Timestamp) {
        self.add_n(ts.secs, 1);
    }

    /// Counts `n` events in the second `secs`.
    pub fn add_n(&mut self, secs: i64, n: u64) {
        self.fit(secs, secs);
        let (start, w) = (self.start.unwrap_or(secs), self.width as i128);
        let i = ((secs as i128 - start as i128) / w) as usize;
        self.counts[i] = self.counts[i].saturating_add(n);
    }

    /// Adds `other`'s counts.
    pub fn merge(&mut self, other: &Timeline) {
        let Some(ostart) = other.start else { return };
        // Only the buckets that hold events need to fit (the rest of `other`'s grid is empty).
        let used = |i: usize| bucket_start(ostart, i, other.width);
        let (Some(first), Some(last)) = (
            other.counts.iter().position(|&c| c > 0),
            other.counts.iter().rposition(|&c| c > 0),
        ) else {
            return;
        };
        let last_end = clamp(used(last) as i128 + other.width as i128 - 1);
        self.fit(used(first), last_end);
        self.widen_to(other.width);
        for (i, &c) in other.counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            self.add_n(bucket_start(ostart, i, other.width), c);
        }
    }

    /// Events counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// Seconds per bucket.
    pub fn bucket_secs(&self) -> u64 {
        self.width
    }

    /// `(start of bucket in seconds since the epoch, count)` from the first bucket with an
    /// event to the last.
    pub fn buckets(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        let first = self.counts.iter().position(|&c| c > 0).unwrap_or(0);
        let last = self
            .counts
            .iter()
            .rposition(|&c| c > 0)
            .map_or(0, |i| i + 1);
        let (start, w) = (self.start.unwrap_or(0), self.width);
        (first..last.max(first)).map(move |i| (bucket_start(start, i, w), self.counts[i]))
    }

    /// One character per bucket from the first event to the last, `▁` (none) to `█` (the
    /// busiest bucket); empty when there is no event.
    pub fn sparkline(&self) -> String {
        let max = self.counts.iter().copied().max().unwrap_or(0);
        self.buckets().map(|(_, c)| bar(c, max)).collect()
    }

    /// [`sparkline`](Self::sparkline) of this timeline drawn on `grid`'s buckets (from
    /// `grid`'s first event to its last), scaled to this timeline's busiest bucket: rows of a
    /// table drawn on one grid (each message on its file's) line up in time. Falls back to
    /// this timeline's own grid when `grid` is narrower than it.
    ///
    /// ```
    /// use ctrlog::time::Timeline;
    /// let (mut all, mut burst) = (Timeline::new(), Timeline::new());
    /// for s in 0..8 { all.add_n(s, 1); }
    /// for _ in 0..5 { burst.add_n(6, 1); all.add_n(6, 1); }
    /// assert_eq!(all.sparkline(), "▃▃▃▃▃▃█▃");
    /// assert_eq!(burst.sparkline_on(&all), "▁▁▁▁▁▁█▁");
    /// ```
    pub fn sparkline_on(&self, grid: &Timeline) -> String {
        let (Some(gstart), Some(_)) = (grid.start, self.start) else {
            return self.sparkline();
        };
        let mut on = Timeline {
            start: Some(gstart),
            width: grid.width,
            counts: vec![0; TIMELINE_BUCKETS],
        };
        on.merge(self);
        if on.width != grid.width || on.start != grid.start {
            return self.sparkline();
        }
        let first = grid.counts.iter().position(|&c| c > 0).unwrap_or(0);
        let last = grid
            .counts
            .iter()
            .rposition(|&c| c > 0)
            .map_or(0, |i| i + 1);
        let max = on.counts.iter().copied().max().unwrap_or(0);
        on.counts[first..last.max(first)]
            .iter()
            .map(|&c| bar(c, max))
            .collect()
    }

    /// Makes `[lo, hi]` (seconds) fit, widening (and realigning) as needed.
    fn fit(&mut self, lo: i64, hi: i64) {
        let Some(start) = self.start else {
            self.start = Some(lo.div_euclid(self.width as i64) * self.width as i64);
            self.counts = vec![0; TIMELINE_BUCKETS];
            return self.fit(lo, hi);
        };
        let end = start as i128 + (self.width as i128) * TIMELINE_BUCKETS as i128;
        if lo as i128 >= start as i128 && (hi as i128) < end {
            return;
        }
        let (lo, hi) = (lo.min(start), (hi as i128).max(end - 1));
        let mut w = self.width as i128;
        while {
            let s = (lo as i128).div_euclid(w) * w;
            hi >= s + w * TIMELINE_BUCKETS as i128
        } {
            w *= 2;
        }
        self.regrid(lo, w.min(u64::MAX as i128) as u64);
    }

    /// Widens buckets to at least `width` seconds.
    fn widen_to(&mut self, width: u64) {
        if width > self.width {
            if let Some(start) = self.start {
                self.regrid(start, width);
            }
        }
    }

    /// Re-buckets to `width` seconds, bucket 0 holding `lo`. Exact: the old buckets are
    /// aligned to a width that divides the new one.
    fn regrid(&mut self, lo: i64, width: u64) {
        let (old_start, old_w) = (self.start.unwrap_or(lo), self.width);
        let new_start = (lo as i128).div_euclid(width as i128) * width as i128;
        let mut counts = vec![0u64; TIMELINE_BUCKETS];
        for (i, &c) in self.counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            let at = old_start as i128 + i as i128 * old_w as i128;
            let j = ((at - new_start) / width as i128) as usize;
            counts[j] = counts[j].saturating_add(c);
        }
        self.start = Some(new_start as i64);
        self.width = width;
        self.counts = counts;
    }
}

/// The start of bucket `i` of a grid starting at `start` with `width`-second buckets,
/// computed wide: a grid spanning most of the `i64` range must not wrap.
fn bucket_start(start: i64, i: usize, width: u64) -> i64 {
    clamp(start as i128 + i as i128 * width as i128)
}

fn clamp(secs: i128) -> i64 {
    secs.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The bar for `count` in a row whose busiest bucket holds `max`: `▁` for none, `█` for the
/// busiest, and any event at least `▂`, so it shows above an empty bucket.
fn bar(count: u64, max: u64) -> char {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let (c, max) = (count as u128, max.max(count).max(1) as u128);
    BARS[((c * 7).div_ceil(max)).min(7) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(events: &[i64], t: &Timeline) -> Vec<(i64, u64)> {
        // What each bucket of `t`'s grid must hold.
        let w = t.bucket_secs() as i64;
        let mut per: std::collections::BTreeMap<i64, u64> = Default::default();
        for &e in events {
            *per.entry(e.div_euclid(w) * w).or_default() += 1;
        }
        let (Some(&lo), Some(&hi)) = (per.keys().next(), per.keys().last()) else {
            return Vec::new();
        };
        (0..=(hi - lo) / w)
            .map(|k| (lo + k * w, per.get(&(lo + k * w)).copied().unwrap_or(0)))
            .collect()
    }

    proptest! {
        #[test]
        fn buckets_match_a_naive_count_in_any_order(
            events in proptest::collection::vec(-5_000i64..5_000, 0..200),
            split in 0usize..200,
        ) {
            let mut t = Timeline::new();
            for &e in &events { t.add_n(e, 1); }
            prop_assert_eq!(t.total(), events.len() as u64);
            prop_assert_eq!(t.buckets().collect::<Vec<_>>(), naive(&events, &t));
            // Merging two halves gives the same as one pass.
            let (a, b) = events.split_at(split.min(events.len()));
            let (mut ta, mut tb) = (Timeline::new(), Timeline::new());
            for &e in a { ta.add_n(e, 1); }
            for &e in b { tb.add_n(e, 1); }
            ta.merge(&tb);
            prop_assert_eq!(ta.total(), events.len() as u64);
            prop_assert_eq!(ta.buckets().collect::<Vec<_>>(), naive(&events, &ta));
        }
    }

    #[test]
    fn extremes_do_not_overflow() {
        let mut t = Timeline::new();
        t.add_n(i64::MIN, 1);
        t.add_n(i64::MAX, 1);
        assert_eq!(t.total(), 2);
        // Bucket starts climb, and the last bucket holds i64::MAX (adversarial review: the
        // starts wrapped and the last event was reported at i64::MIN).
        let b: Vec<(i64, u64)> = t.buckets().collect();
        assert!(b.windows(2).all(|p| p[0].0 < p[1].0), "{b:?}");
        let (last_start, n) = b[b.len() - 1];
        assert_eq!(n, 1);
        assert!(
            last_start as i128 + t.bucket_secs() as i128 > i64::MAX as i128,
            "{b:?}"
        );
        assert_eq!(b[0], (i64::MIN, 1));
        assert!(t.sparkline().chars().count() <= TIMELINE_BUCKETS);
        assert_eq!(Timeline::new().sparkline(), "");
    }
}
