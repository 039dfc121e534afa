//! The spool and its receiver against a local `TcpListener`.

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fk-socket-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn source(port: u16, timeout_ms: u64) -> SocketSource {
    SocketSource {
        host: "127.0.0.1".into(),
        port,
        connect_timeout: Duration::from_millis(timeout_ms),
    }
}

/// Reads until `want` lines came (or the end, or an error, or 10 s): the lines and how it
/// stopped.
fn read_lines(s: &mut SocketSplit, want: usize) -> (Vec<Vec<u8>>, Result<bool, String>) {
    let mut got = Vec::new();
    let until = Instant::now() + Duration::from_secs(10);
    while got.len() < want && Instant::now() < until {
        match s.read(100, &mut |l, _| {
            got.push(l.to_vec());
            Ok(())
        }) {
            Ok(None) => return (got, Ok(true)),
            Ok(Some(_)) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return (got, Err(e.to_string())),
        }
    }
    (got, Ok(false))
}

fn strs(lines: &[Vec<u8>]) -> Vec<String> {
    lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

#[test]
fn spools_until_the_peer_closes_and_replays_from_a_position() {
    let dir = scratch("end");
    let spool = dir.join("logs-0.log");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        // A line split across writes, a CR LF, bytes that are not UTF-8, no final newline.
        c.write_all(b"one\nt").unwrap();
        std::thread::sleep(Duration::from_millis(30));
        c.write_all(b"wo\r\n\xff\xfe\nlast").unwrap();
    });
    let mut s = SocketSplit::open(&source(port, 5000), &spool, 0).unwrap();
    let (lines, end) = read_lines(&mut s, 10);
    server.join().unwrap();
    assert_eq!(end, Ok(true));
    assert_eq!(lines[0..2], [b"one".to_vec(), b"two".to_vec()]);
    assert_eq!(lines[2..], [b"\xff\xfe".to_vec(), b"last".to_vec()]);
    assert!(eof_path(&spool).exists());
    assert_eq!(s.position(), std::fs::metadata(&spool).unwrap().len());
    drop(s);
    // A restore at the offset after "one": the marker is there, nothing connects again.
    let mut r = SocketSplit::open(&source(port, 100), &spool, 4).unwrap();
    let (lines, end) = read_lines(&mut r, 10);
    assert_eq!(end, Ok(true));
    assert_eq!(strs(&lines), ["two", "\u{fffd}\u{fffd}", "last"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn resumes_without_the_marker_by_connecting_again_after_a_torn_line() {
    let dir = scratch("resume");
    let spool = dir.join("logs-0.log");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (hang_up, first_done) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.write_all(b"a\nb\n").unwrap();
        // Held open until the split is gone (a job killed mid-connection).
        let _ = first_done.recv();
        drop(c);
        let (mut c, _) = listener.accept().unwrap();
        c.write_all(b"c\n").unwrap();
    });
    let mut s = SocketSplit::open(&source(port, 5000), &spool, 0).unwrap();
    let (lines, end) = read_lines(&mut s, 2);
    assert_eq!(
        (strs(&lines), end),
        (vec!["a".into(), "b".into()], Ok(false))
    );
    drop(s);
    hang_up.send(()).unwrap();
    assert!(!eof_path(&spool).exists());
    // A crash in the middle of an append left half a line: it is cut.
    let mut f = OpenOptions::new().append(true).open(&spool).unwrap();
    f.write_all(b"torn").unwrap();
    let mut r = SocketSplit::open(&source(port, 5000), &spool, 2).unwrap();
    let (lines, end) = read_lines(&mut r, 10);
    server.join().unwrap();
    assert_eq!(
        (strs(&lines), end),
        (vec!["b".into(), "c".into()], Ok(true))
    );
    assert_eq!(std::fs::read(&spool).unwrap(), b"a\nb\nc\n");
    drop(r);
    // A fresh run starts from an empty spool.
    reset_spool(&spool).unwrap();
    assert!(!spool.exists() && !eof_path(&spool).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_line_over_the_limit_fails_the_split_after_the_lines_before_it() {
    let dir = scratch("long");
    let spool = dir.join("logs-0.log");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        let mut data = b"ok\n".to_vec();
        data.resize(3 + MAX_LINE + 10, b'x');
        // The receiver closes the connection: a write may fail then.
        let _ = c.write_all(&data);
        std::thread::sleep(Duration::from_millis(200));
    });
    let mut s = SocketSplit::open(&source(port, 5000), &spool, 0).unwrap();
    let (lines, end) = read_lines(&mut s, 10);
    server.join().unwrap();
    assert_eq!(strs(&lines), ["ok"]);
    let e = end.unwrap_err();
    assert!(e.contains("longer than"), "{e}");
    assert!(!eof_path(&spool).exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_refused_connect_is_retried_until_its_timeout() {
    let dir = scratch("refused");
    let spool = dir.join("logs-0.log");
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let mut s = SocketSplit::open(&source(port, 300), &spool, 0).unwrap();
    let (lines, end) = read_lines(&mut s, 1);
    assert!(lines.is_empty());
    let e = end.unwrap_err();
    assert!(e.contains("no connection within 300 ms"), "{e}");
    assert!(started.elapsed() >= Duration::from_millis(300));
    // A server that starts late is still reached.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let late = listener.local_addr().unwrap().port();
    drop(listener);
    let server = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(250));
        let listener = TcpListener::bind(("127.0.0.1", late)).unwrap();
        let (mut c, _) = listener.accept().unwrap();
        c.write_all(b"hello\n").unwrap();
    });
    reset_spool(&spool).unwrap();
    let mut s = SocketSplit::open(&source(late, 5000), &spool, 0).unwrap();
    let (lines, end) = read_lines(&mut s, 10);
    server.join().unwrap();
    assert_eq!((strs(&lines), end), (vec!["hello".into()], Ok(true)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_sql_job_reads_one_spooled_split_and_skips_lines_that_do_not_decode() {
    use crate::stream::job::{Job, SplitReader};
    use crate::stream::sql_job::SqlJob;
    let dir = scratch("sql");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let sql = |options: &str| {
        format!(
            "CREATE TABLE logs (ts BIGINT, service BIGINT) WITH ('connector' = 'socket', {options});
             CREATE TABLE out (service BIGINT, cnt BIGINT) WITH ('connector' = 'print');
             INSERT INTO out SELECT service, COUNT(*) FROM logs
             GROUP BY service, TUMBLE(ts, INTERVAL '10' SECOND);"
        )
    };
    let e = SqlJob::from_sql(&sql("'port' = '1'"), 2).err().unwrap();
    assert!(e.to_string().contains("needs 'hostname'"), "{e}");
    let options = format!(
        "'hostname' = '127.0.0.1', 'port' = '{port}', 'connect.timeout' = '5 s', 'ignore_parse_errors' = 'true'"
    );
    let mut job = SqlJob::from_sql(&sql(&options), 4).unwrap();
    assert!(job.spools());
    // One connection, one split, whatever the parallelism.
    assert_eq!(job.splits(), 1);
    job.use_spool(&dir, true).unwrap();
    let server = std::thread::spawn(move || {
        let (mut c, _) = listener.accept().unwrap();
        c.write_all(b"1000,7\n\xff\nnot a row\n2000,7\n").unwrap();
    });
    let mut r = job.open(0, 0).unwrap();
    let (mut ts, until) = (Vec::new(), Instant::now() + Duration::from_secs(10));
    while Instant::now() < until {
        match r.read(100, &mut |rec| ts.push(SqlJob::ts(&rec))).unwrap() {
            None => break,
            Some(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    server.join().unwrap();
    assert_eq!(ts, [1000, 2000]);
    assert_eq!(r.position(), 26);
    assert!(eof_path(&dir.join("logs-0.log")).exists());
    let _ = std::fs::remove_dir_all(&dir);
}
