//! Checkpoints of an embedded job: state files per epoch, committed as a manifest znode.
//!
//! Workers write their window state for epoch `e` to `<state-dir>/<e>/w<i>.json` (fsynced)
//! and ack; sources report where each split stood at the end of `e`. When every worker and
//! every split has reported, the committer thread writes the manifest to the ensemble in one
//! multi: `create .../checkpoints/<e>` and `setData .../latest`. Ferrokeeper acknowledges a
//! write once it is durable, so a committed checkpoint survives `kill -9` of anything. Sinks
//! publish an epoch's output only after its commit.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stream::checksum::Checksum;
use crate::stream::datagen::mix64;
use crate::stream::engine::Restore;
use crate::stream::keyed::KeyedOperator;
use crate::stream::state::BackendKind;
use crate::stream::window::{Accumulator, KeyedWindows};
use crate::stream::StreamError;

/// Key groups per job, fixed: state is written and restored by key group, so a job can be
/// restored on any number of workers up to this.
pub(crate) const KEY_GROUPS: u64 = 128;
/// What each worker acks per epoch: its windows' state and its sink's staged output.
const PART_WINDOWS: u8 = 0;
const PART_SINK: u8 = 1;

/// Checkpoints kept: znodes and state files of older ones are removed.
const RETAINED: u64 = 3;
/// Reports queued for the committer; a worker blocks beyond this, which slows the job
/// instead of growing memory when the ensemble is slow.
const QUEUE: usize = 4096;

pub(crate) fn key_group(key: u64) -> u64 {
    mix64(key) % KEY_GROUPS
}

/// One worker's state at the end of an epoch, as its file holds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct WorkerState {
    pub(crate) worker: usize,
    /// The heap's windows; with RocksDB, what restoring its checkpoint needs (the
    /// checkpoint itself is the directory beside the file, `w<i>.rocks`).
    pub(crate) windows: serde_json::Value,
    /// Absent in heap checkpoints, so their files are as before.
    #[serde(default, skip_serializing_if = "is_heap")]
    pub(crate) backend: BackendKind,
    /// Where the file was read from.
    #[serde(skip)]
    pub(crate) path: Option<PathBuf>,
}

fn is_heap(b: &BackendKind) -> bool {
    *b == BackendKind::Heap
}

/// A RocksDB checkpoint's directory, beside its worker's state file.
fn rocks_dir_of(state_file: &Path) -> PathBuf {
    state_file.with_extension("rocks")
}

impl WorkerState {
    /// A RocksDB checkpoint's directory (see [`WorkerState::windows`]).
    pub(crate) fn rocks_dir(&self) -> Option<PathBuf> {
        self.path.as_deref().map(rocks_dir_of)
    }

    pub(crate) fn windows<A: Accumulator>(&self) -> Result<KeyedWindows<A>, StreamError> {
        self.value()
    }

    /// The heap state as the operator that wrote it reads it back.
    pub(crate) fn value<T: serde::de::DeserializeOwned>(&self) -> Result<T, StreamError> {
        serde_json::from_value(self.windows.clone()).map_err(|e| StreamError::State(e.to_string()))
    }
}

/// The committed record of a checkpoint: the znode's data.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub(crate) job: String,
    pub(crate) epoch: u64,
    pub(crate) key_groups: u64,
    /// Per split, how many of its events the checkpoint's state has seen.
    pub(crate) positions: Vec<u64>,
    /// State files, one per worker, relative to the state directory.
    pub(crate) files: Vec<String>,
    /// A distributed job's: the generation that committed it, whose staged output of this
    /// epoch is the one to publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) generation: Option<u64>,
}

enum Report {
    SourceEnd {
        epoch: u64,
        split: usize,
        position: u64,
    },
    Ack {
        epoch: u64,
        /// `(worker, part)`: each worker acks its windows and its sink.
        part: (usize, u8),
        file: String,
    },
    /// A worker's windows are done: `file` is their state for every epoch from `from` on.
    WindowsDone {
        worker: usize,
        from: u64,
        file: String,
    },
    /// A sink's input is done: it has nothing for epochs from `from` on.
    SinkDone {
        worker: usize,
        from: u64,
    },
    Failed(String),
}

