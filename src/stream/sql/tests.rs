use super::civil::{format_timestamp, parse_timestamp};
use super::expr::BinOp;
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
CREATE TABLE dst (a BIGINT, b BIGINT, c BIGINT) WITH (connector = 'file', format = 'json');
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
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(k) FROM src {g}"), "SUM of `k` needs a numeric column"),
        (format!("INSERT INTO dst SELECT k, COUNT(*), SUM(v) FROM src WHERE k LIKE 'a%' {g}"), "LIKE in WHERE is not supported"),
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
    // AVG of BIGINT truncates toward zero: (4 - 10) / 2 = -3; the DOUBLE MIN into BIGINT truncates.
    assert_eq!(
        plan.output_row(&[], 0, 1000, &accs),
        vec![Value::Int(4), Value::Int(-3), Value::Int(0)]
    );
}

#[test]
fn acc_semantics() {
    let mut sum = Acc::unit(AggFunc::Sum, Some(Value::Null));
    assert_eq!(sum.finish(), Value::Null);
    sum.merge(&Acc::unit(AggFunc::Sum, Some(Value::Int(i64::MAX))));
    sum.merge(&Acc::unit(AggFunc::Sum, Some(Value::Int(1))));
    assert_eq!(sum.finish(), Value::Int(i64::MIN), "SUM wraps");
    sum.merge(&Acc::unit(AggFunc::Sum, Some(Value::Double(0.5))));
    assert_eq!(sum.finish(), Value::Double(i64::MIN as f64 + 0.5));

    let mut count = Acc::unit(AggFunc::Count, Some(Value::Null));
    count.merge(&Acc::unit(AggFunc::Count, Some(Value::Int(3))));
    count.merge(&Acc::unit(AggFunc::Count, None));
    assert_eq!(count.finish(), Value::Int(1));

    let mut avg = Acc::unit(AggFunc::Avg, Some(Value::Int(7)));
    avg.merge(&Acc::unit(AggFunc::Avg, Some(Value::Int(0))));
    avg.merge(&Acc::unit(AggFunc::Avg, Some(Value::Null)));
    assert_eq!(avg.finish(), Value::Int(3));
    avg.merge(&Acc::unit(AggFunc::Avg, Some(Value::Double(1.0))));
    assert_eq!(avg.finish(), Value::Double(8.0 / 3.0));
    assert_eq!(Acc::unit(AggFunc::Avg, None).finish(), Value::Null);

    let mut min = Acc::unit(AggFunc::Min, None);
    let mut max = Acc::unit(AggFunc::Max, Some(Value::Null));
    for v in [s("pear"), Value::Null, s("apple"), s("zoo")] {
        min.merge(&Acc::unit(AggFunc::Min, Some(v.clone())));
        max.merge(&Acc::unit(AggFunc::Max, Some(v)));
    }
    assert_eq!((min.finish(), max.finish()), (s("apple"), s("zoo")));
    let mut mixed = Acc::unit(AggFunc::Max, Some(Value::Int(2)));
    mixed.merge(&Acc::unit(AggFunc::Max, Some(Value::Double(2.5))));
    assert_eq!(mixed.finish(), Value::Double(2.5));
}

#[test]
fn three_valued_logic() {
    let lit = |v: Value| Box::new(Expr::Literal(v));
    let bin = |op, a: Value, b: Value| Expr::Binary(op, lit(a), lit(b)).eval(&[]);
    let (t, f, n) = (Value::Bool(true), Value::Bool(false), Value::Null);
    assert_eq!(bin(BinOp::And, n.clone(), f.clone()), f);
    assert_eq!(bin(BinOp::And, n.clone(), t.clone()), n);
    assert_eq!(bin(BinOp::Or, n.clone(), t.clone()), t);
    assert_eq!(bin(BinOp::Or, f.clone(), n.clone()), n);
    assert_eq!(Expr::Not(lit(n.clone())).eval(&[]), n);
    assert_eq!(bin(BinOp::Eq, Value::Int(1), n.clone()), n);
    assert_eq!(bin(BinOp::Eq, Value::Int(2), Value::Double(2.0)), t);
    assert_eq!(bin(BinOp::Lt, s("a"), s("b")), t);
    assert_eq!(
        bin(BinOp::Ne, s("a"), Value::Int(1)),
        n,
        "type mismatch is NULL"
    );
    assert_eq!(bin(BinOp::Div, Value::Int(7), Value::Int(0)), n);
    assert_eq!(
        bin(BinOp::Div, Value::Int(-7), Value::Int(2)),
        Value::Int(-3)
    );
    assert_eq!(
        bin(BinOp::Add, Value::Int(1), Value::Double(0.5)),
        Value::Double(1.5)
    );
    assert_eq!(bin(BinOp::Mod, Value::Int(7), Value::Int(0)), n);
    let in_list = |v: Value, list: Vec<Value>, negated| {
        Expr::InList {
            expr: lit(v),
            list,
            negated,
        }
        .eval(&[])
    };
    assert_eq!(
        in_list(Value::Int(1), vec![Value::Int(1), n.clone()], false),
        t
    );
    assert_eq!(
        in_list(Value::Int(2), vec![Value::Int(1), n.clone()], false),
        n
    );
    assert_eq!(
        in_list(Value::Int(2), vec![Value::Int(1), n.clone()], true),
        n
    );
    assert_eq!(in_list(Value::Int(2), vec![Value::Int(1)], true), t);
    assert_eq!(
        Expr::IsNull {
            expr: lit(n.clone()),
            negated: false
        }
        .eval(&[]),
        t
    );
    assert!(!Expr::Literal(n).passes(&[]));
}

