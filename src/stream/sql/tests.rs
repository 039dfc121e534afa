//! Parsing job files into plans, and what they reject.

use super::*;
use crate::stream::window::WindowSpec;

const BENCH: &str = "
CREATE TABLE logs (ts BIGINT, service BIGINT, level STRING, latency BIGINT)
  WITH ('connector' = 'datagen', 'rows' = '100000', 'event_time' = 'ts', 'watermark_delay' = '2 s');
CREATE TABLE out (service BIGINT, window_start BIGINT, window_end BIGINT, cnt BIGINT, errors BIGINT, lat_sum BIGINT)
  WITH ('connector' = 'file', 'path' = '/tmp/out', 'format' = 'csv');
INSERT INTO out
SELECT service, TUMBLE_START(ts, INTERVAL '10' SECOND), TUMBLE_END(ts, INTERVAL '10' SECOND),
       COUNT(*), COUNT(*) FILTER (WHERE level = 'ERROR'), SUM(latency)
FROM logs GROUP BY service, TUMBLE(ts, INTERVAL '10' SECOND);
";

const TABLES: &str = "
CREATE TABLE src (ts BIGINT, k STRING, v BIGINT, d DOUBLE) WITH (connector = 'file', event_time = 'ts');
CREATE TABLE dst (a STRING, b BIGINT, c BIGINT) WITH (connector = 'file', format = 'json');
";

fn job(query: &str) -> Result<JobPlan, SqlError> {
    parse_job(&format!("{TABLES}{query}"))
}

fn err(query: &str) -> String {
    match job(query) {
        Ok(_) => panic!("accepted: {query}"),
        Err(e) => e.to_string(),
    }
}

fn s(x: &str) -> Value {
    Value::Str(x.to_string())
}

#[test]
fn bench_job_parses() {
    let plan = parse_job(BENCH).unwrap();
    assert_eq!(plan.window, WindowSpec::Tumbling { size: 10_000 });
    assert_eq!(plan.keys, vec![Expr::Column(1)]);
    assert_eq!(plan.aggs.len(), 3);
    assert_eq!(plan.aggs[0].func, AggFunc::Count);
    assert!(plan.aggs[0].arg.is_none() && plan.aggs[0].filter.is_none());
    assert!(plan.aggs[1].filter.is_some());
    assert_eq!(plan.aggs[2].func, AggFunc::Sum);
    use OutputCol::*;
    assert_eq!(
        plan.output,
        vec![Key(0), WindowStart, WindowEnd, Agg(0), Agg(1), Agg(2)]
    );
    assert_eq!(plan.source.event_time, Some(0));
    assert_eq!(plan.time, 0);
    assert_eq!(plan.source.watermark_delay_ms, 2000);
    assert_eq!(plan.source.connector, "datagen");
    assert_eq!(plan.source.option("ROWS"), Some("100000"));
    assert_eq!(plan.sink.format, Format::Csv);
    assert_eq!(plan.sink.option("path"), Some("/tmp/out"));
    assert!(plan.filter.is_none());

    let row = [
        Value::Int(12_345),
        Value::Int(7),
        s("ERROR"),
        Value::Int(40),
    ];
    let (ts, group, accs) = plan.project(&row).unwrap();
    assert_eq!((ts, group.clone()), (12_345, vec![Value::Int(7)]));
    assert_eq!(
        accs,
        vec![Acc::Count(1), Acc::Count(1), Acc::Sum(Value::Int(40))]
    );
    let info = [Value::Int(12_346), Value::Int(7), s("INFO"), Value::Int(2)];
    let (_, _, more) = plan.project(&info).unwrap();
    let mut merged = accs;
    for (a, b) in merged.iter_mut().zip(&more) {
        a.merge(b);
    }
    let out = plan.output_row(&group, 10_000, 20_000, &merged);
    assert_eq!(
        out,
        vec![
            Value::Int(7),
            Value::Int(10_000),
            Value::Int(20_000),
            Value::Int(2),
            Value::Int(1),
            Value::Int(42)
        ]
    );
    assert_eq!(
        encode(plan.sink.format, &out, &plan.sink.columns),
        "7,10000,20000,2,1,42"
    );
    assert!(plan
        .project(&[Value::Null, Value::Int(1), s("x"), Value::Int(1)])
        .is_none());
    assert!(plan
        .project(&[Value::Int(-1), Value::Int(1), s("x"), Value::Int(1)])
        .is_none());
}