/// Which part of a job this process checkpoints. Embedded: every worker, files at the top
/// of the job's state directory. A process of a distributed generation: its own workers,
/// files under `g<generation>/`, so a process of an older generation that lingers cannot
/// overwrite them; its store merges the processes' partial manifests.
#[derive(Clone, Debug)]
pub(crate) struct Share {
    /// The workers (global indices) whose acks this process collects.
    pub(crate) local: Range<usize>,
    /// Prefix of this process's files, relative to the job's state directory.
    pub(crate) prefix: String,
}

impl Share {
    pub(crate) fn all(p: usize) -> Share {
        Share {
            local: 0..p,
            prefix: String::new(),
        }
    }
}

/// Where manifests are committed.
pub(crate) trait ManifestStore: Send {
    /// Commits `m` as the job's latest checkpoint; durable when it returns. A process of a
    /// distributed job gives its partial manifest: the store returns once the whole
    /// epoch is committed.
    fn commit(&mut self, m: &Manifest) -> Result<(), StreamError>;
    /// Commits `m`, the job stopping there when `halting` (`stream stop`). A distributed
    /// job's processes halt together: the one that commits decides, and the others learn
    /// it from the store, maybe only while they wait for a later epoch (`Halted`).
    fn commit_halting(&mut self, m: &Manifest, halting: bool) -> Result<Commit, StreamError> {
        self.commit(m)?;
        Ok(if halting { Commit::Halt } else { Commit::Done })
    }
    /// Forgets checkpoint `epoch` (retention).
    fn forget(&mut self, job: &str, epoch: u64) -> Result<(), StreamError>;
}

/// What became of an epoch given to [`ManifestStore::commit_halting`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Commit {
    Done,
    /// Committed, and the job stops here.
    Halt,
    /// Not committed: the job stopped at an earlier epoch.
    Halted,
}

/// Shared by the workers of a job: reports in, commits out.
pub(crate) struct Checkpointer {
    dir: PathBuf,
    tx: SyncSender<Report>,
    /// Every epoch below this is committed.
    committed_below: AtomicU64,
    committed: AtomicU64,
    /// A stop at the next commit (`stream stop`): the first epoch whose commit halts.
    halt_from: AtomicU64,
    /// Set once that commit is done: nothing more is committed, windows fire no more and
    /// sources read no more; `--resume` goes on from there.
    halted: AtomicBool,
    failure: Mutex<Option<String>>,
    changed: Condvar,
    changed_lock: Mutex<()>,
}

impl Checkpointer {
    /// Starts the committer thread for `job` with `p` workers and splits.
    pub(crate) fn start(
        job: &str,
        p: usize,
        dir: &Path,
        first_epoch: u64,
        start_positions: Vec<u64>,
        store: Box<dyn ManifestStore>,
    ) -> Result<std::sync::Arc<Checkpointer>, StreamError> {
        Self::start_share(job, Share::all(p), dir, first_epoch, start_positions, store)
    }

    /// Starts the committer thread for this process's `share` of `job`; `job_dir` is the
    /// job's state directory.
    pub(crate) fn start_share(
        job: &str,
        share: Share,
        job_dir: &Path,
        first_epoch: u64,
        start_positions: Vec<u64>,
        store: Box<dyn ManifestStore>,
    ) -> Result<std::sync::Arc<Checkpointer>, StreamError> {
        let dir = &job_dir.join(&share.prefix);
        std::fs::create_dir_all(dir).map_err(|e| StreamError::io(dir, e))?;
        let (tx, rx) = sync_channel(QUEUE);
        let c = std::sync::Arc::new(Checkpointer {
            dir: dir.to_path_buf(),
            tx,
            committed_below: AtomicU64::new(first_epoch),
            committed: AtomicU64::new(0),
            halt_from: AtomicU64::new(u64::MAX),
            halted: AtomicBool::new(false),
            failure: Mutex::new(None),
            changed: Condvar::new(),
            changed_lock: Mutex::new(()),
        });
        let shared = c.clone();
        let job = job.to_string();
        std::thread::Builder::new()
            .name("stream-committer".into())
            .spawn(move || shared.commit_loop(&job, share, first_epoch, start_positions, rx, store))
            .map_err(|e| StreamError::io(dir, e))?;
        Ok(c)
    }

