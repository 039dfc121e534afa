//! The function calls of a group-window query: the GROUP BY window (`TUMBLE`, `HOP`,
//! `SESSION`) and the aggregates of the SELECT list, with the call features (OVER, DISTINCT,
//! WITHIN GROUP, ...) a stream job cannot run rejected by name.

use sqlparser::ast as sql;

use super::error::SqlError;
use super::expr::Expr;
use super::parse_expr::{convert, interval_ms, Scope};
use super::plan::{AggCall, AggFunc};
use super::typing::{check_condition, check_numeric, type_of};
use crate::stream::window::WindowSpec;

/// A GROUP BY window: its kind's name (`TUMBLE`, `HOP`, `SESSION`), time column and spec.
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Window {
    pub(crate) kind: &'static str,
    pub(crate) time: usize,
    pub(crate) spec: WindowSpec,
}

/// The function call's name (uppercased) and the call, or None if `e` is not a call.
pub(crate) fn call_args(e: &sql::Expr) -> Option<(String, &sql::Function)> {
    match e {
        sql::Expr::Function(f) => Some((f.name.to_string().to_ascii_uppercase(), f)),
        _ => None,
    }
}

/// A call's positional arguments; OVER, DISTINCT, WITHIN GROUP and the like are rejected
/// naming `what` (the function), as a stream job cannot run them.
fn plain_args<'a>(
    f: &'a sql::Function,
    what: &str,
) -> Result<Vec<&'a sql::FunctionArgExpr>, SqlError> {
    if f.over.is_some() {
        return Err(SqlError::unsupported(format!(
            "a window function (OVER) in {what}"
        )));
    }
    if !f.within_group.is_empty() || f.null_treatment.is_some() {
        return Err(SqlError::unsupported(format!(
            "WITHIN GROUP / IGNORE NULLS in {what}"
        )));
    }
    match &f.args {
        sql::FunctionArguments::List(list) => {
            if list.duplicate_treatment == Some(sql::DuplicateTreatment::Distinct) {
                return Err(SqlError::unsupported(format!("DISTINCT in {what}")));
            }
            if !list.clauses.is_empty() {
                return Err(SqlError::unsupported(format!("a clause inside {what}")));
            }
            list.args
                .iter()
                .map(|a| match a {
                    sql::FunctionArg::Unnamed(x) => Ok(x),
                    _ => Err(SqlError::unsupported(format!("a named argument in {what}"))),
                })
                .collect()
        }
        sql::FunctionArguments::None => Ok(Vec::new()),
        sql::FunctionArguments::Subquery(_) => {
            Err(SqlError::unsupported(format!("a subquery in {what}")))
        }
    }
}

/// `TUMBLE(ts, size)`, `HOP(ts, slide, size)` or `SESSION(ts, gap)`; None if `e` is no
/// window call.
pub(crate) fn window_call(e: &sql::Expr, scope: &Scope) -> Result<Option<Window>, SqlError> {
    let Some((name, f)) = call_args(e) else {
        return Ok(None);
    };
    parse_window(&name, f, scope)
}

/// The window of a call already known to be named `name` (`TUMBLE`, `HOP`, `SESSION`; others
/// are None); `TUMBLE_START(...)` and friends reuse it to check they name the GROUP BY window.
pub(crate) fn parse_window(
    name: &str,
    f: &sql::Function,
    scope: &Scope,
) -> Result<Option<Window>, SqlError> {
    let kind = match name {
        "TUMBLE" => "TUMBLE",
        "HOP" => "HOP",
        "SESSION" => "SESSION",
        _ => return Ok(None),
    };
    let args = plain_args(f, kind)?;
    let arity = if kind == "HOP" { 3 } else { 2 };
    let usage = || {
        SqlError::invalid(match kind {
            "HOP" => "HOP needs (time column, INTERVAL slide, INTERVAL size)",
            _ => "TUMBLE/SESSION need (time column, INTERVAL)",
        })
    };
    if args.len() != arity {
        return Err(usage());
    }
    let exprs: Vec<&sql::Expr> = args
        .iter()
        .map(|a| match a {
            sql::FunctionArgExpr::Expr(e) => Ok(e),
            _ => Err(usage()),
        })
        .collect::<Result<_, _>>()?;
    let Expr::Column(time) = convert(exprs[0], scope, "GROUP BY")? else {
        return Err(usage());
    };
    let spec = match kind {
        "TUMBLE" => WindowSpec::Tumbling {
            size: interval_ms(exprs[1], "TUMBLE")?,
        },
        "SESSION" => WindowSpec::Session {
            gap: interval_ms(exprs[1], "SESSION")?,
        },
        _ => {
            let slide = interval_ms(exprs[1], "HOP's slide")?;
            let size = interval_ms(exprs[2], "HOP's size")?;
            if size % slide != 0 {
                return Err(SqlError::invalid(
                    "HOP's size must be a multiple of its slide",
                ));
            }
            WindowSpec::Sliding { size, slide }
        }
    };
    Ok(Some(Window { kind, time, spec }))
}

/// An aggregate call (`name` is COUNT, SUM, MIN, MAX or AVG), with its FILTER.
pub(crate) fn aggregate(name: &str, f: &sql::Function, scope: &Scope) -> Result<AggCall, SqlError> {
    let func = match name {
        "COUNT" => AggFunc::Count,
        "SUM" => AggFunc::Sum,
        "MIN" => AggFunc::Min,
        "MAX" => AggFunc::Max,
        _ => AggFunc::Avg,
    };
    let args = plain_args(f, name)?;
    let arg = match args[..] {
        [sql::FunctionArgExpr::Wildcard] if func == AggFunc::Count => None,
        [sql::FunctionArgExpr::Expr(e)] => Some(convert(e, scope, "SELECT")?),
        _ => {
            return Err(SqlError::invalid(format!(
                "{name} takes one argument{}",
                if func == AggFunc::Count { " or *" } else { "" }
            )))
        }
    };
    let columns = &scope.table.columns;
    match (&arg, func) {
        (Some(e), AggFunc::Sum | AggFunc::Avg) => check_numeric(e, columns, name)?,
        (Some(e), _) => type_of(e, columns, name).map(drop)?,
        (None, _) => {}
    }
    let filter = f
        .filter
        .as_ref()
        .map(|c| convert(c, scope, "FILTER"))
        .transpose()?;
    if let Some(c) = &filter {
        check_condition(c, columns, "FILTER")?;
    }
    Ok(AggCall { func, arg, filter })
}
