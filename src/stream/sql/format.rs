//! Source lines in, sink lines out: RFC 4180 CSV and JSON lines, typed by the table's columns.

use super::civil::format_timestamp;
use super::error::SqlError;
use super::plan::{Column, Format, LinePattern, TableDef};
use super::value::{parse_field, ColumnType, Value};

/// Decodes one line into a row of `columns`.
pub(crate) fn decode(
    format: Format,
    line: &str,
    columns: &[Column],
) -> Result<Vec<Value>, SqlError> {
    match format {
        Format::Csv => {
            let fields = split_csv(line)?;
            if fields.len() != columns.len() {
                return Err(SqlError::invalid(format!(
                    "CSV line has {} fields, the table has {} columns",
                    fields.len(),
                    columns.len()
                )));
            }
            fields
                .iter()
                .zip(columns)
                .map(|(f, c)| parse_field(f, c.ty))
                .collect()
        }
        Format::Json => decode_json(line, columns),
        Format::Regex => Err(SqlError::invalid(
            "the regex format decodes with its table's pattern (decode_line)",
        )),
    }
}

/// Decodes one line of `table`, in its format.
pub(crate) fn decode_line(table: &TableDef, line: &str) -> Result<Vec<Value>, SqlError> {
    let Some(LinePattern(re)) = table
        .pattern
        .as_ref()
        .filter(|_| table.format == Format::Regex)
    else {
        return decode(table.format, line, &table.columns);
    };
    let line = line.strip_suffix('\r').unwrap_or(line);
    let caps = re
        .captures(line)
        .ok_or_else(|| SqlError::bad_value(line, "a line matching the table's 'regex'"))?;
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| match caps.get(i + 1) {
            Some(m) => parse_field(m.as_str(), c.ty),
            None => Ok(Value::Null),
        })
        .collect()
}

/// Splits a CSV record: fields separated by commas, a field in double quotes may hold commas,
/// newlines and `""` (one quote). A trailing `\r` is dropped.
fn split_csv(line: &str) -> Result<Vec<String>, SqlError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err(SqlError::bad_value(line, "a closing '\"' in CSV")),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => return Err(SqlError::bad_value(line, "',' after a quoted CSV field")),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

fn decode_json(line: &str, columns: &[Column]) -> Result<Vec<Value>, SqlError> {
    let parsed: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| SqlError::bad_value(line, format!("a JSON object ({e})")))?;
    let serde_json::Value::Object(obj) = parsed else {
        return Err(SqlError::bad_value(line, "a JSON object"));
    };
    columns
        .iter()
        .map(|c| {
            let field = obj.get(&c.name).or_else(|| {
                obj.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(&c.name))
                    .map(|(_, v)| v)
            });
            json_field(field, c)
        })
        .collect()
}

fn json_field(field: Option<&serde_json::Value>, c: &Column) -> Result<Value, SqlError> {
    use serde_json::Value as J;
    let bad = |v: &J| SqlError::bad_value(&v.to_string(), format!("a {:?} for `{}`", c.ty, c.name));
    Ok(match (field, c.ty) {
        (None | Some(J::Null), _) => Value::Null,
        (Some(J::String(s)), ColumnType::String) => Value::Str(s.clone()),
        (Some(J::String(s)), ty) => parse_field(s, ty)?,
        (Some(J::Bool(b)), ColumnType::Boolean) => Value::Bool(*b),
        (Some(v @ J::Number(n)), ColumnType::Bigint | ColumnType::Timestamp) => {
            Value::Int(n.as_i64().ok_or_else(|| bad(v))?)
        }
        (Some(v @ J::Number(n)), ColumnType::Double) => {
            Value::Double(n.as_f64().ok_or_else(|| bad(v))?)
        }
        (Some(v), ColumnType::String) => Value::Str(v.to_string()),
        (Some(v), _) => return Err(bad(v)),
    })
}

/// Encodes a row of `columns` as one line (no newline).
pub(crate) fn encode(format: Format, row: &[Value], columns: &[Column]) -> String {
    match format {
        // A sink in the regex format is refused when the job is built; CSV is its nearest.
        Format::Csv | Format::Regex => {
            let mut out = String::new();
            for (i, v) in row.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let ty = columns.get(i).map(|c| c.ty);
                let text = text_of(v, ty).unwrap_or_default();
                if text.contains([',', '"', '\n', '\r']) {
                    out.push('"');
                    out.push_str(&text.replace('"', "\"\""));
                    out.push('"');
                } else {
                    out.push_str(&text);
                }
            }
            out
        }
        Format::Json => {
            // Built by hand so the fields keep the sink's column order.
            let mut out = String::from("{");
            for (i, v) in row.iter().enumerate() {
                let (name, ty) = match columns.get(i) {
                    Some(c) => (c.name.clone(), Some(c.ty)),
                    None => (format!("f{i}"), None),
                };
                let j = match (v, ty) {
                    (Value::Int(ms), Some(ColumnType::Timestamp)) => {
                        serde_json::Value::String(format_timestamp(*ms))
                    }
                    (Value::Null, _) => serde_json::Value::Null,
                    (Value::Bool(b), _) => serde_json::Value::Bool(*b),
                    (Value::Int(n), _) => serde_json::Value::from(*n),
                    // Non-finite doubles have no JSON number; serde_json writes them as null.
                    (Value::Double(d), _) => serde_json::Value::from(*d),
                    (Value::Str(s), _) => serde_json::Value::String(s.clone()),
                };
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(name).to_string());
                out.push(':');
                out.push_str(&j.to_string());
            }
            out.push('}');
            out
        }
    }
}

/// A value's CSV text; None for NULL (an empty field).
fn text_of(v: &Value, ty: Option<ColumnType>) -> Option<String> {
    Some(match (v, ty) {
        (Value::Null, _) => return None,
        (Value::Int(ms), Some(ColumnType::Timestamp)) => format_timestamp(*ms),
        (Value::Bool(b), _) => b.to_string(),
        (Value::Int(n), _) => n.to_string(),
        (Value::Double(d), _) => d.to_string(),
        (Value::Str(s), _) => s.clone(),
    })
}
