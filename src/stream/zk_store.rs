//! Manifests in a ZooKeeper ensemble (Ferrokeeper's or Apache ZooKeeper's: only the client
//! protocol is used), under `/ferrokeeper/stream/jobs/<job>`:
//!
//! ```text
//! checkpoints/<epoch, 20 digits>   the manifest (JSON)
//! latest                           the latest committed epoch, decimal
//! running                          ephemeral, while a process runs the job: who (JSON)
//! stop                             a stop request (`checkpoint` or `drain`), by `stream stop`
//! ```

use std::time::Duration;

use zookeeper_client::{Acls, Client, CreateMode, CreateOptions, Error, MultiWriteError};

use crate::stream::checkpoint::{Manifest, ManifestStore};
use crate::stream::StreamError;

/// The stream module's root in the ensemble.
pub(crate) const ROOT: &str = "/ferrokeeper/stream";
/// How long one ensemble call may take before the job fails instead of hanging.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn job_path(job: &str) -> String {
    format!("{ROOT}/jobs/{job}")
}

fn checkpoint_path(job: &str, epoch: u64) -> String {
    format!("{}/checkpoints/{epoch:020}", job_path(job))
}

/// `what` failed with `e`: a lost connection or an unanswered call is
/// [`StreamError::Disconnected`] (it may have been applied), anything else final.
pub(crate) fn zk_error(what: String, e: Error) -> StreamError {
    match e {
        Error::ConnectionLoss | Error::Timeout => StreamError::Disconnected(what),
        e => StreamError::Zk(format!("{what}: {e}")),
    }
}

fn persistent() -> CreateOptions<'static> {
    CreateMode::Persistent.with_acls(Acls::anyone_all())
}

/// A connected client on a runtime of its own: the committer thread calls it synchronously.
pub(crate) struct ZkManifestStore {
    rt: tokio::runtime::Runtime,
    client: Client,
}

impl ZkManifestStore {
    /// Connects to `connect` (`host:port[,host:port...]`) and makes the job's nodes.
    pub(crate) fn connect(connect: &str, job: &str) -> Result<ZkManifestStore, StreamError> {
        Self::connect_within(connect, job, CALL_TIMEOUT)
    }

    /// As [`ZkManifestStore::connect`], giving up after `within`.
    pub(crate) fn connect_within(
        connect: &str,
        job: &str,
        within: Duration,
    ) -> Result<ZkManifestStore, StreamError> {
        let store = Self::session(connect, within, Duration::from_secs(10))?;
        store.ensure(&format!("{}/checkpoints", job_path(job)))?;
        Ok(store)
    }

