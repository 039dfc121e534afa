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
use crate::stream::checkpoint::{late_path, publish_part};
use crate::stream::clickhouse::ClickHouseSink;
use crate::stream::datagen::Level;
use crate::stream::job::{Job, SplitReader};
use crate::stream::kafka::{KafkaSink, KafkaSplit, KafkaTopic};
use crate::stream::lines::{list_files, LineSplit};
use crate::stream::postgres::PostgresSink;
use crate::stream::socket::{reset_spool, SocketSource, SocketSplit};
use crate::stream::sql::{self, Acc, ColumnType, Format, JobPlan, TableDef, Value};
use crate::stream::window::{Accumulator, WindowResult, WindowSpec};
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
}

/// `'topic'` and the `'properties.*'` options of a Kafka table.
fn kafka_topic(t: &TableDef) -> Result<KafkaTopic, StreamError> {
    let topic = t.option("topic").ok_or_else(|| {
        StreamError::Usage(format!(
            "table {}: the kafka connector needs 'topic'",
            t.name
        ))
    })?;
    let properties: Vec<(String, String)> = t
        .options
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("properties.")?.to_string(), v.clone())))
        .collect();
    if !properties.iter().any(|(k, _)| k == "bootstrap.servers") {
        return Err(StreamError::Usage(format!(
            "table {}: the kafka connector needs 'properties.bootstrap.servers'",
            t.name
        )));
    }
    Ok(KafkaTopic {
        topic: topic.to_string(),
        properties,
    })
}

impl SqlJob {
    /// Parses a job file and resolves its connectors; `parallelism` is datagen's default
    /// split count.
    pub(crate) fn from_sql(text: &str, parallelism: usize) -> Result<SqlJob, StreamError> {
        let plan = sql::parse_job(text).map_err(|e| StreamError::Usage(e.to_string()))?;
        let src = &plan.source;
        let flag = |t: &TableDef, k: &str| t.option(k).is_some_and(|v| v == "true");
        let mut kafka = None;
        let splits = match src.connector.as_str() {
            "kafka" => {
                let topic = kafka_topic(src)?;
                let bounded = match src.option("scan.bounded.mode") {
                    None | Some("unbounded") => false,
                    Some("latest-offset") => true,
                    Some(other) => {
                        return Err(StreamError::Usage(format!(
                            "table {}: 'scan.bounded.mode' = '{other}' (unbounded, latest-offset)",
                            src.name
                        )))
                    }
                };
                let n = topic.partitions()?;
                kafka = Some((topic, bounded));
                (0..n).map(SplitSpec::Kafka).collect()
            }
            "datagen" => {
                check_datagen_columns(src)?;
                let rows = number(src, "rows")?.unwrap_or(1_000_000);
                let splits = number(src, "splits")?.map_or(parallelism, |s| s as usize);
                let rate = number(src, "rows-per-second")?.filter(|r| *r > 0);
                (0..splits.max(1))
                    .map(|_| SplitSpec::Datagen {
                        rows,
                        splits: splits.max(1),
                        rate,
                    })
                    .collect()
            }
            "file" | "filesystem" => {
                let path = src.option("path").ok_or_else(|| {
                    StreamError::Usage(format!(
                        "table {}: the file connector needs 'path'",
                        src.name
                    ))
                })?;
                let files = list_files(Path::new(path))?;
                if files.is_empty() {
                    return Err(StreamError::Usage(format!("{path}: no files to read")));
                }
                files.into_iter().map(SplitSpec::File).collect()
            }
            // One connection, so one split; other workers get none.
            "socket" => vec![SplitSpec::Socket(SocketSource::from_table(src)?)],
            other => {
                return Err(StreamError::Usage(format!(
                "table {}: connector '{other}' is not supported as a source (datagen, file, socket, kafka)",
                src.name
            )))
            }
        };
        let snk = &plan.sink;
        if snk.format == Format::Regex {
            return Err(StreamError::Usage(format!(
                "table {}: 'format' = 'regex' reads sources only",
                snk.name
            )));
        }
        let sink = match snk.connector.as_str() {
            "file" | "filesystem" => {
                let dir = snk.option("path").ok_or_else(|| {
                    StreamError::Usage(format!(
                        "table {}: the file connector needs 'path'",
                        snk.name
                    ))
                })?;
                let ext = match snk.format {
                    Format::Csv | Format::Regex => ".csv",
                    Format::Json => ".json",
                };
                SinkSpec::Files {
                    dir: PathBuf::from(dir),
                    ext,
                }
            }
            "print" | "stdout" => SinkSpec::Stdout,
            "kafka" => SinkSpec::Kafka(Box::new(KafkaSink::open(kafka_topic(snk)?)?)),
            "jdbc" | "postgres" | "postgresql" => {
                let columns = csv_sink_columns(snk)?;
                SinkSpec::Postgres(Box::new(PostgresSink::open(
                    need(snk, "url")?,
                    snk.option("username"),
                    snk.option("password"),
                    snk.option("table-name").unwrap_or(&snk.name),
                    &columns,
                )?))
            }
            "clickhouse" => {
                let columns = csv_sink_columns(snk)?;
                SinkSpec::ClickHouse(Box::new(ClickHouseSink::open(
                    need(snk, "url")?,
                    snk.option("username"),
                    snk.option("password"),
                    snk.option("database-name").unwrap_or("default"),
                    snk.option("table-name").unwrap_or(&snk.name),
                    &columns,
                )?))
            }
            other => {
                return Err(StreamError::Usage(format!(
                    "table {}: connector '{other}' is not supported as a sink (file, kafka, jdbc, clickhouse, print)",
                    snk.name
                )))
            }
        };
        Ok(SqlJob {
            late_dir: src.option("late_output").map(PathBuf::from),
            follow: flag(src, "follow"),
            ignore_parse_errors: flag(src, "ignore_parse_errors"),
            plan,
            splits,
            sink,
            kafka,
            spool: None,
        })
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

/// A required `WITH` option of a sink or source.
fn need<'a>(t: &'a TableDef, key: &str) -> Result<&'a str, StreamError> {
    t.option(key).ok_or_else(|| {
        StreamError::Usage(format!(
            "table {}: the {} connector needs '{key}'",
            t.name, t.connector
        ))
    })
}

