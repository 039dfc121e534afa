//! A job from a SQL file: its source table's connector read as splits, each row projected
//! by the plan (WHERE, group key, one unit accumulator per aggregate), windows merging the
//! accumulators, and the sink table's connector writing one line per fired window.
//!
//! Connectors: `datagen` (the benchmark generator: columns ts, service, level, latency),
//! `file` (a file or a directory of files, CSV or JSON lines, optionally followed),
//! `socket` (lines from a TCP connection, spooled) and `kafka` (a topic's partitions) as
//! sources; `file` (a directory of part files),
//! `kafka`, `jdbc` / `postgres` (a PostgreSQL table), `clickhouse` (a table over HTTP) and
//! `print` / `stdout` as sinks.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::stream::bench_job::DatagenSplit;
use crate::stream::checkpoint::{late_path, publish_part, WorkerState};
use crate::stream::clickhouse::ClickHouseSink;
use crate::stream::job::Job;
use crate::stream::kafka::{KafkaSink, KafkaSplit, KafkaTopic};
use crate::stream::lines::LineSplit;
use crate::stream::postgres::PostgresSink;
use crate::stream::socket::{reset_spool, SocketSource, SocketSplit};
use crate::stream::sql::{self, Acc, ColumnType, Format, JobPlan, TableDef, Value};
use crate::stream::state::{StateBackend, Windows};
use crate::stream::window::{Accumulator, WindowResult};
use crate::stream::StreamError;

/// A source row as the windows see it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SqlRecord {
    key: u64,
    ts: u64,
    group: Vec<Value>,
    accs: Vec<Acc>,
}

/// A window's state per key: the group's values and one accumulator per aggregate.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SqlAcc {
    group: Vec<Value>,
    accs: Vec<Acc>,
}

impl Accumulator for SqlAcc {
    type In = SqlRecord;

    fn of(e: &SqlRecord) -> SqlAcc {
        SqlAcc {
            group: e.group.clone(),
            accs: e.accs.clone(),
        }
    }

    fn add(&mut self, e: &SqlRecord) {
        for (a, b) in self.accs.iter_mut().zip(&e.accs) {
            a.merge(b);
        }
    }

    fn merge(&mut self, other: &SqlAcc) {
        for (a, b) in self.accs.iter_mut().zip(&other.accs) {
            a.merge(b);
        }
    }
}

/// Where a split's rows come from.
#[derive(Clone, Debug)]
enum SplitSpec {
    /// `rate`: Flink's `rows-per-second` for the whole source, shared by its splits.
    Datagen {
        rows: u64,
        splits: usize,
        rate: Option<u64>,
    },
    File(PathBuf),
    /// A partition of the source topic.
    Kafka(usize),
    /// The one split of a socket source: its connection, read through the spool.
    Socket(SocketSource),
}

/// Where the output goes.
#[derive(Debug)]
enum SinkSpec {
    /// Part files in a directory, published per (epoch, worker).
    Files {
        dir: PathBuf,
        ext: &'static str,
    },
    Stdout,
    Kafka(Box<KafkaSink>),
    Postgres(Box<PostgresSink>),
    ClickHouse(Box<ClickHouseSink>),
}

/// A worker's output of an epoch: sink lines, and late records for the late output.
#[derive(Debug, Default)]
pub(crate) struct SqlOut {
    rows: Vec<u8>,
    late: Vec<u8>,
}

pub(crate) struct SqlJob {
    plan: JobPlan,
    /// The source's `'late_output'`: a directory of CSV part files receiving the records
    /// dropped as late (their event time and group key), published like a file sink.
    late_dir: Option<PathBuf>,
    splits: Vec<SplitSpec>,
    follow: bool,
    ignore_parse_errors: bool,
    sink: SinkSpec,
    /// A Kafka source's topic, and whether it ends at the offsets it found at start.
    kafka: Option<(KafkaTopic, bool)>,
    /// A socket source's spool file, set by [`SqlJob::use_spool`] before the run.
    spool: Option<PathBuf>,
    /// `SET 'state.backend' = '...';`: the job's state backend unless the command line
    /// names one.
    state_backend: Option<String>,
}

