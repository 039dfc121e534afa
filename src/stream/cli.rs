//! `ferrokeeper stream ...`: the commands.

use clap::{Args, Subcommand};

use crate::stream::bench::{self, BenchArgs};
use crate::stream::cluster::admin::{self, RescaleArgs, SubmitArgs};
use crate::stream::cluster::coordinator::{self, CoordinatorArgs};
use crate::stream::cluster::gen_run::{self, GenRunArgs};
use crate::stream::cluster::worker::{self, WorkerArgs};
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
    /// Distributed jobs: a job stopped at a checkpoint goes on from there.
    Resume(JobTarget),
    /// Distributed jobs: runs a coordinator (run two or more: one leads, the others stand
    /// by) that places each submitted job's processes on the registered workers.
    Coordinator(CoordinatorArgs),
    /// Distributed jobs: runs a worker that registers with the ensemble and runs its part
    /// of the jobs placed on it.
    Worker(WorkerArgs),
    /// Submits a SQL job to the coordinators, to run on --workers worker processes.
    Submit(SubmitArgs),
    /// Changes a submitted job's worker count; it goes on from its latest checkpoint.
    Rescale(RescaleArgs),
    /// One process of a distributed job's generation (started by `stream worker`).
    #[command(hide = true)]
    GenRun(GenRunArgs),
}

pub(crate) fn run(args: StreamArgs) -> Result<(), StreamError> {
    if matches!(
        args.command,
        StreamCommand::Coordinator(_) | StreamCommand::Worker(_) | StreamCommand::GenRun(_)
    ) {
        crate::stream::cluster::init_logs();
    }
    match args.command {
        StreamCommand::Bench(b) => bench::bench(b),
        StreamCommand::Run(r) => run_cmd::run_job(r),
        StreamCommand::Status(t) => control::status(t),
        StreamCommand::Checkpoints(t) => control::checkpoints(t),
        StreamCommand::Stop(s) => control::stop(s),
        StreamCommand::Resume(t) => control::resume(t),
        StreamCommand::Coordinator(a) => coordinator::coordinator(a),
        StreamCommand::Worker(a) => worker::worker(a),
        StreamCommand::Submit(a) => admin::submit(a),
        StreamCommand::Rescale(a) => admin::rescale(a),
        StreamCommand::GenRun(a) => gen_run::gen_run(a),
    }
}
