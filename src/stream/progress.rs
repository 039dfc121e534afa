//! A running job's progress, reported from a thread of its own: a line on stderr every
//! interval (`stream run --progress-secs`, a distributed job's processes into their worker's
//! log), and for a distributed job's process its counters as a JSON file its worker serves
//! on `/metrics` (see [`crate::stream::cluster::worker`]).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::stream::metrics::{JobMetrics, Sample};
use crate::stream::sql::civil::format_timestamp;

/// How often the counters file is rewritten.
const FILE_EVERY: Duration = Duration::from_millis(500);
/// The thread's sleep: the job's end is not held up by a whole interval.
const SLICE: Duration = Duration::from_millis(50);

pub(crate) struct Reporter {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Reporter {
    /// Reports `metrics`: a line every `line_every`, the counters to `file` (replaced
    /// whole, so a reader never sees half of it) every half second and at the end.
    pub(crate) fn start(
        metrics: JobMetrics,
        line_every: Option<Duration>,
        file: Option<PathBuf>,
    ) -> Reporter {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let thread = std::thread::Builder::new()
            .name("stream-progress".into())
            .spawn(move || {
                let (mut last, mut line_at, mut file_at) = (0, Instant::now(), Instant::now());
                loop {
                    let ending = flag.load(Ordering::Acquire);
                    let now = Instant::now();
                    if let Some(f) = &file {
                        if ending || now >= file_at + FILE_EVERY {
                            write_sample(f, &metrics.sample());
                            file_at = now;
                        }
                    }
                    if ending {
                        return;
                    }
                    if let Some(every) = line_every.filter(|e| now >= line_at + *e) {
                        let s = metrics.sample();
                        let rate = (s.records - last) as f64 / every.as_secs_f64().max(1e-3);
                        eprintln!("{}", line(&s, rate));
                        (last, line_at) = (s.records, now);
                    }
                    std::thread::sleep(SLICE);
                }
            })
            .ok();
        Reporter { done, thread }
    }

    pub(crate) fn finish(mut self) {
        self.done.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn line(s: &Sample, rate: f64) -> String {
    let watermark = if s.frontier == 0 {
        "none".to_string()
    } else {
        format_timestamp(s.frontier as i64 - 1)
    };
    let checkpoint = if s.checkpoint_epoch < 0 {
        "none".to_string()
    } else {
        s.checkpoint_epoch.to_string()
    };
    format!(
        "progress: {} records ({rate:.0}/s), {} results, watermark {watermark}, checkpoint {checkpoint}",
        s.records, s.results
    )
}

fn write_sample(path: &std::path::Path, s: &Sample) {
    let Ok(data) = serde_json::to_vec(s) else {
        return;
    };
    let tmp = path.with_extension("tmp");
    if std::fs::write(&tmp, data).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// Reads a counters file a process wrote; None when it is not (yet) there.
pub(crate) fn read_sample(path: &std::path::Path) -> Option<Sample> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_the_counters() {
        let s = Sample {
            records: 1000,
            results: 7,
            frontier: 1_700_000_010_000,
            checkpoints: 3,
            checkpoint_epoch: 2,
        };
        let l = line(&s, 500.0);
        assert!(l.starts_with("progress: 1000 records (500/s), 7 results, watermark "));
        assert!(l.ends_with(", checkpoint 2"));
        let none = Sample {
            checkpoint_epoch: -1,
            ..Sample::default()
        };
        assert!(line(&none, 0.0).ends_with("watermark none, checkpoint none"));
    }

    #[test]
    fn the_counters_file_round_trips() {
        let dir = std::env::temp_dir().join(format!("fk-progress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("job.json");
        let s = Sample {
            records: 5,
            checkpoint_epoch: -1,
            ..Sample::default()
        };
        write_sample(&f, &s);
        assert_eq!(read_sample(&f), Some(s));
        assert_eq!(read_sample(&dir.join("none.json")), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
