//! `ferrokeeper stream bench`: the benchmark job, embedded, with one JSON line of results,
//! so anyone can put it beside the same job on Flink (compat-tests/stream, bench/stream.sh).

use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use crate::stream::bench_job::BenchJob;
use crate::stream::checkpoint;
use crate::stream::engine::{self, RunConfig};
use crate::stream::runner::{CheckpointArgs, Prepared};
use crate::stream::window::WindowSpec;
use crate::stream::StreamError;

#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// tumbling (10 s), sliding (60 s every 10 s) or session (gap 5 s).
    #[arg(long, default_value = "tumbling")]
    window: String,
    /// Events to generate.
    #[arg(long, default_value_t = 1_000_000)]
    n: u64,
    /// Parallelism: worker threads and source splits.
    #[arg(long, default_value_t = 1)]
    p: usize,
    /// Keys events by one of this many keys (a hash of the event's index) instead of its
    /// service: a job with large keyed state, e.g. for `--state-backend rocksdb`.
    #[arg(long)]
    keys: Option<u64>,
    /// The window's size in ms instead of the benchmark's (tumbling: its size; sliding:
    /// its size, sliding by a sixth of it; session: its gap).
    #[arg(long)]
    size_ms: Option<u64>,
    #[command(flatten)]
    checkpoints: CheckpointArgs,
}

pub(crate) fn bench(args: BenchArgs) -> Result<(), StreamError> {
    let started = Instant::now();
    let window = WindowSpec::bench(&args.window).ok_or_else(|| {
        StreamError::Usage(format!(
            "--window {}: tumbling, sliding or session",
            args.window
        ))
    })?;
    let window = match (window, args.size_ms) {
        (w, None) => w,
        (_, Some(0)) => return Err(StreamError::Usage("--size-ms: at least 1".into())),
        (WindowSpec::Tumbling { .. }, Some(s)) => WindowSpec::Tumbling { size: s },
        (WindowSpec::Sliding { .. }, Some(s)) => WindowSpec::Sliding {
            size: s,
            slide: (s / 6).max(1),
        },
        (WindowSpec::Session { .. }, Some(s)) => WindowSpec::Session { gap: s },
    };
    if args.p == 0 || args.p > 64 {
        return Err(StreamError::Usage("--p: 1 to 64".into()));
    }
    let ck = &args.checkpoints;
    let name = ck.job.clone().unwrap_or_else(|| "bench".into());
    // With checkpoints: the metadata ensemble (embedded unless --zk) and the state dir;
    // the sink's parts go to `<job dir>/sink`.
    let state_backend = ck.state_backend(None, None)?;
    let prepared = if ck.checkpoint_ms > 0 {
        Prepared::start(ck, &name, args.p, args.p, &|dir, e, w, f| {
            checkpoint::publish_part(f, &dir.join("sink"), e, w, "")
        })?
    } else {
        Prepared::none()
    };
    let config = RunConfig {
        p: args.p,
        checkpoint_ms: ck.checkpoint_ms,
        drain: Some(prepared.drain.clone()),
        progress: None,
        cluster: None,
        state_backend: ck.state_backend(None, prepared.job_dir.as_deref())?,
    };
    let mut job = BenchJob::new(window, args.n, args.p);
    job.sink_dir = prepared.job_dir.as_ref().map(|d| d.join("sink"));
    job.keys = args.keys;
    let job = Arc::new(job);
    let restore_epoch = prepared.restore.as_ref().map(|r| r.epoch);
    let run_started = Instant::now();
    let outcome = engine::run(
        job.clone(),
        config,
        prepared.checkpointer.clone(),
        prepared.restore.clone(),
    )?;
    let secs = run_started.elapsed().as_secs_f64();
    // With checkpoints the sink's contents are its published parts, earlier attempts' too.
    let checksum = match &job.sink_dir {
        Some(d) => checkpoint::published(d)?,
        None => job.delivered(),
    };
    let line = serde_json::json!({
        "engine": "ferrokeeper",
        "window": args.window,
        "n": args.n,
        "p": args.p,
        "keys": args.keys,
        "size_ms": args.size_ms,
        "checkpoint_ms": ck.checkpoint_ms,
        "state_backend": state_backend.kind().name(),
        "results": checksum.results,
        "checksum": checksum.hex(),
        "resumed_from": restore_epoch,
        "late": outcome.late,
        "events_per_s": (args.n as f64 / secs.max(1e-9)).round(),
        "elapsed_ms": (secs * 1000.0).round(),
        "total_ms": (started.elapsed().as_secs_f64() * 1000.0).round(),
        "checkpoints": prepared.committed(),
    });
    println!("{line}");
    prepared.finish();
    Ok(())
}