    /// A session of `session_timeout` (how soon the ensemble notices this process gone:
    /// its ephemeral nodes go with it), without any job's nodes.
    pub(crate) fn session(
        connect: &str,
        within: Duration,
        session_timeout: Duration,
    ) -> Result<ZkManifestStore, StreamError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StreamError::Zk(format!("runtime: {e}")))?;
        let client = rt.block_on(async {
            tokio::time::timeout(
                within,
                Client::connector()
                    .with_session_timeout(session_timeout)
                    .connect(connect),
            )
            .await
            .map_err(|_| StreamError::Zk(format!("{connect}: no session within {within:?}")))?
            .map_err(|e| StreamError::Zk(format!("{connect}: {e}")))
        })?;
        Ok(ZkManifestStore { rt, client })
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Runs a call of [`ZkManifestStore::client`] on this store's runtime, bounded in time.
    pub(crate) fn block<T, E>(
        &self,
        f: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<Result<T, E>, StreamError> {
        self.rt.block_on(async {
            tokio::time::timeout(CALL_TIMEOUT, f)
                .await
                .map_err(|_| StreamError::Zk(format!("no answer within {CALL_TIMEOUT:?}")))
        })
    }

    pub(crate) fn call<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, StreamError> {
        self.rt.block_on(async {
            tokio::time::timeout(CALL_TIMEOUT, f)
                .await
                .map_err(|_| StreamError::Zk(format!("no answer within {CALL_TIMEOUT:?}")))?
                .map_err(|e| StreamError::Zk(e.to_string()))
        })
    }

    /// Creates `path` and its parents where missing.
    pub(crate) fn ensure(&self, path: &str) -> Result<(), StreamError> {
        let mut at = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            at.push('/');
            at.push_str(part);
            match self
                .rt
                .block_on(self.client.create(&at, b"", &persistent()))
            {
                Ok(_) | Err(Error::NodeExists) => {}
                Err(e) => return Err(StreamError::Zk(format!("create {at}: {e}"))),
            }
        }
        Ok(())
    }

    /// The job's latest committed manifest, if any.
    pub(crate) fn latest(&self, job: &str) -> Result<Option<Manifest>, StreamError> {
        let latest = match self.call(self.client.get_data(&format!("{}/latest", job_path(job)))) {
            Ok((data, _)) => data,
            Err(StreamError::Zk(e)) if e.contains("node not exist") || e.contains("NoNode") => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let epoch: u64 = std::str::from_utf8(&latest)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| {
                StreamError::State(format!("{}/latest is not an epoch", job_path(job)))
            })?;
        let (data, _) = self.call(self.client.get_data(&checkpoint_path(job, epoch)))?;
        serde_json::from_slice(&data)
            .map(Some)
            .map_err(|e| StreamError::State(format!("manifest of epoch {epoch}: {e}")))
    }

    /// Removes the job's checkpoints: a fresh run.
    pub(crate) fn clear(&self, job: &str) -> Result<(), StreamError> {
        let dir = format!("{}/checkpoints", job_path(job));
        let (children, _) = self.call(self.client.get_children(&dir))?;
        for c in children {
            let _ = self.call(self.client.delete(&format!("{dir}/{c}"), None));
        }
        let _ = self.call(
            self.client
                .delete(&format!("{}/latest", job_path(job)), None),
        );
        Ok(())
    }
}

/// The control nodes: a job's registration and stop requests.
impl ZkManifestStore {
    fn node(job: &str, name: &str) -> String {
        format!("{}/{name}", job_path(job))
    }

    pub(crate) fn get(&self, path: &str) -> Result<Option<Vec<u8>>, StreamError> {
        match self.rt.block_on(async {
            tokio::time::timeout(CALL_TIMEOUT, self.client.get_data(path)).await
        }) {
            Ok(Ok((data, _))) => Ok(Some(data)),
            Ok(Err(Error::NoNode)) => Ok(None),
            Ok(Err(e)) => Err(zk_error(format!("get {path}"), e)),
            Err(_) => Err(StreamError::Disconnected(format!("get {path}"))),
        }
    }

    pub(crate) fn delete_if_there(&self, path: &str) -> Result<(), StreamError> {
        match self.rt.block_on(self.client.delete(path, None)) {
            Ok(()) | Err(Error::NoNode) => Ok(()),
            Err(e) => Err(StreamError::Zk(format!("delete {path}: {e}"))),
        }
    }

    /// Registers this process as the job's runner (an ephemeral node of this session). A
    /// registration left by a killed runner lives until its session expires: it is replaced.
    pub(crate) fn register(&self, job: &str, who: &[u8]) -> Result<(), StreamError> {
        let path = Self::node(job, "running");
        self.delete_if_there(&path)?;
        let opts = CreateMode::Ephemeral.with_acls(Acls::anyone_all());
        self.call(self.client.create(&path, who, &opts)).map(|_| ())
    }

    pub(crate) fn unregister(&self, job: &str) -> Result<(), StreamError> {
        self.delete_if_there(&Self::node(job, "running"))
    }

    /// Who runs the job, if anyone.
    pub(crate) fn running(&self, job: &str) -> Result<Option<Vec<u8>>, StreamError> {
        self.get(&Self::node(job, "running"))
    }

