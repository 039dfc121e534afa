//! A keyed process function's operator: each worker's state per key and its timers, as the
//! engine's [`KeyedOperator`], checkpointed as JSON.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Context, ProcessJob};
use crate::stream::checkpoint::WorkerState;
use crate::stream::engine::route;
use crate::stream::keyed::KeyedOperator;
use crate::stream::state::{BackendKind, StateBackend};
use crate::stream::StreamError;

/// One worker's keys and timers.
pub(crate) struct ProcessState<J: ProcessJob> {
    job: Arc<J>,
    keys: HashMap<u64, J::State>,
    /// `(time, key)`, so the earliest fires first.
    timers: BTreeSet<(u64, u64)>,
    /// The event frontier timers have fired up to: the watermark plus one.
    fired: u64,
}

/// A worker's state in its checkpoint file.
#[derive(Serialize, Deserialize)]
struct Saved<S> {
    fired: u64,
    keys: Vec<(u64, S)>,
    timers: Vec<(u64, u64)>,
}

impl<J: ProcessJob> ProcessState<J> {
    /// Worker `index` of `peers`: empty, or its keys of a restored checkpoint (written by
    /// any number of workers).
    pub(crate) fn open(
        job: Arc<J>,
        backend: &StateBackend,
        restore: &[WorkerState],
        index: usize,
        peers: usize,
    ) -> Result<ProcessState<J>, StreamError> {
        if *backend != StateBackend::Heap {
            return Err(StreamError::Usage(
                "a process function's state lives on the heap; the rocksdb backend is for window jobs"
                    .into(),
            ));
        }
        let mut state = ProcessState {
            job,
            keys: HashMap::new(),
            timers: BTreeSet::new(),
            fired: 0,
        };
        let mine = |key: u64| route(key, peers) == index as u64;
        for s in restore {
            if s.backend != BackendKind::Heap {
                return Err(StreamError::State(
                    "a process function's checkpoint written by another state backend".into(),
                ));
            }
            let saved: Saved<J::State> = s.value()?;
            state.fired = state.fired.max(saved.fired);
            state
                .keys
                .extend(saved.keys.into_iter().filter(|(k, _)| mine(*k)));
            state
                .timers
                .extend(saved.timers.into_iter().filter(|(_, k)| mine(*k)));
        }
        Ok(state)
    }

    fn watermark(&self) -> Option<u64> {
        self.fired.checked_sub(1)
    }

    /// Calls `f` with `key`'s context; the state goes back into the map unless cleared.
    fn with_key(
        &mut self,
        key: u64,
        timestamp: u64,
        out: &mut Vec<J::Out>,
        f: impl FnOnce(&J, &mut Context<'_, J::State, J::Out>),
    ) {
        let mut slot = self.keys.remove(&key);
        let mut ctx = Context {
            key,
            timestamp,
            watermark: self.watermark(),
            state: &mut slot,
            timers: &mut self.timers,
            out,
        };
        f(&self.job, &mut ctx);
        if let Some(s) = slot {
            self.keys.insert(key, s);
        }
    }
}

impl<J: ProcessJob> KeyedOperator for ProcessState<J> {
    type In = J::Rec;
    type Out = J::Out;

    /// A process function takes late records too (it sees the watermark).
    fn add(&mut self, key: u64, ts: u64, rec: &J::Rec, out: &mut Vec<J::Out>) -> bool {
        self.with_key(key, ts, out, |job, ctx| job.process(rec, ctx));
        true
    }

    /// None: it drops no record as late.
    fn late_record(&self, _key: u64, _ts: u64, _rec: &J::Rec) -> Option<J::Out> {
        None
    }

    /// Fires the timers before `f` in time order, those they register before `f` too.
    fn fire(&mut self, f: u64, out: &mut Vec<J::Out>) {
        self.fired = self.fired.max(f);
        while let Some(&(ts, key)) = self.timers.first() {
            if ts >= self.fired {
                break;
            }
            self.timers.pop_first();
            self.with_key(key, ts, out, |job, ctx| job.on_timer(ctx));
        }
    }

    fn fired(&self) -> u64 {
        self.fired
    }

    /// A timer registered behind the watermark fires without waiting for it to move.
    fn has_refires(&self) -> bool {
        self.timers.first().is_some_and(|(ts, _)| *ts < self.fired)
    }

    fn snapshot(
        &mut self,
        _rocks_dir: &Path,
    ) -> Result<(BackendKind, serde_json::Value), StreamError> {
        let mut keys: Vec<(u64, &J::State)> = self.keys.iter().map(|(k, s)| (*k, s)).collect();
        keys.sort_unstable_by_key(|(k, _)| *k);
        let saved = Saved {
            fired: self.fired,
            keys,
            timers: self.timers.iter().copied().collect(),
        };
        let value = serde_json::to_value(saved).map_err(|e| StreamError::State(e.to_string()))?;
        Ok((BackendKind::Heap, value))
    }
}
