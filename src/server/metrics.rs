//! ZooKeeper's metrics: the summaries the server records (request latency, fsync and
//! snapshot times), kept here for `mntr` and the `monitor` admin command, and forwarded to
//! the `metrics` crate; and, when `metricsProvider.className` names ZooKeeper's
//! PrometheusMetricsProvider, a Prometheus recorder served at `/metrics` (see `run`).
//!
//! Names and types follow ZooKeeper 3.8 (`ServerMetrics`, `ZooKeeperServer.registerMetrics`):
//! summaries are Prometheus summaries, ServerMetrics counters are counters, the server's
//! gauges are gauges, refreshed from the core on every scrape. Ferrokeeper-only metrics are
//! named `ferrokeeper_*`.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::server::core::CoreMsg;
use crate::server::mntr::{self, Kind, Value};

/// ZooKeeper's Prometheus provider class.
pub const PROMETHEUS_PROVIDER: &str =
    "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";

/// Samples kept per summary for its percentiles.
const RESERVOIR: usize = 4096;

/// A summary as `mntr` reports it: count, sum, min, max and recent samples.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// The Prometheus histogram, once the recorder is installed.
    hist: Option<metrics::Histogram>,
    /// Samples.
    pub count: u64,
    /// Their sum.
    pub sum: u64,
    /// Smallest.
    pub min: u64,
    /// Largest.
    pub max: u64,
    recent: VecDeque<u64>,
}

impl Summary {
    fn add(&mut self, v: u64) {
        self.min = if self.count == 0 { v } else { self.min.min(v) };
        self.max = self.max.max(v);
        self.count += 1;
        self.sum += v;
        if self.recent.len() == RESERVOIR {
            self.recent.pop_front();
        }
        self.recent.push_back(v);
    }

    /// The average, rounded to 4 decimals as ZooKeeper's AvgMinMaxCounter does.
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        (self.sum as f64 / self.count as f64 * 10_000.0).round() / 10_000.0
    }

    /// The q-quantile of the recent samples (0 without samples).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.recent.is_empty() {
            return 0;
        }
        let mut v: Vec<u64> = self.recent.iter().copied().collect();
        v.sort_unstable();
        let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    }
}

fn summaries() -> &'static Mutex<HashMap<&'static str, Summary>> {
    static S: OnceLock<Mutex<HashMap<&'static str, Summary>>> = OnceLock::new();
    S.get_or_init(Mutex::default)
}

/// Whether the Prometheus recorder is installed (histogram handles are worth creating).
static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records samples of one of ZooKeeper's summaries (ms for times), under one lock.
pub fn observe_all(name: &'static str, values: &[u64]) {
    if values.is_empty() {
        return;
    }
    let mut map = summaries().lock().unwrap_or_else(|p| p.into_inner());
    let s = map.entry(name).or_default();
    if s.hist.is_none() && INSTALLED.load(std::sync::atomic::Ordering::Acquire) {
        s.hist = Some(metrics::histogram!(name));
    }
    for &v in values {
        s.add(v);
        if let Some(h) = &s.hist {
            h.record(v as f64);
        }
    }
}

/// Records a sample of one of ZooKeeper's summaries (ms for times).
pub fn observe(name: &'static str, value: u64) {
    observe_all(name, &[value]);
}

/// A summary's current state.
pub fn summary(name: &str) -> Summary {
    summaries()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(name)
        .cloned()
        .unwrap_or_default()
}

fn counters() -> &'static Mutex<HashMap<&'static str, u64>> {
    static C: OnceLock<Mutex<HashMap<&'static str, u64>>> = OnceLock::new();
    C.get_or_init(Mutex::default)
}

/// Adds `n` to one of ZooKeeper's ServerMetrics counters.
pub fn count(name: &'static str, n: u64) {
    *counters()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(name)
        .or_default() += n;
    if INSTALLED.load(std::sync::atomic::Ordering::Acquire) {
        metrics::counter!(name).increment(n);
    }
}

/// A counter's value (0 before it moved).
pub fn counter(name: &str) -> u64 {
    counters()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(name)
        .copied()
        .unwrap_or(0)
}

/// Replies went out after these latencies (ms): `readlatency` and `updatelatency`.
pub fn requests_done(reads: &[u64], writes: &[u64]) {
    observe_all("readlatency", reads);
    observe_all("updatelatency", writes);
}

/// The txn log was synced in `ms` (ZooKeeper's `fsynctime`).
pub fn fsync_done(ms: u64) {
    observe("fsynctime", ms);
}

