//! The public Rust API: jobs of your own code, run by the same engine, checkpoints and
//! ensemble as the SQL jobs, exactly-once.
//!
//! A job is a [`ProcessJob`]: replayable [`Source`] splits, a key and an event time per
//! record, and a keyed process function (Flink's `KeyedProcessFunction`): for each record,
//! and for each event-time timer once the watermark passes it, it gets a [`Context`] with
//! the record's key, a state handle for that key, its timers, and an output. What it emits
//! goes to a [`Sink`] once the checkpoint of its epoch is committed.
//!
//! ```text
//! Source splits --(key)--> process / on_timer (state and timers per key) --> Sink
//! ```
//!
//! - Watermark: the largest event time read minus [`ProcessJob::watermark_delay`] (the
//!   slowest split's, as in Flink); a timer at `t` fires once the watermark reaches `t`,
//!   and every timer fires at the end of the input.
//! - Unlike windows, a process function sees late records too:
//!   [`Context::watermark`] tells them apart.
//! - State and timers are checkpointed with the sources' positions; after a crash,
//!   [`RunOptions::resume`] restores them (on any parallelism) and replays the sources
//!   from there, and a sink is handed each committed epoch's output again until it has
//!   published it: [`Sink::publish`] must be idempotent per `(epoch, worker)`.
//! - A process function's state lives on the heap.
//!
//! `examples/keyed_process.rs` is a complete job; [`run`] runs one.

mod adapter;
mod process;
mod run;
mod sinks;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use crate::stream::StreamError;
pub use run::{run, RunOptions, RunSummary};
pub use sinks::JsonLinesSink;

/// One replayable partition of a source: a file, a partition of a topic, a generator's
/// share. A checkpoint records its [`Source::position`]; a resumed job reopens it there
/// ([`ProcessJob::open`]) and must read the same records from there on.
pub trait Source: Send + 'static {
    /// The records it reads.
    type Rec;
    /// Gives up to `max` records to `give`: `Ok(Some(n))` when it gave `n` (0: nothing yet,
    /// a followed source is asked again a little later), `Ok(None)` at the end of the
    /// split. An error fails the job (which can resume from its last checkpoint).
    fn read(
        &mut self,
        max: usize,
        give: &mut dyn FnMut(Self::Rec),
    ) -> Result<Option<usize>, StreamError>;
    /// Where a reopened split continues after what was read so far.
    fn position(&self) -> u64;
}

/// Where a job's output goes.
pub trait Sink<T>: Send + Sync + 'static {
    /// Publishes one worker's output of one epoch. With checkpoints this happens once the
    /// epoch's checkpoint is committed, and again after a crash when it may already have
    /// happened: it must be idempotent per `(epoch, worker)`. Without checkpoints each
    /// batch has a number of its own in place of the epoch.
    fn publish(&self, epoch: u64, worker: usize, records: Vec<T>) -> Result<(), StreamError>;
}

/// A job of a keyed process function. It is shared by the job's worker threads.
pub trait ProcessJob: Send + Sync + 'static {
    /// A source record. Records travel between workers by key, hence serde.
    type Rec: Serialize + DeserializeOwned + Clone + Send + 'static;
    /// One source split.
    type Source: Source<Rec = Self::Rec>;
    /// What the function keeps per key (a struct of counters, a map, a list: any serde
    /// type); it is written to each checkpoint.
    type State: Serialize + DeserializeOwned + Default + Send + 'static;
    /// What the function emits.
    type Out: Serialize + DeserializeOwned + Clone + Send + 'static;
    /// The sink.
    type Sink: Sink<Self::Out>;

    /// How many source splits there are; worker `w` of `p` reads splits `w, w + p, ...`.
    fn splits(&self) -> usize;
    /// Opens split `split` at `position` (0: its start; else a position it reported).
    fn open(&self, split: usize, position: u64) -> Result<Self::Source, StreamError>;
    /// The key a record belongs to: a stable hash (it routes the record to a worker and a
    /// key group, also after a resume on another parallelism).
    fn key(rec: &Self::Rec) -> u64;
    /// A record's event time, in milliseconds.
    fn timestamp(rec: &Self::Rec) -> u64;
    /// Bounded out-of-orderness: the watermark trails the largest event time by this.
    fn watermark_delay(&self) -> u64 {
        0
    }
    /// A split that has given nothing for this long stops holding the watermark back.
    fn idle_timeout(&self) -> Option<std::time::Duration> {
        None
    }
    /// Called for each record with its key's context.
    fn process(&self, rec: &Self::Rec, ctx: &mut Context<'_, Self::State, Self::Out>);
    /// Called for each timer the watermark has passed; [`Context::timestamp`] is the
    /// timer's time.
    fn on_timer(&self, ctx: &mut Context<'_, Self::State, Self::Out>) {
        let _ = ctx;
    }
    /// The sink.
    fn sink(&self) -> &Self::Sink;
}

/// What [`ProcessJob::process`] and [`ProcessJob::on_timer`] see of one key: its state, its
/// timers, the time, and the output.
pub struct Context<'a, S, O> {
    key: u64,
    timestamp: u64,
    watermark: Option<u64>,
    state: &'a mut Option<S>,
    timers: &'a mut BTreeSet<(u64, u64)>,
    out: &'a mut Vec<O>,
}

impl<S: Default, O> Context<'_, S, O> {
    /// The key of the record or timer.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// The record's event time, or the timer's time.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }

    /// The watermark: every record of event time at or below it has been seen, but for
    /// late ones. `None` before the first.
    pub fn watermark(&self) -> Option<u64> {
        self.watermark
    }

    /// This key's state, created with `Default` when it has none.
    pub fn state(&mut self) -> &mut S {
        self.state.get_or_insert_with(S::default)
    }

    /// This key's state, if it has one.
    pub fn state_if_present(&self) -> Option<&S> {
        self.state.as_ref()
    }

    /// Drops this key's state (its timers stay).
    pub fn clear_state(&mut self) {
        *self.state = None;
    }

    /// Asks for [`ProcessJob::on_timer`] with this key once the watermark reaches `ts`; one
    /// timer per key and time.
    pub fn register_timer(&mut self, ts: u64) {
        self.timers.insert((ts, self.key));
    }

    /// Withdraws a timer of this key.
    pub fn delete_timer(&mut self, ts: u64) {
        self.timers.remove(&(ts, self.key));
    }

    /// Sends a record to the sink.
    pub fn emit(&mut self, out: O) {
        self.out.push(out);
    }
}