/// Takes Flink SQL's `SET 'key' = 'value';` statements out of a job file (blanked, so
/// positions in errors stay), giving them in order. Keys: `state.backend`.
fn take_set_statements(text: &str) -> Result<(String, Vec<(String, String)>), StreamError> {
    static SET: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = SET.get_or_init(|| {
        regex::Regex::new(r"(?im)^[ \t]*SET[ \t]+'([^']*)'[ \t]*=[ \t]*'([^']*)'[ \t]*;")
            .expect("a valid regex")
    });
    let mut sets = Vec::new();
    for c in re.captures_iter(text) {
        let (key, value) = (c[1].to_string(), c[2].to_string());
        match key.as_str() {
            "state.backend" => {
                crate::stream::state::BackendKind::parse(&value)?;
            }
            _ => {
                return Err(StreamError::Usage(format!(
                    "SET '{key}': unknown; this engine takes 'state.backend'"
                )))
            }
        }
        sets.push((key, value));
    }
    let blanked = re.replace_all(text, |c: &regex::Captures<'_>| " ".repeat(c[0].len()));
    Ok((blanked.into_owned(), sets))
}

impl SqlJob {
    /// Parses a job file and resolves its connectors; `parallelism` is datagen's default
    /// split count.
    pub(crate) fn from_sql(text: &str, parallelism: usize) -> Result<SqlJob, StreamError> {
        let (text, sets) = take_set_statements(text)?;
        let plan = sql::parse_job(&text).map_err(|e| StreamError::Usage(e.to_string()))?;
        let src = &plan.source;
        let flag = |t: &TableDef, k: &str| t.option(k).is_some_and(|v| v == "true");
        let (splits, kafka) = source_splits(src, parallelism)?;
        let sink = sink_spec(&plan.sink)?;
        Ok(SqlJob {
            late_dir: src.option("late_output").map(PathBuf::from),
            follow: flag(src, "follow"),
            ignore_parse_errors: flag(src, "ignore_parse_errors"),
            plan,
            splits,
            sink,
            kafka,
            spool: None,
            state_backend: sets
                .into_iter()
                .filter(|(k, _)| k == "state.backend")
                .map(|(_, v)| v)
                .next_back(),
        })
    }

    /// The state backend the job file SETs, if any.
    pub(crate) fn state_backend(&self) -> Option<&str> {
        self.state_backend.as_deref()
    }

    /// How a late record's line is typed: its event time first.
    fn late_columns(&self) -> [sql::Column; 1] {
        [sql::Column {
            name: "ts".into(),
            ty: ColumnType::Timestamp,
        }]
    }

    /// Whether the source is spooled on this machine (a socket), so the job cannot run
    /// distributed.
    pub(crate) fn spools(&self) -> bool {
        self.splits
            .iter()
            .any(|s| matches!(s, SplitSpec::Socket(_)))
    }

    /// Puts a socket source's spool in `dir` (`<table>-0.log`), emptied for a `fresh` run.
    pub(crate) fn use_spool(&mut self, dir: &Path, fresh: bool) -> Result<(), StreamError> {
        if self.spools() {
            let spool = dir.join(format!("{}-0.log", self.plan.source.name));
            if fresh {
                reset_spool(&spool)?;
            }
            self.spool = Some(spool);
        }
        Ok(())
    }

    /// A file sink's directory.
    pub(crate) fn sink_dir(&self) -> Option<&Path> {
        match &self.sink {
            SinkSpec::Files { dir, .. } => Some(dir),
            SinkSpec::Stdout
            | SinkSpec::Kafka(_)
            | SinkSpec::Postgres(_)
            | SinkSpec::ClickHouse(_) => None,
        }
    }

    /// A fresh run must not publish into parts an earlier run left: their names would
    /// collide and the new output be taken as already published.
    pub(crate) fn check_sink_is_fresh(&self) -> Result<(), StreamError> {
        if let SinkSpec::Postgres(p) = &self.sink {
            if p.published_before()? {
                return Err(StreamError::Usage(format!(
                    "{p:?}: holds rows of an earlier run (see ferrokeeper_stream_published); \
                     empty both, or --resume it"
                )));
            }
        }
        for dir in self.sink_dir().into_iter().chain(self.late_dir.as_deref()) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            if entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with("part-"))
            {
                return Err(StreamError::Usage(format!(
                    "{}: holds the parts of an earlier run; remove them, or --resume it",
                    dir.display()
                )));
            }
        }
        Ok(())
    }

    /// Publishes a staged output (also after a crash, for what was committed).
    pub(crate) fn republish(
        &self,
        epoch: u64,
        worker: usize,
        staged: &Path,
    ) -> Result<(), StreamError> {
        // The late output first: it is staged before the output, and goes with it.
        let late = late_path(staged);
        if let Some(dir) = &self.late_dir {
            match std::fs::metadata(&late) {
                Ok(m) if m.len() > 0 => publish_part(&late, dir, epoch, worker, ".csv")?,
                Ok(_) => {
                    let _ = std::fs::remove_file(&late);
                }
                Err(_) => {}
            }
        }
        match &self.sink {
            SinkSpec::Files { dir, ext } => publish_part(staged, dir, epoch, worker, ext),
            SinkSpec::Stdout => {
                let bytes = std::fs::read(staged).map_err(|e| StreamError::io(staged, e))?;
                print_bytes(&bytes)?;
                let _ = std::fs::remove_file(staged);
                Ok(())
            }
            SinkSpec::Kafka(k) => k.publish(epoch, worker, staged),
            SinkSpec::Postgres(p) => p.publish(epoch, worker, staged),
            SinkSpec::ClickHouse(c) => c.publish(staged),
        }
    }
}

/// Appends to epoch 0's part of `dir` (output without checkpoints).
fn append_part(dir: &Path, worker: usize, ext: &str, bytes: &[u8]) -> Result<(), StreamError> {
    std::fs::create_dir_all(dir).map_err(|e| StreamError::io(dir, e))?;
    let path = dir.join(format!("part-{:020}-w{worker}{ext}", 0));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| StreamError::io(&path, e))?;
    f.write_all(bytes).map_err(|e| StreamError::io(&path, e))
}

