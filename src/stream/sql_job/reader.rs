//! A split of a SQL job's source as the engine reads it: datagen, file, Kafka or socket
//! rows decoded in the source table's format and projected by the plan.

use crate::stream::bench_job::DatagenSplit;
use crate::stream::datagen::Level;
use crate::stream::job::SplitReader;
use crate::stream::kafka::KafkaSplit;
use crate::stream::lines::LineSplit;
use crate::stream::socket::SocketSplit;
use crate::stream::sql::{self, JobPlan, Value};
use crate::stream::StreamError;

use super::SqlRecord;

/// A split of a SQL job's source, projecting each row.
pub(crate) struct SqlReader {
    pub(super) inner: Inner,
    pub(super) plan: JobPlan,
    pub(super) ignore_parse_errors: bool,
}

pub(super) enum Inner {
    Datagen(DatagenSplit, Option<Throttle>),
    Lines(LineSplit),
    Kafka(KafkaSplit),
    Socket(SocketSplit),
}

/// Holds a generated split to its share of `rows-per-second`, counted from when it opened.
pub(super) struct Throttle {
    pub(super) per_s: f64,
    pub(super) since: std::time::Instant,
    pub(super) given: u64,
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
