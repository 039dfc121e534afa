//! `ferrokeeper stream run JOB.sql`: a SQL job, embedded, exactly-once with checkpoints.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::stream::engine::{self, Progress, RunConfig};
use crate::stream::job::Job;
use crate::stream::metrics::JobMetrics;
use crate::stream::progress::Reporter;
use crate::stream::runner::{CheckpointArgs, Prepared};
use crate::stream::sql_job::SqlJob;
use crate::stream::StreamError;

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// The job: CREATE TABLE statements (source and sink) and one INSERT INTO ... SELECT.
    file: PathBuf,
    /// Parallelism: worker threads (and datagen's default split count).
    #[arg(long, default_value_t = 1)]
    p: usize,
    /// A progress line on stderr every this many seconds; 0: none.
    #[arg(long, default_value_t = 10)]
    progress_secs: u64,
    /// Serves the job's metrics at http://0.0.0.0:PORT/metrics (Prometheus text format).
    #[arg(long)]
    metrics_port: Option<u16>,
    #[command(flatten)]
    checkpoints: CheckpointArgs,
}

pub(crate) fn run_job(args: RunArgs) -> Result<(), StreamError> {
    let started = Instant::now();
    if args.p == 0 || args.p > 64 {
        return Err(StreamError::Usage("--p: 1 to 64".into()));
    }
    let text = std::fs::read_to_string(&args.file).map_err(|e| StreamError::io(&args.file, e))?;
    let mut job = SqlJob::from_sql(&text, args.p)
        .map_err(|e| StreamError::Usage(format!("{}: {e}", args.file.display())))?;
    let ck = &args.checkpoints;
    if !ck.resume {
        job.check_sink_is_fresh()?;
    }
    let name = job_name(ck.job.as_deref(), &args.file)?;
    // A socket source's spool: in the state dir, so `--resume` finds it; without one, in
    // this process's scratch dir (removed at the end: such a run cannot be resumed).
    let scratch = ck
        .state_dir
        .is_none()
        .then(|| std::env::temp_dir().join(format!("ferrokeeper-stream-{}", std::process::id())));
    if let Some(dir) = ck.state_dir.as_ref().or(scratch.as_ref()) {
        job.use_spool(&dir.join("spool").join(&name), !ck.resume)?;
    }
    let metrics_listener = args
        .metrics_port
        .map(crate::stream::metrics::bind)
        .transpose()?;
    let prepared = if ck.checkpoint_ms > 0 {
        Prepared::start(ck, &name, args.p, job.splits(), &|_, e, w, f| {
            job.republish(e, w, f)
        })?
    } else {
        Prepared::none()
    };
    let progress = Arc::new(Progress::default());
    let config = RunConfig {
        p: args.p,
        checkpoint_ms: ck.checkpoint_ms,
        drain: Some(prepared.drain.clone()),
        progress: Some(progress.clone()),
        cluster: None,
        state_backend: ck.state_backend(job.state_backend(), prepared.job_dir.as_deref())?,
    };
    let metrics = JobMetrics {
        job: name.clone(),
        progress: progress.clone(),
        ckpt: prepared.checkpointer.clone(),
    };
    let backend_name = config.state_backend.kind().name();
    if let Some(listener) = metrics_listener {
        crate::stream::metrics::serve(listener, metrics.clone())?;
    }
    let reporter = (args.progress_secs > 0).then(|| {
        Reporter::start(
            metrics.clone(),
            Some(Duration::from_secs(args.progress_secs)),
            None,
        )
    });
    let resumed_from = prepared.restore.as_ref().map(|r| r.epoch);
    let outcome = engine::run(
        Arc::new(job),
        config,
        prepared.checkpointer.clone(),
        prepared.restore.clone(),
    )?;
    if let Some(r) = reporter {
        r.finish();
    }
    // The sink may be stdout: the summary goes to stderr.
    let line = serde_json::json!({
        "job": name,
        "p": args.p,
        "checkpoint_ms": ck.checkpoint_ms,
        "state_backend": backend_name,
        "checkpoints": prepared.committed(),
        "resumed_from": resumed_from,
        "stopped_at": prepared.halted_at(),
        "late": outcome.late,
        "records": progress.records.load(Ordering::Relaxed),
        "results": progress.results.load(Ordering::Relaxed),
        "elapsed_ms": (started.elapsed().as_secs_f64() * 1000.0).round(),
    });
    eprintln!("{line}");
    prepared.finish();
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok(())
}

/// A job's name: `--job`, else the job file's name without its extension. It names the
/// job's node in the ensemble, so it has no '/'.
pub(crate) fn job_name(given: Option<&str>, file: &std::path::Path) -> Result<String, StreamError> {
    let name = match given {
        Some(j) => j.to_string(),
        None => file
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "job".into()),
    };
    if name.is_empty() || name.contains('/') {
        return Err(StreamError::Usage(format!(
            "--job {name}: a name without '/'"
        )));
    }
    Ok(name)
}
