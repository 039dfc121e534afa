//! Workloads that are not one request in a loop: session churn, watch fan-out, readiness.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::timeout;
use zookeeper_client::{Client, SessionState};

use super::cpu;
use super::driver::progress_bar;
use super::report::{self, Outcome};
use super::workloads::{close_all, connect_all, connect_one, ensure};
use super::{BenchArgs, ROOT};

/// Longest wait for a close, a round of notifications or a connection attempt.
const WAIT: Duration = Duration::from_secs(30);

/// Connects a session and closes it, waiting for the server's reply to the close.
async fn connect_close(connect: &str) -> Result<(), String> {
    let client = connect_one(connect)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut states = client.state_watcher();
    drop(client);
    let closed = timeout(WAIT, async {
        loop {
            let s = states.changed().await;
            if s.is_terminated() {
                return s;
            }
        }
    })
    .await;
    match closed {
        Ok(SessionState::Closed) => Ok(()),
        Ok(s) => Err(format!("close: session ended {s}")),
        Err(_) => Err("close: no reply".into()),
    }
}

/// Session churn: `--ops` (default 1000) connect+close pairs, `--sessions` at a time.
pub async fn session(args: &BenchArgs) -> Outcome {
    let total = args.ops.unwrap_or(1000);
    let parallel = args.sessions.max(1);
    let mut out = Outcome::new("session");
    if !args.warmup.is_zero() {
        let warm = (0..parallel.min(50)).map(|_| connect_close(&args.connect));
        for r in join_all(warm).await {
            if let Err(e) = r {
                out.fail(e);
            }
        }
    }
    let bar = progress_bar("session", total, args.no_progress);
    let next = Arc::new(AtomicU64::new(0));
    let cpu_start = cpu::sample();
    let start = Instant::now();
    let tasks = (0..parallel).map(|_| {
        let (next, connect, bar) = (next.clone(), args.connect.clone(), bar.clone());
        tokio::spawn(async move {
            let mut h = report::histogram();
            let mut errors = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                match connect_close(&connect).await {
                    Ok(()) => report::record(&mut h, t.elapsed()),
                    Err(e) => errors.push(e),
                }
                bar.inc(1);
            }
            (h, errors)
        })
    });
    for r in join_all(tasks).await {
        match r {
            Ok((h, errors)) => {
                let _ = out.latency.add(&h);
                errors.into_iter().for_each(|e| out.fail(e));
            }
            Err(e) => out.fail(e),
        }
    }
    out.elapsed = start.elapsed();
    out.cpu = Some((cpu_start, cpu::sample()));
    out.ops = out.latency.len();
    bar.finish_and_clear();
    out
}

/// Arms a data watch on `path` in every session; each notification sends its arrival time.
async fn arm(watchers: &[Client], path: &str, tx: &mpsc::UnboundedSender<Instant>) -> usize {
    let mut armed = 0;
    let replies = join_all(watchers.iter().map(|c| c.get_and_watch_data(path))).await;
    for (_, _, w) in replies.into_iter().flatten() {
        let tx = tx.clone();
        tokio::spawn(async move {
            w.changed().await;
            let _ = tx.send(Instant::now());
        });
        armed += 1;
    }
    armed
}

/// One round: arm, set, and the time until the last notification arrived.
async fn round(setter: &Client, watchers: &[Client], path: &str) -> Result<Duration, String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let armed = arm(watchers, path, &tx).await;
    if armed < watchers.len() {
        return Err(format!("armed {armed} of {} watches", watchers.len()));
    }
    let t0 = Instant::now();
    setter
        .set_data(path, b"fan-out", None)
        .await
        .map_err(|e| format!("setData: {e}"))?;
    let mut last = t0;
    for got in 0..armed {
        match timeout(WAIT, rx.recv()).await {
            Ok(Some(t)) => last = last.max(t),
            _ => return Err(format!("{got} of {armed} notifications arrived")),
        }
    }
    Ok(last - t0)
}

/// Watch fan-out: `--watchers` sessions watch one znode; `--ops` rounds of setData, or as many
/// as `--duration` holds.
pub async fn watch(args: &BenchArgs) -> Outcome {
    let mut out = Outcome::new("watch");
    out.extra.push(("watchers", Value::from(args.watchers)));
    let path = format!("{ROOT}/watch");
    let setter = match connect_one(&args.connect).await {
        Ok(c) => c,
        Err(e) => {
            out.fail(format!("connect: {e}"));
            return out;
        }
    };
    if let Err(e) = async {
        ensure(&setter, ROOT).await?;
        ensure(&setter, &path).await
    }
    .await
    {
        out.fail(format!("setup: {e}"));
        return out;
    }
    let watchers = match connect_all(&args.connect, args.watchers.max(1)).await {
        Ok(w) => w,
        Err(e) => {
            out.fail(format!("connect watchers: {e}"));
            return out;
        }
    };
    // `--ops` rounds, or as many as fit in `--duration` (at least one).
    let rounds = args.ops;
    let warm = u64::from(!args.warmup.is_zero());
    let bar = progress_bar("watch", rounds.unwrap_or(0) + warm, args.no_progress);
    let mut spent = Duration::ZERO;
    let mut cpu_start = cpu::sample();
    let mut window = Instant::now();
    let mut r = 0;
    loop {
        if r == warm {
            cpu_start = cpu::sample();
            window = Instant::now();
        }
        let done = match rounds {
            Some(n) => r >= n + warm,
            None => r > warm && window.elapsed() >= args.duration,
        };
        if done {
            break;
        }
        match round(&setter, &watchers, &path).await {
            Ok(d) if r >= warm => {
                report::record(&mut out.latency, d);
                spent += d;
            }
            Ok(_) => {}
            Err(e) => out.fail(e),
        }
        bar.inc(1);
        r += 1;
    }
    // The rounds' own times add up to `elapsed`; the window also holds the arming.
    out.extra
        .push(("window_s", Value::from(window.elapsed().as_secs_f64())));
    bar.finish_and_clear();
    out.cpu = Some((cpu_start, cpu::sample()));
    out.ops = out.latency.len();
    out.elapsed = spent;
    close_all(watchers).await;
    close_all(vec![setter]).await;
    out
}

/// Readiness: polls until a session connects and reads `/`, for up to `--duration`.
pub async fn ready(args: &BenchArgs) -> Outcome {
    let mut out = Outcome::new("ready");
    let start = Instant::now();
    let limit = args.duration.max(Duration::from_secs(1));
    let attempt = || async {
        let c = Client::connector()
            .with_fail_eagerly()
            .with_session_timeout(WAIT)
            .with_connection_timeout(Duration::from_secs(2))
            .connect(&args.connect)
            .await?;
        let served = c.get_data("/").await.map(|_| ());
        close_all(vec![c]).await;
        served
    };
    let mut last_error = String::new();
    while start.elapsed() < limit {
        match timeout(Duration::from_secs(5), attempt()).await {
            Ok(Ok(())) => {
                out.elapsed = start.elapsed();
                report::record(&mut out.latency, out.elapsed);
                out.ops = 1;
                return out;
            }
            Ok(Err(e)) => last_error = e.to_string(),
            Err(_) => last_error = "attempt timed out".into(),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out.fail(format!("not ready after {limit:?}: {last_error}"));
    out
}
