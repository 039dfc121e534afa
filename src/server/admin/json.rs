//! A small JSON value that keeps key order, printed the way ZooKeeper's AdminServer prints
//! it (Jackson's default pretty printer: `"key" : value`, `[ a, b ]`, `{ }`).

use std::fmt::Write as _;

use crate::server::mntr::{java_double, Value};

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    /// null
    Null,
    /// true/false
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A double, printed as Java prints it.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<J>),
    /// An object, in key order.
    Obj(Vec<(String, J)>),
}

impl From<&str> for J {
    fn from(s: &str) -> J {
        J::Str(s.to_string())
    }
}
impl From<String> for J {
    fn from(s: String) -> J {
        J::Str(s)
    }
}
impl From<i64> for J {
    fn from(i: i64) -> J {
        J::Int(i)
    }
}
impl From<bool> for J {
    fn from(b: bool) -> J {
        J::Bool(b)
    }
}
impl From<&Value> for J {
    fn from(v: &Value) -> J {
        match v {
            Value::Int(i) => J::Int(*i),
            Value::Float(x) => J::Float(*x),
            Value::Text(s) => J::Str(s.clone()),
        }
    }
}

/// Builds an object from (key, value) pairs.
pub fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, J)>) -> J {
    J::Obj(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

fn escape(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn indent(level: usize, out: &mut String) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

impl J {
    fn write(&self, level: usize, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Int(i) => {
                let _ = write!(out, "{i}");
            }
            J::Float(x) => out.push_str(&java_double(*x)),
            J::Str(s) => escape(s, out),
            J::Arr(items) if items.is_empty() => out.push_str("[ ]"),
            J::Arr(items) => {
                out.push_str("[ ");
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write(level, out);
                }
                out.push_str(" ]");
            }
            J::Obj(pairs) if pairs.is_empty() => out.push_str("{ }"),
            J::Obj(pairs) => {
                out.push('{');
                for (i, (k, v)) in pairs.iter().enumerate() {
                    out.push_str(if i > 0 { ",\n" } else { "\n" });
                    indent(level + 1, out);
                    escape(k, out);
                    out.push_str(" : ");
                    v.write(level + 1, out);
                }
                out.push('\n');
                indent(level, out);
                out.push('}');
            }
        }
    }

    /// The pretty-printed text.
    pub fn pretty(&self) -> String {
        let mut out = String::new();
        self.write(0, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_jackson() {
        let v = obj([
            (
                "a",
                J::Arr(vec![obj([("x", J::Int(1))]), obj([("x", J::Int(2))])]),
            ),
            ("b", J::Arr(vec![])),
            ("c", obj::<&str>([])),
            ("d", J::Float(0.0)),
            ("error", J::Null),
        ]);
        assert_eq!(
            v.pretty(),
            "{\n  \"a\" : [ {\n    \"x\" : 1\n  }, {\n    \"x\" : 2\n  } ],\n  \"b\" : [ ],\n  \"c\" : { },\n  \"d\" : 0.0,\n  \"error\" : null\n}"
        );
    }
}