fn print_bytes(bytes: &[u8]) -> Result<(), StreamError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|e| StreamError::Sink(format!("stdout: {e}")))
}

impl Job for SqlJob {
    type Rec = SqlRecord;
    type Op = Windows<SqlAcc>;
    type Reader = SqlReader;
    type Out = SqlOut;

    fn splits(&self) -> usize {
        self.splits.len()
    }

    fn open(&self, split: usize, position: u64) -> Result<SqlReader, StreamError> {
        let spec = self
            .splits
            .get(split)
            .ok_or_else(|| StreamError::State(format!("no split {split}")))?;
        let inner = match spec {
            SplitSpec::Datagen { rows, splits, rate } => Inner::Datagen(
                DatagenSplit::new(*rows, *splits, split, position),
                rate.map(|r| Throttle {
                    per_s: r as f64 / *splits as f64,
                    since: std::time::Instant::now(),
                    given: 0,
                }),
            ),
            SplitSpec::File(path) => Inner::Lines(LineSplit::open(path, position, self.follow)?),
            SplitSpec::Kafka(partition) => {
                let (topic, bounded) = self
                    .kafka
                    .as_ref()
                    .ok_or_else(|| StreamError::State("a kafka split without a topic".into()))?;
                Inner::Kafka(KafkaSplit::open(topic, *partition, position, *bounded)?)
            }
            SplitSpec::Socket(src) => {
                let spool = self.spool.as_ref().ok_or_else(|| {
                    StreamError::State("a socket split without a spool directory".into())
                })?;
                Inner::Socket(SocketSplit::open(src, spool, position)?)
            }
        };
        Ok(SqlReader {
            inner,
            plan: self.plan.clone(),
            ignore_parse_errors: self.ignore_parse_errors,
        })
    }

    fn key(r: &SqlRecord) -> u64 {
        r.key
    }

    fn ts(r: &SqlRecord) -> u64 {
        r.ts
    }

    fn open_op(
        &self,
        backend: &StateBackend,
        restore: &[WorkerState],
        index: usize,
        peers: usize,
    ) -> Result<Windows<SqlAcc>, StreamError> {
        let lateness = self.plan.source.allowed_lateness_ms;
        Windows::open(backend, self.plan.window, lateness, restore, index, peers)
    }

    fn watermark_delay(&self) -> u64 {
        self.plan.source.watermark_delay_ms
    }

    fn idle_timeout(&self) -> Option<std::time::Duration> {
        self.plan
            .source
            .idle_timeout_ms
            .map(std::time::Duration::from_millis)
    }

    fn late_output(&self) -> bool {
        self.late_dir.is_some()
    }

    fn collect(&self, out: &mut SqlOut, r: &WindowResult<SqlAcc>) {
        if r.is_late_record() {
            // Its event time, then its group key's values.
            let mut row = vec![Value::Int(r.start as i64)];
            row.extend(r.stats.group.iter().cloned());
            out.late
                .extend_from_slice(sql::encode(Format::Csv, &row, &self.late_columns()).as_bytes());
            out.late.push(b'\n');
            return;
        }
        let row = self
            .plan
            .output_row(&r.stats.group, r.start, r.end, &r.stats.accs);
        out.rows.extend_from_slice(
            sql::encode(self.plan.sink.format, &row, &self.plan.sink.columns).as_bytes(),
        );
        out.rows.push(b'\n');
    }

    fn encode(&self, out: &SqlOut) -> Result<Vec<u8>, StreamError> {
        Ok(out.rows.clone())
    }

    fn encode_late(&self, out: &SqlOut) -> Option<Vec<u8>> {
        self.late_dir.as_ref().map(|_| out.late.clone())
    }

    fn deliver(&self, worker: usize, out: SqlOut) -> Result<(), StreamError> {
        if let Some(dir) = self.late_dir.as_ref().filter(|_| !out.late.is_empty()) {
            append_part(dir, worker, ".csv", &out.late)?;
        }
        let out = out.rows;
        if out.is_empty() {
            return Ok(());
        }
        match &self.sink {
            // Without checkpoints output is appended as it comes: epoch 0's part.
            SinkSpec::Files { dir, ext } => append_part(dir, worker, ext, &out),
            SinkSpec::Stdout => print_bytes(&out),
            SinkSpec::Kafka(k) => k.deliver(worker, &out),
            SinkSpec::Postgres(p) => p.deliver(&out),
            SinkSpec::ClickHouse(c) => c.deliver(&out),
        }
    }

    fn publish(&self, epoch: u64, worker: usize, staged: &Path) -> Result<(), StreamError> {
        self.republish(epoch, worker, staged)
    }
}

mod connectors;
mod reader;
use connectors::{sink_spec, source_splits};
pub(crate) use reader::SqlReader;
use reader::{Inner, Throttle};

#[cfg(test)]
#[path = "sql_job_tests.rs"]
mod tests;