#[test]
fn hop_session_and_pseudo_columns() {
    let hop = job("INSERT INTO dst SELECT COUNT(*), HOP_START(ts, INTERVAL '10' SECOND, INTERVAL '1' MINUTE), window_end \
                   FROM src GROUP BY HOP(ts, INTERVAL '10' SECOND, INTERVAL '1' MINUTE)")
    .unwrap();
    assert_eq!(
        hop.window,
        WindowSpec::Sliding {
            size: 60_000,
            slide: 10_000
        }
    );
    assert_eq!(
        hop.output,
        vec![
            OutputCol::Agg(0),
            OutputCol::WindowStart,
            OutputCol::WindowEnd
        ]
    );
    assert!(hop.keys.is_empty());

    let session = job(
        "INSERT INTO dst SELECT window_start, SESSION_END(ts, INTERVAL '5' SECONDS), MAX(v) AS m \
                       FROM src AS s WHERE s.v > 0 GROUP BY SESSION(ts, INTERVAL '5' SECOND)",
    )
    .unwrap();
    assert_eq!(session.window, WindowSpec::Session { gap: 5_000 });
    assert_eq!(session.sink.format, Format::Json);

    for (interval, ms) in [
        ("INTERVAL '500' MILLISECOND", 500),
        ("INTERVAL '2' MINUTES", 120_000),
        ("INTERVAL '1' HOUR", 3_600_000),
        ("INTERVAL '1' DAY", 86_400_000),
        ("INTERVAL '2 s'", 2_000),
        ("INTERVAL '2 seconds'", 2_000),
    ] {
        let plan = job(&format!(
            "INSERT INTO dst SELECT k, window_start, COUNT(v) FROM src GROUP BY TUMBLE(ts, {interval}), k"
        ))
        .unwrap();
        assert_eq!(plan.window, WindowSpec::Tumbling { size: ms }, "{interval}");
    }
}

#[test]
fn window_column_becomes_event_time() {
    let plan = parse_job(
        "CREATE TABLE a (x BIGINT, t TIMESTAMP(3)) WITH (connector = 'file', watermark_delay = '500 ms', idle_timeout = '1 min', allowed_lateness = '2000');
         CREATE TABLE b (n BIGINT) WITH (connector = 'print');
         INSERT INTO b SELECT COUNT(*) FROM a GROUP BY TUMBLE(t, INTERVAL '1' SECOND)",
    )
    .unwrap();
    assert_eq!((plan.source.event_time, plan.time), (Some(1), 1));
    assert_eq!(plan.source.watermark_delay_ms, 500);
    assert_eq!(plan.source.idle_timeout_ms, Some(60_000));
    assert_eq!(plan.source.allowed_lateness_ms, 2000);
}

