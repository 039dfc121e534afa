//! ClickHouse as a sink of SQL jobs, over its HTTP interface: `'connector' = 'clickhouse'`,
//! `'url' = 'http://host:8123'`, `'database-name'` (default `default`), `'table-name'`
//! (default the table's name), `'username'`, `'password'`. Rows go in as `INSERT ... FORMAT
//! CSV` (the sink's format must be CSV, its default).
//!
//! Exactly-once rests on ClickHouse's own insert deduplication: a `Replicated*MergeTree`
//! table remembers the checksums of its last inserted blocks (in ZooKeeper, so in the same
//! ensemble), and an epoch's output is always published from the same staged bytes, so a
//! publication repeated after a crash forms the same blocks and is dropped. Rows are unique
//! per (key, window), so two epochs never form equal blocks. A table of another engine has no
//! such memory: the sink says so when it opens and is at-least-once there.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;

use crate::stream::checkpoint::read_staged;
use crate::stream::StreamError;

/// ClickHouse's answer to a query is bounded: an error text or a one-line result.
const MAX_ANSWER: u64 = 1 << 20;

fn err(what: &str, e: impl std::fmt::Display) -> StreamError {
    StreamError::Sink(format!("clickhouse: {what}: {e}"))
}

/// A table of a ClickHouse server.
pub(crate) struct ClickHouseSink {
    agent: ureq::Agent,
    url: String,
    auth: Option<String>,
    /// `` `db`.`table` ``.
    table: String,
    /// `` (`a`, `b`) ``.
    columns: String,
}

impl std::fmt::Debug for ClickHouseSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClickHouseSink({} at {})", self.table, self.url)
    }
}

/// A back-quoted ClickHouse identifier.
fn ident(s: &str) -> String {
    format!("`{}`", s.replace('\\', "\\\\").replace('`', "\\`"))
}

/// A single-quoted ClickHouse string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl ClickHouseSink {
    /// Checks that the table exists and tells whether its engine deduplicates inserts.
    pub(crate) fn open(
        url: &str,
        user: Option<&str>,
        password: Option<&str>,
        database: &str,
        table: &str,
        columns: &[String],
    ) -> Result<ClickHouseSink, StreamError> {
        if !url.starts_with("http://") {
            return Err(StreamError::Usage(format!(
                "clickhouse: url {url}: the HTTP interface, http://host:port"
            )));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .build()
            .into();
        let auth = user.map(|u| {
            let pair = format!("{u}:{}", password.unwrap_or(""));
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        });
        let sink = ClickHouseSink {
            agent,
            url: url.trim_end_matches('/').to_string() + "/",
            auth,
            table: format!("{}.{}", ident(database), ident(table)),
            columns: format!(
                "({})",
                columns
                    .iter()
                    .map(|c| ident(c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let engine = sink.query(&format!(
            "SELECT engine FROM system.tables WHERE database = {} AND name = {} FORMAT TabSeparated",
            literal(database),
            literal(table)
        ))?;
        let engine = engine.trim();
        if engine.is_empty() {
            return Err(StreamError::Usage(format!(
                "clickhouse: no table {} at {url}",
                sink.table
            )));
        }
        if !engine.starts_with("Replicated") {
            tracing::warn!(
                "clickhouse: {} is {engine}, which does not deduplicate inserts: \
                 an epoch published again after a crash is written twice (use a \
                 Replicated*MergeTree table for exactly-once)",
                sink.table
            );
        }
        Ok(sink)
    }

    /// Sends `query` (and `body` after it, for an INSERT); the answer's text.
    fn post(&self, query: &str, body: &[u8]) -> Result<String, StreamError> {
        let mut req = self
            .agent
            .post(&self.url)
            .query("query", query)
            // Explicit, though replicated tables default to it: repeated blocks are dropped.
            .query("insert_deduplicate", "1");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.send(body).map_err(|e| err("request", e))?;
        let status = resp.status();
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_string()
            .map_err(|e| err("answer", e))?;
        if !status.is_success() {
            return Err(err(&format!("HTTP {status}"), text.trim()));
        }
        Ok(text)
    }

    fn query(&self, query: &str) -> Result<String, StreamError> {
        self.post(query, b"")
    }

    fn insert(&self, csv: &[u8]) -> Result<(), StreamError> {
        let q = format!("INSERT INTO {} {} FORMAT CSV", self.table, self.columns);
        self.post(&q, csv).map(|_| ())
    }

    /// Without checkpoints: output as it comes (at-least-once).
    pub(crate) fn deliver(&self, csv: &[u8]) -> Result<(), StreamError> {
        self.insert(csv)
    }

    /// Publishes a committed epoch's staged output; a repeat forms the same blocks, which
    /// a replicated table drops.
    pub(crate) fn publish(&self, staged: &Path) -> Result<(), StreamError> {
        let Some(csv) = read_staged(staged)? else {
            return Ok(());
        };
        if !csv.is_empty() {
            self.insert(&csv)?;
        }
        let _ = std::fs::remove_file(staged);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{ident, literal};

    #[test]
    fn names_and_strings_are_quoted() {
        assert_eq!(ident("stats"), "`stats`");
        assert_eq!(ident("we`ird"), "`we\\`ird`");
        assert_eq!(literal("it's"), "'it\\'s'");
        assert_eq!(literal("a\\b"), "'a\\\\b'");
    }
}