    /// A pending stop request: `checkpoint` or `drain`.
    pub(crate) fn stop_request(&self, job: &str) -> Result<Option<String>, StreamError> {
        Ok(self
            .get(&Self::node(job, "stop"))?
            .map(|d| String::from_utf8_lossy(&d).trim().to_string()))
    }

    pub(crate) fn request_stop(&self, job: &str, mode: &str) -> Result<(), StreamError> {
        let path = Self::node(job, "stop");
        match self
            .rt
            .block_on(self.client.create(&path, mode.as_bytes(), &persistent()))
        {
            Ok(_) => Ok(()),
            Err(Error::NodeExists) => self
                .call(self.client.set_data(&path, mode.as_bytes(), None))
                .map(|_| ()),
            Err(e) => Err(StreamError::Zk(format!("create {path}: {e}"))),
        }
    }

    pub(crate) fn clear_stop(&self, job: &str) -> Result<(), StreamError> {
        self.delete_if_there(&Self::node(job, "stop"))
    }

    /// The job's committed checkpoints, oldest first.
    pub(crate) fn checkpoints(&self, job: &str) -> Result<Vec<Manifest>, StreamError> {
        let dir = format!("{}/checkpoints", job_path(job));
        let mut names = match self.rt.block_on(self.client.get_children(&dir)) {
            Ok((c, _)) => c,
            Err(Error::NoNode) => return Ok(Vec::new()),
            Err(e) => return Err(StreamError::Zk(format!("children of {dir}: {e}"))),
        };
        names.sort();
        let mut out = Vec::new();
        for n in names {
            // Retention may remove one between the listing and the read.
            if let Some(data) = self.get(&format!("{dir}/{n}"))? {
                let m = serde_json::from_slice(&data)
                    .map_err(|e| StreamError::State(format!("manifest {n}: {e}")))?;
                out.push(m);
            }
        }
        Ok(out)
    }
}

impl ZkManifestStore {
    /// Commits `m` in one multi that also checks `fence` (`path`, version: the multi fails
    /// once that node changed or went) and deletes `deletes`.
    pub(crate) fn commit_fenced(
        &self,
        m: &Manifest,
        fence: Option<(&str, i32)>,
        deletes: &[String],
    ) -> Result<(), StreamError> {
        let data = serde_json::to_vec(m).map_err(|e| StreamError::State(e.to_string()))?;
        let latest = format!("{}/latest", job_path(&m.job));
        let epoch = m.epoch.to_string();
        // `latest` is created by the first commit; later ones set it in the same multi as
        // the manifest, so a reader never sees one without the other.
        let exists = self.call(self.client.check_stat(&latest))?.is_some();
        let mut w = self.client.new_multi_writer();
        let add = |r: Result<(), Error>| r.map_err(|e| StreamError::Zk(e.to_string()));
        if let Some((path, version)) = fence {
            add(w.add_check_version(path, version))?;
        }
        for d in deletes {
            add(w.add_delete(d, None))?;
        }
        add(w.add_create(&checkpoint_path(&m.job, m.epoch), &data, &persistent()))?;
        if exists {
            add(w.add_set_data(&latest, epoch.as_bytes(), None))?;
        } else {
            add(w.add_create(&latest, epoch.as_bytes(), &persistent()))?;
        }
        self.rt
            .block_on(async { tokio::time::timeout(CALL_TIMEOUT, w.commit()).await })
            .map_err(|_| StreamError::Disconnected(format!("commit of epoch {epoch}")))?
            .map_err(|e| match e {
                MultiWriteError::RequestFailed { source } => {
                    zk_error(format!("commit of epoch {epoch}"), source)
                }
                e => StreamError::Zk(format!("commit of epoch {epoch}: {e}")),
            })?;
        Ok(())
    }
}

impl ManifestStore for ZkManifestStore {
    fn commit(&mut self, m: &Manifest) -> Result<(), StreamError> {
        self.commit_fenced(m, None, &[])
    }

    fn forget(&mut self, job: &str, epoch: u64) -> Result<(), StreamError> {
        self.call(self.client.delete(&checkpoint_path(job, epoch), None))
    }
}