#[test]
fn rejects_with_clause_names() {
    let g = "GROUP BY k, TUMBLE(ts, INTERVAL '1' SECOND)";
    let cases = [
        (format!("INSERT INTO dst SELECT k, COUNT(*), 1 FROM src JOIN dst ON src.v = dst.a {g}"), "JOIN is not supported"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src {g} ORDER BY k"), "ORDER BY is not supported"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src {g} LIMIT 3"), "LIMIT is not supported"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src {g} HAVING COUNT(*) > 1"), "HAVING is not supported"),
        (format!("INSERT INTO dst SELECT DISTINCT k, COUNT(*), SUM(v) FROM src {g}"), "DISTINCT is not supported"),
        (format!("INSERT INTO dst SELECT k, COUNT(DISTINCT v), SUM(v) FROM src {g}"), "DISTINCT in COUNT is not supported"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) OVER (PARTITION BY k) FROM src {g}"), "window function (OVER)"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src WHERE v IN (SELECT a FROM dst) {g}"), "subquery in WHERE"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM (SELECT * FROM src) {g}"), "subquery in FROM"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src {g} UNION SELECT k, COUNT(*), SUM(v) FROM src {g}"), "UNION is not supported"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src {g}; INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src {g}"), "more than one INSERT INTO is not supported"),
        ("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src GROUP BY k".to_string(), "GROUP BY needs exactly one TUMBLE, HOP or SESSION window"),
        ("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src".to_string(), "GROUP BY needs exactly one TUMBLE, HOP or SESSION window"),
        (format!("INSERT INTO dst SELECT k, v, SUM(v) FROM src {g}"), "SELECT item `v` is neither a GROUP BY key"),
        (format!("INSERT INTO dst SELECT k, SUM(v) FROM src {g}"), "SELECT has 2 columns but sink `dst` has 3"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src WHERE foo > 1 {g}"), "unknown column `foo` in WHERE"),
        (format!("INSERT INTO dst SELECT k, COUNT(*) FILTER (WHERE bar), SUM(v) FROM src {g}"), "unknown column `bar` in FILTER"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(k) FROM src {g}"), "SUM needs a numeric argument, not STRING"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src WHERE k LIKE 'a%' {g}"), "LIKE in WHERE is not supported"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src WHERE k = 5 {g}"), "a comparison in WHERE mixes STRING and BIGINT"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src WHERE v {g}"), "WHERE needs a BOOLEAN condition, not BIGINT"),
        (format!("INSERT INTO dst SELECT k, COUNT(*) FILTER (WHERE v + k > 1), SUM(v) FROM src {g}"), "arithmetic in FILTER needs a number, not STRING"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), AVG(v > 1) FROM src {g}"), "AVG needs a numeric argument, not BOOLEAN"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src WHERE v IN (1, 'a') {g}"), "IN in WHERE mixes BIGINT and STRING"),
        (format!("INSERT INTO dst SELECT k, k, SUM(v) FROM src {g}"), "SELECT item 2 (STRING) does not fit sink column `b` (BIGINT)"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), TUMBLE_END(ts, INTERVAL '2' SECOND) FROM src {g}"), "does not match the GROUP BY window"),
        ("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src GROUP BY k, TUMBLE(v, INTERVAL '1' SECOND)".to_string(), "is not the source's event_time"),
        ("INSERT INTO nope SELECT k FROM src".to_string(), "INSERT INTO table `nope` is not created"),
        ("SELECT 1".to_string(), "bare SELECT"),
        ("INSERT INTO dst SELECT COUNT(*), 1, 2 FROM src GROUP BY HOP(ts, INTERVAL '3' SECOND, INTERVAL '10' SECOND)".to_string(), "multiple of its slide"),
        (format!("INSERT INTO dst SELECT * FROM src {g}"), "SELECT item `*` is not supported"),
        (format!("WITH x AS (SELECT * FROM src) INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM x {g}"), "WITH"),
    ];
    for (query, want) in cases {
        let got = err(&query);
        assert!(got.contains(want), "{query}\n  got: {got}\n want: {want}");
    }
    assert!(parse_job("CREATE TABLE t (a BIGINT)")
        .unwrap_err()
        .to_string()
        .contains("'connector'"));
    assert!(parse_job("CREATE TABLE t (a BIGINT) WITH (connector = 'x'); CREATE TABLE t (b BIGINT) WITH (connector = 'x')")
        .unwrap_err()
        .to_string()
        .contains("created twice"));
    assert!(parse_job(
        "CREATE TABLE t (a BIGINT) WITH (connector = 'x', watermark_delay = 'soon')"
    )
    .unwrap_err()
    .to_string()
    .contains("watermark_delay"));
}

#[test]
fn where_filter_and_aggs() {
    let plan = job(
        "INSERT INTO dst SELECT SUM(v) FILTER (WHERE k IN ('a', 'b')), AVG(v), MIN(d) \
         FROM src WHERE v IS NOT NULL AND NOT (v % 2 = 1 OR d < 0) GROUP BY TUMBLE(ts, INTERVAL '1' SECOND)",
    )
    .unwrap();
    let row = |v: Value, k: &str, d: f64| vec![Value::Int(1), s(k), v, Value::Double(d)];
    assert!(plan.project(&row(Value::Null, "a", 1.0)).is_none());
    assert!(plan.project(&row(Value::Int(3), "a", 1.0)).is_none());
    assert!(plan.project(&row(Value::Int(4), "a", -1.0)).is_none());
    let (_, group, mut accs) = plan.project(&row(Value::Int(4), "a", 2.5)).unwrap();
    assert!(group.is_empty());
    assert_eq!(accs[0], Acc::Sum(Value::Int(4)));
    let (_, _, other) = plan.project(&row(Value::Int(-10), "c", 0.5)).unwrap();
    assert_eq!(other[0], Acc::Sum(Value::Null), "FILTER rejected the row");
    for (a, b) in accs.iter_mut().zip(&other) {
        a.merge(b);
    }
    // AVG of BIGINT truncates toward zero: (4 - 10) / 2 = -3; the DOUBLE MIN into BIGINT
    // truncates; the BIGINT SUM into the STRING column is its text.
    assert_eq!(
        plan.output_row(&[], 0, 1000, &accs),
        vec![s("4"), Value::Int(-3), Value::Int(0)]
    );
}

