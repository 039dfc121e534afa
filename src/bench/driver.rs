//! The closed-loop driver: sessions x outstanding tasks, warm-up, then a measured window bounded
//! by a duration or an operation count.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use zookeeper_client::Client;

use super::cpu;
use super::report::{self, Outcome};
use super::workloads::Ctx;

/// After this many failures a run stops early: the server is likely gone.
const MAX_ERRORS: u64 = 1000;

/// How long a run lasts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Unmeasured time first.
    pub warmup: Duration,
    /// Measured time, when `ops` is None.
    pub duration: Duration,
    /// Measured operations, instead of a duration.
    pub ops: Option<u64>,
}

struct Shared {
    /// Global operation index, warm-up included: names znodes uniquely.
    issued: AtomicU64,
    /// Measured operations claimed (op-count mode).
    claimed: AtomicU64,
    /// Measured operations completed (progress).
    done: AtomicU64,
    stop: AtomicBool,
    errors: Mutex<(u64, Option<String>)>,
}

/// A progress bar on stderr, or a hidden one when stderr is no terminal or `off`.
pub fn progress_bar(name: &str, len: u64, off: bool) -> ProgressBar {
    if off || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{prefix:>9} [{bar:30}] {percent:>3}% {msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(name.to_string());
    bar
}

/// Runs `ctx`'s operation from `outstanding` tasks on each client until `lim` is reached.
pub async fn drive(
    name: &'static str,
    clients: &[Client],
    outstanding: usize,
    ctx: Arc<Ctx>,
    lim: Limits,
    no_progress: bool,
) -> Outcome {
    let shared = Arc::new(Shared {
        issued: AtomicU64::new(0),
        claimed: AtomicU64::new(0),
        done: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        errors: Mutex::new((0, None)),
    });
    let t0 = Instant::now();
    let measure_start = t0 + lim.warmup;
    let deadline = lim.ops.is_none().then_some(measure_start + lim.duration);
    let total_ms = (lim.warmup + lim.duration).as_millis() as u64;
    let bar = progress_bar(name, lim.ops.unwrap_or(total_ms), no_progress);
    let ticker = {
        let (bar, shared) = (bar.clone(), shared.clone());
        let by_ops = lim.ops.is_some();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(200)).await;
                let done = shared.done.load(Ordering::Relaxed);
                if by_ops {
                    bar.set_position(done);
                } else {
                    bar.set_position(t0.elapsed().as_millis() as u64);
                    bar.set_message(format!("{done} ops"));
                }
            }
        })
    };

    let mut tasks = Vec::new();
    let mut hists = Vec::new();
    for (s, client) in clients.iter().enumerate() {
        let hist = Arc::new(Mutex::new(report::histogram()));
        hists.push(hist.clone());
        for _ in 0..outstanding {
            let w = Worker {
                client: client.clone(),
                session: s,
                ctx: ctx.clone(),
                shared: shared.clone(),
                hist: hist.clone(),
                measure_start,
                deadline,
                ops: lim.ops,
            };
            tasks.push(tokio::spawn(w.run()));
        }
    }
    // CPU time from the start of the measured window (after the warm-up) to its end.
    let cpu_start = tokio::spawn(async move {
        tokio::time::sleep_until(measure_start.into()).await;
        cpu::sample()
    });
    let mut last = measure_start;
    let mut out = Outcome::new(name);
    for t in tasks {
        match t.await {
            Ok((n, end)) => {
                out.ops += n;
                last = last.max(end);
            }
            Err(e) => out.fail(format!("worker task: {e}")),
        }
    }
    let cpu_end = cpu::sample();
    if let Ok(start) = cpu_start.await {
        out.cpu = Some((start, cpu_end));
    }
    ticker.abort();
    bar.finish_and_clear();
    for h in hists {
        if let Ok(h) = h.lock() {
            let _ = out.latency.add(&*h);
        }
    }
    if let Ok(e) = shared.errors.lock() {
        out.errors += e.0;
        if out.first_error.is_none() {
            out.first_error = e.1.clone();
        }
    }
    out.elapsed = last.saturating_duration_since(measure_start);
    out
}

struct Worker {
    client: Client,
    session: usize,
    ctx: Arc<Ctx>,
    shared: Arc<Shared>,
    hist: Arc<Mutex<Histogram<u64>>>,
    measure_start: Instant,
    deadline: Option<Instant>,
    ops: Option<u64>,
}

impl Worker {
    /// Returns the measured operations and when the last of them ended.
    async fn run(self) -> (u64, Instant) {
        let sh = &self.shared;
        let (mut n, mut last) = (0, self.measure_start);
        while !sh.stop.load(Ordering::Relaxed) {
            let start = Instant::now();
            if self.deadline.is_some_and(|d| start >= d) {
                break;
            }
            let measured = start >= self.measure_start;
            if let (true, Some(limit)) = (measured, self.ops) {
                if sh.claimed.fetch_add(1, Ordering::Relaxed) >= limit {
                    break;
                }
            }
            let g = sh.issued.fetch_add(1, Ordering::Relaxed);
            match self.ctx.op(&self.client, self.session, g).await {
                Ok(true) if measured => {
                    let end = Instant::now();
                    if let Ok(mut h) = self.hist.lock() {
                        report::record(&mut h, end - start);
                    }
                    n += 1;
                    last = end;
                    sh.done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    if let Ok(mut errs) = sh.errors.lock() {
                        errs.0 += 1;
                        if errs.1.is_none() {
                            errs.1 = Some(format!("{}: {e}", self.ctx.describe(g)));
                        }
                        if errs.0 >= MAX_ERRORS {
                            sh.stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
        }
        (n, last)
    }
}
