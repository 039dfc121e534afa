//! `ferrokeeper stream`: the bundled stream processor. Jobs run on timely-dataflow; their
//! checkpoints are committed to a ZooKeeper ensemble (an embedded Ferrokeeper by default).
//!
//! - [`datagen`]: the benchmark job's generator; [`window`]: event-time windows with Flink's
//!   semantics; [`checksum`]: the benchmark's sink;
//! - [`job`]: what the engine runs (splits, keys, windows, sink), [`bench_job`]: the
//!   benchmark job;
//! - [`time`]: the `(epoch, event)` timestamp; [`engine`]: the dataflow;
//! - [`checkpoint`]: state files and manifests; [`zk_store`]: manifests in the ensemble;
//! - [`sql`]: the SQL front end: a job file's tables and query, parsed into a plan;
//!   [`sql_job`]: such a plan as a job; [`lines`]: files read as line splits;
//!   [`socket`]: TCP lines spooled as a replayable split; [`kafka`]: Kafka topics as
//!   sources and sinks; [`postgres`]: PostgreSQL tables as sinks;
//! - [`metrics`]: a running job's Prometheus endpoint;
//! - [`runner`]: checkpoint set-up around a run; [`control`]: a running job's registration
//!   and stop requests, `stream status|checkpoints|stop`; [`cli`]: the `ferrokeeper stream`
//!   commands, [`bench`]: `stream bench`, [`run_cmd`]: `stream run`;
//! - [`cluster`]: distributed jobs: coordinators, workers, generations.

pub mod api;
pub(crate) mod bench;
pub(crate) mod bench_job;
pub(crate) mod checkpoint;
pub(crate) mod checksum;
pub(crate) mod cli;
pub(crate) mod clickhouse;
pub(crate) mod cluster;
pub(crate) mod control;
pub(crate) mod datagen;
pub(crate) mod engine;
pub(crate) mod job;
pub(crate) mod kafka;
pub(crate) mod keyed;
pub(crate) mod lines;
pub(crate) mod metrics;
pub(crate) mod postgres;
pub(crate) mod progress;
pub(crate) mod run_cmd;
pub(crate) mod runner;
pub(crate) mod socket;
pub(crate) mod sql;
pub(crate) mod sql_job;
pub(crate) mod state;
pub(crate) mod time;
pub(crate) mod window;
pub(crate) mod zk_store;

use std::path::Path;

pub use cli::StreamArgs;

/// What can stop a job.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The dataflow engine failed (a worker panicked, or could not start).
    #[error("engine: {0}")]
    Engine(String),
    /// A file of the state directory.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// State or a manifest that cannot be read back.
    #[error("state: {0}")]
    State(String),
    /// The ensemble holding the job's metadata.
    #[error("zookeeper: {0}")]
    Zk(String),
    /// The connection to the ensemble was lost during a call (the session may live on,
    /// moved to another server): the call may or may not have been applied.
    #[error("zookeeper: {0}: connection lost")]
    Disconnected(String),
    /// A checkpoint could not be committed.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A source could not be read.
    #[error("source: {0}")]
    Source(String),
    /// A sink could not be written.
    #[error("sink: {0}")]
    Sink(String),
    /// A bad command line.
    #[error("{0}")]
    Usage(String),
}

impl StreamError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> StreamError {
        StreamError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Runs a `ferrokeeper stream` command; the process's exit code.
pub fn run(args: StreamArgs) -> i32 {
    match cli::run(args) {
        Ok(()) => 0,
        Err(StreamError::Usage(e)) => {
            eprintln!("ferrokeeper stream: {e}");
            2
        }
        Err(e) => {
            eprintln!("ferrokeeper stream: {e}");
            1
        }
    }
}
