//! Results of a workload: counts, HDR latency histogram, table and JSON output.

use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde_json::{json, Value};

use super::cpu::CpuSample;
use super::BenchArgs;

/// A latency histogram in nanoseconds, 1 ns to 10 minutes, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, 600_000_000_000, 3).expect("valid histogram bounds")
}

/// Records one latency, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    h.saturating_record(ns.max(1));
}

/// What one workload measured.
#[derive(Debug)]
pub struct Outcome {
    /// The workload's name.
    pub workload: &'static str,
    /// Operations measured (for watch, rounds; for ready, 1).
    pub ops: u64,
    /// Operations that failed, warm-up included.
    pub errors: u64,
    /// The first failure, as text.
    pub first_error: Option<String>,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// Latencies of the measured operations, ns.
    pub latency: Histogram<u64>,
    /// Workload-specific figures for the JSON line (e.g. watchers, znodes).
    pub extra: Vec<(&'static str, Value)>,
    /// CPU time at the start and the end of the measured window.
    pub cpu: Option<(CpuSample, CpuSample)>,
}

impl Outcome {
    /// An outcome with nothing measured yet.
    pub fn new(workload: &'static str) -> Self {
        Outcome {
            workload,
            ops: 0,
            errors: 0,
            first_error: None,
            elapsed: Duration::ZERO,
            latency: histogram(),
            extra: Vec::new(),
            cpu: None,
        }
    }

    /// Counts a failure, keeping the first one's text.
    pub fn fail(&mut self, e: impl std::fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }

    /// Measured operations per second.
    pub fn rate(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.ops as f64 / s
        } else {
            0.0
        }
    }

    fn us(&self, q: f64) -> f64 {
        if self.latency.is_empty() {
            return 0.0;
        }
        let ns = if q >= 1.0 {
            self.latency.max()
        } else {
            self.latency.value_at_quantile(q)
        };
        ns as f64 / 1000.0
    }

    /// The outcome as one JSON object.
    pub fn json(&self, args: &BenchArgs) -> Value {
        let mut v = json!({
            "workload": self.workload,
            "server": args.label,
            "sessions": args.sessions,
            "outstanding": args.outstanding,
            "value_size": args.value_size,
            "ops": self.ops,
            "errors": self.errors,
            "elapsed_s": round3(self.elapsed.as_secs_f64()),
            "ops_per_s": round3(self.rate()),
            "mean_us": round3(if self.latency.is_empty() { 0.0 } else { self.latency.mean() / 1000.0 }),
            "p50_us": round3(self.us(0.5)),
            "p99_us": round3(self.us(0.99)),
            "p999_us": round3(self.us(0.999)),
            "max_us": round3(self.us(1.0)),
        });
        if let Value::Object(map) = &mut v {
            if let Some(e) = &self.first_error {
                map.insert("first_error".into(), Value::from(e.as_str()));
            }
            for (k, x) in &self.extra {
                map.insert((*k).into(), x.clone());
            }
            for (k, x) in self.cpu_fields() {
                map.insert(k.into(), Value::from(round3(x)));
            }
        }
        v
    }
}

impl Outcome {
    /// CPU seconds over the measured window and microseconds per operation, client and
    /// (when sampled) server.
    fn cpu_fields(&self) -> Vec<(&'static str, f64)> {
        let Some((a, b)) = self.cpu else {
            return Vec::new();
        };
        let per_op = |s: f64| {
            if self.ops > 0 {
                s * 1e6 / self.ops as f64
            } else {
                0.0
            }
        };
        let client = (b.client_s - a.client_s).max(0.0);
        let mut v = vec![
            ("client_cpu_s", client),
            ("client_cpu_us_per_op", per_op(client)),
        ];
        if let (Some(x), Some(y)) = (a.server_s, b.server_s) {
            let server = (y - x).max(0.0);
            v.push(("server_cpu_s", server));
            v.push(("server_cpu_us_per_op", per_op(server)));
        }
        v
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A table of outcomes for people; latencies in milliseconds.
pub fn table(args: &BenchArgs, outcomes: &[Outcome]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} sessions x {} outstanding, {}-byte values{}",
        args.sessions,
        args.outstanding,
        args.value_size,
        if args.label.is_empty() {
            String::new()
        } else {
            format!(", server {}", args.label)
        }
    );
    let _ = writeln!(
        s,
        "{:<9} {:>9} {:>6} {:>8} {:>11} {:>9} {:>9} {:>9} {:>9}",
        "workload", "ops", "errors", "secs", "ops/s", "p50 ms", "p99 ms", "p999 ms", "max ms"
    );
    for o in outcomes {
        let _ = writeln!(
            s,
            "{:<9} {:>9} {:>6} {:>8.2} {:>11.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
            o.workload,
            o.ops,
            o.errors,
            o.elapsed.as_secs_f64(),
            o.rate(),
            o.us(0.5) / 1000.0,
            o.us(0.99) / 1000.0,
            o.us(0.999) / 1000.0,
            o.us(1.0) / 1000.0
        );
    }
    s
}
