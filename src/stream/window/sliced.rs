//! Tumbling and sliding windows, kept as slices of `slide` ms: an event updates one slice,
//! and a window is the sum of its `size / slide` slices when it fires (Flink SQL's window
//! slicing), instead of updating `size / slide` windows per event.

use std::collections::{BTreeSet, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::{Accumulator, WindowResult};

#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "A: Accumulator")]
pub(crate) struct SlicedWindows<A> {
    size: u64,
    slide: u64,
    /// Allowed lateness: a fired window's slices stay this long past its end, and an event
    /// for it fires it again with the update (Flink's `allowedLateness`).
    lateness: u64,
    /// The event frontier windows have fired up to.
    pub(super) fired: u64,
    /// Per key, its non-empty slices in start order.
    pub(super) keys: HashMap<u64, VecDeque<(u64, A)>>,
    /// Fired windows `(key, start)` that a late event updated: they fire again.
    pub(super) refire: BTreeSet<(u64, u64)>,
}

impl<A: Accumulator> SlicedWindows<A> {
    pub(crate) fn new(size: u64, slide: u64, lateness: u64) -> SlicedWindows<A> {
        SlicedWindows {
            size,
            slide: slide.max(1),
            lateness,
            fired: 0,
            keys: HashMap::new(),
            refire: BTreeSet::new(),
        }
    }

    pub(crate) fn add(&mut self, key: u64, ts: u64, e: &A::In) -> bool {
        let p = self.params();
        let Some(start) = p.admit(key, ts, self.fired, &mut self.refire) else {
            return false;
        };
        add_to_slices(self.keys.entry(key).or_default(), start, e);
        true
    }

    pub(super) fn params(&self) -> SliceParams {
        SliceParams {
            size: self.size,
            slide: self.slide,
            lateness: self.lateness,
        }
    }

    /// The sum of `key`'s slices in `[start, start + size)`.
    fn window(&self, key: u64, start: u64) -> Option<A> {
        sum_window(self.keys.get(&key)?, start, self.size)
    }

    pub(crate) fn fire(&mut self, f: u64, out: &mut Vec<WindowResult<A>>) {
        // Updated windows first, while all their slices are still kept.
        for (key, start) in std::mem::take(&mut self.refire) {
            if let Some(stats) = self.window(key, start) {
                out.push(WindowResult {
                    key,
                    start,
                    end: start + self.size,
                    stats,
                });
            }
        }
        let p = self.params();
        if f <= self.fired || p.next_end(self.fired) > f {
            self.fired = self.fired.max(f);
            return;
        }
        let fired = self.fired;
        self.keys.retain(|&key, slices| {
            p.fire_key(key, slices, fired, f, out);
            !slices.is_empty()
        });
        self.fired = f;
    }
}

/// The shape of sliced windows: what both state backends compute per key with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SliceParams {
    pub(crate) size: u64,
    pub(crate) slide: u64,
    pub(crate) lateness: u64,
}

impl SliceParams {
    /// The start of the slice an event at `ts` goes to, or None when it is late (every
    /// window holding the slice is past its lateness). Fired windows it updates that are
    /// still kept go to `refire` as `(key, start)`.
    pub(crate) fn admit(
        &self,
        key: u64,
        ts: u64,
        fired: u64,
        refire: &mut BTreeSet<(u64, u64)>,
    ) -> Option<u64> {
        let start = ts - ts % self.slide;
        // The last window holding this slice ends at start + size, and is kept `lateness`
        // longer.
        if start
            .saturating_add(self.size)
            .saturating_add(self.lateness)
            <= fired
        {
            return None;
        }
        // The earliest window holding this slice ends at or after start + slide: unless
        // the frontier reached that, none of them has fired (the usual case, one compare).
        if fired >= start.saturating_add(self.slide) {
            let first = (start + self.slide)
                .saturating_sub(self.size)
                .div_ceil(self.slide)
                * self.slide;
            let mut w = first;
            while w <= start && w.saturating_add(self.size) <= fired {
                // Fired, and still kept: past its lateness a window takes nothing more.
                if w.saturating_add(self.size).saturating_add(self.lateness) > fired {
                    refire.insert((key, w));
                }
                w += self.slide;
            }
        }
        Some(start)
    }

