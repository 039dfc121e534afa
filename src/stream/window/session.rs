//! Session windows: each event opens `[ts, ts + gap)` and merges with every session it
//! touches (Flink's TimeWindow.intersects: `a.start <= b.end && a.end >= b.start`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Accumulator, WindowResult};

#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "A: Accumulator")]
pub(crate) struct SessionWindows<A> {
    gap: u64,
    /// Allowed lateness: a fired session stays this long past its end; an event that
    /// merges into it fires the merged session again (Flink's `allowedLateness`).
    lateness: u64,
    pub(super) fired: u64,
    /// Per key, kept sessions `(start, end, stats, fired)` in start order, pairwise apart.
    pub(super) keys: HashMap<u64, Vec<Session<A>>>,
    /// Whether a late event updated a fired session, which fires again.
    pub(super) refire: bool,
}

/// `(start, end, stats, fired)`.
pub(super) type Session<A> = (u64, u64, A, bool);

impl<A: Accumulator> SessionWindows<A> {
    pub(crate) fn new(gap: u64, lateness: u64) -> SessionWindows<A> {
        SessionWindows {
            gap,
            lateness,
            fired: 0,
            keys: HashMap::new(),
            refire: false,
        }
    }

    pub(crate) fn add(&mut self, key: u64, ts: u64, e: &A::In) -> bool {
        let (mut start, mut end) = (ts, ts.saturating_add(self.gap));
        let sessions = self.keys.entry(key).or_default();
        // Sessions that fired are gone, so a merge only reaches open ones; a session of its
        // own that would have fired already is late.
        let first = sessions.partition_point(|(_, e, ..)| *e < start);
        let mut last = first;
        while last < sessions.len() && sessions[last].0 <= end {
            last += 1;
        }
        if first == last && end.saturating_add(self.lateness) <= self.fired {
            return false;
        }
        let mut stats = A::of(e);
        for (s, e, st, _) in sessions.drain(first..last) {
            start = start.min(s);
            end = end.max(e);
            stats.merge(&st);
        }
        // A session that already fired and changed fires again at once.
        self.refire |= end <= self.fired;
        sessions.insert(first, (start, end, stats, false));
        true
    }

    pub(crate) fn fire(&mut self, f: u64, out: &mut Vec<WindowResult<A>>) {
        if f <= self.fired && !self.refire {
            return;
        }
        let f = f.max(self.fired);
        let lateness = self.lateness;
        self.keys.retain(|&key, sessions| {
            sessions.retain_mut(|(start, end, stats, fired)| {
                if !*fired && *end <= f {
                    out.push(WindowResult {
                        key,
                        start: *start,
                        end: *end,
                        stats: stats.clone(),
                    });
                    *fired = true;
                }
                end.saturating_add(lateness) > f
            });
            !sessions.is_empty()
        });
        self.fired = f;
        self.refire = false;
    }
}