/// The column names of a database sink, which takes CSV lines.
fn csv_sink_columns(t: &TableDef) -> Result<Vec<String>, StreamError> {
    if t.format != Format::Csv {
        return Err(StreamError::Usage(format!(
            "table {}: the {} connector takes 'format' = 'csv'",
            t.name, t.connector
        )));
    }
    Ok(t.columns.iter().map(|c| c.name.clone()).collect())
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

fn number(t: &TableDef, key: &str) -> Result<Option<u64>, StreamError> {
    t.option(key)
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                StreamError::Usage(format!("table {}: '{key}' = '{v}' is not a count", t.name))
            })
        })
        .transpose()
}

/// datagen gives the benchmark's events: `(ts, service, level, latency)`, in that order.
fn check_datagen_columns(t: &TableDef) -> Result<(), StreamError> {
    use ColumnType::*;
    let ok = t.columns.len() == 4
        && matches!(t.columns[0].ty, Bigint | Timestamp)
        && t.columns[1].ty == Bigint
        && t.columns[2].ty == String
        && t.columns[3].ty == Bigint;
    if ok {
        Ok(())
    } else {
        Err(StreamError::Usage(format!(
            "table {}: datagen gives 4 columns (ts BIGINT|TIMESTAMP, service BIGINT, level STRING, latency BIGINT)",
            t.name
        )))
    }
}

fn print_bytes(bytes: &[u8]) -> Result<(), StreamError> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|e| StreamError::Sink(format!("stdout: {e}")))
}

/// A split of a SQL job's source, projecting each row.
pub(crate) struct SqlReader {
    inner: Inner,
    plan: JobPlan,
    ignore_parse_errors: bool,
}

enum Inner {
    Datagen(DatagenSplit, Option<Throttle>),
    Lines(LineSplit),
    Kafka(KafkaSplit),
    Socket(SocketSplit),
}

/// Holds a generated split to its share of `rows-per-second`, counted from when it opened.
struct Throttle {
    per_s: f64,
    since: std::time::Instant,
    given: u64,
}

impl Throttle {
    fn allowed(&self, max: usize) -> usize {
        let due = (self.since.elapsed().as_secs_f64() * self.per_s) as u64;
        (due.saturating_sub(self.given) as usize).min(max)
    }
}

