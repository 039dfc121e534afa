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
        let start = ts - ts % self.slide;
        // The last window holding this slice ends at start + size, and is kept `lateness`
        // longer.
        if start
            .saturating_add(self.size)
            .saturating_add(self.lateness)
            <= self.fired
        {
            return false;
        }
        // The earliest window holding this slice ends at or after start + slide: unless
        // the frontier reached that, none of them has fired (the usual case, one compare).
        if self.fired >= start.saturating_add(self.slide) {
            let first = (start + self.slide)
                .saturating_sub(self.size)
                .div_ceil(self.slide)
                * self.slide;
            let mut w = first;
            while w <= start && w.saturating_add(self.size) <= self.fired {
                // Fired, and still kept: past its lateness a window takes nothing more.
                if w.saturating_add(self.size).saturating_add(self.lateness) > self.fired {
                    self.refire.insert((key, w));
                }
                w += self.slide;
            }
        }
        let slices = self.keys.entry(key).or_default();
        // Events are nearly in order: the slice is almost always the last one.
        match slices.iter().rposition(|(s, _)| *s <= start) {
            Some(i) if slices[i].0 == start => slices[i].1.add(e),
            Some(i) => slices.insert(i + 1, (start, A::of(e))),
            None => slices.push_front((start, A::of(e))),
        }
        true
    }

    /// The least window end above `fired`: ends are `size + k * slide`.
    fn next_end(&self) -> u64 {
        if self.fired < self.size {
            return self.size;
        }
        let k = (self.fired - self.size) / self.slide + 1;
        self.size + k * self.slide
    }

    /// The sum of `key`'s slices in `[start, start + size)`.
    fn window(&self, key: u64, start: u64) -> Option<A> {
        let mut stats: Option<A> = None;
        for (_, s) in self
            .keys
            .get(&key)?
            .iter()
            .skip_while(|(s, _)| *s < start)
            .take_while(|(s, _)| *s < start + self.size)
        {
            match stats.as_mut() {
                Some(acc) => acc.merge(s),
                None => stats = Some(s.clone()),
            }
        }
        stats
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
        if f <= self.fired || self.next_end() > f {
            self.fired = self.fired.max(f);
            return;
        }
        let (size, slide, fired) = (self.size, self.slide, self.fired);
        let keep = size.saturating_add(self.lateness);
        self.keys.retain(|&key, slices| {
            let (Some(&(first, _)), Some(&(last, _))) = (slices.front(), slices.back()) else {
                return false;
            };
            // Unfired windows end after `fired`; the first one that holds a slice starts
            // at or after first + slide - size.
            let lowest = (first + slide).saturating_sub(size);
            let unfired = (fired + 1).saturating_sub(size);
            let mut start = lowest.max(unfired.div_ceil(slide) * slide);
            // The last window holding a slice starts at the last slice.
            while start <= last && start.saturating_add(size) <= f {
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
                if let Some(stats) = stats {
                    out.push(WindowResult {
                        key,
                        start,
                        end: start + size,
                        stats,
                    });
                }
                start += slide;
            }
            // A slice is done once the last window holding it has fired and its allowed
            // lateness has passed.
            while slices
                .front()
                .is_some_and(|(s, _)| s.saturating_add(keep) <= f)
            {
                slices.pop_front();
            }
            !slices.is_empty()
        });
        self.fired = f;
    }
}