    pub(crate) fn source_end(&self, epoch: u64, split: usize, position: u64) {
        let _ = self.tx.send(Report::SourceEnd {
            epoch,
            split,
            position,
        });
    }

    /// Writes a worker's state for `epoch` and reports it.
    pub(crate) fn ack(&self, epoch: u64, worker: usize, windows: &mut impl KeyedOperator) {
        let report = match self.write_state(epoch, worker, windows) {
            Ok(file) => Report::Ack {
                epoch,
                part: (worker, PART_WINDOWS),
                file,
            },
            Err(e) => Report::Failed(e.to_string()),
        };
        let _ = self.tx.send(report);
    }

    /// Writes a worker's final state: that of `epoch` and of every later one.
    pub(crate) fn ack_from(&self, epoch: u64, worker: usize, windows: &mut impl KeyedOperator) {
        let report = match self.write_state(epoch, worker, windows) {
            Ok(file) => Report::WindowsDone {
                worker,
                from: epoch,
                file,
            },
            Err(e) => Report::Failed(e.to_string()),
        };
        let _ = self.tx.send(report);
    }

    /// Stages a worker's sink output of `epoch` (write-ahead: it is part of the checkpoint,
    /// so a crash between commit and publication republishes it) and reports it.
    pub(crate) fn stage_sink(&self, epoch: u64, worker: usize, out: &[u8]) {
        let rel = staged_rel(epoch, worker);
        let report = match write_synced(&self.dir.join(&rel), out) {
            Ok(()) => Report::Ack {
                epoch,
                part: (worker, PART_SINK),
                file: rel,
            },
            Err(e) => Report::Failed(e.to_string()),
        };
        let _ = self.tx.send(report);
    }

    /// Stages a worker's late output of `epoch` beside its output (`<staged>.late`); the
    /// output's ack (`stage_sink`, after this) covers both.
    pub(crate) fn stage_late(&self, epoch: u64, worker: usize, out: &[u8]) {
        let path = late_path(&self.staged_path(epoch, worker));
        if let Err(e) = write_synced(&path, out) {
            let _ = self.tx.send(Report::Failed(e.to_string()));
        }
    }

    /// Where a worker's output of `epoch` is staged until its commit.
    pub(crate) fn staged_path(&self, epoch: u64, worker: usize) -> PathBuf {
        self.dir.join(staged_rel(epoch, worker))
    }

