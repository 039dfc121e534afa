//! State backends: where a worker's window state lives (Flink's `state.backend`).
//!
//! - `heap` (the default): [`KeyedWindows`] in memory, written whole to a JSON file at each
//!   checkpoint;
//! - `rocksdb`: [`RocksWindows`], one RocksDB instance per worker under the job's state
//!   directory, for state larger than memory; a checkpoint is a RocksDB checkpoint (hard
//!   links of its SST files) beside a small JSON file.
//!
//! Both restore by key group, so a job resumes on any number of workers; a checkpoint is
//! resumed with the backend that wrote it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::stream::checkpoint::WorkerState;
use crate::stream::window::{Accumulator, KeyedWindows, WindowResult, WindowSpec};
#[cfg(feature = "rocksdb")]
use crate::stream::window::{RocksMeta, RocksWindows, Shape};
use crate::stream::StreamError;

/// Keys whose decoded state a RocksDB backend's write cache holds, unless told otherwise.
pub(crate) const DEFAULT_CACHE_KEYS: usize = 4096;

/// Which state backend a job runs with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum StateBackend {
    #[default]
    Heap,
    /// Each worker's instance in `<dir>/w<i>`, keeping up to `cache_keys` keys decoded in
    /// memory.
    RocksDb { dir: PathBuf, cache_keys: usize },
}

/// The backend named by `--state-backend` or `'state.backend'`: `heap` or `rocksdb`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum BackendKind {
    #[default]
    Heap,
    RocksDb,
}

impl BackendKind {
    pub(crate) fn parse(s: &str) -> Result<BackendKind, StreamError> {
        match s.to_ascii_lowercase().as_str() {
            "heap" | "hashmap" => Ok(BackendKind::Heap),
            "rocksdb" => {
                if cfg!(feature = "rocksdb") {
                    Ok(BackendKind::RocksDb)
                } else {
                    Err(StreamError::Usage(
                        "state backend rocksdb: this build has no RocksDB".into(),
                    ))
                }
            }
            _ => Err(StreamError::Usage(format!(
                "state backend {s}: heap or rocksdb"
            ))),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            BackendKind::Heap => "heap",
            BackendKind::RocksDb => "rocksdb",
        }
    }

    /// The backend itself: a RocksDB one's instances under `dir`.
    pub(crate) fn backend(self, dir: &Path, cache_keys: usize) -> StateBackend {
        match self {
            BackendKind::Heap => StateBackend::Heap,
            BackendKind::RocksDb => StateBackend::RocksDb {
                dir: dir.to_path_buf(),
                cache_keys,
            },
        }
    }
}

impl StateBackend {
    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            StateBackend::Heap => BackendKind::Heap,
            StateBackend::RocksDb { .. } => BackendKind::RocksDb,
        }
    }
}

/// One worker's windows, in the job's backend.
pub(crate) enum Windows<A: Accumulator> {
    Heap(KeyedWindows<A>),
    #[cfg(feature = "rocksdb")]
    Rocks(RocksWindows<A>),
}

impl<A: Accumulator> Windows<A> {
    /// Worker `index` of `peers`'s windows: empty, or its key groups of a checkpoint.
    pub(crate) fn open(
        backend: &StateBackend,
        spec: WindowSpec,
        lateness: u64,
        restore: &[WorkerState],
        index: usize,
        peers: usize,
    ) -> Result<Windows<A>, StreamError> {
        for s in restore {
            if s.backend != backend.kind() {
                return Err(StreamError::Usage(format!(
                    "the checkpoint was written by the {} state backend, this run uses {}",
                    s.backend.name(),
                    backend.kind().name()
                )));
            }
        }
        match backend {
            StateBackend::Heap => {
                let mut windows = KeyedWindows::<A>::new(spec, lateness);
                if !restore.is_empty() {
                    for s in restore {
                        windows.absorb(s.windows()?);
                    }
                    let index = index as u64;
                    windows.retain_keys(|k| crate::stream::engine::route(k, peers) == index);
                }
                Ok(Windows::Heap(windows))
            }
            #[cfg(feature = "rocksdb")]
            StateBackend::RocksDb { dir, cache_keys } => {
                let mut w = RocksWindows::open(
                    &dir.join(format!("w{index}")),
                    Shape::new(spec, lateness),
                    *cache_keys,
                )?;
                for s in restore {
                    let meta: RocksMeta = serde_json::from_value(s.windows.clone())
                        .map_err(|e| StreamError::State(e.to_string()))?;
                    let saved = s.rocks_dir().ok_or_else(|| {
                        StreamError::State("a rocksdb checkpoint without its directory".into())
                    })?;
                    w.restore(&meta, &saved, index, peers)?;
                }
                Ok(Windows::Rocks(w))
            }
            #[cfg(not(feature = "rocksdb"))]
            StateBackend::RocksDb { .. } => Err(StreamError::Usage(
                "state backend rocksdb: this build has no RocksDB".into(),
            )),
        }
    }

    pub(crate) fn add(&mut self, key: u64, ts: u64, e: &A::In) -> bool {
        match self {
            Windows::Heap(w) => w.add(key, ts, e),
            #[cfg(feature = "rocksdb")]
            Windows::Rocks(w) => w.add(key, ts, e),
        }
    }

    pub(crate) fn fire(&mut self, f: u64, out: &mut Vec<WindowResult<A>>) {
        match self {
            Windows::Heap(w) => w.fire(f, out),
            #[cfg(feature = "rocksdb")]
            Windows::Rocks(w) => w.fire(f, out),
        }
    }

    /// An error the backend met in a step (RocksDB's I/O): the run must fail.
    pub(crate) fn take_error(&mut self) -> Option<StreamError> {
        match self {
            Windows::Heap(_) => None,
            #[cfg(feature = "rocksdb")]
            Windows::Rocks(w) => w.take_error(),
        }
    }

    pub(crate) fn fired(&self) -> u64 {
        match self {
            Windows::Heap(w) => w.fired(),
            #[cfg(feature = "rocksdb")]
            Windows::Rocks(w) => w.fired(),
        }
    }

    pub(crate) fn has_refires(&self) -> bool {
        match self {
            Windows::Heap(w) => w.has_refires(),
            #[cfg(feature = "rocksdb")]
            Windows::Rocks(w) => w.has_refires(),
        }
    }

    /// The worker's state for its checkpoint file: the heap's windows, or a RocksDB
    /// checkpoint made in `rocks_dir` and what restoring it needs.
    pub(crate) fn snapshot(
        &mut self,
        rocks_dir: &Path,
    ) -> Result<(BackendKind, serde_json::Value), StreamError> {
        let json = |e: serde_json::Error| StreamError::State(e.to_string());
        match self {
            Windows::Heap(w) => {
                let _ = rocks_dir;
                Ok((BackendKind::Heap, serde_json::to_value(&*w).map_err(json)?))
            }
            #[cfg(feature = "rocksdb")]
            Windows::Rocks(w) => {
                let meta = w.snapshot(rocks_dir)?;
                Ok((
                    BackendKind::RocksDb,
                    serde_json::to_value(meta).map_err(json)?,
                ))
            }
        }
    }
}

#[cfg(all(test, feature = "rocksdb"))]
#[path = "window/rocks_tests.rs"]
mod rocks_tests;
