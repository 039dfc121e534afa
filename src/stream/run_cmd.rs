//! `ferrokeeper stream run JOB.sql`: a SQL job, embedded, exactly-once with checkpoints.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use crate::stream::engine::{self, RunConfig};
use crate::stream::job::Job;
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
    #[command(flatten)]
    checkpoints: CheckpointArgs,
}

pub(crate) fn run_job(args: RunArgs) -> Result<(), StreamError> {
    let started = Instant::now();
    if args.p == 0 || args.p > 64 {
        return Err(StreamError::Usage("--p: 1 to 64".into()));
    }
    let text = std::fs::read_to_string(&args.file).map_err(|e| StreamError::io(&args.file, e))?;
    let job = SqlJob::from_sql(&text, args.p)
        .map_err(|e| StreamError::Usage(format!("{}: {e}", args.file.display())))?;
    let ck = &args.checkpoints;
    if !ck.resume {
        job.check_sink_is_fresh()?;
    }
    let name = match &ck.job {
        Some(j) => j.clone(),
        None => args
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "job".into()),
    };
    let prepared = if ck.checkpoint_ms > 0 {
        Prepared::start(ck, &name, args.p, job.splits(), &|_, e, w, f| {
            job.republish(e, w, f)
        })?
    } else {
        Prepared::none()
    };
    let config = RunConfig {
        p: args.p,
        checkpoint_ms: ck.checkpoint_ms,
        drain: Some(prepared.drain.clone()),
    };
    let resumed_from = prepared.restore.as_ref().map(|r| r.epoch);
    let outcome = engine::run(
        Arc::new(job),
        config,
        prepared.checkpointer.clone(),
        prepared.restore.clone(),
    )?;
    // The sink may be stdout: the summary goes to stderr.
    let line = serde_json::json!({
        "job": name,
        "p": args.p,
        "checkpoint_ms": ck.checkpoint_ms,
        "checkpoints": prepared.committed(),
        "resumed_from": resumed_from,
        "stopped_at": prepared.halted_at(),
        "late": outcome.late,
        "elapsed_ms": (started.elapsed().as_secs_f64() * 1000.0).round(),
    });
    eprintln!("{line}");
    prepared.finish();
    Ok(())
}
