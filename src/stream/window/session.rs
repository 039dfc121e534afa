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
pub(crate) type Session<A> = (u64, u64, A, bool);

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
        let p = self.params();
        match p.add(self.keys.entry(key).or_default(), ts, e, self.fired) {
            None => false,
            Some(refire) => {
                self.refire |= refire;
                true
            }
        }
    }

    pub(super) fn params(&self) -> SessionParams {
        SessionParams {
            gap: self.gap,
            lateness: self.lateness,
        }
    }

    pub(crate) fn fire(&mut self, f: u64, out: &mut Vec<WindowResult<A>>) {
        if f <= self.fired && !self.refire {
            return;
        }
        let f = f.max(self.fired);
        let p = self.params();
        self.keys.retain(|&key, sessions| {
            p.fire_key(key, sessions, f, out);
            !sessions.is_empty()
        });
        self.fired = f;
        self.refire = false;
    }
}

/// The shape of session windows: what both state backends compute per key with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SessionParams {
    pub(crate) gap: u64,
    pub(crate) lateness: u64,
}

impl SessionParams {
    /// Adds an event to one key's sessions: None when it is late, else whether a session
    /// that already fired changed (it fires again at once).
    pub(crate) fn add<A: Accumulator>(
        &self,
        sessions: &mut Vec<Session<A>>,
        ts: u64,
        e: &A::In,
        fired: u64,
    ) -> Option<bool> {
        let (mut start, mut end) = (ts, ts.saturating_add(self.gap));
        // Sessions that fired are gone, so a merge only reaches open ones; a session of its
        // own that would have fired already is late.
        let first = sessions.partition_point(|(_, e, ..)| *e < start);
        let mut last = first;
        while last < sessions.len() && sessions[last].0 <= end {
            last += 1;
        }
        if first == last && end.saturating_add(self.lateness) <= fired {
            return None;
        }
        let mut stats = A::of(e);
        for (s, e, st, _) in sessions.drain(first..last) {
            start = start.min(s);
            end = end.max(e);
            stats.merge(&st);
        }
        sessions.insert(first, (start, end, stats, false));
        Some(end <= fired)
    }

    /// Fires one key's sessions that end by `f` and have not fired, and drops those past
    /// their lateness.
    pub(crate) fn fire_key<A: Accumulator>(
        &self,
        key: u64,
        sessions: &mut Vec<Session<A>>,
        f: u64,
        out: &mut Vec<WindowResult<A>>,
    ) {
        let lateness = self.lateness;
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
    }

    /// The least event frontier at which [`SessionParams::fire_key`] has something to do
    /// for `sessions`: fire one, or drop one. `u64::MAX` for none.
    pub(crate) fn timer<A>(&self, sessions: &[Session<A>]) -> u64 {
        sessions
            .iter()
            .map(|(_, end, _, fired)| {
                if *fired {
                    end.saturating_add(self.lateness)
                } else {
                    *end
                }
            })
            .min()
            .unwrap_or(u64::MAX)
    }
}