impl SqlReader {
    fn project(&self, row: &[Value], give: &mut impl FnMut(SqlRecord)) {
        if let Some((ts, group, accs)) = self.plan.project(row) {
            give(SqlRecord {
                key: JobPlan::key_hash(&group),
                ts,
                group,
                accs,
            });
        }
    }
}

impl SplitReader for SqlReader {
    type Rec = SqlRecord;

    fn read(
        &mut self,
        max: usize,
        give: &mut impl FnMut(SqlRecord),
    ) -> Result<Option<usize>, StreamError> {
        match &mut self.inner {
            Inner::Datagen(split, throttle) => {
                let max = throttle.as_ref().map_or(max, |t| t.allowed(max));
                if max == 0 {
                    return Ok(Some(0));
                }
                let mut events = Vec::with_capacity(max);
                let got = split.read(max, &mut |e| events.push(e))?;
                if let Some(t) = throttle.as_mut() {
                    t.given += events.len() as u64;
                }
                for e in events {
                    let level = match e.level {
                        Level::Info => "INFO",
                        Level::Warn => "WARN",
                        Level::Error => "ERROR",
                    };
                    let row = [
                        Value::Int(e.ts as i64),
                        Value::Int(e.service as i64),
                        Value::Str(level.to_string()),
                        Value::Int(e.latency_ms as i64),
                    ];
                    self.project(&row, give);
                }
                Ok(got)
            }
            Inner::Lines(split) => {
                let (plan, skip) = (&self.plan, self.ignore_parse_errors);
                let mut rows = Vec::new();
                let got = split.read(max, &mut |line, path| {
                    match sql::decode_line(&plan.source, line) {
                        Ok(row) => rows.push(row),
                        Err(_) if skip => {}
                        Err(e) => {
                            return Err(StreamError::Source(format!("{}: {e}", path.display())))
                        }
                    }
                    Ok(())
                })?;
                for row in rows {
                    self.project(&row, give);
                }
                Ok(got)
            }
            Inner::Socket(split) => {
                let (plan, skip) = (&self.plan, self.ignore_parse_errors);
                let mut rows = Vec::new();
                let got = split.read(max, &mut |line, at| {
                    // Network input: a line that is not UTF-8 is a parse error like any other.
                    let row = std::str::from_utf8(line)
                        .map_err(|_| "not UTF-8".to_string())
                        .and_then(|l| sql::decode_line(&plan.source, l).map_err(|e| e.to_string()));
                    match row {
                        Ok(row) => rows.push(row),
                        Err(_) if skip => {}
                        Err(e) => {
                            return Err(StreamError::Source(format!(
                                "socket: the line at spool offset {at}: {e}"
                            )))
                        }
                    }
                    Ok(())
                })?;
                for row in rows {
                    self.project(&row, give);
                }
                Ok(got)
            }
            Inner::Kafka(split) => {
                let (plan, skip) = (&self.plan, self.ignore_parse_errors);
                let mut rows = Vec::new();
                let got = split.read(max, &mut |line| {
                    match sql::decode_line(&plan.source, line) {
                        Ok(row) => rows.push(row),
                        Err(_) if skip => {}
                        Err(e) => return Err(StreamError::Source(format!("kafka: {e}"))),
                    }
                    Ok(())
                })?;
                for row in rows {
                    self.project(&row, give);
                }
                Ok(got)
            }
        }
    }

    fn position(&self) -> u64 {
        match &self.inner {
            Inner::Datagen(s, _) => s.position(),
            Inner::Lines(s) => s.position(),
            Inner::Kafka(s) => s.position(),
            Inner::Socket(s) => s.position(),
        }
    }
}

impl Job for SqlJob {
    type Rec = SqlRecord;
    type Acc = SqlAcc;
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

    fn window(&self) -> WindowSpec {
        self.plan.window
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

    fn allowed_lateness(&self) -> u64 {
        self.plan.source.allowed_lateness_ms
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

    fn encode(&self, out: &SqlOut) -> Vec<u8> {
        out.rows.clone()
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

#[cfg(test)]
#[path = "sql_job_tests.rs"]
mod tests;
