//! The `ferrokeeper` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use ferrokeeper::config::{parse_system_property_args, Config};
use ferrokeeper::server::{Server, ServerError};

/// mimalloc: the server allocates and frees many small objects (requests, replies, znode
/// data) across threads; it is faster than glibc's malloc at that and returns memory to the
/// OS instead of holding freed arenas, which keeps RSS close to what is live.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "cli/snapshot.rs"]
mod snapshot_cli;

#[path = "cli/shell/mod.rs"]
mod shell_cli;

#[derive(Parser)]
#[command(
    name = "ferrokeeper",
    version,
    about = "A wire-compatible Apache ZooKeeper server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a server: standalone on 127.0.0.1:2181 with data in ./data, or as zoo.cfg says.
    Server {
        /// A ZooKeeper configuration file (zoo.cfg).
        config: Option<PathBuf>,
        /// ZooKeeper system properties, as `-Dkey=value`.
        #[arg(short = 'D', value_name = "KEY=VALUE")]
        define: Vec<String>,
        /// Log filter (also RUST_LOG), e.g. `info` or `ferrokeeper=debug`.
        #[arg(long, default_value = "info")]
        log_level: String,
    },
    /// Imports, exports and dumps ZooKeeper-format snapshots and data directories.
    Snapshot {
        #[command(subcommand)]
        command: snapshot_cli::SnapshotCommand,
    },
    /// Drives a ZooKeeper-compatible server with load and reports throughput and latencies.
    Bench(ferrokeeper::bench::BenchArgs),
    /// A zkCli-style shell: `cli -server HOST:PORT[/chroot] [command args...]`.
    Cli(shell_cli::ShellArgs),
    /// The bundled stream processor; its jobs keep their metadata in the ensemble.
    Stream(ferrokeeper::stream::StreamArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Snapshot { command } => snapshot_cli::run(command),
        Command::Bench(args) => run_bench(args),
        Command::Cli(args) => shell_cli::run(args),
        Command::Stream(args) => ExitCode::from(ferrokeeper::stream::run(args) as u8),
        Command::Server {
            config,
            define,
            log_level,
        } => {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_level));
            tracing_subscriber::fmt().with_env_filter(filter).init();
            let args: Vec<String> = define.iter().map(|d| format!("-D{d}")).collect();
            let cfg = parse_system_property_args(&args)
                .and_then(|overrides| Config::load(config.as_deref(), &overrides));
            let cfg = match cfg {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("ferrokeeper: {e}");
                    return ExitCode::from(2);
                }
            };
            // Before any thread starts: it may set KRB5_CONFIG.
            if let Err(e) = ferrokeeper::server::init_kerberos(cfg.sasl.as_ref()) {
                eprintln!("ferrokeeper: {e}");
                return ExitCode::from(2);
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .on_thread_park(ferrokeeper::server::release_freed_memory_when_idle)
                .build();
            let rt = match rt {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("ferrokeeper: cannot start the runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            let result = rt.block_on(async {
                let server = Server::bind(cfg).await?;
                tokio::select! {
                    // On a worker thread: accepting from block_on's own thread woke one
                    // more thread per connection.
                    r = tokio::spawn(server.run()) => r.unwrap_or_else(|e| Err(e.into())),
                    // Every acknowledged write is already durable, so a stop needs no
                    // flushing: ZooKeeper's shutdown on SIGTERM, and what a container's
                    // PID 1 must do (the kernel ignores SIGTERM for it otherwise).
                    sig = stop_signal() => {
                        tracing::info!("{sig} received, shutting down");
                        Ok(())
                    }
                }
            });
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            let code = match result {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("ferrokeeper: {e}");
                    // 2 when the txn log failed (an operator's alerting may tell it apart).
                    if matches!(e, ServerError::Log(_)) {
                        2
                    } else {
                        1
                    }
                }
            };
            exit_now(code)
        }
    }
}

/// Ends the server process without running exit handlers. RocksDB's background threads
/// (flushes, compactions, a snapshot being written) may still run when the server stops,
/// and C++ static destructors run by `exit` tear down mutexes they use: about one stop in
/// three aborted with "pthread lock: Invalid argument". Nothing needs those handlers:
/// every acknowledged write is already synced, and the next start replays the WAL.
fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit ends the process at once; no Rust or C++ state is touched after it.
    unsafe { libc::_exit(code) }
}

/// Waits for SIGTERM or SIGINT; names the one that came.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        // Without handlers the default action (exit) applies; wait forever here.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

fn run_bench(args: ferrokeeper::bench::BenchArgs) -> ExitCode {
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferrokeeper bench: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(ferrokeeper::bench::run(args)) {
        true => ExitCode::SUCCESS,
        false => ExitCode::from(1),
    }
}
