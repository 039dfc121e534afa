//! Distributed jobs: a job's workers are processes on any machines, run as one timely
//! cluster per *generation*, coordinated through the ensemble.
//!
//! ```text
//! stream coordinator (2+, one leads: a Curator-compatible latch)
//!     watches workers and job specs, writes each job's generation (who runs it, where
//!     their timely listens), fenced by a check of its latch node
//! stream worker (one per machine or core set)
//!     registers (ephemeral), and runs its part of every generation that names it as a
//!     child process (`stream gen-run`), killed when the generation is superseded
//! stream submit / rescale / status
//! ```
//!
//! A generation is all-or-nothing: timely does not survive the loss of a process, so any
//! failure (a worker gone, a child that exits with an error) makes the coordinator write
//! the next generation, whose processes restore the latest committed checkpoint. Each
//! process acks an epoch with its partial manifest; the generation's first process merges
//! them and commits, fenced by the generation's version, so a superseded generation can
//! commit nothing. State and staged output live in the job's state directory, which every
//! worker must see (one machine, or shared storage).
//!
//! - [`nodes`]: the nodes and their JSON; [`plan`]: the next generation (pure);
//! - [`coordinator`], [`worker`]: the two services; [`gen_run`]: one process of a
//!   generation; [`gen_store`]: its manifests; [`admin`]: `submit`, `rescale`.

pub(crate) mod admin;
pub(crate) mod coordinator;
pub(crate) mod gen_run;
pub(crate) mod gen_store;
pub(crate) mod nodes;
pub(crate) mod plan;
pub(crate) mod worker;

/// The services log to stderr, at `info` unless RUST_LOG says otherwise.
pub(crate) fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
