//! A running job's control plane in the ensemble, and the commands that use it:
//! `stream status`, `stream checkpoints` and `stream stop` (see [`crate::stream::zk_store`]
//! for the nodes).
//!
//! `stop` asks for one of two ends: `checkpoint` (the default) stops the job at its next
//! commit, windows unfired, so `--resume` goes on where it stopped; `drain` ends the sources
//! where they stand, as if their input had ended there, so every window fires and the last
//! epoch is committed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use clap::Args;

use crate::stream::checkpoint::Checkpointer;
use crate::stream::cluster::nodes;
use crate::stream::runner::EmbeddedServer;
use crate::stream::zk_store::ZkManifestStore;
use crate::stream::StreamError;

/// How often a running job looks for a stop request.
const POLL: Duration = Duration::from_millis(200);
/// The file, in an embedded job's state dir, naming its metadata server while it runs.
pub(crate) const ADDR_FILE: &str = "zk.addr";

/// The control thread of a running job.
pub(crate) struct Control {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Control {
    /// Registers the job as running and starts watching for stop requests.
    pub(crate) fn start(
        connect: &str,
        job: &str,
        who: serde_json::Value,
        checkpointer: Arc<Checkpointer>,
        drain: Arc<AtomicBool>,
    ) -> Result<Control, StreamError> {
        let store = ZkManifestStore::connect(connect, job)?;
        store.clear_stop(job)?;
        store.register(job, who.to_string().as_bytes())?;
        let done = Arc::new(AtomicBool::new(false));
        let (flag, job) = (done.clone(), job.to_string());
        let thread = std::thread::Builder::new()
            .name("stream-control".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    match store.stop_request(&job) {
                        Ok(Some(mode)) if mode == "drain" => drain.store(true, Ordering::Release),
                        Ok(Some(_)) => checkpointer.request_halt(),
                        Ok(None) => {}
                        Err(e) => tracing::warn!("stream control of {job}: {e}"),
                    }
                    std::thread::sleep(POLL);
                }
                // The request is answered: the job ended. Its registration goes now, not
                // when the session expires.
                let _ = store.clear_stop(&job);
                let _ = store.unregister(&job);
            })
            .map_err(|e| StreamError::Zk(format!("control thread: {e}")))?;
        Ok(Control {
            done,
            thread: Some(thread),
        })
    }

    pub(crate) fn finish(mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Which job, and where its metadata is.
#[derive(Args, Debug)]
pub(crate) struct JobTarget {
    /// The job's name.
    job: String,
    /// The ensemble holding the job's metadata (host:port,...).
    #[arg(long)]
    zk: Option<String>,
    /// An embedded job's state directory: its server while it runs, else its data.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

/// `stream stop` options.
#[derive(Args, Debug)]
pub(crate) struct StopArgs {
    #[command(flatten)]
    target: JobTarget,
    /// End the sources where they stand and fire every window, instead of stopping at the
    /// next checkpoint.
    #[arg(long)]
    drain: bool,
    /// How long to wait for the job to end.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
}

/// A connection to the job's metadata, with the embedded server it may need.
struct Connected {
    store: ZkManifestStore,
    _server: Option<EmbeddedServer>,
}

impl Connected {
    /// Ends the command. With an embedded server the process exits at once, as an embedded
    /// job does (see [`crate::stream::runner::Prepared::finish`]).
    fn finish(self) {
        if self._server.is_some() {
            crate::stream::runner::exit_now(0);
        }
    }
}

fn connect(t: &JobTarget) -> Result<Connected, StreamError> {
    if let Some(zk) = &t.zk {
        let store = ZkManifestStore::connect(zk, &t.job)?;
        return Ok(Connected {
            store,
            _server: None,
        });
    }
    let Some(dir) = &t.state_dir else {
        return Err(StreamError::Usage("--zk or --state-dir".into()));
    };
    // A running embedded job's server, else its data read by a server of our own.
    if let Ok(addr) = std::fs::read_to_string(dir.join(ADDR_FILE)) {
        if let Ok(store) =
            ZkManifestStore::connect_within(addr.trim(), &t.job, Duration::from_secs(3))
        {
            return Ok(Connected {
                store,
                _server: None,
            });
        }
    }
    let server = EmbeddedServer::start(&dir.join("zk"))?;
    let store = ZkManifestStore::connect(&server.addr, &t.job)?;
    Ok(Connected {
        store,
        _server: Some(server),
    })
}

fn running(c: &Connected, job: &str) -> Result<serde_json::Value, StreamError> {
    Ok(c.store
        .running(job)?
        .and_then(|d| serde_json::from_slice(&d).ok())
        .unwrap_or(serde_json::Value::Null))
}

/// `stream status JOB`: one JSON line: who runs it, its latest checkpoint, a pending stop.
pub(crate) fn status(t: JobTarget) -> Result<(), StreamError> {
    let c = connect(&t)?;
    let latest = c.store.latest(&t.job)?;
    let generation = nodes::read::<nodes::Generation>(&c.store, &nodes::generation_path(&t.job))?;
    let line = serde_json::json!({
        "job": t.job,
        "running": running(&c, &t.job)?,
        "latest_checkpoint": latest.as_ref().map(|m| m.epoch),
        "positions": latest.as_ref().map(|m| m.positions.clone()),
        "stop_requested": c.store.stop_request(&t.job)?,
        // A distributed job's: who runs it, whether it ran to its end or stopped.
        "generation": generation.as_ref().map(|(g, _)| g),
        "done": nodes::exists(&c.store, &nodes::done_path(&t.job))?,
        "stopped_at": match &generation {
            Some((g, _)) => nodes::halted_epoch(&c.store, &t.job, g.gen)?,
            None => None,
        },
    });
    println!("{line}");
    c.finish();
    Ok(())
}

/// `stream checkpoints JOB`: the retained manifests, one JSON line each, oldest first.
pub(crate) fn checkpoints(t: JobTarget) -> Result<(), StreamError> {
    let c = connect(&t)?;
    for m in c.store.checkpoints(&t.job)? {
        let line = serde_json::to_string(&m).map_err(|e| StreamError::State(e.to_string()))?;
        println!("{line}");
    }
    c.finish();
    Ok(())
}

/// `stream stop JOB`: asks the running job to stop and waits until it has.
pub(crate) fn stop(args: StopArgs) -> Result<(), StreamError> {
    let t = &args.target;
    let c = connect(t)?;
    if t.zk.is_some() && nodes::exists(&c.store, &nodes::spec_path(&t.job))? {
        return stop_distributed(&c.store, &args);
    }
    if c.store.running(&t.job)?.is_none() {
        let e = StreamError::Usage(format!("job {} is not running", t.job));
        if c._server.is_some() {
            eprintln!("ferrokeeper stream: {e}");
            crate::stream::runner::exit_now(2);
        }
        return Err(e);
    }
    let mode = if args.drain { "drain" } else { "checkpoint" };
    c.store.request_stop(&t.job, mode)?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    // The job answers by ending: it removes its registration, or its embedded server goes
    // with it.
    while let Ok(Some(_)) = c.store.running(&t.job) {
        if Instant::now() > deadline {
            return Err(StreamError::Zk(format!(
                "job {} still runs after {} s",
                t.job, args.timeout_secs
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(c);
    let after = connect(t).ok();
    let latest = after
        .as_ref()
        .and_then(|c| c.store.latest(&t.job).ok())
        .flatten()
        .map(|m| m.epoch);
    println!(
        "{}",
        serde_json::json!({"job": t.job, "stopped": mode, "latest_checkpoint": latest})
    );
    if let Some(c) = after {
        c.finish();
    }
    Ok(())
}

/// `stream stop` of a distributed job: the coordinators and the job's processes act on
/// the request (see [`crate::stream::cluster`]); this waits until every process of the
/// generation has stopped and published, or, for a drain, until the job is done.
fn stop_distributed(zk: &ZkManifestStore, args: &StopArgs) -> Result<(), StreamError> {
    let job = args.target.job.as_str();
    if nodes::exists(zk, &nodes::done_path(job))? {
        return Err(StreamError::Usage(format!("job {job} is done")));
    }
    let mode = if args.drain { "drain" } else { "checkpoint" };
    zk.request_stop(job, mode)?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let stopped_at = loop {
        if args.drain {
            if nodes::exists(zk, &nodes::done_path(job))? {
                zk.clear_stop(job)?;
                break None;
            }
        } else if let Some((g, _)) =
            nodes::read::<nodes::Generation>(zk, &nodes::generation_path(job))?
        {
            if let Some(epoch) = nodes::halted_epoch(zk, job, g.gen)? {
                let mut ended = 0;
                for r in 0..g.members.len() {
                    ended +=
                        usize::from(nodes::exists(zk, &nodes::halted_path(job, g.gen, Some(r)))?);
                }
                if ended == g.members.len() {
                    break Some(epoch);
                }
            }
        }
        if Instant::now() > deadline {
            return Err(StreamError::Zk(format!(
                "job {job} still runs after {} s",
                args.timeout_secs
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let latest = zk.latest(job)?.map(|m| m.epoch);
    println!(
        "{}",
        serde_json::json!({"job": job, "stopped": mode, "stopped_at": stopped_at, "latest_checkpoint": latest})
    );
    Ok(())
}

/// `stream resume JOB --zk`: a distributed job stopped at a checkpoint goes on, in a new
/// generation, from there.
pub(crate) fn resume(t: JobTarget) -> Result<(), StreamError> {
    let Some(connect_string) = &t.zk else {
        return Err(StreamError::Usage(
            "--zk: an embedded job resumes with `stream run --resume`".into(),
        ));
    };
    let zk = ZkManifestStore::connect(connect_string, &t.job)?;
    let job = t.job.as_str();
    let stopped = match nodes::read::<nodes::Generation>(&zk, &nodes::generation_path(job))? {
        Some((g, _)) => nodes::halted_epoch(&zk, job, g.gen)?,
        None => None,
    };
    let Some(epoch) = stopped.filter(|_| matches!(zk.stop_request(job), Ok(Some(_)))) else {
        return Err(StreamError::Usage(format!("job {job} is not stopped")));
    };
    zk.clear_stop(job)?;
    println!(
        "{}",
        serde_json::json!({"job": job, "resumed": true, "from_checkpoint": epoch})
    );
    Ok(())
}

/// Writes where an embedded job's metadata server listens (removed when the job ends).
pub(crate) fn write_addr(state_dir: &Path, addr: &str) -> Result<(), StreamError> {
    let path = state_dir.join(ADDR_FILE);
    std::fs::create_dir_all(state_dir).map_err(|e| StreamError::io(state_dir, e))?;
    std::fs::write(&path, addr).map_err(|e| StreamError::io(&path, e))
}
