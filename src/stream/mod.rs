//! `ferrokeeper stream`: the bundled stream processor. Jobs run on timely-dataflow; their
//! checkpoints are committed to a ZooKeeper ensemble (an embedded Ferrokeeper by default).
//!
//! - [`datagen`]: the benchmark job's generator; [`window`]: event-time windows with Flink's
//!   semantics; [`checksum`]: the benchmark's sink;
//! - [`time`]: the `(epoch, event)` timestamp; [`engine`]: the dataflow;
//! - [`checkpoint`]: state files and manifests; [`zk_store`]: manifests in the ensemble;
//! - [`sql`]: the SQL front end: a job file's tables and query, parsed into a plan;
//! - [`bench`]: `ferrokeeper stream bench`.

pub(crate) mod bench;
pub(crate) mod checkpoint;
pub(crate) mod checksum;
pub(crate) mod datagen;
pub(crate) mod engine;
pub(crate) mod sql;
pub(crate) mod time;
pub(crate) mod window;
pub(crate) mod zk_store;

use std::path::Path;

pub use bench::StreamArgs;

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
    /// A checkpoint could not be committed.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
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
    match bench::run(args) {
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
