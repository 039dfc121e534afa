//! The keyed operator of a job: what the engine's one stateful operator holds per worker.
//! Window jobs (SQL, the benchmark) hold [`Windows`]; jobs of the public API hold a keyed
//! process function's state and timers ([`crate::stream::api`]). The engine's epoch,
//! watermark and checkpoint plumbing is the same for both, so it is written once against
//! this trait.

use std::path::Path;

use crate::stream::state::{BackendKind, Windows};
use crate::stream::window::{Accumulator, WindowResult};
use crate::stream::StreamError;

/// One worker's keyed state, driven by records and the event frontier `f` (the least event
/// time still to come: the watermark plus one).
pub(crate) trait KeyedOperator: 'static {
    /// The records it is given, routed by key.
    type In;
    /// What it sends to the sink.
    type Out: Clone + 'static;

    /// Applies a record of `key` at event time `ts`; what it emits at once goes to `out`.
    /// False when the record was late and dropped.
    fn add(&mut self, key: u64, ts: u64, rec: &Self::In, out: &mut Vec<Self::Out>) -> bool;
    /// A dropped late record as the job's late output carries it.
    fn late_record(&self, key: u64, ts: u64, rec: &Self::In) -> Option<Self::Out>;
    /// Runs everything due before the frontier `f` (windows that end, timers), and what a
    /// late record updated.
    fn fire(&mut self, f: u64, out: &mut Vec<Self::Out>);
    /// The frontier it has fired up to.
    fn fired(&self) -> u64;
    /// Whether something must fire even though the frontier did not move.
    fn has_refires(&self) -> bool;
    /// An error met while applying or firing (a state backend's I/O): the run fails.
    fn take_error(&mut self) -> Option<StreamError> {
        None
    }
    /// Its state for a checkpoint file; a RocksDB backend checkpoints into `rocks_dir`.
    fn snapshot(
        &mut self,
        rocks_dir: &Path,
    ) -> Result<(BackendKind, serde_json::Value), StreamError>;
}

impl<A: Accumulator> KeyedOperator for Windows<A> {
    type In = A::In;
    type Out = WindowResult<A>;

    fn add(&mut self, key: u64, ts: u64, rec: &A::In, _out: &mut Vec<WindowResult<A>>) -> bool {
        Windows::add(self, key, ts, rec)
    }

    /// A late record travels as the empty window `[ts, ts)` (see [`WindowResult`]).
    fn late_record(&self, key: u64, ts: u64, rec: &A::In) -> Option<WindowResult<A>> {
        Some(WindowResult {
            key,
            start: ts,
            end: ts,
            stats: A::of(rec),
        })
    }

    fn fire(&mut self, f: u64, out: &mut Vec<WindowResult<A>>) {
        Windows::fire(self, f, out)
    }

    fn fired(&self) -> u64 {
        Windows::fired(self)
    }

    fn has_refires(&self) -> bool {
        Windows::has_refires(self)
    }

    fn take_error(&mut self) -> Option<StreamError> {
        Windows::take_error(self)
    }

    fn snapshot(
        &mut self,
        rocks_dir: &Path,
    ) -> Result<(BackendKind, serde_json::Value), StreamError> {
        Windows::snapshot(self, rocks_dir)
    }
}
