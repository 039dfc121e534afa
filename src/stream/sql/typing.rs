//! Static types of expressions, checked at parse time: a condition that can never be TRUE
//! (`WHERE level = 5`, `WHERE latency`) would otherwise drop every row silently at run time.

use super::error::SqlError;
use super::expr::{BinOp, Expr};
use super::plan::Column;
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

fn name(ty: ColumnType) -> &'static str {
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
            name(t)
        ))),
        _ => Ok(()),
    };
    let same = |a: Option<ColumnType>, b: Option<ColumnType>, what: &str| match (a, b) {
        (Some(x), Some(y)) if family(x) != family(y) => Err(SqlError::invalid(format!(
            "{what} in {clause} mixes {} and {}",
            name(x),
            name(y)
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
            name(t)
        ))),
        _ => Ok(()),
    }
}

/// Checks SUM/AVG's argument is a number.
pub(crate) fn check_numeric(e: &Expr, columns: &[Column], func: &str) -> Result<(), SqlError> {
    match type_of(e, columns, func)? {
        Some(t) if family(t) != Family::Number => Err(SqlError::invalid(format!(
            "{func} needs a numeric argument, not {}",
            name(t)
        ))),
        _ => Ok(()),
    }
}