#[test]
fn watermark_clause() {
    let plan = parse_job(
        "CREATE TABLE src (
            ts TIMESTAMP(3), k STRING, -- WATERMARK in a comment
            v BIGINT,
            WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
         ) WITH ('connector' = 'kafka', 'note' = 'WATERMARK FOR x AS y');
         CREATE TABLE dst (k STRING, n BIGINT) WITH (connector = 'print');
         INSERT INTO dst SELECT k, COUNT(*) FROM src GROUP BY k, TUMBLE(ts, INTERVAL '1' MINUTE)",
    )
    .unwrap();
    assert_eq!(plan.source.event_time, Some(0));
    assert_eq!(plan.source.watermark_delay_ms, 2000);
    assert_eq!(plan.source.option("note"), Some("WATERMARK FOR x AS y"));
    assert_eq!(plan.source.columns.len(), 3);

    let first = parse_job(
        "CREATE TABLE \"s\" (WATERMARK FOR t AS t, t BIGINT) WITH (connector = 'x');
         CREATE TABLE d (n BIGINT) WITH (connector = 'x');
         INSERT INTO d SELECT COUNT(*) FROM s GROUP BY TUMBLE(t, INTERVAL '1' SECOND)",
    )
    .unwrap();
    assert_eq!(
        (first.source.event_time, first.source.watermark_delay_ms),
        (Some(0), 0)
    );

    let bad =
        parse_job("CREATE TABLE s (t BIGINT, WATERMARK FOR t AS t + 1) WITH (connector = 'x')");
    assert!(bad
        .unwrap_err()
        .to_string()
        .contains("WATERMARK expression"));
    let unknown =
        parse_job("CREATE TABLE s (t BIGINT, WATERMARK FOR u AS u) WITH (connector = 'x')");
    assert!(unknown
        .unwrap_err()
        .to_string()
        .contains("unknown column `u` in WATERMARK"));
}

#[test]
fn expressions_and_options() {
    let plan = parse_job(
        "CREATE TABLE src (t TIMESTAMP(3), k VARCHAR(10), v INT, d DECIMAL(10, 2), ok BOOLEAN)
           WITH (connector = 'file', scan.mode = 'x', 'a.b' = 'y', event_time = 't');
         CREATE TABLE dst (k STRING, w TIMESTAMP(3), a DOUBLE, c BIGINT) WITH (connector = 'file');
         INSERT INTO dst (k, w, a, c)
         SELECT src.k, window_end, AVG(v), COUNT(d)
         FROM src
         WHERE (v BETWEEN -5 AND 10 OR d >= 2.5) AND k <> 'x' AND k != 'y' AND ok = TRUE AND d IS NOT NULL
         GROUP BY k, TUMBLE(t, INTERVAL '1' SECOND)",
    )
    .unwrap();
    assert_eq!(plan.source.option("scan.mode"), Some("x"));
    assert_eq!(plan.source.option("a.b"), Some("y"));
    let ty: Vec<ColumnType> = plan.source.columns.iter().map(|c| c.ty).collect();
    use ColumnType::*;
    assert_eq!(ty, vec![Timestamp, String, Bigint, Double, Boolean]);
    let row = |v: i64, d: f64, k: &str| {
        vec![
            Value::Int(5),
            Value::Str(k.into()),
            Value::Int(v),
            Value::Double(d),
            Value::Bool(true),
        ]
    };
    assert!(plan.project(&row(-5, 0.0, "a")).is_some());
    assert!(plan.project(&row(11, 2.5, "a")).is_some());
    assert!(plan.project(&row(11, 2.0, "a")).is_none());
    assert!(plan.project(&row(1, 0.0, "x")).is_none());
    assert!(plan.project(&row(1, 0.0, "y")).is_none());
    let (_, group, accs) = plan.project(&row(3, 0.0, "a")).unwrap();
    // AVG of a BIGINT column is BIGINT; the DOUBLE sink column gets it as a double.
    let out = plan.output_row(&group, 0, 1000, &accs);
    assert_eq!(
        out,
        vec![
            Value::Str("a".into()),
            Value::Int(1000),
            Value::Double(3.0),
            Value::Int(1)
        ]
    );
    assert_eq!(
        encode(plan.sink.format, &out, &plan.sink.columns),
        "a,1970-01-01 00:00:01.000,3,1"
    );

    let same = parse_job(
        "CREATE TABLE t (ts BIGINT) WITH (connector = 'x');
         INSERT INTO t SELECT COUNT(*) FROM t GROUP BY TUMBLE(ts, INTERVAL '1' SECOND)",
    );
    assert!(same
        .unwrap_err()
        .to_string()
        .contains("both source and sink"));
    let bad_type = parse_job("CREATE TABLE t (ts BLOB) WITH (connector = 'x')");
    assert!(bad_type
        .unwrap_err()
        .to_string()
        .contains("column type BLOB"));
    let bad_time = job("INSERT INTO dst SELECT COUNT(*), 1, 2 FROM src GROUP BY TUMBLE(ts, 10)");
    assert!(bad_time
        .unwrap_err()
        .to_string()
        .contains("TUMBLE needs a positive INTERVAL"));
}

