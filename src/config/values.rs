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

/// `electionAlg`: QuorumPeerConfig takes `Integer.parseInt` of it and refuses anything but 3
/// (FastLeaderElection); a non-number stops it too (a NumberFormatException).
pub fn election_alg(v: &str) -> Result<(), String> {
    match java_parse_long(v) {
        Some(3) => Ok(()),
        _ => Err("Invalid electionAlg value. Only 3 is supported.".into()),
    }
}

/// `peerType`: `observer` or `participant`, any case; `true` for observer.
pub fn peer_type(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "observer" => Ok(true),
        "participant" => Ok(false),
        _ => Err(format!("Unrecognised peertype: {v}")),
    }
}

/// QuorumPeerConfig.parseBoolean, with its message (used by the quorum keys it parses so).
pub fn java_boolean(key: &str, v: &str) -> Result<bool, String> {
    boolean(v).map_err(|_| format!("Invalid option {v} for {key}. Choose 'true' or 'false.'"))
}

/// `zookeeper.cnxTimeout`, ms. ZooKeeper stops at start-up on a non-number; a negative one
/// passes there but kills every election dial ("connect: timeout can't be negative"), so it
/// is refused here. 0 means no timeout, as for `Socket.connect`.
pub fn cnx_timeout(v: &str) -> Result<u32, String> {
    match java_parse_long(v) {
        Some(n) if n < 0 => Err("connect: timeout can't be negative".into()),
        n => int_in(n, 0, i32::MAX.into())
            .map(|n| n as u32)
            .ok_or_else(|| format!("For input string: \"{v}\" (expected milliseconds)")),
    }
}

/// `Double.parseDouble`: decimal or exponent notation with an optional `d`/`f` suffix,
/// `NaN` and `Infinity` spelled as Java spells them (Rust's parser also takes `inf`, `nan`).
pub fn java_parse_double(v: &str) -> Option<f64> {
    let t = v.trim();
    let body = t.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(t);
    let unsigned = body.strip_prefix(['+', '-']).unwrap_or(body);
    let numeric = !unsigned.is_empty()
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if numeric || unsigned == "NaN" || unsigned == "Infinity" {
        body.parse().ok()
    } else {
        None
    }
}

/// `zookeeper.snapshotSizeFactor` as ZKDatabase reads it: a bad number or one above 1 is
/// logged and the default used (never an error); a negative one turns off syncing
/// learners from the txn log.
pub fn snapshot_size_factor(v: &str) -> Result<f64, String> {
    match java_parse_double(v) {
        None => Err(format!(
            "Error parsing zookeeper.snapshotSizeFactor, using default value {DEFAULT_SNAPSHOT_SIZE_FACTOR}"
        )),
        Some(f) if f > 1.0 => Err(format!(
            "The configured zookeeper.snapshotSizeFactor is invalid, going to use the default {DEFAULT_SNAPSHOT_SIZE_FACTOR}"
        )),
        Some(f) => Ok(f),
    }
}

/// ZKDatabase.DEFAULT_SNAPSHOT_SIZE_FACTOR.
pub const DEFAULT_SNAPSHOT_SIZE_FACTOR: f64 = 0.33;
/// ZKDatabase.DEFAULT_COMMIT_LOG_COUNT, also the least it accepts.
pub const DEFAULT_COMMIT_LOG_COUNT: usize = 500;

/// `zookeeper.commitLogCount` as ZKDatabase reads it: a bad number, or one below the
/// default, is logged and the default used.
pub fn commit_log_count(v: &str) -> Result<usize, String> {
    match int_in(java_parse_long(v), i32::MIN.into(), i32::MAX.into()) {
        None => Err(format!(
            "Error parsing zookeeper.commitLogCount - use default value {DEFAULT_COMMIT_LOG_COUNT}"
        )),
        Some(n) if n < DEFAULT_COMMIT_LOG_COUNT as i64 => Err(format!(
            "The configured commitLogCount zookeeper.commitLogCount is less than the recommended {DEFAULT_COMMIT_LOG_COUNT}, going to use the recommended one"
        )),
        Some(n) => Ok(n as usize),
    }
}
