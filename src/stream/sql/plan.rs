//! What a parsed job is: its source and sink tables and the windowed aggregation between
//! them. The engine only runs `JobPlan::project` per row and `JobPlan::output_row` per fired
//! window, so SQL semantics stay in this module.

use std::collections::BTreeMap;

use super::acc::Acc;
use super::error::SqlError;
use super::expr::Expr;
use super::value::{ColumnType, Value};
use crate::stream::window::WindowSpec;

/// A declared column.
#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) ty: ColumnType,
}

/// How a table's lines are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Csv,
    Json,
    /// A source's lines matched by `'regex'`, capture group i giving column i (1-based):
    /// web-server logs and the like. Sources only.
    Regex,
}

/// The compiled `'regex'` of a table in the regex format.
#[derive(Clone, Debug)]
pub(crate) struct LinePattern(pub(crate) std::sync::Arc<regex::Regex>);

/// One `CREATE TABLE` with its `WITH` options, the ones the engine reads already decoded.
#[derive(Clone, Debug)]
pub(crate) struct TableDef {
    pub(crate) name: String,
    pub(crate) columns: Vec<Column>,
    /// `'connector'`, lowercased; required.
    pub(crate) connector: String,
    /// Every `WITH` option, keys lowercased.
    pub(crate) options: BTreeMap<String, String>,
    /// `'format'`, default CSV.
    pub(crate) format: Format,
    /// `'regex'`, for `Format::Regex`.
    pub(crate) pattern: Option<LinePattern>,
    /// `'event_time'`: the index of the column holding event time.
    pub(crate) event_time: Option<usize>,
    /// `'watermark_delay'`, default 0.
    pub(crate) watermark_delay_ms: u64,
    /// `'idle_timeout'`.
    pub(crate) idle_timeout_ms: Option<u64>,
    /// `'allowed_lateness'`, default 0.
    pub(crate) allowed_lateness_ms: u64,
}

impl TableDef {
    /// A `WITH` option's value (`key` lowercased).
    pub(crate) fn option(&self, key: &str) -> Option<&str> {
        self.options
            .get(&key.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// A `WITH` option read as a duration ('2 s', '500 ms', '1 min', '2000' = ms).
    pub(crate) fn duration_ms(&self, key: &str) -> Result<Option<u64>, SqlError> {
        self.option(key)
            .map(|text| {
                parse_duration(text).map_err(|_| {
                    SqlError::bad_value(text, format!("a duration for option '{key}'"))
                })
            })
            .transpose()
    }

    /// The index of column `name` (case-insensitive, as unquoted SQL identifiers are).
    pub(crate) fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// Parses a duration: a non-negative integer with an optional unit (ms, s, min, h, d and their
/// long forms, singular or plural); a bare number is milliseconds.
pub(crate) fn parse_duration(text: &str) -> Result<u64, SqlError> {
    let bad = || SqlError::bad_value(text, "a duration such as '2 s', '500 ms' or '1 min'");
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..split].parse().map_err(|_| bad())?;
    let unit = unit_ms(t[split..].trim()).ok_or_else(bad)?;
    n.checked_mul(unit).ok_or_else(bad)
}

/// The length in ms of a time unit's name (case-insensitive); "" is ms.
pub(crate) fn unit_ms(unit: &str) -> Option<u64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        _ => return None,
    })
}

/// The whole job: `INSERT INTO sink SELECT ... FROM source [WHERE] GROUP BY keys, window`.
#[derive(Clone, Debug)]
pub(crate) struct JobPlan {
    pub(crate) source: TableDef,
    pub(crate) sink: TableDef,
    /// WHERE, over source columns.
    pub(crate) filter: Option<Expr>,
    /// The GROUP BY expressions other than the window.
    pub(crate) keys: Vec<Expr>,
    pub(crate) window: WindowSpec,
    /// The window's time column (a source index); equal to `source.event_time`.
    pub(crate) time: usize,
    pub(crate) aggs: Vec<AggCall>,
    /// The SELECT list in order; as long as the sink's columns.
    pub(crate) output: Vec<OutputCol>,
}

/// One aggregate of the SELECT list.
#[derive(Clone, Debug)]
pub(crate) struct AggCall {
    pub(crate) func: AggFunc,
    /// None for COUNT(*).
    pub(crate) arg: Option<Expr>,
    /// `FILTER (WHERE ...)`.
    pub(crate) filter: Option<Expr>,
}

/// An aggregate function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AggFunc {
    Count,
    Sum,
    Min,
    Max,
    Avg,
}

/// Where one output column comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OutputCol {
    /// `keys[i]`.
    Key(usize),
    WindowStart,
    WindowEnd,
    /// `aggs[i]`.
    Agg(usize),
}

impl JobPlan {
    /// One source row -> (event time ms, group key values, one unit accumulator per aggregate),
    /// or None when WHERE rejects it or its event time is NULL or negative.
    pub(crate) fn project(&self, row: &[Value]) -> Option<(u64, Vec<Value>, Vec<Acc>)> {
        let ts = row.get(self.time)?.as_i64()?;
        let ts = u64::try_from(ts).ok()?;
        if let Some(f) = &self.filter {
            if !f.passes(row) {
                return None;
            }
        }
        let group = self.keys.iter().map(|k| k.eval(row)).collect();
        let accs = self
            .aggs
            .iter()
            .map(|a| {
                let passes = a.filter.as_ref().is_none_or(|f| f.passes(row));
                let v = passes.then(|| match &a.arg {
                    Some(e) => e.eval(row),
                    None => Value::Bool(true),
                });
                Acc::unit(a.func, v)
            })
            .collect();
        Some((ts, group, accs))
    }

    /// A stable u64 of the group key values.
    pub(crate) fn key_hash(group: &[Value]) -> u64 {
        group.iter().fold(0x5EED_0F6E_u64, |h, v| v.hash64(h))
    }

    /// A fired window's output row in sink column order, each value coerced to its sink
    /// column's type (e.g. a BIGINT AVG into a DOUBLE column).
    pub(crate) fn output_row(
        &self,
        group: &[Value],
        start: u64,
        end: u64,
        accs: &[Acc],
    ) -> Vec<Value> {
        self.output
            .iter()
            .zip(&self.sink.columns)
            .map(|(out, col)| {
                let v = match out {
                    OutputCol::Key(i) => group.get(*i).cloned().unwrap_or(Value::Null),
                    OutputCol::WindowStart => Value::Int(start as i64),
                    OutputCol::WindowEnd => Value::Int(end as i64),
                    OutputCol::Agg(i) => accs.get(*i).map_or(Value::Null, Acc::finish),
                };
                coerce(v, col.ty)
            })
            .collect()
    }
}

/// Converts a result to a sink column's type where SQL would implicitly cast it.
fn coerce(v: Value, ty: ColumnType) -> Value {
    match (v, ty) {
        (Value::Int(i), ColumnType::Double) => Value::Double(i as f64),
        (Value::Double(d), ColumnType::Bigint | ColumnType::Timestamp) => Value::Int(d as i64),
        (Value::Int(i), ColumnType::String) => Value::Str(i.to_string()),
        (Value::Double(d), ColumnType::String) => Value::Str(d.to_string()),
        (Value::Bool(b), ColumnType::String) => Value::Str(b.to_string()),
        (v, _) => v,
    }
}
