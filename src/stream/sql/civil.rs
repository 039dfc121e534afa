//! Civil (proleptic Gregorian, UTC) dates for TIMESTAMP columns, without a date library:
//! Howard Hinnant's `days_from_civil` / `civil_from_days`, exact for every i64 day count we
//! can meet, including dates before 1970.

use super::error::SqlError;

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a civil date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Formats ms since the epoch as Flink's TIMESTAMP(3) text, `YYYY-MM-DD HH:MM:SS.sss`.
pub(crate) fn format_timestamp(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}:{s:02}.{milli:03}")
}

/// `+HH:MM`, `+HHMM` or `+HH` (or `-`): the offset in ms.
fn parse_offset(text: &str) -> Option<i64> {
    let (sign, rest) = match text.split_at(1) {
        ("+", r) => (1, r),
        ("-", r) => (-1, r),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !matches!(digits.len(), 2 | 4) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i64 = digits[..2].parse().ok()?;
    let m: i64 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    (h <= 23 && m <= 59).then_some(sign * (h * 60 + m) * 60_000)
}

/// Parses integer ms, or `YYYY-MM-DD[ T]HH:MM[:SS[.fff]]` with an optional `Z` or ISO 8601
/// offset (`+01:00`), as UTC.
pub(crate) fn parse_timestamp(text: &str) -> Result<i64, SqlError> {
    let bad = || SqlError::bad_value(text, "a TIMESTAMP (ms, or 'YYYY-MM-DD HH:MM:SS[.fff]')");
    let t = text.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    let t = t.strip_suffix('Z').unwrap_or(t);
    let (date, time) = match t.split_once([' ', 'T']) {
        Some((d, tm)) => (d, tm),
        None => (t, "00:00:00"),
    };
    // An ISO 8601 offset (`+01:00`, `-0500`, as nginx's $time_iso8601 writes): the local
    // time minus the offset is UTC.
    let (time, offset_ms) = match time.find(['+', '-']) {
        Some(at) => (&time[..at], parse_offset(&time[at..]).ok_or_else(bad)?),
        None => (time, 0),
    };
    let num = |s: &str| -> Result<i64, SqlError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 9 {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    // A leading '-' is a year before 1 AD; split on the '-'s after it.
    let (neg, date_body) = match date.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, date),
    };
    let mut parts = date_body.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let (y, m, d) = (num(y)?, num(m)?, num(d)?);
    let y = if neg { -y } else { y };
    // Beyond ±999999 years the ms count could overflow.
    if y.abs() > 999_999 || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(bad());
    }
    let (hms, frac) = match time.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (time, None),
    };
    let mut hp = hms.split(':');
    let (Some(h), Some(min), sec, None) = (hp.next(), hp.next(), hp.next(), hp.next()) else {
        return Err(bad());
    };
    let (h, min, sec) = (num(h)?, num(min)?, sec.map(num).transpose()?.unwrap_or(0));
    if h > 23 || min > 59 || sec > 59 {
        return Err(bad());
    }
    let milli = match frac {
        // Digits beyond ms (TIMESTAMP(6) text) are truncated.
        Some(f) => {
            let digits: String = f.chars().chain("000".chars()).take(3).collect();
            num(f)?;
            num(&digits)?
        }
        None => 0,
    };
    Ok(
        days_from_civil(y, m, d) * MS_PER_DAY + ((h * 60 + min) * 60 + sec) * 1000 + milli
            - offset_ms,
    )
}