/// No user text panics the parser: every prefix of the benchmark job, and of a job with a
/// WATERMARK clause, is either a plan or an error.
#[test]
fn truncated_jobs_do_not_panic() {
    let watermarked = "CREATE TABLE s (t BIGINT, WATERMARK FOR t AS t - INTERVAL '1' SECOND) \
                       WITH (connector = 'x'); CREATE TABLE d (n BIGINT) WITH (connector = 'y'); \
                       INSERT INTO d SELECT COUNT(*) FROM s GROUP BY SESSION(t, INTERVAL '1' SECOND)";
    for text in [BENCH, watermarked] {
        for (i, _) in text.char_indices() {
            let _ = parse_job(&text[..i]);
            let _ = parse_job(&text[i..]);
        }
        assert!(parse_job(text).is_ok());
    }
}

/// A web-server log line, one capture group per column; a line that does not match, or a
/// group that does not parse as its column, is a parse error.
#[test]
fn regex_format_reads_log_lines() {
    let plan = parse_job(
        r#"CREATE TABLE logs (ts TIMESTAMP(3), service STRING, status BIGINT, latency BIGINT)
             WITH (connector = 'file', format = 'regex', event_time = 'ts',
                   regex = '^\S+ - - \[([^\]]+)\] "\S+ /([^/ ]+)\S* [^"]*" (\d{3}) \d+ (\d+)$');
           CREATE TABLE out (service STRING, n BIGINT) WITH (connector = 'print');
           INSERT INTO out SELECT service, COUNT(*) FROM logs
             GROUP BY service, TUMBLE(ts, INTERVAL '10' SECOND)"#,
    )
    .unwrap();
    let src = &plan.source;
    let row = decode_line(
        src,
        r#"10.0.0.7 - - [2023-11-14T22:13:20.123+00:00] "GET /svc-07/items?id=3 HTTP/1.1" 503 1234 187"#,
    )
    .unwrap();
    assert_eq!(
        row,
        vec![
            Value::Int(1_700_000_000_123),
            Value::Str("svc-07".into()),
            Value::Int(503),
            Value::Int(187)
        ]
    );
    assert!(decode_line(src, "garbage").is_err());
    assert!(decode_line(src, r#"h - - [not a time] "GET /a HTTP/1.1" 200 1 2"#).is_err());
    let groups = parse_job(
        "CREATE TABLE l (a STRING, b STRING) WITH (connector = 'file', format = 'regex', regex = '(x)');
         CREATE TABLE o (a STRING) WITH (connector = 'print');
         INSERT INTO o SELECT a FROM l GROUP BY a, TUMBLE(b, INTERVAL '1' SECOND)",
    );
    assert!(groups.unwrap_err().to_string().contains("1 capture groups"));
    let missing =
        parse_job("CREATE TABLE l (a STRING) WITH (connector = 'file', format = 'regex')");
    assert!(missing.unwrap_err().to_string().contains("'regex'"));
}
