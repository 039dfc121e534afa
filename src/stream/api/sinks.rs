//! Sinks that come with the API.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Sink;
use crate::stream::checkpoint::write_synced;
use crate::stream::StreamError;

/// Files of JSON lines in a directory, one per epoch and worker
/// (`part-<epoch>-w<worker>.jsonl`), each written whole under a temporary name and then
/// renamed, so a reader never sees half a file and a republished epoch is skipped.
#[derive(Clone, Debug)]
pub struct JsonLinesSink {
    dir: PathBuf,
}

impl JsonLinesSink {
    /// A sink into `dir` (created when needed).
    pub fn new(dir: impl Into<PathBuf>) -> JsonLinesSink {
        JsonLinesSink { dir: dir.into() }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl<T: Serialize + Send + 'static> Sink<T> for JsonLinesSink {
    fn publish(&self, epoch: u64, worker: usize, records: Vec<T>) -> Result<(), StreamError> {
        let to = self.dir.join(format!("part-{epoch:020}-w{worker}.jsonl"));
        if to.exists() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| StreamError::io(&self.dir, e))?;
        let mut bytes = Vec::new();
        for r in &records {
            serde_json::to_writer(&mut bytes, r)
                .map_err(|e| StreamError::Sink(format!("encoding output: {e}")))?;
            bytes.push(b'\n');
        }
        let tmp = self.dir.join(format!(".part-{epoch:020}-w{worker}.tmp"));
        write_synced(&tmp, &bytes)?;
        std::fs::rename(&tmp, &to).map_err(|e| StreamError::io(&to, e))
    }
}
