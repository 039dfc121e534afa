//! What every embedded job needs around the engine: its checkpoint options, the ensemble
//! its manifests go to (an embedded Ferrokeeper unless `--zk`), its state directory, and
//! the restore point when it resumes.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::Args;

use crate::config::Config;
use crate::server::Server;
use crate::stream::checkpoint::{self, Checkpointer};
use crate::stream::control::{self, Control};
use crate::stream::engine::Restore;
use crate::stream::zk_store::ZkManifestStore;
use crate::stream::StreamError;

/// Checkpoint options shared by `stream bench` and `stream run`.
#[derive(Args, Debug, Clone)]
pub(crate) struct CheckpointArgs {
    /// Checkpoint interval in ms; 0 turns checkpoints off.
    #[arg(long, default_value_t = 0)]
    pub(crate) checkpoint_ms: u64,
    /// The ensemble for the job's metadata (host:port,...); without it a Ferrokeeper server
    /// is embedded in this process, its data in the state directory.
    #[arg(long)]
    pub(crate) zk: Option<String>,
    /// Where state files go (default: a fresh directory under the system's temp dir).
    #[arg(long)]
    pub(crate) state_dir: Option<PathBuf>,
    /// The job's name in the ensemble.
    #[arg(long)]
    pub(crate) job: Option<String>,
    /// Continues the job from its latest committed checkpoint (after a crash) instead of
    /// starting afresh; needs the same --state-dir, parallelism and ensemble.
    #[arg(long)]
    pub(crate) resume: bool,
    /// Where window state lives: heap (in memory) or rocksdb (a RocksDB instance per
    /// worker under the state directory, for state larger than memory); a SQL job's
    /// `SET 'state.backend' = ...;` when not given. A job resumes with the backend its
    /// checkpoint was written by.
    #[arg(long)]
    pub(crate) state_backend: Option<String>,
    /// rocksdb: keys whose state is kept decoded in memory (a write cache, written back
    /// when evicted and at each checkpoint).
    #[arg(long, default_value_t = crate::stream::state::DEFAULT_CACHE_KEYS)]
    pub(crate) state_cache_keys: usize,
}

impl CheckpointArgs {
    /// The state backend for a run: `--state-backend`, else `job_default` (a SQL job's
    /// SET), else the heap. A RocksDB one's instances go under the job's state directory
    /// (`<job dir>/rocksdb`), or a scratch directory without checkpoints.
    pub(crate) fn state_backend(
        &self,
        job_default: Option<&str>,
        job_dir: Option<&Path>,
    ) -> Result<crate::stream::state::StateBackend, StreamError> {
        use crate::stream::state::BackendKind;
        let kind = match self.state_backend.as_deref().or(job_default) {
            Some(s) => BackendKind::parse(s)?,
            None => BackendKind::Heap,
        };
        let dir = match job_dir {
            Some(d) => d.join("rocksdb"),
            None => std::env::temp_dir()
                .join(format!("ferrokeeper-stream-rocksdb-{}", std::process::id())),
        };
        Ok(kind.backend(&dir, self.state_cache_keys))
    }
}

/// Publishes a staged output found after a crash: `(job dir, epoch, worker, staged file)`.
pub(crate) type Republish<'a> = &'a dyn Fn(&Path, u64, usize, &Path) -> Result<(), StreamError>;

/// A job's checkpoint set-up, ready for [`crate::stream::engine::run`].
pub(crate) struct Prepared {
    pub(crate) checkpointer: Option<Arc<Checkpointer>>,
    pub(crate) restore: Option<Arc<Restore>>,
    /// `<state dir>/state/<job>`, with checkpoints.
    pub(crate) job_dir: Option<PathBuf>,
    /// Set by `stream stop --drain`: the run's [`crate::stream::engine::RunConfig::drain`].
    pub(crate) drain: Arc<AtomicBool>,
    control: Option<Control>,
    /// The state dir, with an embedded server: where its address is written.
    addr_file_dir: Option<PathBuf>,
    scratch: Option<PathBuf>,
    embedded: Option<EmbeddedServer>,
}

impl Prepared {
    /// Without checkpoints: nothing to set up.
    pub(crate) fn none() -> Prepared {
        Prepared {
            checkpointer: None,
            restore: None,
            job_dir: None,
            drain: Arc::default(),
            control: None,
            addr_file_dir: None,
            scratch: None,
            embedded: None,
        }
    }

