//! A running job's metrics on a Prometheus endpoint (`--metrics-port`): GET `/metrics` in
//! the text exposition format, from the counters the progress line reads.
//!
//! ```text
//! ferrokeeper_stream_records_total{job}       source records read
//! ferrokeeper_stream_results_total{job}       window results that reached the sink
//! ferrokeeper_stream_watermark_ms{job}        the event time windows have fired up to
//! ferrokeeper_stream_checkpoints_total{job}   checkpoints committed by this run
//! ferrokeeper_stream_checkpoint_epoch{job}    the latest committed epoch (-1: none)
//! ```

use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::stream::checkpoint::Checkpointer;
use crate::stream::engine::Progress;
use crate::stream::StreamError;

/// What the endpoint reads.
#[derive(Clone)]
pub(crate) struct JobMetrics {
    pub(crate) job: String,
    pub(crate) progress: Arc<Progress>,
    pub(crate) ckpt: Option<Arc<Checkpointer>>,
}

/// A job process's counters at one moment: what a distributed job's process hands its
/// worker (as JSON) for the worker's endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Sample {
    pub(crate) records: u64,
    pub(crate) results: u64,
    /// The event frontier (the watermark plus one); 0: none yet.
    pub(crate) frontier: u64,
    pub(crate) checkpoints: u64,
    /// The latest committed epoch; -1: none.
    pub(crate) checkpoint_epoch: i64,
}

impl JobMetrics {
    pub(crate) fn sample(&self) -> Sample {
        let (checkpoints, checkpoint_epoch) = match &self.ckpt {
            Some(c) => (
                c.committed(),
                c.committed_below().checked_sub(1).map_or(-1, |e| e as i64),
            ),
            None => (0, -1),
        };
        Sample {
            records: self.progress.records.load(Ordering::Relaxed),
            results: self.progress.results.load(Ordering::Relaxed),
            frontier: self.progress.frontier.load(Ordering::Relaxed),
            checkpoints,
            checkpoint_epoch,
        }
    }

    fn render(&self) -> String {
        render(&[(vec![("job", self.job.clone())], self.sample())])
    }
}

/// The text exposition of `samples`, each with its labels: every family once.
pub(crate) fn render(samples: &[(Vec<(&str, String)>, Sample)]) -> String {
    type Family = (
        &'static str,
        &'static str,
        &'static str,
        fn(&Sample) -> String,
    );
    let families: [Family; 5] = [
        ("records_total", "counter", "Source records read.", |s| {
            s.records.to_string()
        }),
        (
            "results_total",
            "counter",
            "Window results that reached the sink.",
            |s| s.results.to_string(),
        ),
        (
            "watermark_ms",
            "gauge",
            "The event time (ms) windows have fired up to.",
            |s| s.frontier.saturating_sub(1).to_string(),
        ),
        (
            "checkpoints_total",
            "counter",
            "Checkpoints committed by this run.",
            |s| s.checkpoints.to_string(),
        ),
        (
            "checkpoint_epoch",
            "gauge",
            "The latest committed checkpoint's epoch (-1: none).",
            |s| s.checkpoint_epoch.to_string(),
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in families {
        let _ = writeln!(out, "# HELP ferrokeeper_stream_{name} {help}");
        let _ = writeln!(out, "# TYPE ferrokeeper_stream_{name} {kind}");
        for (labels, sample) in samples {
            let labels: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
                .collect();
            let _ = writeln!(
                out,
                "ferrokeeper_stream_{name}{{{}}} {}",
                labels.join(","),
                value(sample)
            );
        }
    }
    out
}

/// The endpoint's socket on `port`, all interfaces (as ZooKeeper's metrics provider binds):
/// taken before the job starts, so a port in use stops it at once.
pub(crate) fn bind(port: u16) -> Result<std::net::TcpListener, StreamError> {
    std::net::TcpListener::bind(("0.0.0.0", port))
        .and_then(|l| l.set_nonblocking(true).map(|_| l))
        .map_err(|e| StreamError::Usage(format!("--metrics-port {port}: {e}")))
}

/// Serves `/metrics` on `listener` from a thread of its own until the process ends.
pub(crate) fn serve(
    listener: std::net::TcpListener,
    metrics: JobMetrics,
) -> Result<(), StreamError> {
    serve_with(listener, move || metrics.render())
}

/// Serves `/metrics` on `listener`, the text `render` gives at each request.
pub(crate) fn serve_with(
    listener: std::net::TcpListener,
    render: impl Fn() -> String + Clone + Send + Sync + 'static,
) -> Result<(), StreamError> {
    std::thread::Builder::new()
        .name("stream-metrics".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("stream metrics: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app = axum::Router::new().route(
                    "/metrics",
                    axum::routing::get(move || {
                        let render = render.clone();
                        async move {
                            (
                                [(
                                    axum::http::header::CONTENT_TYPE,
                                    "text/plain; version=0.0.4; charset=utf-8",
                                )],
                                render(),
                            )
                        }
                    }),
                );
                if let Err(e) = axum::serve(listener, app).await {
                    eprintln!("stream metrics: {e}");
                }
            });
        })
        .map_err(|e| StreamError::Engine(format!("metrics thread: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_counters_in_the_text_format() {
        let progress = Arc::new(Progress::default());
        progress.records.store(42, Ordering::Relaxed);
        progress
            .frontier
            .store(1_700_000_010_000, Ordering::Relaxed);
        let m = JobMetrics {
            job: "a\"b".into(),
            progress,
            ckpt: None,
        };
        let text = m.render();
        assert!(text.contains("ferrokeeper_stream_records_total{job=\"a\\\"b\"} 42\n"));
        assert!(text.contains("ferrokeeper_stream_watermark_ms{job=\"a\\\"b\"} 1700000009999\n"));
        assert!(text.contains("# TYPE ferrokeeper_stream_checkpoint_epoch gauge\n"));
        assert!(text.contains("ferrokeeper_stream_checkpoint_epoch{job=\"a\\\"b\"} -1\n"));
    }
}
