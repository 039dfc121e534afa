//! The benchmark job: datagen -> key by service -> window -> (count, errors, latency sum)
//! -> checksum sink. Its checksum is compared with the same job on Flink.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::stream::checkpoint::{publish_part, WorkerState};
use crate::stream::checksum::Checksum;
use crate::stream::datagen::{event, mix64, split_indices, Event};
use crate::stream::job::{Job, SplitReader};
use crate::stream::state::{StateBackend, Windows};
use crate::stream::window::{LogStats, WindowResult, WindowSpec};
use crate::stream::StreamError;

/// Flink's bounded out-of-orderness in the benchmark job.
pub(crate) const OUT_OF_ORDERNESS_MS: u64 = 2000;

pub(crate) struct BenchJob {
    pub(crate) window: WindowSpec,
    pub(crate) n: u64,
    /// Datagen splits: split `k` of `p` emits events `k, k + p, ...`.
    pub(crate) splits: usize,
    /// With checkpoints: where published parts go (`<job dir>/sink`).
    pub(crate) sink_dir: Option<PathBuf>,
    /// Without checkpoints: what reached the sink.
    delivered: Mutex<Checksum>,
    /// Set, events are keyed by one of this many keys instead of their service (a job
    /// with large state, `stream bench --keys`).
    pub(crate) keys: Option<u64>,
}

impl BenchJob {
    pub(crate) fn new(window: WindowSpec, n: u64, splits: usize) -> BenchJob {
        BenchJob {
            window,
            n,
            splits,
            sink_dir: None,
            delivered: Mutex::new(Checksum::default()),
            keys: None,
        }
    }

    /// Without checkpoints: the sink's contents.
    pub(crate) fn delivered(&self) -> Checksum {
        *self.delivered.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One datagen split.
pub(crate) struct DatagenSplit {
    indices: std::iter::StepBy<std::ops::Range<u64>>,
    /// Events of this split emitted so far.
    position: u64,
    /// See [`BenchJob::keys`].
    keys: Option<u64>,
}

impl DatagenSplit {
    pub(crate) fn new(n: u64, splits: usize, k: usize, from: u64) -> DatagenSplit {
        DatagenSplit {
            indices: split_indices(n, splits as u64, k as u64, from),
            position: from,
            keys: None,
        }
    }
}

impl SplitReader for DatagenSplit {
    type Rec = Event;

    fn read(
        &mut self,
        max: usize,
        give: &mut impl FnMut(Event),
    ) -> Result<Option<usize>, StreamError> {
        let mut n = 0;
        for i in self.indices.by_ref().take(max) {
            let mut e = event(i);
            if let Some(keys) = self.keys {
                e.service = mix64(i ^ 0x6b65_7973) % keys.max(1);
            }
            give(e);
            n += 1;
        }
        self.position += n as u64;
        Ok((n > 0).then_some(n))
    }

    fn position(&self) -> u64 {
        self.position
    }
}

impl Job for BenchJob {
    type Rec = Event;
    type Op = Windows<LogStats>;
    type Reader = DatagenSplit;
    type Out = Checksum;

    fn splits(&self) -> usize {
        self.splits
    }

    fn open(&self, split: usize, position: u64) -> Result<DatagenSplit, StreamError> {
        let mut s = DatagenSplit::new(self.n, self.splits, split, position);
        s.keys = self.keys;
        Ok(s)
    }

    fn key(e: &Event) -> u64 {
        e.service
    }

    fn ts(e: &Event) -> u64 {
        e.ts
    }

    fn open_op(
        &self,
        backend: &StateBackend,
        restore: &[WorkerState],
        index: usize,
        peers: usize,
    ) -> Result<Windows<LogStats>, StreamError> {
        Windows::open(backend, self.window, 0, restore, index, peers)
    }

    fn watermark_delay(&self) -> u64 {
        OUT_OF_ORDERNESS_MS
    }

    fn collect(&self, out: &mut Checksum, r: &WindowResult<LogStats>) {
        out.add(r);
    }

    fn encode(&self, out: &Checksum) -> Result<Vec<u8>, StreamError> {
        Ok(out.to_line().into_bytes())
    }

    fn deliver(&self, _worker: usize, out: Checksum) -> Result<(), StreamError> {
        self.delivered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .merge(out);
        Ok(())
    }

    fn publish(&self, epoch: u64, worker: usize, staged: &Path) -> Result<(), StreamError> {
        let dir = self
            .sink_dir
            .as_deref()
            .ok_or_else(|| StreamError::State("checkpoints without a sink dir".into()))?;
        publish_part(staged, dir, epoch, worker, "")
    }
}
