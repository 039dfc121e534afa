//! What the engine runs: a job's sources, its keyed windows and its sink, as traits, so the
//! benchmark job (datagen -> checksum) and SQL jobs share one dataflow.
//!
//! ```text
//! splits (SplitReader) --> key by Job::key --> Job::Op (windows, or a keyed process
//!                                               function) --> Job::collect --> sink
//! ```

use std::path::Path;

use crate::stream::checkpoint::WorkerState;
use crate::stream::keyed::KeyedOperator;
use crate::stream::state::StateBackend;
use crate::stream::StreamError;

/// What a job's keyed operator sends to its sink.
pub(crate) type Emitted<J> = <<J as Job>::Op as KeyedOperator>::Out;

/// One replayable partition of a source: a datagen split, a file, a Kafka partition.
pub(crate) trait SplitReader: Send + 'static {
    type Rec;
    /// Gives up to `max` records: `Some(n)` when it gave `n` (0: nothing yet, the source is
    /// followed), `None` at the end of the split.
    fn read(
        &mut self,
        max: usize,
        give: &mut impl FnMut(Self::Rec),
    ) -> Result<Option<usize>, StreamError>;
    /// Where a restart continues after what was read: an index, a byte offset, an offset.
    /// A checkpoint records it at the end of each epoch.
    fn position(&self) -> u64;
}

/// A job: shared by every worker of a run.
pub(crate) trait Job: Send + Sync + 'static {
    /// A source record, exchanged between workers by key.
    type Rec: timely::ExchangeData + Clone;
    /// Its keyed operator: windows, or a process function's state and timers.
    type Op: KeyedOperator<In = Self::Rec>;
    type Reader: SplitReader<Rec = Self::Rec>;
    /// A worker's sink output of one epoch, before it is staged or delivered.
    type Out: Default + Send + 'static;

    /// Source splits; worker `w` of `p` reads splits `w, w + p, ...`.
    fn splits(&self) -> usize;
    /// Opens split `split` at `position` (0: its start).
    fn open(&self, split: usize, position: u64) -> Result<Self::Reader, StreamError>;
    /// The grouping key (a stable hash: it routes records to workers and key groups).
    fn key(r: &Self::Rec) -> u64;
    /// Event time, milliseconds.
    fn ts(r: &Self::Rec) -> u64;
    /// Worker `index` of `peers`'s keyed operator: empty, or holding its key groups of a
    /// restored checkpoint.
    fn open_op(
        &self,
        backend: &StateBackend,
        restore: &[WorkerState],
        index: usize,
        peers: usize,
    ) -> Result<Self::Op, StreamError>;
    /// Bounded out-of-orderness: the watermark trails the largest event time by this.
    fn watermark_delay(&self) -> u64;
    /// A split that has given nothing for this long stops holding the watermark back
    /// (Flink's source idleness), until it gives again.
    fn idle_timeout(&self) -> Option<std::time::Duration> {
        None
    }
    /// Whether records dropped as late go to the sink's `collect` (as
    /// `WindowResult::is_late_record`) for a late output, instead of only being counted.
    fn late_output(&self) -> bool {
        false
    }
    /// The bytes of an epoch's late output, staged beside its output (`<staged>.late`).
    fn encode_late(&self, _out: &Self::Out) -> Option<Vec<u8>> {
        None
    }
    /// Adds what the keyed operator emitted (a fired window) to a worker's output.
    fn collect(&self, out: &mut Self::Out, r: &Emitted<Self>);
    /// The bytes staged in a checkpoint for an epoch's output.
    fn encode(&self, out: &Self::Out) -> Result<Vec<u8>, StreamError>;
    /// Without checkpoints: hands output straight to the sink.
    fn deliver(&self, worker: usize, out: Self::Out) -> Result<(), StreamError>;
    /// With checkpoints: publishes a committed epoch's staged output. Called again after a
    /// crash for what may already be published, so it must be idempotent per
    /// `(epoch, worker)`.
    fn publish(&self, epoch: u64, worker: usize, staged: &Path) -> Result<(), StreamError>;
}
