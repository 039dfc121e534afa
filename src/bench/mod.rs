//! `ferrokeeper bench`: a load generator for any ZooKeeper-compatible server.
//!
//! Every workload runs closed-loop: `sessions` client sessions, each with `outstanding` requests
//! in flight (one task per outstanding request, sharing the session's client, which pipelines
//! them on one connection). Latencies go to HDR histograms; results print as a table or, with
//! `--json`, as one JSON object per workload and line.

mod cpu;
mod driver;
mod report;
mod special;
mod workloads;

use std::time::Duration;

use clap::{Args, ValueEnum};

pub use report::Outcome;

/// The znode under which every workload keeps its data.
pub const ROOT: &str = "/fkbench";

/// One kind of load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Creates persistent znodes of `--value-size` bytes.
    Create,
    /// Sets the data of one znode per session.
    Set,
    /// Reads the data of one znode per session.
    Get,
    /// Checks the existence (stat) of one znode per session.
    Exists,
    /// Deletes the znodes the create workload left (and makes more first if they are too few).
    Delete,
    /// Lists the children of a wide znode (`--children` children).
    Children,
    /// Gets and sets, `--read-pct` percent of them reads.
    Mixed,
    /// Multi transactions of `--multi-ops` setData operations each.
    Multi,
    /// Connects a session and closes it.
    Session,
    /// `--watchers` sessions watch one znode; times a setData until the last notification.
    Watch,
    /// Creates `--znodes` znodes of `--value-size` bytes and keeps them (memory, restart).
    Load,
    /// Polls until the server serves a request (restart time); times that wait.
    Ready,
}

impl Workload {
    /// The workloads `all` stands for, in the order they run.
    pub const ALL: [Workload; 10] = [
        Workload::Create,
        Workload::Set,
        Workload::Get,
        Workload::Exists,
        Workload::Delete,
        Workload::Children,
        Workload::Mixed,
        Workload::Multi,
        Workload::Session,
        Workload::Watch,
    ];

    /// The workload's name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Exists => "exists",
            Workload::Delete => "delete",
            Workload::Children => "children",
            Workload::Mixed => "mixed",
            Workload::Multi => "multi",
            Workload::Session => "session",
            Workload::Watch => "watch",
            Workload::Load => "load",
            Workload::Ready => "ready",
        }
    }
}

/// Options of `ferrokeeper bench`.
#[derive(Args, Clone, Debug)]
pub struct BenchArgs {
    /// Servers to drive, `HOST:PORT[,HOST:PORT...]`.
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub connect: String,
    /// Workloads to run, comma-separated; all but load and ready when left out.
    #[arg(short, long, value_delimiter = ',')]
    pub workload: Vec<Workload>,
    /// Client sessions (concurrency of the session workload).
    #[arg(short, long, default_value_t = 32)]
    pub sessions: usize,
    /// Requests in flight per session.
    #[arg(short, long, default_value_t = 8)]
    pub outstanding: usize,
    /// Bytes of data per znode written.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// How long each workload is measured, e.g. `10s`, `500ms`, `2m`.
    #[arg(short, long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Measure this many operations instead of a duration.
    #[arg(short = 'n', long)]
    pub ops: Option<u64>,
    /// Unmeasured run before each workload's measurement.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Percentage of reads in the mixed workload.
    #[arg(long, default_value_t = 80)]
    pub read_pct: u8,
    /// Operations per multi transaction.
    #[arg(long, default_value_t = 10)]
    pub multi_ops: usize,
    /// Children of the wide znode the children workload lists.
    #[arg(long, default_value_t = 1000)]
    pub children: usize,
    /// Sessions watching the znode in the watch workload.
    #[arg(long, default_value_t = 1000)]
    pub watchers: usize,
    /// Znodes the load workload creates.
    #[arg(long, default_value_t = 100_000)]
    pub znodes: u64,
    /// A label for the server in reports (e.g. `zookeeper`).
    #[arg(long, default_value = "")]
    pub label: String,
    /// Prints one JSON object per workload and line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Never draws a progress bar (it is off anyway when stderr is not a terminal).
    #[arg(long)]
    pub no_progress: bool,
    /// The server's process id, on this machine: its CPU time over each measured window
    /// is reported beside the bench's own (Linux, from /proc).
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// Parses `10s`, `250ms`, `2m`, `1h` or a plain number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("unknown unit in {s:?} (ms, s, m, h)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("not a duration: {s:?}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Runs the workloads `args` names and prints their results; false if any had errors.
pub async fn run(args: BenchArgs) -> bool {
    let list: Vec<Workload> = if args.workload.is_empty() {
        Workload::ALL.to_vec()
    } else {
        args.workload.clone()
    };
    cpu::set_server_pid(args.server_pid);
    let mut outcomes = Vec::new();
    for w in list {
        let outcome = match w {
            Workload::Session => special::session(&args).await,
            Workload::Watch => special::watch(&args).await,
            Workload::Ready => special::ready(&args).await,
            _ => workloads::run(w, &args).await,
        };
        if args.json {
            println!("{}", outcome.json(&args));
        } else if outcome.errors > 0 {
            eprintln!(
                "{}: {} errors, first: {}",
                w.name(),
                outcome.errors,
                outcome.first_error.as_deref().unwrap_or("?")
            );
        }
        outcomes.push(outcome);
    }
    if !args.json {
        print!("{}", report::table(&args, &outcomes));
    }
    outcomes.iter().all(|o| o.errors == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("3d").is_err());
    }
}
