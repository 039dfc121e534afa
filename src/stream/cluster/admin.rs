//! `stream submit` and `stream rescale`: a distributed job's spec in the ensemble.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::stream::cluster::nodes::{
    self, acks_dir, done_path, failures_dir, halted_dir, spec_path,
};
use crate::stream::sql_job::SqlJob;
use crate::stream::zk_store::{job_path, ZkManifestStore};
use crate::stream::StreamError;

#[derive(Args, Debug)]
pub(crate) struct SubmitArgs {
    /// The job: CREATE TABLE statements (source and sink) and one INSERT INTO ... SELECT.
    file: PathBuf,
    /// The ensemble of the coordinators and workers (host:port,...).
    #[arg(long)]
    zk: String,
    /// The job's name (default: the file's name without its extension).
    #[arg(long)]
    job: Option<String>,
    /// Worker processes.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Worker threads per process.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    #[arg(long, default_value_t = 1000)]
    checkpoint_ms: u64,
    /// Datagen splits when the job file does not say (fixed for the job's life).
    #[arg(long, default_value_t = 8)]
    splits: usize,
    /// The job's state directory: every worker must see it (one machine, or shared
    /// storage).
    #[arg(long)]
    state_dir: PathBuf,
}

#[derive(Args, Debug)]
pub(crate) struct RescaleArgs {
    /// The job's name.
    job: String,
    #[arg(long)]
    zk: String,
    /// Worker processes from now on.
    #[arg(long)]
    workers: usize,
}

fn connect(zk: &str) -> Result<ZkManifestStore, StreamError> {
    ZkManifestStore::session(zk, Duration::from_secs(30), Duration::from_secs(10))
}

/// Checks the job file and writes a fresh job: its spec, no checkpoints, no generation.
pub(crate) fn submit(args: SubmitArgs) -> Result<(), StreamError> {
    if args.workers == 0 || args.threads == 0 || args.workers * args.threads > 64 {
        return Err(StreamError::Usage("--workers x --threads: 1 to 64".into()));
    }
    let sql = std::fs::read_to_string(&args.file).map_err(|e| StreamError::io(&args.file, e))?;
    let job = SqlJob::from_sql(&sql, args.splits)
        .map_err(|e| StreamError::Usage(format!("{}: {e}", args.file.display())))?;
    if job.spools() {
        // Its spool (the replayable copy of the connection) would live on one machine.
        return Err(StreamError::Usage(format!(
            "{}: the socket connector runs with `stream run` only, not distributed",
            args.file.display()
        )));
    }
    let name = crate::stream::run_cmd::job_name(args.job.as_deref(), &args.file)?;
    let state_dir =
        std::path::absolute(&args.state_dir).map_err(|e| StreamError::io(&args.state_dir, e))?;
    let zk = connect(&args.zk)?;
    zk.ensure(&nodes::jobs_dir())?;
    let running = nodes::exists(&zk, &spec_path(&name))? && !nodes::exists(&zk, &done_path(&name))?;
    if running {
        return Err(StreamError::Usage(format!(
            "job {name} is already submitted and not done"
        )));
    }
    // A fresh job: whatever an earlier one of this name left goes.
    let job = ZkManifestStore::connect(&args.zk, &name)?;
    job.clear(&name)?;
    for dir in [acks_dir(&name), failures_dir(&name), halted_dir(&name)] {
        for c in nodes::children(&zk, &dir)? {
            zk.delete_if_there(&format!("{dir}/{c}"))?;
        }
    }
    for n in ["generation", "done", "stop", "spec"] {
        zk.delete_if_there(&format!("{}/{n}", job_path(&name)))?;
    }
    let _ = std::fs::remove_dir_all(state_dir.join("state").join(&name));
    let spec = nodes::JobSpec {
        sql,
        workers: args.workers,
        threads: args.threads,
        checkpoint_ms: args.checkpoint_ms.max(1),
        splits: args.splits.max(1),
        state_dir: state_dir.display().to_string(),
    };
    nodes::create(&zk, &spec_path(&name), &nodes::to_json(&spec)?, false)?;
    println!(
        "{}",
        serde_json::json!({"job": name, "submitted": true, "workers": args.workers})
    );
    Ok(())
}

/// Sets the job's wanted worker count: the coordinator moves it to a new generation.
pub(crate) fn rescale(args: RescaleArgs) -> Result<(), StreamError> {
    if args.workers == 0 || args.workers > 64 {
        return Err(StreamError::Usage("--workers: 1 to 64".into()));
    }
    let zk = connect(&args.zk)?;
    let path = spec_path(&args.job);
    let (mut spec, version) = nodes::read::<nodes::JobSpec>(&zk, &path)?
        .ok_or_else(|| StreamError::Usage(format!("job {} is not submitted", args.job)))?;
    spec.workers = args.workers;
    zk.block(
        zk.client()
            .set_data(&path, &nodes::to_json(&spec)?, Some(version)),
    )?
    .map_err(|e| StreamError::Zk(format!("set {path}: {e}")))?;
    println!(
        "{}",
        serde_json::json!({"job": args.job, "workers": args.workers})
    );
    Ok(())
}
