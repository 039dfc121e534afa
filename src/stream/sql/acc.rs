//! Aggregate accumulators. A record carries one "unit" accumulator per aggregate (built from
//! its row), and window state merges them, so the engine never needs the rows themselves.

use std::cmp::Ordering;

use super::expr::compare;
use super::plan::AggFunc;
use super::value::Value;

/// The partial state of one aggregate. `Sum`/`Min`/`Max` hold NULL until a non-NULL value.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Acc {
    Count(u64),
    Sum(Value),
    Min(Value),
    Max(Value),
    Avg { sum: Value, n: u64 },
}

impl Acc {
    /// The accumulator of one row: `v` is the argument's value, or None when the aggregate's
    /// FILTER rejected the row. COUNT(*) gets `Some(Value::Bool(true))` for a passing row.
    /// NULLs are ignored, as SQL does.
    pub(crate) fn unit(func: AggFunc, v: Option<Value>) -> Acc {
        let v = v.unwrap_or(Value::Null);
        match func {
            AggFunc::Count => Acc::Count(u64::from(!v.is_null())),
            AggFunc::Sum => Acc::Sum(v),
            AggFunc::Min => Acc::Min(v),
            AggFunc::Max => Acc::Max(v),
            AggFunc::Avg => {
                let n = u64::from(!v.is_null());
                Acc::Avg { sum: v, n }
            }
        }
    }

    /// Folds `other` (of the same aggregate) into `self`; mismatched kinds are ignored.
    pub(crate) fn merge(&mut self, other: &Acc) {
        match (self, other) {
            (Acc::Count(a), Acc::Count(b)) => *a = a.wrapping_add(*b),
            (Acc::Sum(a), Acc::Sum(b)) => *a = add(a, b),
            (Acc::Min(a), Acc::Min(b)) => pick(a, b, Ordering::Less),
            (Acc::Max(a), Acc::Max(b)) => pick(a, b, Ordering::Greater),
            (Acc::Avg { sum, n }, Acc::Avg { sum: s2, n: n2 }) => {
                *sum = add(sum, s2);
                *n = n.wrapping_add(*n2);
            }
            _ => {}
        }
    }

    /// The SQL result. AVG of BIGINTs truncates toward zero (Flink's rule).
    pub(crate) fn finish(&self) -> Value {
        match self {
            Acc::Count(n) => Value::Int(*n as i64),
            Acc::Sum(v) | Acc::Min(v) | Acc::Max(v) => v.clone(),
            Acc::Avg { n: 0, .. } => Value::Null,
            Acc::Avg {
                sum: Value::Int(s),
                n,
            } => Value::Int((i128::from(*s) / i128::from(*n)) as i64),
            Acc::Avg { sum, n } => match sum.as_f64() {
                Some(s) => Value::Double(s / *n as f64),
                None => Value::Null,
            },
        }
    }
}

/// NULL-ignoring sum: ints wrap, a double on either side makes a double.
fn add(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Null, v) | (v, Value::Null) => v.clone(),
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_add(*y)),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => Value::Double(x + y),
            _ => a.clone(),
        },
    }
}

/// Keeps in `a` whichever of `a`, `b` is further toward `want`, ignoring NULLs.
fn pick(a: &mut Value, b: &Value, want: Ordering) {
    if b.is_null() {
        return;
    }
    if a.is_null() || compare(b, a) == Some(want) {
        *a = b.clone();
    }
}
