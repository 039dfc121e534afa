//! `INSERT INTO sink SELECT ... FROM source [WHERE] GROUP BY keys, window` -> [`JobPlan`].
//! Each SELECT item must be a GROUP BY key, a window bound or an aggregate, as in Flink's
//! group-window aggregations.

use sqlparser::ast as sql;

use super::error::SqlError;
use super::expr::Expr;
use super::parse::{check_time_column, object_name};
use super::parse_call::{aggregate, call_args, parse_window, window_call, Window};
use super::parse_expr::{convert, is_aggregate, Scope};
use super::plan::{AggCall, JobPlan, OutputCol, TableDef};
use super::typing::{agg_type, check_condition, fits, type_name, type_of};
use super::value::ColumnType;

fn find_table<'a>(
    tables: &'a [TableDef],
    name: &str,
    role: &str,
) -> Result<&'a TableDef, SqlError> {
    tables
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(name))
        .ok_or_else(|| {
            SqlError::invalid(format!(
                "{role} table `{name}` is not created (CREATE TABLE)"
            ))
        })
}

/// Plans the job's one INSERT against its tables.
pub(crate) fn plan(ins: &sql::Insert, tables: &[TableDef]) -> Result<JobPlan, SqlError> {
    let sql::TableObject::TableName(sink_name) = &ins.table else {
        return Err(SqlError::unsupported("INSERT INTO a table function"));
    };
    let sink = find_table(tables, &object_name(sink_name), "INSERT INTO")?.clone();
    if ins.overwrite || ins.on.is_some() || ins.returning.is_some() || !ins.assignments.is_empty() {
        return Err(SqlError::unsupported("INSERT OVERWRITE/ON/RETURNING/SET"));
    }
    let listed: Vec<String> = ins.columns.iter().map(object_name).collect();
    if !listed.is_empty()
        && (listed.len() != sink.columns.len()
            || listed
                .iter()
                .zip(&sink.columns)
                .any(|(l, c)| !l.eq_ignore_ascii_case(&c.name)))
    {
        return Err(SqlError::unsupported(
            "an INSERT column list other than the sink's columns in order",
        ));
    }
    let query = ins
        .source
        .as_ref()
        .ok_or_else(|| SqlError::invalid("INSERT INTO needs a SELECT"))?;
    check_query(query)?;
    let select = match query.body.as_ref() {
        sql::SetExpr::Select(s) => s,
        sql::SetExpr::SetOperation { op, .. } => return Err(SqlError::unsupported(op.to_string())),
        sql::SetExpr::Values(_) => return Err(SqlError::unsupported("INSERT ... VALUES")),
        sql::SetExpr::Query(_) => return Err(SqlError::unsupported("a subquery")),
        _ => return Err(SqlError::unsupported("this INSERT source")),
    };
    check_select(select)?;
    let (source_name, alias) = from_table(select)?;
    let mut source = find_table(tables, &source_name, "FROM")?.clone();
    if source.name.eq_ignore_ascii_case(&sink.name) {
        return Err(SqlError::invalid(format!(
            "table `{}` is both source and sink",
            sink.name
        )));
    }
    let scope = Scope {
        table: &source,
        alias,
    };
    let filter = select
        .selection
        .as_ref()
        .map(|e| convert(e, &scope, "WHERE"))
        .transpose()?;
    if let Some(c) = &filter {
        check_condition(c, &source.columns, "WHERE")?;
    }

    let sql::GroupByExpr::Expressions(group_by, modifiers) = &select.group_by else {
        return Err(SqlError::unsupported("GROUP BY ALL"));
    };
    if !modifiers.is_empty() {
        return Err(SqlError::unsupported(
            "a GROUP BY modifier (ROLLUP, CUBE, ...)",
        ));
    }
    let mut keys = Vec::new();
    let mut windows = Vec::new();
    for e in group_by {
        match window_call(e, &scope)? {
            Some(w) => windows.push(w),
            None => {
                let key = convert(e, &scope, "GROUP BY")?;
                type_of(&key, &source.columns, "GROUP BY")?;
                keys.push(key);
            }
        }
    }
    let [window] = windows[..] else {
        return Err(SqlError::invalid(
            "GROUP BY needs exactly one TUMBLE, HOP or SESSION window",
        ));
    };

    let mut aggs = Vec::new();
    let mut output = Vec::new();
    for item in &select.projection {
        let e = match item {
            sql::SelectItem::UnnamedExpr(e) | sql::SelectItem::ExprWithAlias { expr: e, .. } => e,
            _ => return Err(SqlError::unsupported(format!("SELECT item `{item}`"))),
        };
        output.push(select_item(e, &scope, window, &keys, &mut aggs)?);
    }
    if output.len() != sink.columns.len() {
        return Err(SqlError::invalid(format!(
            "SELECT has {} columns but sink `{}` has {}",
            output.len(),
            sink.name,
            sink.columns.len()
        )));
    }
    for (i, (out, col)) in output.iter().zip(&sink.columns).enumerate() {
        let ty = match out {
            OutputCol::Key(k) => type_of(&keys[*k], &source.columns, "GROUP BY")?,
            OutputCol::WindowStart | OutputCol::WindowEnd => Some(ColumnType::Timestamp),
            OutputCol::Agg(a) => agg_type(&aggs[*a], &source.columns)?,
        };
        if !fits(ty, col.ty) {
            return Err(SqlError::invalid(format!(
                "SELECT item {} ({}) does not fit sink column `{}` ({})",
                i + 1,
                ty.map_or("NULL", type_name),
                col.name,
                type_name(col.ty)
            )));
        }
    }
    match source.event_time {
        Some(t) if t != window.time => {
            return Err(SqlError::invalid(format!(
                "the {} window's time column `{}` is not the source's event_time `{}`",
                window.kind, source.columns[window.time].name, source.columns[t].name
            )))
        }
        Some(_) => {}
        None => {
            check_time_column(&source, window.time)?;
            source.event_time = Some(window.time);
        }
    }
    Ok(JobPlan {
        time: window.time,
        window: window.spec,
        source,
        sink,
        filter,
        keys,
        aggs,
        output,
    })
}

