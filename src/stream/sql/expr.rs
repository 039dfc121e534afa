//! Row expressions of WHERE, FILTER and aggregate arguments, evaluated with SQL's
//! three-valued logic: any NULL operand makes a comparison or arithmetic NULL, and a row passes
//! a condition only when it evaluates to TRUE.

use std::cmp::Ordering;

use super::value::Value;

/// A binary operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// An expression over one table's columns (resolved to indexes at parse time).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    Column(usize),
    Literal(Value),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `IS NULL`, or `IS NOT NULL` when `negated`.
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// `IN (literals)`, or `NOT IN` when `negated`.
    InList {
        expr: Box<Expr>,
        list: Vec<Value>,
        negated: bool,
    },
}

impl Expr {
    /// The expression's value for `row` (a missing column is NULL).
    pub(crate) fn eval(&self, row: &[Value]) -> Value {
        match self {
            Expr::Column(i) => row.get(*i).cloned().unwrap_or(Value::Null),
            Expr::Literal(v) => v.clone(),
            Expr::Not(e) => match e.eval(row) {
                Value::Bool(b) => Value::Bool(!b),
                _ => Value::Null,
            },
            Expr::Neg(e) => match e.eval(row) {
                Value::Int(i) => Value::Int(i.wrapping_neg()),
                Value::Double(d) => Value::Double(-d),
                _ => Value::Null,
            },
            Expr::Binary(BinOp::And, l, r) => and(l.eval(row), || r.eval(row)),
            Expr::Binary(BinOp::Or, l, r) => or(l.eval(row), || r.eval(row)),
            Expr::Binary(op, l, r) => binary(*op, &l.eval(row), &r.eval(row)),
            Expr::IsNull { expr, negated } => Value::Bool(expr.eval(row).is_null() != *negated),
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let v = expr.eval(row);
                if v.is_null() {
                    return Value::Null;
                }
                let mut saw_null = false;
                for item in list {
                    match compare(&v, item) {
                        Some(Ordering::Equal) => return Value::Bool(!*negated),
                        None => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*negated)
                }
            }
        }
    }

    /// Whether a row passes this condition: only a TRUE result does.
    pub(crate) fn passes(&self, row: &[Value]) -> bool {
        self.eval(row) == Value::Bool(true)
    }
}

/// SQL AND: FALSE wins over NULL; the right side is evaluated only when it can matter.
fn and(l: Value, r: impl FnOnce() -> Value) -> Value {
    if l == Value::Bool(false) {
        return l;
    }
    match (l, r()) {
        (_, Value::Bool(false)) => Value::Bool(false),
        (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
        _ => Value::Null,
    }
}

/// SQL OR: TRUE wins over NULL.
fn or(l: Value, r: impl FnOnce() -> Value) -> Value {
    if l == Value::Bool(true) {
        return l;
    }
    match (l, r()) {
        (_, Value::Bool(true)) => Value::Bool(true),
        (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
        _ => Value::Null,
    }
}

/// Orders two values of comparable types (ints and doubles promote); None for NULL or a
/// type mismatch, which SQL comparisons turn into NULL.
pub(crate) fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Int(_) | Value::Double(_), Value::Int(_) | Value::Double(_)) => {
            a.as_f64()?.partial_cmp(&b.as_f64()?)
        }
        _ => None,
    }
}

fn binary(op: BinOp, a: &Value, b: &Value) -> Value {
    use BinOp::*;
    let cmp = |test: fn(Ordering) -> bool| match compare(a, b) {
        Some(o) => Value::Bool(test(o)),
        None => Value::Null,
    };
    match op {
        Eq => cmp(|o| o == Ordering::Equal),
        Ne => cmp(|o| o != Ordering::Equal),
        Lt => cmp(|o| o == Ordering::Less),
        Le => cmp(|o| o != Ordering::Greater),
        Gt => cmp(|o| o == Ordering::Greater),
        Ge => cmp(|o| o != Ordering::Less),
        Add | Sub | Mul | Div | Mod => arith(op, a, b),
        And | Or => Value::Null, // handled by the caller, short-circuiting
    }
}

/// Integer arithmetic wraps and divides truncating (as SQL's BIGINT); a double on either side
/// promotes; division or modulo by zero is NULL.
fn arith(op: BinOp, a: &Value, b: &Value) -> Value {
    use BinOp::*;
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => match op {
            Add => Value::Int(x.wrapping_add(*y)),
            Sub => Value::Int(x.wrapping_sub(*y)),
            Mul => Value::Int(x.wrapping_mul(*y)),
            Div if *y == 0 => Value::Null,
            Div => Value::Int(x.wrapping_div(*y)),
            Mod if *y == 0 => Value::Null,
            Mod => Value::Int(x.wrapping_rem(*y)),
            _ => Value::Null,
        },
        (Value::Int(_) | Value::Double(_), Value::Int(_) | Value::Double(_)) => {
            let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else {
                return Value::Null;
            };
            match op {
                Add => Value::Double(x + y),
                Sub => Value::Double(x - y),
                Mul => Value::Double(x * y),
                Div | Mod if y == 0.0 => Value::Null,
                Div => Value::Double(x / y),
                Mod => Value::Double(x % y),
                _ => Value::Null,
            }
        }
        _ => Value::Null,
    }
}
