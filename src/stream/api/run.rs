//! Running a [`ProcessJob`] in this process, as `ferrokeeper stream run` runs a SQL job:
//! worker threads, checkpoints committed to an ensemble (an embedded Ferrokeeper unless
//! [`RunOptions::zk`] names one), and resume from the latest checkpoint.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::adapter::ProcessAdapter;
use super::ProcessJob;
use crate::stream::engine::{self, Progress, RunConfig};
use crate::stream::job::Job;
use crate::stream::runner::{CheckpointArgs, Prepared};
use crate::stream::state::{StateBackend, DEFAULT_CACHE_KEYS};
use crate::stream::StreamError;

/// How to run a job.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The job's name: its node in the ensemble (`stream status`, `stream stop` name it).
    pub name: String,
    /// Worker threads (1 to 64).
    pub parallelism: usize,
    /// Checkpoint interval in milliseconds; 0 runs without checkpoints (and without the
    /// ensemble): the sink gets output as it comes, and a crash loses the run.
    pub checkpoint_ms: u64,
    /// The ensemble for the job's checkpoints (`host:port,...`); `None` embeds a
    /// Ferrokeeper server, its data in the state directory.
    pub zk: Option<String>,
    /// Where state files go; `None`: a scratch directory removed at the end (such a run
    /// cannot be resumed).
    pub state_dir: Option<PathBuf>,
    /// Continues from the job's latest committed checkpoint (same state directory and
    /// ensemble; any parallelism) instead of starting afresh.
    pub resume: bool,
}

impl RunOptions {
    /// One worker, no checkpoints.
    pub fn new(name: impl Into<String>) -> RunOptions {
        RunOptions {
            name: name.into(),
            parallelism: 1,
            checkpoint_ms: 0,
            zk: None,
            state_dir: None,
            resume: false,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunSummary {
    /// Checkpoints this run committed.
    pub checkpoints: u64,
    /// The checkpoint it resumed from.
    pub resumed_from: Option<u64>,
    /// The checkpoint it stopped at, when `ferrokeeper stream stop` stopped it.
    pub stopped_at: Option<u64>,
    /// Source records read.
    pub records: u64,
    /// Records the function emitted.
    pub results: u64,
}

/// Runs `job` to the end of its sources (or until `ferrokeeper stream stop` stops it).
pub fn run<J: ProcessJob>(job: J, options: &RunOptions) -> Result<RunSummary, StreamError> {
    let p = options.parallelism;
    if p == 0 || p > 64 {
        return Err(StreamError::Usage("parallelism: 1 to 64".into()));
    }
    if options.name.is_empty() || options.name.contains('/') {
        return Err(StreamError::Usage(format!(
            "job name {:?}: a name without '/'",
            options.name
        )));
    }
    let adapter = Arc::new(ProcessAdapter::new(Arc::new(job)));
    let prepared = if options.checkpoint_ms > 0 {
        let args = CheckpointArgs {
            checkpoint_ms: options.checkpoint_ms,
            zk: options.zk.clone(),
            state_dir: options.state_dir.clone(),
            job: Some(options.name.clone()),
            resume: options.resume,
            state_backend: None,
            state_cache_keys: DEFAULT_CACHE_KEYS,
        };
        Prepared::start(&args, &options.name, p, adapter.splits(), &|_, e, w, f| {
            adapter.publish(e, w, f)
        })?
    } else {
        Prepared::none()
    };
    let progress = Arc::new(Progress::default());
    let config = RunConfig {
        p,
        checkpoint_ms: options.checkpoint_ms,
        drain: Some(prepared.drain.clone()),
        progress: Some(progress.clone()),
        cluster: None,
        state_backend: StateBackend::Heap,
    };
    let resumed_from = prepared.restore.as_ref().map(|r| r.epoch);
    let ran = engine::run(
        adapter,
        config,
        prepared.checkpointer.clone(),
        prepared.restore.clone(),
    );
    let summary = RunSummary {
        checkpoints: prepared.committed(),
        resumed_from,
        stopped_at: prepared.halted_at(),
        records: progress.records.load(Ordering::Relaxed),
        results: progress.results.load(Ordering::Relaxed),
    };
    prepared.close();
    ran.map(|_| summary)
}