fn check_query(q: &sql::Query) -> Result<(), SqlError> {
    let bad = [
        (q.with.is_some(), "WITH (a common table expression)"),
        (q.order_by.is_some(), "ORDER BY"),
        (q.limit_clause.is_some(), "LIMIT"),
        (q.fetch.is_some(), "FETCH"),
        (!q.locks.is_empty(), "FOR UPDATE"),
        (!q.pipe_operators.is_empty(), "a pipe operator"),
    ];
    match bad.iter().find(|(present, _)| *present) {
        Some((_, what)) => Err(SqlError::unsupported(*what)),
        None => Ok(()),
    }
}

fn check_select(s: &sql::Select) -> Result<(), SqlError> {
    let bad = [
        (s.distinct.is_some(), "DISTINCT"),
        (s.top.is_some(), "TOP"),
        (s.having.is_some(), "HAVING"),
        (s.qualify.is_some(), "QUALIFY"),
        (!s.named_window.is_empty(), "a WINDOW clause"),
        (s.into.is_some(), "SELECT INTO"),
        (!s.lateral_views.is_empty(), "LATERAL VIEW"),
        (
            !s.sort_by.is_empty() || !s.cluster_by.is_empty() || !s.distribute_by.is_empty(),
            "SORT/CLUSTER/DISTRIBUTE BY",
        ),
        (s.prewhere.is_some(), "PREWHERE"),
        (!s.connect_by.is_empty(), "CONNECT BY"),
    ];
    match bad.iter().find(|(present, _)| *present) {
        Some((_, what)) => Err(SqlError::unsupported(*what)),
        None => Ok(()),
    }
}

/// The one table of FROM, and its alias.
fn from_table(s: &sql::Select) -> Result<(String, Option<String>), SqlError> {
    let [from] = &s.from[..] else {
        return Err(if s.from.is_empty() {
            SqlError::invalid("SELECT needs FROM a source table")
        } else {
            SqlError::unsupported("JOIN")
        });
    };
    if !from.joins.is_empty() {
        return Err(SqlError::unsupported("JOIN"));
    }
    match &from.relation {
        sql::TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } => Ok((
            object_name(name),
            alias.as_ref().map(|a| a.name.value.clone()),
        )),
        sql::TableFactor::Derived { .. } => Err(SqlError::unsupported("a subquery in FROM")),
        other => Err(SqlError::unsupported(format!("FROM `{other}`"))),
    }
}

/// Where one SELECT item's value comes from; aggregates are appended to `aggs`.
fn select_item(
    e: &sql::Expr,
    scope: &Scope,
    window: Window,
    keys: &[Expr],
    aggs: &mut Vec<AggCall>,
) -> Result<OutputCol, SqlError> {
    if let Some((name, f)) = call_args(e) {
        if let Some((kind, bound)) = name.rsplit_once('_') {
            if matches!(bound, "START" | "END") && matches!(kind, "TUMBLE" | "HOP" | "SESSION") {
                if parse_window(kind, f, scope)? != Some(window) {
                    return Err(SqlError::invalid(format!(
                        "SELECT item `{e}` does not match the GROUP BY window"
                    )));
                }
                return Ok(if bound == "START" {
                    OutputCol::WindowStart
                } else {
                    OutputCol::WindowEnd
                });
            }
        }
        if is_aggregate(&name) {
            aggs.push(aggregate(&name, f, scope)?);
            return Ok(OutputCol::Agg(aggs.len() - 1));
        }
    }
    let converted = convert(e, scope, "SELECT");
    if let Ok(x) = &converted {
        if let Some(i) = keys.iter().position(|k| k == x) {
            return Ok(OutputCol::Key(i));
        }
    }
    if let sql::Expr::Identifier(id) = e {
        match id.value.to_ascii_lowercase().as_str() {
            "window_start" => return Ok(OutputCol::WindowStart),
            "window_end" => return Ok(OutputCol::WindowEnd),
            _ => {}
        }
    }
    converted?;
    Err(SqlError::invalid(format!(
        "SELECT item `{e}` is neither a GROUP BY key, a window bound nor an aggregate"
    )))
}
