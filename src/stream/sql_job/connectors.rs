//! A SQL job's connectors resolved from its tables' `WITH` options: the source as splits,
//! the sink opened.

use std::path::{Path, PathBuf};

use crate::stream::clickhouse::ClickHouseSink;
use crate::stream::kafka::{KafkaSink, KafkaTopic};
use crate::stream::lines::list_files;
use crate::stream::postgres::PostgresSink;
use crate::stream::socket::SocketSource;
use crate::stream::sql::{ColumnType, Format, TableDef};
use crate::stream::StreamError;

use super::{SinkSpec, SplitSpec};

/// A Kafka source's topic, and whether it ends at the offsets it found at start.
pub(super) type KafkaSource = (KafkaTopic, bool);

/// The source table's splits (and a Kafka source's topic); `parallelism` is datagen's
/// default split count.
pub(super) fn source_splits(
    src: &TableDef,
    parallelism: usize,
) -> Result<(Vec<SplitSpec>, Option<KafkaSource>), StreamError> {
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
    Ok((splits, kafka))
}

/// The sink table's connector, opened (a database sink connects and checks its table).
pub(super) fn sink_spec(snk: &TableDef) -> Result<SinkSpec, StreamError> {
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
    Ok(sink)
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
