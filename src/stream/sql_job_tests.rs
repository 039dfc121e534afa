//! SQL jobs end to end in one process: the benchmark job written in SQL gives the
//! benchmark's answer from its file sink, with and without checkpoints, from datagen and
//! from files; a job that fails its commits resumes to the same sink contents.

use std::path::Path;
use std::sync::{Arc, Mutex};

use super::*;
use crate::stream::checkpoint::engine_tests::{
    expected, fail_then_resume, scratch, Cleanup, MemStore,
};
use crate::stream::checkpoint::Checkpointer;
use crate::stream::checksum::Checksum;
use crate::stream::datagen::{event, mix64};
use crate::stream::engine::{self, RunConfig};
use crate::stream::window::WindowSpec;

/// The benchmark job in SQL, its source and sink given.
fn bench_sql(source: &str, window: &str, sink_dir: &Path) -> String {
    let (group, start, end) = match window {
        "tumbling" => (
            "TUMBLE(ts, INTERVAL '10' SECOND)",
            "TUMBLE_START(ts, INTERVAL '10' SECOND)",
            "TUMBLE_END(ts, INTERVAL '10' SECOND)",
        ),
        "sliding" => (
            "HOP(ts, INTERVAL '10' SECOND, INTERVAL '60' SECOND)",
            "window_start",
            "window_end",
        ),
        _ => (
            "SESSION(ts, INTERVAL '5' SECOND)",
            "SESSION_START(ts, INTERVAL '5' SECOND)",
            "SESSION_END(ts, INTERVAL '5' SECOND)",
        ),
    };
    format!(
        "CREATE TABLE logs (ts BIGINT, service BIGINT, level STRING, latency BIGINT)
           WITH ({source}, 'event_time' = 'ts', 'watermark_delay' = '2 s');
         CREATE TABLE out (service BIGINT, ws BIGINT, we BIGINT, cnt BIGINT, errors BIGINT, lat BIGINT)
           WITH ('connector' = 'file', 'path' = '{}', 'format' = 'csv');
         INSERT INTO out
         SELECT service, {start}, {end}, COUNT(*), COUNT(*) FILTER (WHERE level = 'ERROR'), SUM(latency)
         FROM logs GROUP BY service, {group};",
        sink_dir.display()
    )
}

/// An independent reader of the sink: every row of every published part, as the
/// benchmark's checksum.
fn sink_checksum(dir: &Path) -> Checksum {
    let mut c = Checksum::default();
    let mut seen = std::collections::HashSet::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if !name.starts_with("part-") {
            continue;
        }
        for line in std::fs::read_to_string(entry.path()).unwrap().lines() {
            let f: Vec<u64> = line.split(',').map(|x| x.parse().unwrap()).collect();
            assert_eq!(f.len(), 6, "{line}");
            assert!(seen.insert(line.to_string()), "row twice: {line}");
            c.results += 1;
            c.sum = c
                .sum
                .wrapping_add(f.iter().fold(0, |acc, x| mix64(acc ^ x)));
        }
    }
    c
}

fn run(
    job: SqlJob,
    p: usize,
    ckpt_ms: u64,
    c: Option<Arc<Checkpointer>>,
) -> Result<(), StreamError> {
    let config = RunConfig {
        p,
        checkpoint_ms: ckpt_ms,
        drain: None,
        progress: None,
        cluster: None,
        state_backend: Default::default(),
    };
    engine::run(Arc::new(job), config, c, None).map(|_| ())
}

#[test]
fn the_benchmark_job_in_sql_gives_the_known_answer() {
    let dir = scratch("sql-known");
    let _cleanup = Cleanup(dir.clone());
    let sql = bench_sql(
        "'connector' = 'datagen', 'rows' = '100000'",
        "tumbling",
        &dir,
    );
    let job = SqlJob::from_sql(&sql, 2).unwrap();
    assert_eq!(job.splits(), 2);
    run(job, 2, 0, None).unwrap();
    let got = sink_checksum(&dir);
    assert_eq!(
        (got.results, got.hex().as_str()),
        (1051, "4bd7edf5115d2fdd")
    );
}

