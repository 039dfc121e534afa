//! Row-level evaluation: accumulators, three-valued expressions, CSV/JSON lines, timestamps.

use super::civil::{format_timestamp, parse_timestamp};
use super::expr::BinOp;
use super::*;

fn s(x: &str) -> Value {
    Value::Str(x.to_string())
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
    // ISO 8601 offsets, as nginx's $time_iso8601 writes them.
    for text in [
        "2024-02-29T13:30:00+01:30",
        "2024-02-29T13:30:00.000+0130",
        "2024-02-29T10:00:00-02",
        "2024-02-29T12:00:00+00:00",
    ] {
        assert_eq!(parse_timestamp(text).unwrap(), 1_709_208_000_000, "{text}");
    }
    for bad in [
        "2024-02-29T12:00:00+1",
        "2024-02-29T12:00:00+24:00",
        "2024-02-29T12:00:00+ab",
    ] {
        assert!(parse_timestamp(bad).is_err(), "{bad}");
    }
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

proptest::proptest! {
    /// Decoding arbitrary lines never panics, and what CSV encodes decodes back.
    #[test]
    fn csv_round_trip(text in "\\PC*", n in proptest::prelude::any::<i64>(), line in "\\PC*") {
        let cols = vec![
            Column { name: "s".into(), ty: ColumnType::String },
            Column { name: "n".into(), ty: ColumnType::Bigint },
            Column { name: "t".into(), ty: ColumnType::Timestamp },
        ];
        let _ = decode(Format::Csv, &line, &cols);
        let _ = decode(Format::Json, &line, &cols);
        let _ = parse_timestamp(&line);
        // CSV cannot tell an empty string from NULL; a non-empty one round-trips.
        let text = if text.is_empty() { "x".to_string() } else { text };
        let t = n / 1000;
        let row = vec![Value::Str(text), Value::Int(n), Value::Int(t)];
        let back = decode(Format::Csv, &encode(Format::Csv, &row, &cols), &cols).unwrap();
        proptest::prop_assert_eq!(&back, &row);
        let back = decode(Format::Json, &encode(Format::Json, &row, &cols), &cols).unwrap();
        proptest::prop_assert_eq!(back, row);
    }
}
