//! Session windows: each event opens `[ts, ts + gap)` and merges with every session it
//! touches (Flink's TimeWindow.intersects: `a.start <= b.end && a.end >= b.start`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Accumulator, WindowResult};

#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "A: Accumulator")]
pub(crate) struct SessionWindows<A> {
    gap: u64,
    pub(super) fired: u64,
    /// Per key, open sessions `(start, end, stats)` in start order, pairwise apart.
    pub(super) keys: HashMap<u64, Vec<(u64, u64, A)>>,
}

impl<A: Accumulator> SessionWindows<A> {
    pub(crate) fn new(gap: u64) -> SessionWindows<A> {
        SessionWindows {
            gap,
            fired: 0,
            keys: HashMap::new(),
        }
    }

    pub(crate) fn add(&mut self, key: u64, ts: u64, e: &A::In) -> bool {
        let (mut start, mut end) = (ts, ts.saturating_add(self.gap));
        let sessions = self.keys.entry(key).or_default();
        // Sessions that fired are gone, so a merge only reaches open ones; a session of its
        // own that would have fired already is late.
        let first = sessions.partition_point(|(_, e, _)| *e < start);
        let mut last = first;
        while last < sessions.len() && sessions[last].0 <= end {
            last += 1;
        }
        if first == last && end <= self.fired {
            return false;
        }
        let mut stats = A::of(e);
        for (s, e, st) in sessions.drain(first..last) {
            start = start.min(s);
            end = end.max(e);
            stats.merge(&st);
        }
        sessions.insert(first, (start, end, stats));
        true
    }

    pub(crate) fn fire(&mut self, f: u64, out: &mut Vec<WindowResult<A>>) {
        if f <= self.fired {
            return;
        }
        self.keys.retain(|&key, sessions| {
            sessions.retain(|(start, end, stats)| {
                if *end <= f {
                    out.push(WindowResult {
                        key,
                        start: *start,
                        end: *end,
                        stats: stats.clone(),
                    });
                    false
                } else {
                    true
                }
            });
            !sessions.is_empty()
        });
        self.fired = f;
    }
}