    /// The least window end above `fired`: ends are `size + k * slide`.
    pub(crate) fn next_end(&self, fired: u64) -> u64 {
        if fired < self.size {
            return self.size;
        }
        let k = (fired - self.size) / self.slide + 1;
        self.size + k * self.slide
    }

    /// The first window start `fire_key` looks at for `slices` (non-empty) after `fired`.
    fn first_unfired(&self, first: u64, fired: u64) -> u64 {
        // Unfired windows end after `fired`; the first one that holds a slice starts at or
        // after first + slide - size.
        let lowest = (first + self.slide).saturating_sub(self.size);
        let unfired = (fired + 1).saturating_sub(self.size);
        lowest.max(unfired.div_ceil(self.slide) * self.slide)
    }

    /// Fires one key's windows that end in `(fired, f]`, then drops the slices whose last
    /// window has fired and whose lateness has passed.
    pub(crate) fn fire_key<A: Accumulator>(
        &self,
        key: u64,
        slices: &mut VecDeque<(u64, A)>,
        fired: u64,
        f: u64,
        out: &mut Vec<WindowResult<A>>,
    ) {
        let (Some(&(first, _)), Some(&(last, _))) = (slices.front(), slices.back()) else {
            return;
        };
        let size = self.size;
        let mut start = self.first_unfired(first, fired);
        // The last window holding a slice starts at the last slice.
        while start <= last && start.saturating_add(size) <= f {
            if let Some(stats) = sum_window(slices, start, size) {
                out.push(WindowResult {
                    key,
                    start,
                    end: start + size,
                    stats,
                });
            }
            start += self.slide;
        }
        // A slice is done once the last window holding it has fired and its allowed
        // lateness has passed.
        let keep = size.saturating_add(self.lateness);
        while slices
            .front()
            .is_some_and(|(s, _)| s.saturating_add(keep) <= f)
        {
            slices.pop_front();
        }
    }

    /// The least event frontier at which [`SliceParams::fire_key`] has something to do
    /// for `slices` after `fired`: fire a window (its end, or earlier) or drop a slice.
    /// `u64::MAX` for no slices.
    pub(crate) fn timer<A>(&self, slices: &VecDeque<(u64, A)>, fired: u64) -> u64 {
        let (Some(&(first, _)), Some(&(last, _))) = (slices.front(), slices.back()) else {
            return u64::MAX;
        };
        let expiry = first
            .saturating_add(self.size)
            .saturating_add(self.lateness);
        let start = self.first_unfired(first, fired);
        let end = if start <= last {
            start.saturating_add(self.size)
        } else {
            u64::MAX
        };
        expiry.min(end)
    }
}

/// Adds an event to the slice starting at `start` of one key's slices (in start order).
pub(crate) fn add_to_slices<A: Accumulator>(
    slices: &mut VecDeque<(u64, A)>,
    start: u64,
    e: &A::In,
) {
    // Events are nearly in order: the slice is almost always the last one.
    match slices.iter().rposition(|(s, _)| *s <= start) {
        Some(i) if slices[i].0 == start => slices[i].1.add(e),
        Some(i) => slices.insert(i + 1, (start, A::of(e))),
        None => slices.push_front((start, A::of(e))),
    }
}

/// The sum of the slices in `[start, start + size)`.
pub(crate) fn sum_window<A: Accumulator>(
    slices: &VecDeque<(u64, A)>,
    start: u64,
    size: u64,
) -> Option<A> {
    let mut stats: Option<A> = None;
    for (_, s) in slices
        .iter()
        .skip_while(|(s, _)| *s < start)
        .take_while(|(s, _)| *s < start + size)
    {
        match stats.as_mut() {
            Some(acc) => acc.merge(s),
            None => stats = Some(s.clone()),
        }
    }
    stats
}
