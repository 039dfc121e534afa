//! Tumbling and sliding windows, kept as slices of `slide` ms: an event updates one slice,
//! and a window is the sum of its `size / slide` slices when it fires (Flink SQL's window
//! slicing), instead of updating `size / slide` windows per event.

use std::collections::{HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::{Accumulator, WindowResult};

#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "A: Accumulator")]
pub(crate) struct SlicedWindows<A> {
    size: u64,
    slide: u64,
    /// The event frontier windows have fired up to.
    pub(super) fired: u64,
    /// Per key, its non-empty slices in start order.
    pub(super) keys: HashMap<u64, VecDeque<(u64, A)>>,
}

impl<A: Accumulator> SlicedWindows<A> {
    pub(crate) fn new(size: u64, slide: u64) -> SlicedWindows<A> {
        SlicedWindows {
            size,
            slide: slide.max(1),
            fired: 0,
            keys: HashMap::new(),
        }
    }

    pub(crate) fn add(&mut self, key: u64, ts: u64, e: &A::In) -> bool {
        let start = ts - ts % self.slide;
        // The last window holding this slice ends at start + size.
        if start.saturating_add(self.size) <= self.fired {
            return false;
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

    pub(crate) fn fire(&mut self, f: u64, out: &mut Vec<WindowResult<A>>) {
        if f <= self.fired || self.next_end() > f {
            self.fired = self.fired.max(f);
            return;
        }
        let (size, slide, fired) = (self.size, self.slide, self.fired);
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
            // A slice is done once the last window holding it has fired.
            while slices
                .front()
                .is_some_and(|(s, _)| s.saturating_add(size) <= f)
            {
                slices.pop_front();
            }
            !slices.is_empty()
        });
        self.fired = f;
    }
}
