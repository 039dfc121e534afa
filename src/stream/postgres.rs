//! PostgreSQL as a sink of SQL jobs: `'connector' = 'jdbc'` with Flink's options (`'url' =
//! 'jdbc:postgresql://host:port/db'`, `'table-name'`, `'username'`, `'password'`), or
//! `'connector' = 'postgres'` with a libpq URL. Rows go in with `COPY ... FROM STDIN (FORMAT
//! csv)` (the sink's format must be CSV, its default).
//!
//! Exactly-once: a worker's output of an epoch is copied in one transaction that also
//! records `(table, epoch, worker)` in `ferrokeeper_stream_published`; a publication repeated
//! after a crash finds the record and does nothing. A fresh run refuses a table that holds
//! such records (as the file sink refuses earlier parts).

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use postgres::{Client, NoTls};

use crate::stream::checkpoint::read_staged;
use crate::stream::StreamError;

const MARKERS: &str = "ferrokeeper_stream_published";

fn err(what: &str, e: impl std::fmt::Display) -> StreamError {
    StreamError::Sink(format!("postgres: {what}: {e}"))
}

/// A table of a PostgreSQL database.
pub(crate) struct PostgresSink {
    /// `"schema"."table"` or `"table"`, quoted.
    table: String,
    /// The table's name as the markers record it.
    name: String,
    /// Quoted column list.
    columns: String,
    client: Mutex<Client>,
}

impl std::fmt::Debug for PostgresSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresSink({})", self.name)
    }
}

/// A double-quoted SQL identifier.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl PostgresSink {
    /// Connects (`url`: a libpq URL or key=value string; a `jdbc:` prefix is dropped) and
    /// makes the markers' table.
    pub(crate) fn open(
        url: &str,
        user: Option<&str>,
        password: Option<&str>,
        table: &str,
        columns: &[String],
    ) -> Result<PostgresSink, StreamError> {
        let url = url.strip_prefix("jdbc:").unwrap_or(url);
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StreamError::Usage(format!("postgres: url {url}: {e}")))?;
        if let Some(u) = user {
            config.user(u);
        }
        if let Some(p) = password {
            config.password(p);
        }
        config.connect_timeout(std::time::Duration::from_secs(15));
        let mut client = config.connect(NoTls).map_err(|e| err("connect", e))?;
        client
            .batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {MARKERS} (
                     tbl text NOT NULL, epoch bigint NOT NULL, worker integer NOT NULL,
                     PRIMARY KEY (tbl, epoch, worker))"
            ))
            .map_err(|e| err("create markers", e))?;
        let quoted = table.split('.').map(ident).collect::<Vec<_>>().join(".");
        Ok(PostgresSink {
            table: quoted,
            name: table.to_string(),
            columns: columns
                .iter()
                .map(|c| ident(c))
                .collect::<Vec<_>>()
                .join(", "),
            client: Mutex::new(client),
        })
    }

    fn client(&self) -> std::sync::MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether an earlier run published into the table.
    pub(crate) fn published_before(&self) -> Result<bool, StreamError> {
        let row = self
            .client()
            .query_one(
                &format!("SELECT count(*) FROM {MARKERS} WHERE tbl = $1"),
                &[&self.name],
            )
            .map_err(|e| err("markers", e))?;
        Ok(row.get::<_, i64>(0) > 0)
    }

    fn copy(&self, tx: &mut postgres::Transaction<'_>, csv: &[u8]) -> Result<(), StreamError> {
        let mut w = tx
            .copy_in(&format!(
                "COPY {} ({}) FROM STDIN (FORMAT csv)",
                self.table, self.columns
            ))
            .map_err(|e| err("copy", e))?;
        w.write_all(csv).map_err(|e| err("copy", e))?;
        w.finish().map_err(|e| err("copy", e))?;
        Ok(())
    }

    /// Without checkpoints: output as it comes (at-least-once).
    pub(crate) fn deliver(&self, csv: &[u8]) -> Result<(), StreamError> {
        let mut client = self.client();
        let mut tx = client.transaction().map_err(|e| err("begin", e))?;
        self.copy(&mut tx, csv)?;
        tx.commit().map_err(|e| err("commit", e))
    }

    /// Publishes a committed epoch's staged output exactly once.
    pub(crate) fn publish(
        &self,
        epoch: u64,
        worker: usize,
        staged: &Path,
    ) -> Result<(), StreamError> {
        let Some(csv) = read_staged(staged)? else {
            return Ok(());
        };
        let mut client = self.client();
        let mut tx = client.transaction().map_err(|e| err("begin", e))?;
        // Taken first: a concurrent attempt (a lingering process of an older generation)
        // waits on the key, then finds it and does nothing.
        let fresh = tx
            .execute(
                &format!(
                    "INSERT INTO {MARKERS} (tbl, epoch, worker) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING"
                ),
                &[&self.name, &(epoch as i64), &(worker as i32)],
            )
            .map_err(|e| err("marker", e))?;
        if fresh == 1 && !csv.is_empty() {
            self.copy(&mut tx, &csv)?;
        }
        tx.commit().map_err(|e| err("commit", e))?;
        let _ = std::fs::remove_file(staged);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ident;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(ident("stats"), "\"stats\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
    }
}
