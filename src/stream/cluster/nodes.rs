//! The nodes of distributed jobs, under `/ferrokeeper/stream`:
//!
//! ```text
//! leader/_c_<id>-latch-<seq>        ephemeral sequential: coordinators (Curator's LeaderLatch)
//! workers/<worker>                  ephemeral: a worker's address and load (WorkerInfo)
//! jobs/<job>/spec                   the submitted job (JobSpec)
//! jobs/<job>/generation             who runs it now (Generation), by the leading coordinator
//! jobs/<job>/acks/g<gen>-e<epoch>-r<rank>   a process's partial manifest of an epoch
//! jobs/<job>/failures/g<gen>-<worker>       a process of generation <gen> failed
//! jobs/<job>/done                   the job ran to the end of its input
//! jobs/<job>/stop                   a stop request: checkpoint or drain (`stream stop`)
//! jobs/<job>/halted/g<gen>          generation <gen> stopped after committing this epoch
//! jobs/<job>/halted/g<gen>-r<rank>  ... and its process <rank> has published and ended
//! jobs/<job>/checkpoints, latest    as for embedded jobs (crate::stream::zk_store)
//! ```

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use zookeeper_client::{Acls, CreateMode, Error};

use crate::stream::zk_store::{job_path, zk_error, ZkManifestStore, ROOT};
use crate::stream::StreamError;

pub(crate) fn leader_dir() -> String {
    format!("{ROOT}/leader")
}

pub(crate) fn workers_dir() -> String {
    format!("{ROOT}/workers")
}

pub(crate) fn jobs_dir() -> String {
    format!("{ROOT}/jobs")
}

pub(crate) fn spec_path(job: &str) -> String {
    format!("{}/spec", job_path(job))
}

pub(crate) fn generation_path(job: &str) -> String {
    format!("{}/generation", job_path(job))
}

pub(crate) fn acks_dir(job: &str) -> String {
    format!("{}/acks", job_path(job))
}

pub(crate) fn ack_path(job: &str, gen: u64, epoch: u64, rank: usize) -> String {
    format!("{}/g{gen}-e{epoch:020}-r{rank}", acks_dir(job))
}

pub(crate) fn failures_dir(job: &str) -> String {
    format!("{}/failures", job_path(job))
}

pub(crate) fn done_path(job: &str) -> String {
    format!("{}/done", job_path(job))
}

pub(crate) fn halted_dir(job: &str) -> String {
    format!("{}/halted", job_path(job))
}

/// Where generation `gen` stopped (`stream stop`); with `rank`, that process is done.
pub(crate) fn halted_path(job: &str, gen: u64, rank: Option<usize>) -> String {
    match rank {
        Some(r) => format!("{}/g{gen}-r{r}", halted_dir(job)),
        None => format!("{}/g{gen}", halted_dir(job)),
    }
}

/// The epoch generation `gen` stopped at, once it has.
pub(crate) fn halted_epoch(
    zk: &ZkManifestStore,
    job: &str,
    gen: u64,
) -> Result<Option<u64>, StreamError> {
    Ok(zk
        .get(&halted_path(job, gen, None))?
        .and_then(|d| String::from_utf8_lossy(&d).trim().parse().ok()))
}

/// A worker, as it registers.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct WorkerInfo {
    pub(crate) host: String,
    /// The first of `ports` ports its generations' timely may listen on.
    pub(crate) port: u16,
    pub(crate) ports: u16,
    pub(crate) pid: u32,
    /// Its registration's session (hex): who it is. A worker that registers again, after a
    /// restart or a lost session, is another member.
    pub(crate) session: String,
    /// Generations it runs now: the resource-based placement prefers the least loaded.
    #[serde(default)]
    pub(crate) load: u32,
}

/// A submitted job.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct JobSpec {
    /// The job file's text.
    pub(crate) sql: String,
    /// Worker processes wanted (fewer while fewer are registered).
    pub(crate) workers: usize,
    /// Worker threads per process.
    pub(crate) threads: usize,
    pub(crate) checkpoint_ms: u64,
    /// Datagen's split count when the job file does not say: fixed for the job's life, so
    /// its checkpoints can be restored on any number of workers.
    pub(crate) splits: usize,
    /// The job's state directory, seen by every worker.
    pub(crate) state_dir: String,
}

/// One process of a generation.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) worker: String,
    /// The worker's registration session at placement (see [`WorkerInfo::session`]).
    pub(crate) session: String,
    /// Where its timely listens for this generation.
    pub(crate) addr: String,
}

/// Who runs a job now: the processes in rank order.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Generation {
    pub(crate) gen: u64,
    pub(crate) members: Vec<Member>,
}

impl Generation {
    pub(crate) fn rank_of(&self, worker: &str, session: &str) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.worker == worker && m.session == session)
    }
}

pub(crate) fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, StreamError> {
    serde_json::to_vec(v).map_err(|e| StreamError::State(e.to_string()))
}

/// Reads a JSON node and its version; None when it is not there.
pub(crate) fn read<T: DeserializeOwned>(
    zk: &ZkManifestStore,
    path: &str,
) -> Result<Option<(T, i32)>, StreamError> {
    match zk.block(zk.client().get_data(path))? {
        Ok((data, stat)) => serde_json::from_slice(&data)
            .map(|v| Some((v, stat.version)))
            .map_err(|e| StreamError::State(format!("{path}: {e}"))),
        Err(Error::NoNode) => Ok(None),
        Err(e) => Err(zk_error(format!("get {path}"), e)),
    }
}

pub(crate) fn exists(zk: &ZkManifestStore, path: &str) -> Result<bool, StreamError> {
    match zk.block(zk.client().check_stat(path))? {
        Ok(s) => Ok(s.is_some()),
        Err(e) => Err(zk_error(format!("exists {path}"), e)),
    }
}

/// Children of `path`, sorted; none when it is not there.
pub(crate) fn children(zk: &ZkManifestStore, path: &str) -> Result<Vec<String>, StreamError> {
    match zk.block(zk.client().get_children(path))? {
        Ok((mut c, _)) => {
            c.sort();
            Ok(c)
        }
        Err(Error::NoNode) => Ok(Vec::new()),
        Err(e) => Err(zk_error(format!("children of {path}"), e)),
    }
}

/// Creates `path` with `data` (persistent, or ephemeral); an existing node is kept.
pub(crate) fn create(
    zk: &ZkManifestStore,
    path: &str,
    data: &[u8],
    ephemeral: bool,
) -> Result<bool, StreamError> {
    let mode = if ephemeral {
        CreateMode::Ephemeral
    } else {
        CreateMode::Persistent
    };
    match zk.block(
        zk.client()
            .create(path, data, &mode.with_acls(Acls::anyone_all())),
    )? {
        Ok(_) => Ok(true),
        Err(Error::NodeExists) => Ok(false),
        Err(e) => Err(zk_error(format!("create {path}"), e)),
    }
}

/// The job's latest committed epoch.
pub(crate) fn latest_epoch(zk: &ZkManifestStore, job: &str) -> Result<Option<u64>, StreamError> {
    Ok(zk
        .get(&format!("{}/latest", job_path(job)))?
        .and_then(|d| String::from_utf8_lossy(&d).trim().parse().ok()))
}
