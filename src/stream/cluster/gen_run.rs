//! `stream gen-run`: one process of a generation, started by its worker. It reads the job
//! and the generation, restores the latest committed checkpoint, joins the generation's
//! timely cluster and runs until the input ends (the first process then marks the job
//! done) or it is killed because the job moved to another generation.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::stream::checkpoint::{self, Checkpointer, Share};
use crate::stream::cluster::gen_store::GenStore;
use crate::stream::cluster::nodes::{self, done_path, generation_path, spec_path};
use crate::stream::engine::{self, ClusterSpec, Progress, RunConfig};
use crate::stream::job::Job;
use crate::stream::metrics::JobMetrics;
use crate::stream::progress::Reporter;
use crate::stream::sql_job::SqlJob;
use crate::stream::zk_store::ZkManifestStore;
use crate::stream::StreamError;

/// How often a process looks for a stop request.
const STOP_POLL: Duration = Duration::from_millis(200);

#[derive(Args, Debug)]
pub(crate) struct GenRunArgs {
    #[arg(long)]
    pub(crate) zk: String,
    #[arg(long)]
    pub(crate) job: String,
    #[arg(long)]
    pub(crate) gen: u64,
    /// The worker this process runs for, and its registration's session.
    #[arg(long)]
    pub(crate) worker: String,
    #[arg(long)]
    pub(crate) worker_session: String,
    /// Where to keep this process's counters for its worker's `/metrics`.
    #[arg(long)]
    pub(crate) metrics_file: Option<PathBuf>,
    /// A progress line on stderr (the worker's log) every this many seconds; 0: none.
    #[arg(long, default_value_t = 0)]
    pub(crate) progress_secs: u64,
}

pub(crate) fn gen_run(args: GenRunArgs) -> Result<(), StreamError> {
    // A timely network thread panics when a peer process dies; the other workers would then
    // wait forever. Any panic ends the process, so its worker reports the failure at once;
    // once this process's workers are done, a peer that ended first closing its links is no
    // failure.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !engine::workers_done() {
            default_hook(info);
            crate::stream::runner::exit_now(101);
        }
    }));
    let zk = ZkManifestStore::connect(&args.zk, &args.job)?;
    let job_name = args.job.as_str();
    zk.ensure(&nodes::acks_dir(job_name))?;
    let (spec, _) = nodes::read::<nodes::JobSpec>(&zk, &spec_path(job_name))?
        .ok_or_else(|| StreamError::State(format!("job {job_name}: no spec")))?;
    let (generation, gen_version) =
        nodes::read::<nodes::Generation>(&zk, &generation_path(job_name))?
            .ok_or_else(|| StreamError::State(format!("job {job_name}: no generation")))?;
    if generation.gen != args.gen {
        return Err(StreamError::Checkpoint(format!(
            "generation {} of {job_name} was superseded by {}",
            args.gen, generation.gen
        )));
    }
    let rank = generation
        .rank_of(&args.worker, &args.worker_session)
        .ok_or_else(|| StreamError::State(format!("{} is not in the generation", args.worker)))?;
    let ranks = generation.members.len();
    let threads = spec.threads.max(1);
    let p = ranks * threads;
    let job = SqlJob::from_sql(&spec.sql, spec.splits)?;
    let job_dir = PathBuf::from(&spec.state_dir).join("state").join(job_name);
    let latest = zk.latest(job_name)?;
    if rank == 0 {
        // Before the cluster forms, so no process stages anything of this generation yet:
        // committed output of earlier generations is published, the rest dropped.
        if latest.is_none() {
            job.check_sink_is_fresh()?;
        }
        recover_generations(&job_dir, latest.as_ref(), &job)?;
    }
    let (first_epoch, positions, restore) = match &latest {
        Some(m) if m.positions.len() != job.splits() => {
            return Err(StreamError::State(format!(
                "checkpoint {} has {} splits, the job {}",
                m.epoch,
                m.positions.len(),
                job.splits()
            )))
        }
        Some(m) => (
            m.epoch + 1,
            m.positions.clone(),
            Some(Arc::new(checkpoint::load_restore(&job_dir, m)?)),
        ),
        None => (0, vec![0; job.splits()], None),
    };
    // Worker w of p reads splits w, w + p, ...: its rank holds them.
    let split_owner = (0..job.splits()).map(|k| (k % p) / threads).collect();
    let store = GenStore {
        zk: ZkManifestStore::connect(&args.zk, job_name)?,
        job: job_name.to_string(),
        gen: generation.gen,
        gen_version,
        rank,
        ranks,
        split_owner,
        job_dir: job_dir.clone(),
        forgot: false,
    };
    let share = Share {
        local: rank * threads..(rank + 1) * threads,
        prefix: format!("g{}/", generation.gen),
    };
    let ckpt = Checkpointer::start_share(
        job_name,
        share,
        &job_dir,
        first_epoch,
        positions,
        Box::new(store),
    )?;
    tracing::info!(
        "job {job_name} generation {} rank {rank} of {ranks}: from epoch {first_epoch}",
        generation.gen
    );
    drop(zk);
    let drain = Arc::new(AtomicBool::new(false));
    watch_stop(&args, rank, ckpt.clone(), drain.clone())?;
    let progress = Arc::new(Progress::default());
    let reporter = Reporter::start(
        JobMetrics {
            job: job_name.to_string(),
            progress: progress.clone(),
            ckpt: Some(ckpt.clone()),
        },
        (args.progress_secs > 0).then(|| Duration::from_secs(args.progress_secs)),
        args.metrics_file.clone(),
    );
    let config = RunConfig {
        p: threads,
        checkpoint_ms: spec.checkpoint_ms.max(1),
        drain: Some(drain),
        progress: Some(progress),
        cluster: Some(ClusterSpec {
            process: rank,
            addresses: generation.members.iter().map(|m| m.addr.clone()).collect(),
        }),
        // Distributed jobs keep their state on the heap.
        state_backend: Default::default(),
    };
    // A process whose commits failed can do nothing more for its generation, and its
    // peers wait for its acks: it ends at once, and its worker reports the failure.
    let watched = ckpt.clone();
    std::thread::Builder::new()
        .name("stream-watchdog".into())
        .spawn(move || loop {
            if let Some(e) = watched.failure() {
                tracing::error!("checkpoints failed: {e}");
                crate::stream::runner::exit_now(1);
            }
            std::thread::sleep(Duration::from_millis(50));
        })
        .map_err(|e| StreamError::Engine(format!("watchdog: {e}")))?;
    if let Err(e) = engine::run(Arc::new(job), config, Some(ckpt.clone()), restore) {
        // Without waiting for the network threads: a peer may still hold them open.
        tracing::error!("job {job_name} generation {}: {e}", generation.gen);
        crate::stream::runner::exit_now(1);
    }
    reporter.finish();
    if ckpt.halted() {
        // Stopped (`stream stop`): this process's committed output is published.
        let zk = ZkManifestStore::connect(&args.zk, job_name)?;
        zk.ensure(&nodes::halted_dir(job_name))?;
        nodes::create(
            &zk,
            &nodes::halted_path(job_name, generation.gen, Some(rank)),
            b"",
            false,
        )?;
        tracing::info!(
            "job {job_name} generation {} rank {rank}: stopped after epoch {}",
            generation.gen,
            ckpt.committed_below().saturating_sub(1)
        );
    } else if rank == 0 {
        // A fresh session: the first one's runtime was idle through the run, its pings unsent.
        let zk = ZkManifestStore::connect(&args.zk, job_name)?;
        // Fenced: a superseded generation does not end the job.
        let mut w = zk.client().new_multi_writer();
        let opts = zookeeper_client::CreateMode::Persistent
            .with_acls(zookeeper_client::Acls::anyone_all());
        let gen_path = generation_path(job_name);
        w.add_check_version(&gen_path, gen_version)
            .and_then(|_| w.add_create(&done_path(job_name), b"", &opts))
            .map_err(|e| StreamError::Zk(e.to_string()))?;
        zk.block(w.commit())?
            .map_err(|e| StreamError::Zk(format!("done of {job_name}: {e}")))?;
    }
    // Let the other processes' last reads of this one's network finish before it goes,
    // then leave without joining the network threads.
    std::thread::sleep(Duration::from_millis(200));
    crate::stream::runner::exit_now(0)
}