    fn write_state(
        &self,
        epoch: u64,
        worker: usize,
        windows: &mut impl KeyedOperator,
    ) -> Result<String, StreamError> {
        let rel = format!("{epoch}/w{worker}.json");
        let path = self.dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StreamError::io(parent, e))?;
        }
        let (backend, value) = windows.snapshot(&rocks_dir_of(&path))?;
        let state = WorkerState {
            worker,
            windows: value,
            backend,
            path: None,
        };
        let bytes = serde_json::to_vec(&state).map_err(|e| StreamError::State(e.to_string()))?;
        write_synced(&path, &bytes)?;
        Ok(rel)
    }

    /// Every epoch below the returned one is committed.
    pub(crate) fn committed_below(&self) -> u64 {
        self.committed_below.load(Ordering::Acquire)
    }

    /// Checkpoints committed by this run.
    pub(crate) fn committed(&self) -> u64 {
        self.committed.load(Ordering::Acquire)
    }

    /// Stops the job at its next commit.
    pub(crate) fn request_halt(&self) {
        self.halt_from
            .fetch_min(self.committed_below(), Ordering::AcqRel);
    }

    /// Whether the job stopped at a commit: see [`Checkpointer::request_halt`].
    pub(crate) fn halted(&self) -> bool {
        self.halted.load(Ordering::Acquire)
    }

    /// Waits until `epoch` is committed (or the job halted before it), or the committer
    /// failed.
    pub(crate) fn wait_committed(&self, epoch: u64) -> Result<(), StreamError> {
        let mut guard = self.changed_lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(f) = self
                .failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
            {
                return Err(StreamError::Checkpoint(f));
            }
            if self.committed_below() > epoch || self.halted() {
                return Ok(());
            }
            guard = self
                .changed
                .wait_timeout(guard, Duration::from_millis(50))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn commit_loop(
        &self,
        job: &str,
        share: Share,
        first_epoch: u64,
        start_positions: Vec<u64>,
        rx: Receiver<Report>,
        mut store: Box<dyn ManifestStore>,
    ) {
        type Reports = (BTreeMap<usize, u64>, BTreeMap<(usize, u8), String>);
        let mut epochs: BTreeMap<u64, Reports> = BTreeMap::new();
        let mut next = first_epoch;
        let mut last = start_positions;
        let mut sinks_done: BTreeMap<usize, u64> = BTreeMap::new();
        let mut windows_done: BTreeMap<usize, (u64, String)> = BTreeMap::new();
        while let Ok(report) = rx.recv() {
            match report {
                Report::SourceEnd {
                    epoch,
                    split,
                    position,
                } => {
                    epochs.entry(epoch).or_default().0.insert(split, position);
                }
                Report::Ack { epoch, part, file } => {
                    epochs.entry(epoch).or_default().1.insert(part, file);
                }
                Report::SinkDone { worker, from } => {
                    sinks_done.insert(worker, from);
                }
                Report::WindowsDone { worker, from, file } => {
                    windows_done.insert(worker, (from, file));
                }
                Report::Failed(e) => {
                    self.fail(e);
                    return;
                }
            }
            // Commit in epoch order, each once every worker has acked it. A worker acks an
            // epoch after its input frontier passed it, so every split has reported its end
            // by then, or ended in an earlier epoch and keeps its last position.
            // A sink that is done acks every later epoch by having nothing for it.
            while epochs.get(&next).is_some_and(|(_, acks)| {
                complete(acks, next, &share.local, &windows_done, &sinks_done)
            }) {
                let Some((sources, acks)) = epochs.remove(&next) else {
                    break;
                };
                for (k, pos) in sources {
                    if let Some(slot) = last.get_mut(k) {
                        *slot = pos;
                    }
                }
                let mut files: Vec<String> = acks
                    .iter()
                    .filter(|((_, part), _)| *part == PART_WINDOWS)
                    .map(|(_, f)| f.clone())
                    .collect();
                // A done worker's final state, linked into this epoch's directory so that
                // retention of older ones keeps it.
                for w in share.local.clone() {
                    if acks.contains_key(&(w, PART_WINDOWS)) {
                        continue;
                    }
                    if let Some((_, f)) = windows_done.get_mut(&w) {
                        let rel = format!("{next}/w{w}.json");
                        if *f != rel {
                            if let Err(e) = link_state(&self.dir.join(&*f), &self.dir.join(&rel)) {
                                self.fail(e.to_string());
                                return;
                            }
                            *f = rel.clone();
                        }
                        files.push(rel);
                    }
                }
                let manifest = Manifest {
                    job: job.to_string(),
                    epoch: next,
                    key_groups: KEY_GROUPS,
                    positions: last.clone(),
                    files: files
                        .into_iter()
                        .map(|f| format!("{}{f}", share.prefix))
                        .collect(),
                    generation: None,
                };
                // Decided before the commit, so that a distributed store can tell the
                // other processes where the job stops.
                let halting = next >= self.halt_from.load(Ordering::Acquire);
                let outcome = match store.commit_halting(&manifest, halting) {
                    Ok(o) => o,
                    Err(e) => {
                        self.fail(e.to_string());
                        return;
                    }
                };
                if outcome != Commit::Halted {
                    self.committed_below.store(next + 1, Ordering::Release);
                    self.committed.fetch_add(1, Ordering::AcqRel);
                }
                if outcome != Commit::Done {
                    self.halted.store(true, Ordering::Release);
                    self.changed.notify_all();
                    return;
                }
                self.changed.notify_all();
                if next >= first_epoch + RETAINED {
                    let old = next - RETAINED;
                    let _ = store.forget(job, old);
                    let _ = std::fs::remove_dir_all(self.dir.join(old.to_string()));
                }
                next += 1;
            }
        }
    }

    /// Why the committer stopped, once it failed.
    pub(crate) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|x| x.into_inner())
            .clone()
    }

    pub(crate) fn sink_done(&self, worker: usize, from: u64) {
        let _ = self.tx.send(Report::SinkDone { worker, from });
    }

    pub(crate) fn fail(&self, e: String) {
        *self.failure.lock().unwrap_or_else(|x| x.into_inner()) = Some(e);
        self.changed.notify_all();
    }

    /// Fails the job from outside (a source or sink error): nothing more is committed.
    pub(crate) fn abort(&self, e: String) {
        self.fail(e.clone());
        let _ = self.tx.send(Report::Failed(e));
    }
}

