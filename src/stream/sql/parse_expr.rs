//! sqlparser expressions -> [`Expr`], with column names resolved against the source table.
//! Only the row-level subset the engine evaluates is accepted; anything else is rejected
//! naming the clause it was written in.

use sqlparser::ast as sql;

use super::error::SqlError;
use super::expr::{BinOp, Expr};
use super::plan::{parse_duration, unit_ms, TableDef};
use super::value::Value;

/// The names a column reference may use: the source table, under its name or FROM alias.
pub(crate) struct Scope<'a> {
    pub(crate) table: &'a TableDef,
    pub(crate) alias: Option<String>,
}

impl Scope<'_> {
    fn resolve(&self, parts: &[sql::Ident], clause: &'static str) -> Result<usize, SqlError> {
        let unknown = || SqlError::UnknownColumn {
            name: parts
                .iter()
                .map(|p| p.value.as_str())
                .collect::<Vec<_>>()
                .join("."),
            clause,
        };
        let name = match parts {
            [col] => col,
            [qual, col]
                if qual.value.eq_ignore_ascii_case(&self.table.name)
                    || self
                        .alias
                        .as_deref()
                        .is_some_and(|a| qual.value.eq_ignore_ascii_case(a)) =>
            {
                col
            }
            _ => return Err(unknown()),
        };
        self.table.column(&name.value).ok_or_else(unknown)
    }
}

/// Whether `name` is an aggregate function this module evaluates.
pub(crate) fn is_aggregate(name: &str) -> bool {
    matches!(
        name.to_ascii_uppercase().as_str(),
        "COUNT" | "SUM" | "MIN" | "MAX" | "AVG"
    )
}

/// Converts a row expression written in `clause` (e.g. "WHERE").
pub(crate) fn convert(
    e: &sql::Expr,
    scope: &Scope,
    clause: &'static str,
) -> Result<Expr, SqlError> {
    let conv = |e: &sql::Expr| convert(e, scope, clause).map(Box::new);
    Ok(match e {
        sql::Expr::Identifier(id) => Expr::Column(scope.resolve(std::slice::from_ref(id), clause)?),
        sql::Expr::CompoundIdentifier(parts) => Expr::Column(scope.resolve(parts, clause)?),
        sql::Expr::Value(v) => Expr::Literal(literal(&v.value)?),
        sql::Expr::Nested(inner) => convert(inner, scope, clause)?,
        sql::Expr::UnaryOp { op, expr } => match op {
            sql::UnaryOperator::Not => Expr::Not(conv(expr)?),
            sql::UnaryOperator::Plus => convert(expr, scope, clause)?,
            sql::UnaryOperator::Minus => match convert(expr, scope, clause)? {
                Expr::Literal(Value::Int(i)) => Expr::Literal(Value::Int(i.wrapping_neg())),
                Expr::Literal(Value::Double(d)) => Expr::Literal(Value::Double(-d)),
                other => Expr::Neg(Box::new(other)),
            },
            other => {
                return Err(SqlError::unsupported(format!(
                    "operator {other} in {clause}"
                )))
            }
        },
        sql::Expr::BinaryOp { left, op, right } => {
            Expr::Binary(bin_op(op, clause)?, conv(left)?, conv(right)?)
        }
        sql::Expr::IsNull(inner) => Expr::IsNull {
            expr: conv(inner)?,
            negated: false,
        },
        sql::Expr::IsNotNull(inner) => Expr::IsNull {
            expr: conv(inner)?,
            negated: true,
        },
        sql::Expr::In {
            expr,
            target,
            negated,
            ..
        } => {
            let sql::InTarget::List(items) = target else {
                return Err(SqlError::unsupported(format!("a subquery in {clause}")));
            };
            let list = items
                .iter()
                .map(|item| match convert(item, scope, clause)? {
                    Expr::Literal(v) => Ok(v),
                    _ => Err(SqlError::unsupported(format!(
                        "a non-literal IN list item in {clause}"
                    ))),
                })
                .collect::<Result<_, _>>()?;
            Expr::InList {
                expr: conv(expr)?,
                list,
                negated: *negated,
            }
        }
        sql::Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let x = conv(expr)?;
            let range = Expr::Binary(
                BinOp::And,
                Box::new(Expr::Binary(BinOp::Ge, x.clone(), conv(low)?)),
                Box::new(Expr::Binary(BinOp::Le, x, conv(high)?)),
            );
            if *negated {
                Expr::Not(Box::new(range))
            } else {
                range
            }
        }
        sql::Expr::Subquery(_) | sql::Expr::Exists { .. } => {
            return Err(SqlError::unsupported(format!("a subquery in {clause}")))
        }
        sql::Expr::Like { .. } | sql::Expr::ILike { .. } => {
            return Err(SqlError::unsupported(format!("LIKE in {clause}")))
        }
        sql::Expr::Function(f) => {
            let name = f.name.to_string();
            return Err(SqlError::unsupported(if f.over.is_some() {
                format!("a window function (OVER) in {clause}")
            } else if is_aggregate(&name) {
                format!("an aggregate inside an expression in {clause}")
            } else {
                format!("function `{name}` in {clause}")
            }));
        }
        other => {
            return Err(SqlError::unsupported(format!(
                "expression `{other}` in {clause}"
            )))
        }
    })
}