#[test]
fn every_window_kind_from_files_with_checkpoints_equals_the_benchmark() {
    let n = 200_000;
    let input = scratch("sql-files-in");
    let _c1 = Cleanup(input.clone());
    std::fs::create_dir_all(&input).unwrap();
    // Three files, each a split of the stream in order; JSON in one of them would need
    // another table, so all are CSV.
    for k in 0..3u64 {
        let mut text = String::new();
        for i in (k..n).step_by(3) {
            let e = event(i);
            let level = format!("{:?}", e.level).to_uppercase();
            text.push_str(&format!(
                "{},{},{level},{}\n",
                e.ts, e.service, e.latency_ms
            ));
        }
        std::fs::write(input.join(format!("part{k}.csv")), text).unwrap();
    }
    for window in ["tumbling", "sliding", "session"] {
        let dir = scratch(&format!("sql-files-{window}"));
        let _c2 = Cleanup(dir.clone());
        let out = dir.join("out");
        let source = format!("'connector' = 'file', 'path' = '{}'", input.display());
        let job = SqlJob::from_sql(&bench_sql(&source, window, &out), 2).unwrap();
        assert_eq!(job.splits(), 3);
        let commits = Arc::new(Mutex::new(Vec::new()));
        let store = MemStore {
            commits: commits.clone(),
            fail_at: None,
        };
        let c = Checkpointer::start("t", 2, &dir, 0, vec![0; 3], Box::new(store)).unwrap();
        run(job, 2, 2, Some(c)).unwrap();
        assert!(!commits.lock().unwrap().is_empty());
        assert_eq!(
            sink_checksum(&out),
            expected(WindowSpec::bench(window).unwrap(), n),
            "{window}"
        );
    }
}

#[test]
fn a_sql_job_whose_commits_fail_resumes_to_the_same_rows() {
    let dir = scratch("sql-resume");
    let _cleanup = Cleanup(dir.clone());
    let out = dir.join("out");
    let sql = bench_sql(
        "'connector' = 'datagen', 'rows' = '2000000'",
        "sliding",
        &out,
    );
    let job = Arc::new(SqlJob::from_sql(&sql, 2).unwrap());
    let republish = |e, w, f: &Path| job.republish(e, w, f);
    fail_then_resume(job.clone(), &dir, 2, &republish, || {
        assert!(sink_checksum(&out).results > 0)
    });
    assert_eq!(
        sink_checksum(&out),
        expected(WindowSpec::bench("sliding").unwrap(), 2_000_000)
    );
}

#[test]
fn unsupported_connectors_and_bad_jobs_are_refused_with_their_clause() {
    let dir = scratch("sql-bad");
    let sql = bench_sql("'connector' = 'kinesis'", "tumbling", &dir);
    let e = SqlJob::from_sql(&sql, 1).err().unwrap().to_string();
    assert!(e.contains("kinesis"), "{e}");
    let sql =
        bench_sql("'connector' = 'datagen'", "tumbling", &dir).replace("GROUP BY", "ORDER BY");
    assert!(SqlJob::from_sql(&sql, 1).is_err());
}

