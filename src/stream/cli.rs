//! `ferrokeeper stream ...`: the commands.

use clap::{Args, Subcommand};

use crate::stream::bench::{self, BenchArgs};
use crate::stream::control::{self, JobTarget, StopArgs};
use crate::stream::run_cmd::{self, RunArgs};
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
    /// Runs a SQL job (CREATE TABLE source and sink, INSERT INTO sink SELECT ... GROUP BY
    /// key, TUMBLE|HOP|SESSION(ts, INTERVAL ...)) embedded, to the end of its input.
    Run(RunArgs),
    /// Prints one JSON line: who runs the job, its latest checkpoint, a pending stop.
    Status(JobTarget),
    /// Prints the job's retained checkpoint manifests, one JSON line each.
    Checkpoints(JobTarget),
    /// Stops a running job: at its next checkpoint (resume with `run --resume`), or with
    /// --drain as if its input ended (every window fires).
    Stop(StopArgs),
}

pub(crate) fn run(args: StreamArgs) -> Result<(), StreamError> {
    match args.command {
        StreamCommand::Bench(b) => bench::bench(b),
        StreamCommand::Run(r) => run_cmd::run_job(r),
        StreamCommand::Status(t) => control::status(t),
        StreamCommand::Checkpoints(t) => control::checkpoints(t),
        StreamCommand::Stop(s) => control::stop(s),
    }
}