/// Whether every worker has acked epoch `e`: its windows and its sink, each by an ack or by
/// being done before `e` (nothing more comes from it).
fn complete(
    acks: &BTreeMap<(usize, u8), String>,
    e: u64,
    local: &Range<usize>,
    windows_done: &BTreeMap<usize, (u64, String)>,
    sinks_done: &BTreeMap<usize, u64>,
) -> bool {
    local.clone().all(|w| {
        (acks.contains_key(&(w, PART_WINDOWS))
            || windows_done.get(&w).is_some_and(|(f, _)| *f <= e))
            && (acks.contains_key(&(w, PART_SINK)) || sinks_done.get(&w).is_some_and(|f| *f <= e))
    })
}

fn link_or_copy(from: &Path, to: &Path) -> Result<(), StreamError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| StreamError::io(parent, e))?;
    }
    let _ = std::fs::remove_file(to);
    std::fs::hard_link(from, to)
        .or_else(|_| std::fs::copy(from, to).map(|_| ()))
        .map_err(|e| StreamError::io(from, e))
}

/// Links a worker's state file, and its RocksDB checkpoint if it has one, under another
/// epoch.
fn link_state(from: &Path, to: &Path) -> Result<(), StreamError> {
    link_or_copy(from, to)?;
    let dir = rocks_dir_of(from);
    if dir.is_dir() {
        let to_dir = rocks_dir_of(to);
        let _ = std::fs::remove_dir_all(&to_dir);
        std::fs::create_dir_all(&to_dir).map_err(|e| StreamError::io(&to_dir, e))?;
        for f in std::fs::read_dir(&dir).map_err(|e| StreamError::io(&dir, e))? {
            let f = f.map_err(|e| StreamError::io(&dir, e))?;
            link_or_copy(&f.path(), &to_dir.join(f.file_name()))?;
        }
    }
    Ok(())
}

pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), StreamError> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| StreamError::io(parent, e))?;
    }
    let mut f = std::fs::File::create(path).map_err(|e| StreamError::io(path, e))?;
    f.write_all(bytes).map_err(|e| StreamError::io(path, e))?;
    f.sync_data().map_err(|e| StreamError::io(path, e))
}

fn staged_rel(epoch: u64, worker: usize) -> String {
    format!("sink/{epoch}/w{worker}.pending")
}

/// The late output staged beside a staged output.
pub(crate) fn late_path(staged: &Path) -> PathBuf {
    staged.with_extension("late")
}

/// A staged output's bytes; None when an earlier attempt published and removed it.
pub(crate) fn read_staged(staged: &Path) -> Result<Option<Vec<u8>>, StreamError> {
    match std::fs::read(staged) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StreamError::io(staged, e)),
    }
}

