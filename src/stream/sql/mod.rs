//! The SQL front end of stream jobs: a job file (`CREATE TABLE`s and one
//! `INSERT INTO sink SELECT ... FROM source GROUP BY keys, TUMBLE|HOP|SESSION(...)`) parsed
//! into a [`JobPlan`], plus the row-level evaluation the engine calls into (WHERE, aggregate
//! accumulators, CSV/JSON lines). Parsing is sqlparser's; this module accepts only the
//! windowed-aggregation subset the engine runs and names the clause of anything else.
//!
//! - [`parse`], [`parse_select`], [`parse_call`], [`parse_expr`], [`watermark`]: text -> plan;
//! - [`plan`]: tables and the job; [`expr`], [`typing`]: row expressions; [`acc`]: aggregates;
//! - [`value`], [`civil`]: values and TIMESTAMP text; [`format`]: CSV and JSON lines.

pub(crate) mod acc;
pub(crate) mod civil;
pub(crate) mod error;
pub(crate) mod expr;
pub(crate) mod format;
pub(crate) mod parse;
pub(crate) mod parse_call;
pub(crate) mod parse_expr;
pub(crate) mod parse_select;
pub(crate) mod plan;
pub(crate) mod typing;
pub(crate) mod value;
pub(crate) mod watermark;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_eval;

// The names the engine codes against, at `stream::sql::`.
#[allow(unused_imports)]
pub(crate) use self::{
    acc::Acc,
    error::SqlError,
    expr::Expr,
    format::{decode, decode_line, encode},
    plan::{AggCall, AggFunc, Column, Format, JobPlan, OutputCol, TableDef},
    value::{parse_field, ColumnType, Value},
};

/// Parses a job file into its plan.
pub(crate) fn parse_job(sql: &str) -> Result<JobPlan, SqlError> {
    parse::parse_job(sql)
}
