//! A job file's statements: its `CREATE TABLE`s become [`TableDef`]s, and its one
//! `INSERT INTO ... SELECT` is handed to [`super::parse_select`].

use std::collections::BTreeMap;

use sqlparser::ast as sql;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::error::SqlError;
use super::plan::{Column, Format, JobPlan, LinePattern, TableDef};
use super::value::ColumnType;
use super::watermark::Watermark;

/// Parses a whole job file.
pub(crate) fn parse_job(text: &str) -> Result<JobPlan, SqlError> {
    let (text, watermarks) = super::watermark::rewrite(text)?;
    let statements = Parser::parse_sql(&GenericDialect {}, &text)
        .map_err(|e| SqlError::Syntax(e.to_string()))?;
    let mut tables: Vec<TableDef> = Vec::new();
    let mut insert = None;
    for statement in &statements {
        match statement {
            sql::Statement::CreateTable(ct) => {
                let mut table = table_def(ct)?;
                let name = table.name.clone();
                for w in watermarks
                    .iter()
                    .filter(|w| w.table.eq_ignore_ascii_case(&name))
                {
                    apply_watermark(&mut table, w)?;
                }
                if tables
                    .iter()
                    .any(|t| t.name.eq_ignore_ascii_case(&table.name))
                {
                    return Err(SqlError::invalid(format!(
                        "table `{}` is created twice",
                        table.name
                    )));
                }
                tables.push(table);
            }
            sql::Statement::Insert(ins) if insert.is_none() => insert = Some(ins),
            sql::Statement::Insert(_) => {
                return Err(SqlError::unsupported("more than one INSERT INTO"))
            }
            sql::Statement::Query(q) if q.with.is_some() => {
                return Err(SqlError::unsupported("WITH (a common table expression)"))
            }
            sql::Statement::Query(_) => {
                return Err(SqlError::unsupported(
                    "a bare SELECT (write INSERT INTO sink SELECT ...)",
                ))
            }
            other => {
                let head: Vec<String> = other
                    .to_string()
                    .split_whitespace()
                    .take(2)
                    .map(str::to_string)
                    .collect();
                return Err(SqlError::unsupported(format!(
                    "statement `{} ...` (only CREATE TABLE and INSERT INTO)",
                    head.join(" ")
                )));
            }
        }
    }
    let insert = insert
        .ok_or_else(|| SqlError::invalid("the job has no INSERT INTO ... SELECT statement"))?;
    super::parse_select::plan(insert, &tables)
}

/// The last part of a possibly qualified name.
pub(crate) fn object_name(name: &sql::ObjectName) -> String {
    match name.0.last() {
        Some(sql::ObjectNamePart::Identifier(id)) => id.value.clone(),
        _ => name.to_string(),
    }
}

fn table_def(ct: &sql::CreateTable) -> Result<TableDef, SqlError> {
    let name = object_name(&ct.name);
    if ct.query.is_some() {
        return Err(SqlError::unsupported("CREATE TABLE ... AS SELECT"));
    }
    if ct.like.is_some() || ct.clone.is_some() {
        return Err(SqlError::unsupported("CREATE TABLE ... LIKE/CLONE"));
    }
    let mut columns: Vec<Column> = Vec::new();
    for c in &ct.columns {
        let declared = c.data_type.to_string();
        let ty = ColumnType::from_sql(&declared).ok_or_else(|| {
            SqlError::unsupported(format!(
                "column type {declared} (of `{}.{}`)",
                name, c.name.value
            ))
        })?;
        if columns
            .iter()
            .any(|x| x.name.eq_ignore_ascii_case(&c.name.value))
        {
            return Err(SqlError::invalid(format!(
                "column `{}` is declared twice in table `{name}`",
                c.name.value
            )));
        }
        columns.push(Column {
            name: c.name.value.clone(),
            ty,
        });
    }
    if columns.is_empty() {
        return Err(SqlError::invalid(format!(
            "table `{name}` declares no columns"
        )));
    }
    let options = match &ct.table_options {
        sql::CreateTableOptions::None => BTreeMap::new(),
        sql::CreateTableOptions::With(opts) => with_options(opts, &name)?,
        other => return Err(SqlError::unsupported(format!("table options `{other}`"))),
    };
    let mut table = TableDef {
        connector: options
            .get("connector")
            .ok_or_else(|| SqlError::invalid(format!("table `{name}` has no 'connector' option")))?
            .to_ascii_lowercase(),
        format: match options
            .get("format")
            .map(|f| f.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("csv") => Format::Csv,
            Some("json") => Format::Json,
            Some("regex") => Format::Regex,
            Some(other) => {
                return Err(SqlError::bad_value(
                    other,
                    "'format' = 'csv', 'json' or 'regex'",
                ))
            }
        },
        pattern: None,
        name,
        columns,
        options,
        event_time: None,
        watermark_delay_ms: 0,
        idle_timeout_ms: None,
        allowed_lateness_ms: 0,
    };
    if let Some(col) = table.option("event_time") {
        let i = table.column(col).ok_or_else(|| SqlError::UnknownColumn {
            name: col.to_string(),
            clause: "option 'event_time'",
        })?;
        check_time_column(&table, i)?;
        table.event_time = Some(i);
    }
    if table.format == Format::Regex {
        table.pattern = Some(line_pattern(&table)?);
    }
    table.watermark_delay_ms = table.duration_ms("watermark_delay")?.unwrap_or(0);
    table.idle_timeout_ms = table.duration_ms("idle_timeout")?;
    table.allowed_lateness_ms = table.duration_ms("allowed_lateness")?.unwrap_or(0);
    Ok(table)
}