    /// Connects to the ensemble, clears the job (or loads its latest checkpoint with
    /// `--resume`), republishes staged outputs of committed epochs and starts the committer.
    pub(crate) fn start(
        args: &CheckpointArgs,
        job: &str,
        workers: usize,
        splits: usize,
        republish: Republish<'_>,
    ) -> Result<Prepared, StreamError> {
        let mut p = Prepared::none();
        let dir = match &args.state_dir {
            Some(d) => d.clone(),
            None => {
                let d =
                    std::env::temp_dir().join(format!("ferrokeeper-stream-{}", std::process::id()));
                p.scratch = Some(d.clone());
                d
            }
        };
        let connect = match &args.zk {
            Some(zk) => zk.clone(),
            None => {
                let e = EmbeddedServer::start(&dir.join("zk"))?;
                let addr = e.addr.clone();
                p.embedded = Some(e);
                control::write_addr(&dir, &addr)?;
                p.addr_file_dir = Some(dir.clone());
                addr
            }
        };
        let store = ZkManifestStore::connect(&connect, job)?;
        let job_dir = dir.join("state").join(job);
        let latest = if args.resume {
            store.latest(job)?
        } else {
            store.clear(job)?;
            let _ = std::fs::remove_dir_all(&job_dir);
            None
        };
        checkpoint::recover_sink(&job_dir, latest.as_ref().map(|m| m.epoch), &|e, w, f| {
            republish(&job_dir, e, w, f)
        })?;
        let (first_epoch, positions) = match &latest {
            Some(m) if m.positions.len() != splits => {
                return Err(StreamError::Usage(format!(
                    "--resume: checkpoint {} has {} splits, this job {splits}",
                    m.epoch,
                    m.positions.len(),
                )))
            }
            Some(m) => {
                p.restore = Some(Arc::new(checkpoint::load_restore(&job_dir, m)?));
                (m.epoch + 1, m.positions.clone())
            }
            None => (0, vec![0; splits]),
        };
        let c = Checkpointer::start(
            job,
            workers,
            &job_dir,
            first_epoch,
            positions,
            Box::new(store),
        )?;
        let who = serde_json::json!({
            "pid": std::process::id(),
            "started_ms": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            "workers": workers,
            "splits": splits,
            "state_dir": dir.display().to_string(),
        });
        p.control = Some(Control::start(
            &connect,
            job,
            who,
            c.clone(),
            p.drain.clone(),
        )?);
        p.checkpointer = Some(c);
        p.job_dir = Some(job_dir);
        Ok(p)
    }

    /// Checkpoints committed by this run.
    pub(crate) fn committed(&self) -> u64 {
        self.checkpointer.as_ref().map_or(0, |c| c.committed())
    }

    /// The epoch the run stopped at, when `stream stop` stopped it at a commit.
    pub(crate) fn halted_at(&self) -> Option<u64> {
        let c = self.checkpointer.as_ref().filter(|c| c.halted())?;
        c.committed_below().checked_sub(1)
    }

    /// Ends the process's part in the job: a scratch state dir is removed, and with an
    /// embedded server the process exits at once (see below).
    pub(crate) fn finish(mut self) {
        self.wind_up();
        if self.embedded.is_some() {
            exit_now(0);
        }
    }

    /// Ends the run's part in the job and goes on: a library call's end. An embedded
    /// server is shut down.
    pub(crate) fn close(mut self) {
        self.wind_up();
    }

    fn wind_up(&mut self) {
        if let Some(c) = self.control.take() {
            c.finish();
        }
        if let Some(d) = &self.addr_file_dir {
            let _ = std::fs::remove_file(d.join(control::ADDR_FILE));
        }
        if let Some(d) = &self.scratch {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Ends a process that ran an embedded server. Its RocksDB threads outlive the server's
/// runtime, and C++ static destructors at exit then abort on their mutexes ("pthread lock:
/// Invalid argument"). Everything it acknowledged is already durable, so leave without them.
pub(crate) fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit ends the process at once; no Rust state is observed after it.
    unsafe { libc::_exit(code) }
}

/// How long a dropped embedded server waits for its store to close.
#[cfg(feature = "rocksdb")]
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How long an embedded server waits for its data directory to be free.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A standalone Ferrokeeper on a free loopback port, in this process: the default home of
/// an embedded job's metadata.
pub(crate) struct EmbeddedServer {
    pub(crate) addr: String,
    rt: Option<tokio::runtime::Runtime>,
    data_dir: std::path::PathBuf,
}

impl EmbeddedServer {
    pub(crate) fn start(data_dir: &std::path::Path) -> Result<EmbeddedServer, StreamError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("stream-zk")
            .enable_all()
            .build()
            .map_err(|e| StreamError::Zk(format!("runtime: {e}")))?;
        let mut cfg = Config::default_standalone();
        cfg.client_port = 0;
        cfg.data_dir = data_dir.to_path_buf();
        cfg.admin_enable_server = false;
        // `stream status` of a job that is not running opens its data for a moment, holding
        // the store's lock: a job starting then waits for it.
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        let server = loop {
            #[cfg(feature = "rocksdb")]
            let bound = rt.block_on(Server::bind(cfg.clone()));
            // Builds without RocksDB (fuzzing) keep the log in memory.
            #[cfg(not(feature = "rocksdb"))]
            let bound = rt.block_on(Server::bind_in_memory(cfg.clone()));
            match bound {
                Ok(s) => break s,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(StreamError::Zk(format!("embedded server: {e}"))),
            }
        };
        let addr = server
            .local_addr()
            .map_err(|e| StreamError::Zk(format!("embedded server: {e}")))?
            .to_string();
        rt.spawn(server.run());
        Ok(EmbeddedServer {
            addr,
            rt: Some(rt),
            data_dir: data_dir.to_path_buf(),
        })
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
        }
        // The runtime's end drops the server's tasks; the txn log and snapshot writer
        // threads then let go of the store. A caller that returns from main must not
        // overtake them (see `exit_now`).
        #[cfg(feature = "rocksdb")]
        if !crate::storage::rocks::wait_closed(&self.data_dir, CLOSE_WAIT) {
            tracing::warn!(
                "the embedded server's store in {} is still open",
                self.data_dir.display()
            );
        }
    }
}
