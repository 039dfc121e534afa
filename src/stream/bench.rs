//! `ferrokeeper stream bench`: the benchmark job, embedded, with one JSON line of results,
//! so anyone can put it beside the same job on Flink (compat-tests/stream, bench/stream.sh).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, Subcommand};

use crate::config::Config;
use crate::server::Server;
use crate::stream::bench_job::BenchJob;
use crate::stream::checkpoint::{self, Checkpointer};
use crate::stream::engine::{self, Restore, RunConfig};
use crate::stream::window::WindowSpec;
use crate::stream::zk_store::ZkManifestStore;
use crate::stream::StreamError;

/// `ferrokeeper stream ...`
#[derive(Args, Debug)]
pub struct StreamArgs {
    #[command(subcommand)]
    command: StreamCommand,
}

#[derive(Subcommand, Debug)]
enum StreamCommand {
    /// Runs the benchmark job (datagen -> key by service -> window -> checksum) embedded and
    /// prints one JSON line: results, checksum, events_per_s, checkpoints.
    Bench(BenchArgs),
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// tumbling (10 s), sliding (60 s every 10 s) or session (gap 5 s).
    #[arg(long, default_value = "tumbling")]
    window: String,
    /// Events to generate.
    #[arg(long, default_value_t = 1_000_000)]
    n: u64,
    /// Parallelism: worker threads and source splits.
    #[arg(long, default_value_t = 1)]
    p: usize,
    /// Checkpoint interval in ms; 0 turns checkpoints off.
    #[arg(long, default_value_t = 0)]
    checkpoint_ms: u64,
    /// The ensemble for the job's metadata (host:port,...); without it a Ferrokeeper server
    /// is embedded in this process, its data in the state directory.
    #[arg(long)]
    zk: Option<String>,
    /// Where state files go (default: a fresh directory under the system's temp dir).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// The job's name in the ensemble.
    #[arg(long, default_value = "bench")]
    job: String,
    /// Continues the job from its latest committed checkpoint (after a crash) instead of
    /// starting afresh; needs the same --state-dir, --p and ensemble.
    #[arg(long)]
    resume: bool,
}

pub(crate) fn run(args: StreamArgs) -> Result<(), StreamError> {
    match args.command {
        StreamCommand::Bench(b) => bench(b),
    }
}

fn bench(args: BenchArgs) -> Result<(), StreamError> {
    let started = Instant::now();
    let window = WindowSpec::bench(&args.window).ok_or_else(|| {
        StreamError::Usage(format!(
            "--window {}: tumbling, sliding or session",
            args.window
        ))
    })?;
    if args.p == 0 || args.p > 64 {
        return Err(StreamError::Usage("--p: 1 to 64".into()));
    }
    let mut job = BenchJob::new(window, args.n, args.p);
    let config = RunConfig {
        p: args.p,
        checkpoint_ms: args.checkpoint_ms,
    };
    // With checkpoints: the metadata ensemble (embedded unless --zk) and the state dir.
    let mut scratch = None;
    let mut embedded = None;
    let mut restore = None;
    let mut sink_dir = None;
    let checkpointer = if args.checkpoint_ms > 0 {
        let dir = match &args.state_dir {
            Some(d) => d.clone(),
            None => {
                let d =
                    std::env::temp_dir().join(format!("ferrokeeper-stream-{}", std::process::id()));
                scratch = Some(d.clone());
                d
            }
        };
        let connect = match &args.zk {
            Some(zk) => zk.clone(),
            None => {
                let e = EmbeddedServer::start(&dir.join("zk"))?;
                let addr = e.addr.clone();
                embedded = Some(e);
                addr
            }
        };
        let store = ZkManifestStore::connect(&connect, &args.job)?;
        let job_dir = dir.join("state").join(&args.job);
        let latest = if args.resume {
            store.latest(&args.job)?
        } else {
            store.clear(&args.job)?;
            let _ = std::fs::remove_dir_all(&job_dir);
            None
        };
        job.sink_dir = Some(job_dir.join("sink"));
        checkpoint::recover_sink(&job_dir, latest.as_ref().map(|m| m.epoch), &|e, w, f| {
            checkpoint::publish_part(f, &job_dir.join("sink"), e, w, "")
        })?;
        let (first_epoch, positions) = match &latest {
            Some(m) if m.positions.len() != args.p => {
                return Err(StreamError::Usage(format!(
                    "--resume: checkpoint {} has {} splits, --p is {}",
                    m.epoch,
                    m.positions.len(),
                    args.p
                )))
            }
            Some(m) => {
                restore = Some(Arc::new(checkpoint::load_restore(&job_dir, m)?));
                (m.epoch + 1, m.positions.clone())
            }
            None => (0, vec![0; args.p]),
        };
        sink_dir = Some(job_dir.clone());
        Some(Checkpointer::start(
            &args.job,
            args.p,
            &job_dir,
            first_epoch,
            positions,
            Box::new(store),
        )?)
    } else {
        None
    };
    let restore_epoch = restore.as_ref().map(|r: &Arc<Restore>| r.epoch);
    let run_started = Instant::now();
    let job = Arc::new(job);
    let outcome = engine::run(job.clone(), config, checkpointer.clone(), restore)?;
    let secs = run_started.elapsed().as_secs_f64();
    // With checkpoints the sink's contents are its published parts, earlier attempts' too.
    let checksum = match &sink_dir {
        Some(d) => checkpoint::published(d)?,
        None => job.delivered(),
    };
    let line = serde_json::json!({
        "engine": "ferrokeeper",
        "window": args.window,
        "n": args.n,
        "p": args.p,
        "checkpoint_ms": args.checkpoint_ms,
        "results": checksum.results,
        "checksum": checksum.hex(),
        "resumed_from": restore_epoch,
        "late": outcome.late,
        "events_per_s": (args.n as f64 / secs.max(1e-9)).round(),
        "elapsed_ms": (secs * 1000.0).round(),
        "total_ms": (started.elapsed().as_secs_f64() * 1000.0).round(),
        "checkpoints": checkpointer.as_ref().map_or(0, |c| c.committed()),
    });
    println!("{line}");
    if let Some(d) = scratch {
        let _ = std::fs::remove_dir_all(d);
    }
    if embedded.is_some() {
        // The embedded server's RocksDB threads outlive its runtime, and C++ static
        // destructors at exit then abort on their mutexes ("pthread lock: Invalid
        // argument"). Everything it acknowledged is already durable, so leave without them.
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // SAFETY: _exit ends the process at once; no Rust state is observed after it.
        unsafe { libc::_exit(0) };
    }
    Ok(())
}

/// A standalone Ferrokeeper on a free loopback port, in this process: the default home of
/// an embedded job's metadata.
struct EmbeddedServer {
    addr: String,
    rt: Option<tokio::runtime::Runtime>,
}

impl EmbeddedServer {
    fn start(data_dir: &std::path::Path) -> Result<EmbeddedServer, StreamError> {
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
        #[cfg(feature = "rocksdb")]
        let bound = rt.block_on(Server::bind(cfg));
        // Builds without RocksDB (fuzzing) keep the log in memory.
        #[cfg(not(feature = "rocksdb"))]
        let bound = rt.block_on(Server::bind_in_memory(cfg));
        let server = bound.map_err(|e| StreamError::Zk(format!("embedded server: {e}")))?;
        let addr = server
            .local_addr()
            .map_err(|e| StreamError::Zk(format!("embedded server: {e}")))?
            .to_string();
        rt.spawn(server.run());
        Ok(EmbeddedServer { addr, rt: Some(rt) })
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
        }
    }
}