/// The `'regex'` option of a table in the regex format: one capture group per column.
fn line_pattern(table: &TableDef) -> Result<LinePattern, SqlError> {
    let text = table.option("regex").ok_or_else(|| {
        SqlError::invalid(format!(
            "table `{}`: 'format' = 'regex' needs option 'regex'",
            table.name
        ))
    })?;
    // Bounded, as every input is: a pattern's compiled size.
    let re = regex::RegexBuilder::new(text)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| SqlError::bad_value(text, format!("a regular expression ({e})")))?;
    let groups = re.captures_len() - 1;
    if groups != table.columns.len() {
        return Err(SqlError::invalid(format!(
            "table `{}`: 'regex' has {groups} capture groups, the table has {} columns",
            table.name,
            table.columns.len()
        )));
    }
    Ok(LinePattern(std::sync::Arc::new(re)))
}

/// A `WATERMARK FOR col AS col - delay` clause: the table's event time and watermark delay.
fn apply_watermark(table: &mut TableDef, w: &Watermark) -> Result<(), SqlError> {
    let i = table
        .column(&w.column)
        .ok_or_else(|| SqlError::UnknownColumn {
            name: w.column.clone(),
            clause: "WATERMARK",
        })?;
    check_time_column(table, i)?;
    if table.event_time.is_some_and(|e| e != i) {
        return Err(SqlError::invalid(format!(
            "WATERMARK FOR `{}` contradicts option 'event_time' of table `{}`",
            w.column, table.name
        )));
    }
    table.event_time = Some(i);
    table.watermark_delay_ms = w.delay_ms;
    let column = table.columns[i].name.clone();
    table.options.entry("event_time".into()).or_insert(column);
    table
        .options
        .entry("watermark_delay".into())
        .or_insert(format!("{} ms", w.delay_ms));
    Ok(())
}

/// Event time must be a BIGINT (ms) or TIMESTAMP column.
pub(crate) fn check_time_column(table: &TableDef, i: usize) -> Result<(), SqlError> {
    match table.columns.get(i) {
        Some(c) if matches!(c.ty, ColumnType::Bigint | ColumnType::Timestamp) => Ok(()),
        Some(c) => Err(SqlError::invalid(format!(
            "event time column `{}` must be BIGINT or TIMESTAMP, not {:?}",
            c.name, c.ty
        ))),
        None => Err(SqlError::invalid("event time column out of range")),
    }
}

/// `WITH ('k' = 'v', k2 = 'v2')`: keys lowercased, values as written.
fn with_options(
    opts: &[sql::SqlOption],
    table: &str,
) -> Result<BTreeMap<String, String>, SqlError> {
    let mut out = BTreeMap::new();
    for opt in opts {
        let sql::SqlOption::KeyValue { key, value } = opt else {
            return Err(SqlError::unsupported(format!(
                "table option `{opt}` (use 'key' = 'value')"
            )));
        };
        let key = key
            .0
            .iter()
            .map(|p| match p {
                sql::ObjectNamePart::Identifier(id) => id.value.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".")
            .to_ascii_lowercase();
        let text = match value {
            sql::Expr::Value(v) => match &v.value {
                sql::Value::SingleQuotedString(s) | sql::Value::Number(s, _) => s.clone(),
                sql::Value::Boolean(b) => b.to_string(),
                other => other.to_string(),
            },
            sql::Expr::Identifier(id) => id.value.clone(),
            other => {
                return Err(SqlError::invalid(format!(
                    "option '{key}' of table `{table}` needs a string value, not `{other}`"
                )))
            }
        };
        if out.insert(key.clone(), text).is_some() {
            return Err(SqlError::invalid(format!(
                "option '{key}' of table `{table}` is given twice"
            )));
        }
    }
    Ok(out)
}
