//! Value parsers with Java's number syntax. Each returns the reason text of an
//! [`InvalidValue`](super::ConfigError::InvalidValue) error on failure.

/// `Integer.parseInt`/`Long.parseLong`: optional sign, then decimal digits.
pub fn java_parse_long(v: &str) -> Option<i64> {
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// `Integer.decode`/`Long.decode` (what `Integer.getInteger` uses): optional sign, then
/// `0x`/`0X`/`#` hex, `0` octal, or decimal.
pub fn java_decode(v: &str) -> Option<i64> {
    let (negative, rest) = match v.as_bytes().first() {
        Some(b'-') => (true, &v[1..]),
        Some(b'+') => (false, &v[1..]),
        _ => (false, v),
    };
    let (radix, digits) =
        if let Some(h) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
            (16, h)
        } else if let Some(h) = rest.strip_prefix('#') {
            (16, h)
        } else if rest.len() > 1 && rest.starts_with('0') {
            (8, &rest[1..])
        } else {
            (10, rest)
        };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    let n = if negative { -magnitude } else { magnitude };
    i64::try_from(n).ok()
}

fn int_in(n: Option<i64>, min: i64, max: i64) -> Option<i64> {
    n.filter(|n| (min..=max).contains(n))
}

/// A positive `int` (1..=2^31-1).
pub fn positive_int(v: &str) -> Result<i64, String> {
    int_in(java_parse_long(v), 1, i32::MAX.into())
        .ok_or_else(|| "expected a positive integer".into())
}

/// A non-negative `int` (0..=2^31-1).
pub fn non_negative_int(v: &str) -> Result<i64, String> {
    int_in(java_parse_long(v), 0, i32::MAX.into())
        .ok_or_else(|| "expected a non-negative integer".into())
}

/// Any `int`.
pub fn any_int(v: &str) -> Result<i64, String> {
    int_in(java_parse_long(v), i32::MIN.into(), i32::MAX.into())
        .ok_or_else(|| "expected an integer".into())
}

/// A session timeout: `-1` (derive from tickTime) or a non-negative `int`.
pub fn session_timeout(v: &str) -> Result<i32, String> {
    int_in(java_parse_long(v), -1, i32::MAX.into())
        .map(|n| n as i32)
        .ok_or_else(|| "expected a non-negative integer (milliseconds) or -1".into())
}

/// A positive `int` in `Integer.decode` syntax (decimal, `0x` hex, `0` octal).
pub fn positive_decoded_int(v: &str) -> Result<i64, String> {
    int_in(java_decode(v), 1, i32::MAX.into())
        .ok_or_else(|| "expected a positive integer (decimal, or hex with 0x)".into())
}

/// A non-negative `long` in `Long.decode` syntax.
pub fn non_negative_decoded_long(v: &str) -> Result<i64, String> {
    int_in(java_decode(v), 0, i64::MAX)
        .ok_or_else(|| "expected a non-negative integer (decimal, or hex with 0x)".into())
}

/// A non-negative `long` in decimal.
pub fn non_negative_long(v: &str) -> Result<i64, String> {
    int_in(java_parse_long(v), 0, i64::MAX).ok_or_else(|| "expected a non-negative integer".into())
}

/// A TCP port, 0..=65535 (0: unset, or any free port).
pub fn port(v: &str) -> Result<u16, String> {
    java_parse_long(v)
        .and_then(|n| u16::try_from(n).ok())
        .ok_or_else(|| "expected a port number (0-65535)".into())
}

/// ZooKeeper's `parseBoolean`: `true`/`false`, any case.
pub fn boolean(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err("expected true or false".into())
    }
}

/// `forceSync`: ZooKeeper reads `yes`/`no`; `true`/`false` are accepted too.
pub fn yes_no(v: &str) -> Result<bool, String> {
    if v.eq_ignore_ascii_case("yes") || v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("no") || v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err("expected yes or no".into())
    }
}

/// A value that must not be empty.
pub fn non_empty(v: &str) -> Result<String, String> {
    if v.is_empty() {
        Err("expected a non-empty value".into())
    } else {
        Ok(v.to_string())
    }
}
