//! A [`ProcessJob`] as the engine's [`Job`]: its sources as split readers, its function as
//! the keyed operator, its output staged as JSON lines and handed to its sink once
//! committed.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::process::ProcessState;
use super::{ProcessJob, Sink, Source};
use crate::stream::checkpoint::{read_staged, WorkerState};
use crate::stream::job::{Job, SplitReader};
use crate::stream::state::StateBackend;
use crate::stream::StreamError;

pub(crate) struct ProcessAdapter<J: ProcessJob> {
    pub(crate) job: Arc<J>,
    /// Without checkpoints: the number of the next batch handed to the sink.
    batch: AtomicU64,
}

impl<J: ProcessJob> ProcessAdapter<J> {
    pub(crate) fn new(job: Arc<J>) -> ProcessAdapter<J> {
        ProcessAdapter {
            job,
            batch: AtomicU64::new(0),
        }
    }
}

/// A user's source as a split reader.
pub(crate) struct Reader<S>(S);

impl<S: Source> SplitReader for Reader<S> {
    type Rec = S::Rec;

    fn read(
        &mut self,
        max: usize,
        give: &mut impl FnMut(S::Rec),
    ) -> Result<Option<usize>, StreamError> {
        self.0.read(max, give)
    }

    fn position(&self) -> u64 {
        self.0.position()
    }
}

impl<J: ProcessJob> Job for ProcessAdapter<J> {
    type Rec = J::Rec;
    type Op = ProcessState<J>;
    type Reader = Reader<J::Source>;
    type Out = Vec<J::Out>;

    fn splits(&self) -> usize {
        self.job.splits()
    }

    fn open(&self, split: usize, position: u64) -> Result<Self::Reader, StreamError> {
        self.job.open(split, position).map(Reader)
    }

    fn key(r: &J::Rec) -> u64 {
        J::key(r)
    }

    fn ts(r: &J::Rec) -> u64 {
        J::timestamp(r)
    }

    fn open_op(
        &self,
        backend: &StateBackend,
        restore: &[WorkerState],
        index: usize,
        peers: usize,
    ) -> Result<ProcessState<J>, StreamError> {
        ProcessState::open(self.job.clone(), backend, restore, index, peers)
    }

    fn watermark_delay(&self) -> u64 {
        self.job.watermark_delay()
    }

    fn idle_timeout(&self) -> Option<std::time::Duration> {
        self.job.idle_timeout()
    }

    fn collect(&self, out: &mut Vec<J::Out>, r: &J::Out) {
        out.push(r.clone());
    }

    /// One JSON document a line.
    fn encode(&self, out: &Vec<J::Out>) -> Result<Vec<u8>, StreamError> {
        let mut bytes = Vec::new();
        for r in out {
            serde_json::to_writer(&mut bytes, r)
                .map_err(|e| StreamError::Sink(format!("encoding output: {e}")))?;
            bytes.push(b'\n');
        }
        Ok(bytes)
    }

    fn deliver(&self, worker: usize, out: Vec<J::Out>) -> Result<(), StreamError> {
        if out.is_empty() {
            return Ok(());
        }
        let batch = self.batch.fetch_add(1, Ordering::Relaxed);
        self.job.sink().publish(batch, worker, out)
    }

    fn publish(&self, epoch: u64, worker: usize, staged: &Path) -> Result<(), StreamError> {
        let Some(bytes) = read_staged(staged)? else {
            return Ok(());
        };
        let mut records = Vec::new();
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let r = serde_json::from_slice(line).map_err(|e| {
                StreamError::State(format!("{}: staged output: {e}", staged.display()))
            })?;
            records.push(r);
        }
        self.job.sink().publish(epoch, worker, records)
    }
}
