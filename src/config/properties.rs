//! A reader for the `java.util.Properties` text format, as ZooKeeper loads `zoo.cfg`.
//!
//! Supported, as `Properties.load` does: `key=value`, `key: value` and `key value`
//! separators (whitespace around one `=`/`:` is skipped); `#` and `!` comment lines;
//! blank lines; a line ending in an odd number of backslashes continues on the next line
//! (whose leading whitespace is dropped); escapes `\t \n \r \f \uXXXX` and `\x` = `x`
//! (so `\=`, `\:`, `\ ` and `\\` put those characters into keys). Line ends: `\n`, `\r\n`, `\r`.
//! Keys and values are then trimmed, as ZooKeeper trims them.

use std::path::Path;

use super::error::ConfigError;

/// One logical `key=value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key, unescaped and trimmed.
    pub key: String,
    /// The value, unescaped and trimmed.
    pub value: String,
    /// 1-based number of the (first) line it was read from.
    pub line: usize,
}

/// Properties' whitespace: space, tab, form feed.
fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\x0c'
}

/// Decode file bytes: UTF-8 when valid, else ISO-8859-1 (what `Properties.load(InputStream)` uses).
pub fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Split text into natural lines on `\n`, `\r\n` or `\r`.
fn natural_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let bytes = text.as_bytes();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                lines.push(&text[start..i]);
                start = i + 1;
            }
            b'\r' => {
                lines.push(&text[start..i]);
                if bytes.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < bytes.len() {
        lines.push(&text[start..]);
    }
    lines
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

/// Parse properties text; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Entry>, ConfigError> {
    let lines = natural_lines(text);
    let mut entries = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let first = lines[i].trim_start_matches(is_ws);
        i += 1;
        if first.is_empty() || first.starts_with('#') || first.starts_with('!') {
            continue;
        }
        let mut logical = first.to_string();
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            if i >= lines.len() {
                break;
            }
            logical.push_str(lines[i].trim_start_matches(is_ws));
            i += 1;
        }
        let syntax = |message: String| ConfigError::Syntax {
            path: path.to_path_buf(),
            line: line_no,
            message,
        };
        let (raw_key, raw_value) = split_key_value(&logical);
        let key = unescape(raw_key).map_err(syntax)?;
        let value = unescape(raw_value).map_err(syntax)?;
        entries.push(Entry {
            key: key.trim().to_string(),
            value: value.trim().to_string(),
            line: line_no,
        });
    }
    Ok(entries)
}

/// Split a logical line at the first unescaped `=`, `:` or whitespace.
fn split_key_value(line: &str) -> (&str, &str) {
    let mut backslash = false;
    let mut key_end = line.len();
    let mut value_start = line.len();
    let mut has_sep = false;
    for (pos, c) in line.char_indices() {
        if !backslash && (c == '=' || c == ':') {
            key_end = pos;
            value_start = pos + 1;
            has_sep = true;
            break;
        }
        if !backslash && is_ws(c) {
            key_end = pos;
            value_start = pos + c.len_utf8();
            break;
        }
        backslash = c == '\\' && !backslash;
    }
    let mut rest = &line[value_start..];
    loop {
        let trimmed = rest.trim_start_matches(is_ws);
        match trimmed.chars().next() {
            Some(c @ ('=' | ':')) if !has_sep => {
                has_sep = true;
                rest = &trimmed[c.len_utf8()..];
            }
            _ => {
                rest = trimmed;
                break;
            }
        }
    }
    (&line[..key_end], rest)
}

/// Resolve Properties escapes.
fn unescape(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => {}
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                let valid = hex.len() == 4 && hex.chars().all(|h| h.is_ascii_hexdigit());
                let code = valid
                    .then(|| u32::from_str_radix(&hex, 16).ok())
                    .flatten()
                    .ok_or_else(|| "malformed \\uxxxx encoding".to_string())?;
                // Surrogate halves cannot stand alone in a Rust string.
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
        }
    }
    Ok(out)
}