/// Publishes a staged output as `<to_dir>/part-<epoch>-w<worker><ext>`: a rename on one
/// file system, else a synced copy renamed into place. Publishing twice is harmless: the
/// part is there and the staged file gone.
pub(crate) fn publish_part(
    staged: &Path,
    to_dir: &Path,
    epoch: u64,
    worker: usize,
    ext: &str,
) -> Result<(), StreamError> {
    let to = to_dir.join(format!("part-{epoch:020}-w{worker}{ext}"));
    if to.exists() {
        let _ = std::fs::remove_file(staged);
        return Ok(());
    }
    std::fs::create_dir_all(to_dir).map_err(|e| StreamError::io(to_dir, e))?;
    match std::fs::rename(staged, &to) {
        Ok(()) => Ok(()),
        // Published meanwhile by another process (a distributed job's recovery and a
        // lingering process of an older generation may both publish a committed epoch).
        Err(_) if to.exists() => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StreamError::io(staged, e)),
        Err(_) => {
            // Another file system: copy under a name readers skip, then rename.
            let tmp = to_dir.join(format!(".part-{epoch:020}-w{worker}.tmp"));
            let bytes = std::fs::read(staged).map_err(|e| StreamError::io(staged, e))?;
            write_synced(&tmp, &bytes)?;
            std::fs::rename(&tmp, &to).map_err(|e| StreamError::io(&to, e))?;
            let _ = std::fs::remove_file(staged);
            Ok(())
        }
    }
}

/// After a crash: staged outputs of committed epochs (up to `latest`) are published, those
/// of epochs that never committed are dropped, as if they had never run.
pub(crate) fn recover_sink(
    dir: &Path,
    latest: Option<u64>,
    publish: &dyn Fn(u64, usize, &Path) -> Result<(), StreamError>,
) -> Result<(), StreamError> {
    let sink = dir.join("sink");
    let Ok(entries) = std::fs::read_dir(&sink) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Ok(epoch) = name.parse::<u64>() else {
            continue;
        };
        if latest.is_some_and(|l| epoch <= l) {
            for f in std::fs::read_dir(entry.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                let fname = f.file_name().to_string_lossy().to_string();
                if let Some(w) = fname
                    .strip_prefix('w')
                    .and_then(|r| r.strip_suffix(".pending"))
                {
                    if let Ok(worker) = w.parse() {
                        publish(epoch, worker, &f.path())?;
                    }
                }
            }
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
    Ok(())
}

/// The benchmark sink's contents: every output published in `sink`.
pub(crate) fn published(sink: &Path) -> Result<Checksum, StreamError> {
    let mut total = Checksum::default();
    let Ok(entries) = std::fs::read_dir(sink) else {
        return Ok(total);
    };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with("part-") {
            continue;
        }
        let text =
            std::fs::read_to_string(entry.path()).map_err(|e| StreamError::io(&entry.path(), e))?;
        let part = Checksum::from_line(&text).ok_or_else(|| {
            StreamError::State(format!("{}: not a sink part", entry.path().display()))
        })?;
        total.merge(part);
    }
    Ok(total)
}

/// The state a manifest names, read back from the state directory.
pub(crate) fn load_restore(job_dir: &Path, m: &Manifest) -> Result<Restore, StreamError> {
    let mut state = Vec::new();
    for f in &m.files {
        let path = job_dir.join(f);
        let bytes = std::fs::read(&path).map_err(|e| StreamError::io(&path, e))?;
        let mut s: WorkerState = serde_json::from_slice(&bytes)
            .map_err(|e| StreamError::State(format!("{}: {e}", path.display())))?;
        s.path = Some(path);
        state.push(s);
    }
    Ok(Restore {
        epoch: m.epoch,
        positions: m.positions.clone(),
        state,
    })
}

#[cfg(test)]
#[path = "engine_tests.rs"]
pub(crate) mod engine_tests;