fn bin_op(op: &sql::BinaryOperator, clause: &'static str) -> Result<BinOp, SqlError> {
    use sql::BinaryOperator as B;
    Ok(match op {
        B::And => BinOp::And,
        B::Or => BinOp::Or,
        B::Eq => BinOp::Eq,
        B::NotEq => BinOp::Ne,
        B::Lt => BinOp::Lt,
        B::LtEq => BinOp::Le,
        B::Gt => BinOp::Gt,
        B::GtEq => BinOp::Ge,
        B::Plus => BinOp::Add,
        B::Minus => BinOp::Sub,
        B::Multiply => BinOp::Mul,
        B::Divide => BinOp::Div,
        B::Modulo => BinOp::Mod,
        other => {
            return Err(SqlError::unsupported(format!(
                "operator {other} in {clause}"
            )))
        }
    })
}

/// A literal's value: integers that fit i64 are BIGINT, other numbers DOUBLE.
pub(crate) fn literal(v: &sql::Value) -> Result<Value, SqlError> {
    Ok(match v {
        sql::Value::Number(text, _) => match text.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Double(
                text.parse::<f64>()
                    .map_err(|_| SqlError::bad_value(text, "a number"))?,
            ),
        },
        sql::Value::SingleQuotedString(s) => Value::Str(s.clone()),
        sql::Value::Boolean(b) => Value::Bool(*b),
        sql::Value::Null => Value::Null,
        other => return Err(SqlError::unsupported(format!("literal {other}"))),
    })
}

/// An `INTERVAL` as ms: `INTERVAL '10' SECOND`, `INTERVAL '2 s'`, `INTERVAL '500' MILLISECOND`.
pub(crate) fn interval_ms(e: &sql::Expr, what: &str) -> Result<u64, SqlError> {
    let bad = || SqlError::invalid(format!("{what} needs a positive INTERVAL, not `{e}`"));
    let sql::Expr::Interval(iv) = e else {
        return Err(bad());
    };
    if iv.last_field.is_some() || iv.fractional_seconds_precision.is_some() {
        return Err(SqlError::unsupported(format!(
            "INTERVAL `{e}` (use one unit)"
        )));
    }
    let text = match iv.value.as_ref() {
        sql::Expr::Value(v) => match &v.value {
            sql::Value::SingleQuotedString(s) | sql::Value::Number(s, _) => s.clone(),
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    let ms = match &iv.leading_field {
        Some(field) => {
            let unit = unit_ms(&field.to_string()).ok_or_else(|| {
                SqlError::unsupported(format!("INTERVAL unit {field} (use MILLISECOND..DAY)"))
            })?;
            let n: u64 = text.trim().parse().map_err(|_| bad())?;
            n.checked_mul(unit).ok_or_else(bad)?
        }
        None => parse_duration(&text).map_err(|_| bad())?,
    };
    if ms == 0 {
        return Err(bad());
    }
    Ok(ms)
}