/// Watches the job's stop request (`stream stop`): a drain ends every process's sources
/// where they stand; a stop at a checkpoint is decided by the first process, whose commit
/// then tells the others (see [`GenStore`]).
fn watch_stop(
    args: &GenRunArgs,
    rank: usize,
    ckpt: Arc<Checkpointer>,
    drain: Arc<AtomicBool>,
) -> Result<(), StreamError> {
    let zk = ZkManifestStore::connect(&args.zk, &args.job)?;
    let job = args.job.clone();
    std::thread::Builder::new()
        .name("stream-stop-watch".into())
        .spawn(move || loop {
            match zk.stop_request(&job) {
                Ok(Some(mode)) if mode == "drain" => drain.store(true, Ordering::Release),
                Ok(Some(_)) if rank == 0 => ckpt.request_halt(),
                Ok(_) => {}
                Err(e) => tracing::warn!("stop request of {job}: {e}"),
            }
            std::thread::sleep(STOP_POLL);
        })
        .map_err(|e| StreamError::Engine(format!("stop watch: {e}")))?;
    Ok(())
}

/// Publishes the staged output of the epochs the latest checkpoint's generation committed,
/// and drops every other generation's. Only that generation can have committed output not
/// yet published: its own first process recovered the older ones' before it could commit.
/// A process of an older generation that lingers may still stage epochs it never committed,
/// whose numbers later generations reuse: they are never published.
fn recover_generations(
    job_dir: &Path,
    latest: Option<&checkpoint::Manifest>,
    job: &SqlJob,
) -> Result<(), StreamError> {
    let committer = latest.and_then(|m| m.generation);
    for e in std::fs::read_dir(job_dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(gen) = name.strip_prefix('g').and_then(|n| n.parse::<u64>().ok()) else {
            continue;
        };
        let committed = if Some(gen) == committer {
            latest.map(|m| m.epoch)
        } else {
            None
        };
        checkpoint::recover_sink(&e.path(), committed, &|epoch, w, f| {
            job.republish(epoch, w, f)
        })?;
    }
    Ok(())
}
