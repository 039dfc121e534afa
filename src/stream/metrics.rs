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

impl JobMetrics {
    fn render(&self) -> String {
        let job = self.job.replace('\\', "\\\\").replace('"', "\\\"");
        let frontier = self.progress.frontier.load(Ordering::Relaxed);
        let (checkpoints, epoch) = match &self.ckpt {
            Some(c) => (
                c.committed(),
                c.committed_below().checked_sub(1).map_or(-1, |e| e as i64),
            ),
            None => (0, -1),
        };
        let rows: [(&str, &str, &str, String); 5] = [
            (
                "records_total",
                "counter",
                "Source records read.",
                self.progress.records.load(Ordering::Relaxed).to_string(),
            ),
            (
                "results_total",
                "counter",
                "Window results that reached the sink.",
                self.progress.results.load(Ordering::Relaxed).to_string(),
            ),
            (
                "watermark_ms",
                "gauge",
                "The event time (ms) windows have fired up to.",
                frontier.saturating_sub(1).to_string(),
            ),
            (
                "checkpoints_total",
                "counter",
                "Checkpoints committed by this run.",
                checkpoints.to_string(),
            ),
            (
                "checkpoint_epoch",
                "gauge",
                "The latest committed checkpoint's epoch (-1: none).",
                epoch.to_string(),
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, value) in rows {
            let _ = writeln!(out, "# HELP ferrokeeper_stream_{name} {help}");
            let _ = writeln!(out, "# TYPE ferrokeeper_stream_{name} {kind}");
            let _ = writeln!(out, "ferrokeeper_stream_{name}{{job=\"{job}\"}} {value}");
        }
        out
    }
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
                        let m = metrics.clone();
                        async move {
                            (
                                [(
                                    axum::http::header::CONTENT_TYPE,
                                    "text/plain; version=0.0.4; charset=utf-8",
                                )],
                                m.render(),
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
