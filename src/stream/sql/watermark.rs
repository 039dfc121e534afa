//! Flink's `WATERMARK FOR ts AS ts - INTERVAL '2' SECOND` inside a `CREATE TABLE` column list.
//! sqlparser has no grammar for it, so it is cut out of the text before parsing and becomes
//! the table's `event_time` / `watermark_delay` options.

use sqlparser::ast as sql;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;

use super::error::SqlError;
use super::parse_expr::interval_ms;

/// One table's WATERMARK clause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Watermark {
    pub(crate) table: String,
    pub(crate) column: String,
    pub(crate) delay_ms: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Word,
    Quoted,
    Punct(char),
}

struct Tok {
    kind: Kind,
    start: usize,
    end: usize,
}

/// The tokens that matter for finding the clause: words, quoted names/strings, punctuation;
/// comments and whitespace are skipped so a WATERMARK in them or in a string is left alone.
fn tokens(text: &str) -> Vec<Tok> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if text[i..].starts_with("--") {
            i = text[i..].find('\n').map_or(b.len(), |n| i + n);
            continue;
        }
        if text[i..].starts_with("/*") {
            i = text[i + 2..].find("*/").map_or(b.len(), |n| i + n + 4);
            continue;
        }
        let kind = if c == b'\'' || c == b'"' || c == b'`' {
            i += 1;
            while i < b.len() {
                if b[i] == c {
                    // A doubled quote is an escaped one.
                    if b.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
            Kind::Quoted
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
                i += 1;
            }
            Kind::Word
        } else {
            i += 1;
            Kind::Punct(c as char)
        };
        out.push(Tok {
            kind,
            start,
            end: i,
        });
    }
    out
}

/// Removes every WATERMARK clause from `text`; the clauses, with the tables they belong to.
pub(crate) fn rewrite(text: &str) -> Result<(String, Vec<Watermark>), SqlError> {
    let toks = tokens(text);
    let word = |i: usize, w: &str| {
        toks.get(i)
            .is_some_and(|t| t.kind == Kind::Word && text[t.start..t.end].eq_ignore_ascii_case(w))
    };
    let name = |t: &Tok| {
        let s = &text[t.start..t.end];
        if t.kind == Kind::Quoted {
            s[1..s.len().saturating_sub(1).max(1)].to_string()
        } else {
            s.to_string()
        }
    };
    let mut table = None;
    let mut cuts = Vec::new();
    let mut found = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        if word(i, "CREATE") && word(i + 1, "TABLE") {
            // The last name part before the column list's '('.
            let mut j = i + 2;
            while j < toks.len() && toks[j].kind != Kind::Punct('(') {
                if toks[j].kind != Kind::Punct('.') {
                    table = Some(name(&toks[j]));
                }
                j += 1;
            }
        }
        if word(i, "WATERMARK") && word(i + 1, "FOR") && word(i + 3, "AS") {
            let clause =
                || SqlError::invalid("WATERMARK needs `FOR column AS column [- INTERVAL ...]`");
            let column = toks.get(i + 2).map(&name).ok_or_else(clause)?;
            // The expression runs to the ',' or ')' that closes it at its own nesting level.
            let mut depth = 0i32;
            let mut j = i + 4;
            while j < toks.len() {
                match toks[j].kind {
                    Kind::Punct('(') => depth += 1,
                    Kind::Punct(')') if depth == 0 => break,
                    Kind::Punct(')') => depth -= 1,
                    Kind::Punct(',') if depth == 0 => break,
                    _ => {}
                }
                j += 1;
            }
            if j == i + 4 || j >= toks.len() {
                return Err(clause());
            }
            let expr_text = &text[toks[i + 4].start..toks[j - 1].end];
            let cut = match (i.checked_sub(1).map(|p| toks[p].kind), toks[j].kind) {
                (Some(Kind::Punct(',')), _) => (toks[i - 1].start, toks[j - 1].end),
                (_, Kind::Punct(',')) => (toks[i].start, toks[j].end),
                _ => return Err(SqlError::invalid("WATERMARK must be inside a column list")),
            };
            cuts.push(cut);
            let table = table
                .clone()
                .ok_or_else(|| SqlError::invalid("WATERMARK outside a CREATE TABLE"))?;
            found.push(Watermark {
                delay_ms: delay(&column, expr_text)?,
                table,
                column,
            });
            i = j;
        }
        i += 1;
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (from, to) in cuts {
        out.push_str(&text[at..from]);
        out.push(' ');
        at = to;
    }
    out.push_str(&text[at..]);
    Ok((out, found))
}

/// The delay of `col` or `col - INTERVAL ...`.
fn delay(column: &str, expr_text: &str) -> Result<u64, SqlError> {
    let bad = || {
        SqlError::unsupported(format!(
            "WATERMARK expression `{expr_text}` (use `{column} - INTERVAL '2' SECOND`)"
        ))
    };
    let expr = Parser::new(&GenericDialect {})
        .try_with_sql(expr_text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError::Syntax(e.to_string()))?;
    let is_col = |e: &sql::Expr| matches!(e, sql::Expr::Identifier(id) if id.value.eq_ignore_ascii_case(column));
    match &expr {
        e if is_col(e) => Ok(0),
        sql::Expr::BinaryOp {
            left,
            op: sql::BinaryOperator::Minus,
            right,
        } if is_col(left) => interval_ms(right, "WATERMARK"),
        _ => Err(bad()),
    }
}
