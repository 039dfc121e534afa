//! Static types of expressions, checked at parse time: a condition that can never be TRUE
//! (`WHERE level = 5`, `WHERE latency`) would otherwise drop every row silently at run time.

use super::error::SqlError;
use super::expr::{BinOp, Expr};
use super::plan::{AggCall, AggFunc, Column};
use super::value::{ColumnType, Value};

/// The families values compare and compute within; TIMESTAMP is ms, so numeric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Number,
    Text,
    Bool,
}

fn family(ty: ColumnType) -> Family {
    match ty {
        ColumnType::Bigint | ColumnType::Double | ColumnType::Timestamp => Family::Number,
        ColumnType::String => Family::Text,
        ColumnType::Boolean => Family::Bool,
    }
}

fn literal_type(v: &Value) -> Option<ColumnType> {
    match v {
        Value::Null => None,
        Value::Bool(_) => Some(ColumnType::Boolean),
        Value::Int(_) => Some(ColumnType::Bigint),
        Value::Double(_) => Some(ColumnType::Double),
        Value::Str(_) => Some(ColumnType::String),
    }
}

/// The SQL name of a type, for messages.
pub(crate) fn type_name(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::Bigint => "BIGINT",
        ColumnType::Double => "DOUBLE",
        ColumnType::String => "STRING",
        ColumnType::Timestamp => "TIMESTAMP",
    }
}

/// The type of `e` over `columns` (None for an untyped NULL), or why it is ill-typed.
pub(crate) fn type_of(
    e: &Expr,
    columns: &[Column],
    clause: &str,
) -> Result<Option<ColumnType>, SqlError> {
    let want = |ty: Option<ColumnType>, fam: Family, what: &str| match ty {
        Some(t) if family(t) != fam => Err(SqlError::invalid(format!(
            "{what} in {clause} needs {}, not {}",
            match fam {
                Family::Number => "a number",
                Family::Text => "a STRING",
                Family::Bool => "a BOOLEAN",
            },
            type_name(t)
        ))),
        _ => Ok(()),
    };
    let same = |a: Option<ColumnType>, b: Option<ColumnType>, what: &str| match (a, b) {
        (Some(x), Some(y)) if family(x) != family(y) => Err(SqlError::invalid(format!(
            "{what} in {clause} mixes {} and {}",
            type_name(x),
            type_name(y)
        ))),
        _ => Ok(()),
    };
    Ok(match e {
        Expr::Column(i) => columns.get(*i).map(|c| c.ty),
        Expr::Literal(v) => literal_type(v),
        Expr::Not(x) => {
            want(type_of(x, columns, clause)?, Family::Bool, "NOT")?;
            Some(ColumnType::Boolean)
        }
        Expr::Neg(x) => {
            let t = type_of(x, columns, clause)?;
            want(t, Family::Number, "unary -")?;
            t
        }
        Expr::IsNull { expr, .. } => {
            type_of(expr, columns, clause)?;
            Some(ColumnType::Boolean)
        }
        Expr::InList { expr, list, .. } => {
            let t = type_of(expr, columns, clause)?;
            for v in list {
                same(t, literal_type(v), "IN")?;
            }
            Some(ColumnType::Boolean)
        }
        Expr::Binary(op, l, r) => {
            let (a, b) = (type_of(l, columns, clause)?, type_of(r, columns, clause)?);
            match op {
                BinOp::And | BinOp::Or => {
                    let what = if *op == BinOp::And { "AND" } else { "OR" };
                    want(a, Family::Bool, what)?;
                    want(b, Family::Bool, what)?;
                    Some(ColumnType::Boolean)
                }
                BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                    same(a, b, "a comparison")?;
                    Some(ColumnType::Boolean)
                }
                BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                    want(a, Family::Number, "arithmetic")?;
                    want(b, Family::Number, "arithmetic")?;
                    match (a, b) {
                        (Some(ColumnType::Double), _) | (_, Some(ColumnType::Double)) => {
                            Some(ColumnType::Double)
                        }
                        (None, None) => None,
                        _ => Some(ColumnType::Bigint),
                    }
                }
            }
        }
    })
}

/// Checks a WHERE or FILTER condition is BOOLEAN (or NULL).
pub(crate) fn check_condition(e: &Expr, columns: &[Column], clause: &str) -> Result<(), SqlError> {
    match type_of(e, columns, clause)? {
        Some(t) if t != ColumnType::Boolean => Err(SqlError::invalid(format!(
            "{clause} needs a BOOLEAN condition, not {}",
            type_name(t)
        ))),
        _ => Ok(()),
    }
}

/// Checks SUM/AVG's argument is a number.
pub(crate) fn check_numeric(e: &Expr, columns: &[Column], func: &str) -> Result<(), SqlError> {
    match type_of(e, columns, func)? {
        Some(t) if family(t) != Family::Number => Err(SqlError::invalid(format!(
            "{func} needs a numeric argument, not {}",
            type_name(t)
        ))),
        _ => Ok(()),
    }
}

/// The result type of an aggregate (None when unknown, e.g. MIN(NULL)).
pub(crate) fn agg_type(a: &AggCall, columns: &[Column]) -> Result<Option<ColumnType>, SqlError> {
    let arg = match &a.arg {
        Some(e) => type_of(e, columns, "SELECT")?,
        None => None,
    };
    Ok(match a.func {
        AggFunc::Count => Some(ColumnType::Bigint),
        AggFunc::Sum | AggFunc::Avg => match arg {
            Some(ColumnType::Double) => Some(ColumnType::Double),
            None => None,
            Some(_) => Some(ColumnType::Bigint),
        },
        AggFunc::Min | AggFunc::Max => arg,
    })
}

/// Whether a value of type `ty` can be written to a sink column of type `sink`: the same
/// family (numbers convert among themselves), or anything into a STRING column.
pub(crate) fn fits(ty: Option<ColumnType>, sink: ColumnType) -> bool {
    match ty {
        None => true,
        Some(t) => sink == ColumnType::String || family(t) == family(sink),
    }
}