#[test]
fn csv_and_json() {
    let cols = |tys: &[(&str, ColumnType)]| {
        tys.iter()
            .map(|(n, ty)| Column {
                name: n.to_string(),
                ty: *ty,
            })
            .collect::<Vec<_>>()
    };
    let c = cols(&[
        ("s", ColumnType::String),
        ("n", ColumnType::Bigint),
        ("d", ColumnType::Double),
        ("b", ColumnType::Boolean),
    ]);
    let row = vec![
        s("a, \"quoted\"\nline"),
        Value::Null,
        Value::Double(0.1),
        Value::Bool(true),
    ];
    let line = encode(Format::Csv, &row, &c);
    assert_eq!(line, "\"a, \"\"quoted\"\"\nline\",,0.1,true");
    assert_eq!(decode(Format::Csv, &line, &c).unwrap(), row);
    assert_eq!(
        decode(Format::Csv, "x,1,2,false\r", &c).unwrap(),
        vec![
            s("x"),
            Value::Int(1),
            Value::Double(2.0),
            Value::Bool(false)
        ]
    );
    assert!(decode(Format::Csv, "x,1,2", &c)
        .unwrap_err()
        .to_string()
        .contains("3 fields"));
    assert!(decode(Format::Csv, "\"x,1,2,true", &c).is_err());
    assert!(decode(Format::Csv, "x,one,2,true", &c)
        .unwrap_err()
        .to_string()
        .contains("BIGINT"));

    let json = encode(Format::Json, &row, &c);
    assert_eq!(
        json,
        r#"{"s":"a, \"quoted\"\nline","n":null,"d":0.1,"b":true}"#
    );
    assert_eq!(decode(Format::Json, &json, &c).unwrap(), row);
    assert_eq!(
        decode(Format::Json, r#"{"n": "5", "d": 3, "extra": 1}"#, &c).unwrap(),
        vec![Value::Null, Value::Int(5), Value::Double(3.0), Value::Null]
    );
    assert!(decode(Format::Json, "[1]", &c).is_err());
    assert!(decode(Format::Json, r#"{"n": 1.5}"#, &c).is_err());

    let t = cols(&[("t", ColumnType::Timestamp)]);
    assert_eq!(
        encode(Format::Csv, &[Value::Int(1_500)], &t),
        "1970-01-01 00:00:01.500"
    );
    assert_eq!(
        decode(Format::Csv, "2024-02-29T12:00:00", &t).unwrap(),
        vec![Value::Int(1_709_208_000_000)]
    );
    assert_eq!(
        encode(Format::Json, &[Value::Int(0)], &t),
        r#"{"t":"1970-01-01 00:00:00.000"}"#
    );
}

#[test]
fn timestamps() {
    for (text, ms) in [
        ("1970-01-01 00:00:00.000", 0),
        ("2024-02-29 12:00:00.000", 1_709_208_000_000),
        ("1969-12-31 23:59:59.999", -1),
        ("1900-03-01 00:00:00.000", -2_203_891_200_000),
        ("2000-02-29 23:59:59.001", 951_868_799_001),
    ] {
        assert_eq!(parse_timestamp(text).unwrap(), ms, "{text}");
        assert_eq!(format_timestamp(ms), text);
    }
    assert_eq!(
        parse_timestamp("2024-02-29T12:00:00.5Z").unwrap(),
        1_709_208_000_500
    );
    assert_eq!(
        parse_timestamp("2024-02-29 12:00").unwrap(),
        1_709_208_000_000
    );
    assert_eq!(parse_timestamp("123").unwrap(), 123);
    assert_eq!(parse_timestamp("1969-07-20").unwrap(), -14_256_000_000);
    for bad in [
        "2023-02-29 00:00:00",
        "1900-02-29 00:00:00",
        "2024-13-01 00:00:00",
        "2024-01-01 24:00:00",
        "x",
        "2024-01-01 1:2:3:4",
    ] {
        assert!(parse_timestamp(bad).is_err(), "{bad}");
    }
    for ms in (-100_000i64..100_000)
        .step_by(997)
        .map(|d| d * 86_400_000 + d * 7919)
    {
        assert_eq!(parse_timestamp(&format_timestamp(ms)).unwrap(), ms);
    }
    assert_eq!(parse_field("", ColumnType::Timestamp).unwrap(), Value::Null);
    assert_eq!(parse_field("", ColumnType::String).unwrap(), s(""));
    assert_eq!(Value::Int(5).hash64(1), Value::Int(5).hash64(1));
    assert_ne!(Value::Int(5).hash64(1), Value::Str("5".into()).hash64(1));
    assert_eq!(Value::Double(0.0).hash64(3), Value::Double(-0.0).hash64(3));
    assert_ne!(
        JobPlan::key_hash(&[s("a"), s("b")]),
        JobPlan::key_hash(&[s("b"), s("a")])
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