/// Runs `sql` (a followed source) until `until` holds of the sink or `wait` passes, then
/// drains it; whether `until` held before the drain.
fn followed_until(
    sql: &str,
    out: &Path,
    wait: std::time::Duration,
    until: impl Fn(&Path) -> bool,
) -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    let job = Arc::new(SqlJob::from_sql(sql, 1).unwrap());
    let drain = Arc::new(AtomicBool::new(false));
    let config = RunConfig {
        p: 1,
        checkpoint_ms: 0,
        drain: Some(drain.clone()),
        progress: None,
        cluster: None,
        state_backend: Default::default(),
    };
    let t = std::thread::spawn(move || engine::run(job, config, None, None).unwrap());
    let start = std::time::Instant::now();
    let mut held = false;
    while start.elapsed() < wait {
        if out.exists() && until(out) {
            held = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drain.store(true, Ordering::Release);
    t.join().unwrap();
    held
}

#[test]
fn an_idle_split_stops_holding_the_watermark_back() {
    let dir = scratch("sql-idle");
    let _cleanup = Cleanup(dir.clone());
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let mut text = String::new();
    for i in 0..50_000 {
        let e = event(i);
        let level = format!("{:?}", e.level).to_uppercase();
        text.push_str(&format!(
            "{},{},{level},{}\n",
            e.ts, e.service, e.latency_ms
        ));
    }
    std::fs::write(input.join("a.csv"), text).unwrap();
    // A second file with nothing in it yet holds the watermark at 0 until it is idle.
    std::fs::write(input.join("b.csv"), "").unwrap();
    let some_rows = |out: &Path| sink_checksum(out).results > 0;
    for (idle, fires) in [("", false), (", 'idle_timeout' = '200 ms'", true)] {
        let out = dir.join(format!("out{}", idle.len()));
        let source = format!(
            "'connector' = 'file', 'path' = '{}', 'follow' = 'true'{idle}",
            input.display()
        );
        let sql = bench_sql(&source, "tumbling", &out);
        let wait = std::time::Duration::from_millis(1500);
        assert_eq!(followed_until(&sql, &out, wait, some_rows), fires, "{idle}");
        // Drained, every window fires: the answer over the first file's events.
        assert_eq!(
            sink_checksum(&out),
            expected(WindowSpec::bench("tumbling").unwrap(), 50_000)
        );
    }
}

/// Allowed lateness end to end, with checkpoints: a late event within the lateness fires
/// its window again (a second row with the update), one past it goes to the late output
/// (`'late_output'`, published with its epoch like the sink).
#[test]
fn late_events_update_their_window_or_go_to_the_late_output() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = scratch("sql-late");
    let _cleanup = Cleanup(dir.clone());
    let (input, out, late) = (dir.join("in.csv"), dir.join("out"), dir.join("late"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&input, "1000,1,INFO,1\n12000,1,INFO,1\n").unwrap();
    let source = format!(
        "'connector' = 'file', 'path' = '{}', 'follow' = 'true', 'allowed_lateness' = '5 s', 'late_output' = '{}'",
        input.display(),
        late.display()
    );
    let job = Arc::new(SqlJob::from_sql(&bench_sql(&source, "tumbling", &out), 1).unwrap());
    let store = MemStore {
        commits: Arc::new(Mutex::new(Vec::new())),
        fail_at: None,
    };
    let c =
        Checkpointer::start("late", 1, &dir.join("state"), 0, vec![0], Box::new(store)).unwrap();
    let drain = Arc::new(AtomicBool::new(false));
    let config = RunConfig {
        p: 1,
        checkpoint_ms: 10,
        drain: Some(drain.clone()),
        progress: None,
        cluster: None,
        state_backend: Default::default(),
    };
    let t = std::thread::spawn(move || engine::run(job, config, Some(c), None).unwrap());
    let lines = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("part-"))
            .flat_map(|e| {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                text.lines().map(str::to_string).collect::<Vec<_>>()
            })
            .collect();
        v.sort();
        v
    };
    let wait_for = |d: &Path, line: &str| {
        let start = std::time::Instant::now();
        while !lines(d).iter().any(|l| l == line) {
            assert!(
                start.elapsed().as_secs() < 20,
                "no {line} in {d:?}: {:?}",
                lines(d)
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    let append = |text: &str| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&input)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    };
    wait_for(&out, "1,0,10000,1,0,1");
    append("5000,1,INFO,1\n");
    wait_for(&out, "1,0,10000,2,0,2");
    append("16000,1,INFO,1\n25000,3,INFO,1\n");
    wait_for(&out, "1,10000,20000,2,0,2");
    append("3000,2,INFO,7\n");
    wait_for(&late, "1970-01-01 00:00:03.000,2");
    drain.store(true, Ordering::Release);
    t.join().unwrap();
    assert_eq!(
        lines(&out),
        [
            "1,0,10000,1,0,1",
            "1,0,10000,2,0,2",
            "1,10000,20000,2,0,2",
            "3,20000,30000,1,0,1"
        ]
    );
    assert_eq!(lines(&late), ["1970-01-01 00:00:03.000,2"]);
}

#[test]
fn a_job_file_sets_its_state_backend() {
    let body = bench_sql(
        "'connector' = 'datagen'",
        "tumbling",
        Path::new("/nonexistent"),
    );
    let job = |set: &str| format!("{set}\n{body}");
    let j = SqlJob::from_sql(&job("SET 'state.backend' = 'rocksdb';"), 1).unwrap();
    assert_eq!(j.state_backend(), Some("rocksdb"));
    let j = SqlJob::from_sql(&job("  set 'state.backend' = 'heap';"), 1).unwrap();
    assert_eq!(j.state_backend(), Some("heap"));
    assert_eq!(SqlJob::from_sql(&job(""), 1).unwrap().state_backend(), None);
    for bad in [
        "SET 'state.backend' = 'memory';",
        "SET 'parallelism.default' = '2';",
    ] {
        assert!(SqlJob::from_sql(&job(bad), 1).is_err(), "{bad}");
    }
}