fn last_snapshot_cell() -> &'static Mutex<Option<(i64, i64)>> {
    static S: OnceLock<Mutex<Option<(i64, i64)>>> = OnceLock::new();
    S.get_or_init(Mutex::default)
}

/// The snapshot of `zxid` was written in `ms` (ZooKeeper's `snapshottime`).
pub fn snapshot_done(zxid: i64, ms: u64) {
    observe("snapshottime", ms);
    let secs = crate::server::clock::wall_ms() / 1000;
    *last_snapshot_cell()
        .lock()
        .unwrap_or_else(|p| p.into_inner()) = Some((zxid, secs));
}

/// (zxid, wall-clock seconds) of the last snapshot written; before any, zxid 0 at the
/// first time asked (ZooKeeper snapshots an empty data dir at startup).
pub fn last_snapshot() -> (i64, i64) {
    *last_snapshot_cell()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(|| (0, crate::server::clock::wall_ms() / 1000))
}

/// The process-wide Prometheus recorder (one per process, whatever the number of servers).
fn prometheus() -> Option<PrometheusHandle> {
    static H: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    H.get_or_init(|| {
        let builder = match PrometheusBuilder::new().set_quantiles(&[0.5, 0.9, 0.99]) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!("metrics: {e}");
                return None;
            }
        };
        match builder.install_recorder() {
            Ok(h) => {
                register_all();
                INSTALLED.store(true, std::sync::atomic::Ordering::Release);
                Some(h)
            }
            Err(e) => {
                tracing::warn!("metrics: cannot install the Prometheus recorder: {e}");
                None
            }
        }
    })
    .clone()
}

/// Registers every ZooKeeper metric so a scrape shows them before they move.
fn register_all() {
    for (name, kind) in mntr::TABLE {
        match kind {
            Kind::Counter => {
                metrics::describe_counter!(*name, *name);
                metrics::counter!(*name).absolute(0);
            }
            Kind::Gauge => {
                metrics::describe_gauge!(*name, *name);
                metrics::gauge!(*name).set(0.0);
            }
            Kind::Basic | Kind::Advanced => {
                metrics::describe_histogram!(*name, *name);
                let _ = metrics::histogram!(*name);
            }
            Kind::Text => {}
        }
    }
    metrics::describe_gauge!(
        "ferrokeeper_core_queue_capacity",
        "free slots in the queue of requests toward the core"
    );
}

/// Whether the configuration asks for the Prometheus provider.
pub fn enabled(cfg: &Config) -> bool {
    cfg.metrics_provider_class_name.trim() == PROMETHEUS_PROVIDER
}

/// Sets the gauges from the core's facts, then renders the exposition text.
async fn scrape(handle: &PrometheusHandle, cfg: &Config, core: &mpsc::Sender<CoreMsg>) -> String {
    metrics::gauge!("ferrokeeper_core_queue_capacity").set(core.capacity() as f64);
    if let Some(f) = crate::server::fourlw::facts(core, crate::server::facts::OpsCmd::Facts).await {
        for (name, kind, value) in mntr::values(&f, cfg, 0) {
            if kind != Kind::Gauge {
                continue;
            }
            let v = match value {
                Value::Int(i) => i as f64,
                Value::Float(x) => x,
                Value::Text(_) => continue,
            };
            metrics::gauge!(name).set(v);
        }
    }
    handle.run_upkeep();
    handle.render()
}

/// Starts the `/metrics` endpoint if the configuration enables it. A port in use is logged,
/// and the server goes on without metrics, as ZooKeeper does.
pub async fn start(cfg: std::sync::Arc<Config>, core: mpsc::Sender<CoreMsg>) {
    if !enabled(&cfg) {
        return;
    }
    let Some(handle) = prometheus() else {
        return;
    };
    let host = cfg
        .metrics_provider_http_host
        .clone()
        .unwrap_or_else(|| "0.0.0.0".into());
    let port = cfg.metrics_provider_http_port.unwrap_or(7000);
    let addr = crate::server::admin::join_host_port(&host, port);
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("metrics: cannot listen on {addr}: {e}; continuing without /metrics");
            return;
        }
    };
    let local: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(
        "Prometheus metrics at http://{}/metrics",
        local.map_or(addr, |a| a.to_string())
    );
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut t = tokio::time::interval(Duration::from_secs(5));
        loop {
            t.tick().await;
            upkeep.run_upkeep();
        }
    });
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (handle, cfg, core) = (handle.clone(), cfg.clone(), core.clone());
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    scrape(&handle, &cfg, &core).await,
                )
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("metrics endpoint stopped: {e}");
        }
    });
}
