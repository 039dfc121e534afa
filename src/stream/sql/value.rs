//! A field's value and a column's declared type. Values cross workers and checkpoints, so
//! they are serde types, and their hash is stable across processes (keys are partitioned by it).

use super::civil::parse_timestamp;
use super::error::SqlError;
use crate::stream::datagen::mix64;

/// One field of a row. TIMESTAMP fields are `Int` ms since the Unix epoch (UTC).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(String),
}

/// A column's SQL type, reduced to what the engine distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColumnType {
    Boolean,
    Bigint,
    Double,
    String,
    Timestamp,
}

impl ColumnType {
    /// Maps a declared SQL type (sqlparser's rendering, e.g. `VARCHAR(20)`, `TIMESTAMP(3)`).
    pub(crate) fn from_sql(declared: &str) -> Option<ColumnType> {
        let upper = declared.to_ascii_uppercase();
        let base = upper.split('(').next().unwrap_or("").trim();
        Some(match base {
            "INT" | "INTEGER" | "SMALLINT" | "TINYINT" | "BIGINT" => ColumnType::Bigint,
            "FLOAT" | "REAL" | "DOUBLE" | "DOUBLE PRECISION" | "DECIMAL" | "NUMERIC" => {
                ColumnType::Double
            }
            "VARCHAR" | "STRING" | "CHAR" | "TEXT" | "CHARACTER VARYING" => ColumnType::String,
            "BOOLEAN" | "BOOL" => ColumnType::Boolean,
            "TIMESTAMP" => ColumnType::Timestamp,
            _ => return None,
        })
    }
}

impl Value {
    /// The value as an integer (doubles truncate), or None for NULL and non-numbers.
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Double(d) if d.is_finite() => Some(*d as i64),
            _ => None,
        }
    }

    /// The value as a double, or None for NULL and non-numbers.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Double(d) => Some(*d),
            _ => None,
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A stable hash (same in every process and run) for keying: a type tag, then the
    /// value's bytes, each folded in with `mix64`. -0.0 hashes as 0.0, as they compare equal.
    pub(crate) fn hash64(&self, seed: u64) -> u64 {
        let fold = |h: u64, x: u64| mix64(h ^ x.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        match self {
            Value::Null => fold(seed, 1),
            Value::Bool(b) => fold(fold(seed, 2), *b as u64),
            Value::Int(i) => fold(fold(seed, 3), *i as u64),
            Value::Double(d) => {
                let d = if *d == 0.0 { 0.0 } else { *d };
                fold(fold(seed, 4), d.to_bits())
            }
            Value::Str(s) => {
                let mut h = fold(fold(seed, 5), s.len() as u64);
                for chunk in s.as_bytes().chunks(8) {
                    let mut word = [0u8; 8];
                    word[..chunk.len()].copy_from_slice(chunk);
                    h = fold(h, u64::from_le_bytes(word));
                }
                h
            }
        }
    }
}

/// Parses one text field as `ty`; "" is NULL for every type but STRING.
pub(crate) fn parse_field(text: &str, ty: ColumnType) -> Result<Value, SqlError> {
    if text.is_empty() && ty != ColumnType::String {
        return Ok(Value::Null);
    }
    let t = text.trim();
    match ty {
        ColumnType::String => Ok(Value::Str(text.to_string())),
        ColumnType::Bigint => t
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| SqlError::bad_value(text, "a BIGINT")),
        ColumnType::Double => t
            .parse::<f64>()
            .map(Value::Double)
            .map_err(|_| SqlError::bad_value(text, "a DOUBLE")),
        ColumnType::Boolean => match t.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Ok(Value::Bool(true)),
            "false" | "f" | "0" => Ok(Value::Bool(false)),
            _ => Err(SqlError::bad_value(text, "a BOOLEAN")),
        },
        ColumnType::Timestamp => parse_timestamp(t).map(Value::Int),
    }
}
