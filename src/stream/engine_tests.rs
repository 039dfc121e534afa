//! The job end to end in one process: its answer at any parallelism, checkpoints committed
//! in order, and a run whose commits fail resumed to the same sink contents.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::*;
use crate::stream::bench_job::BenchJob;
use crate::stream::engine::{self, RunConfig};
use crate::stream::window::tests::brute_force;
use crate::stream::window::WindowSpec;

/// Manifests in memory; commits fail from the `fail_at`-th on (a crash of the ensemble
/// link, as far as the job can tell).
pub(crate) struct MemStore {
    pub(crate) commits: Arc<Mutex<Vec<Manifest>>>,
    pub(crate) fail_at: Option<usize>,
}

impl ManifestStore for MemStore {
    fn commit(&mut self, m: &Manifest) -> Result<(), StreamError> {
        let mut c = self.commits.lock().unwrap();
        if self.fail_at.is_some_and(|f| c.len() >= f) {
            return Err(StreamError::Zk("injected failure".into()));
        }
        c.push(m.clone());
        Ok(())
    }

    fn forget(&mut self, _job: &str, _epoch: u64) -> Result<(), StreamError> {
        Ok(())
    }
}

/// Removes its directory when dropped, a failing test's too.
pub(crate) struct Cleanup(pub(crate) PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ferrokeeper-stream-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

pub(crate) fn expected(spec: WindowSpec, n: u64) -> Checksum {
    let mut c = Checksum::default();
    for r in brute_force(spec, n) {
        c.add(&r);
    }
    c
}

fn job(window: &str, n: u64, p: usize, sink_dir: Option<&Path>) -> Arc<BenchJob> {
    let mut j = BenchJob::new(WindowSpec::bench(window).unwrap(), n, p);
    j.sink_dir = sink_dir.map(|d| d.join("sink"));
    Arc::new(j)
}

pub(crate) fn config(p: usize, checkpoint_ms: u64) -> RunConfig {
    RunConfig {
        p,
        checkpoint_ms,
        drain: None,
        progress: None,
        cluster: None,
        state_backend: Default::default(),
    }
}

fn publish_into(dir: &Path) -> impl Fn(u64, usize, &Path) -> Result<(), StreamError> + '_ {
    move |e, w, f| publish_part(f, &dir.join("sink"), e, w, "")
}

#[test]
fn the_job_gives_the_brute_force_answer_at_any_parallelism() {
    for window in ["tumbling", "sliding", "session"] {
        let want = expected(WindowSpec::bench(window).unwrap(), 300_000);
        for p in [1, 2, 3] {
            let j = job(window, 300_000, p, None);
            let got = engine::run(j.clone(), config(p, 0), None, None).unwrap();
            assert_eq!(j.delivered(), want, "{window} p={p}");
            assert_eq!(got.late, 0);
        }
    }
}

#[test]
fn checkpoints_commit_in_order_and_the_sink_publishes_only_committed_epochs() {
    let dir = scratch("ordered");
    let _cleanup = Cleanup(dir.clone());
    let commits = Arc::new(Mutex::new(Vec::new()));
    let store = MemStore {
        commits: commits.clone(),
        fail_at: None,
    };
    let c = Checkpointer::start("t", 2, &dir, 0, vec![0, 0], Box::new(store)).unwrap();
    let j = job("sliding", 3_000_000, 2, Some(&dir));
    engine::run(j.clone(), config(2, 2), Some(c.clone()), None).unwrap();
    let commits = commits.lock().unwrap();
    assert!(commits.len() >= 3, "{} checkpoints", commits.len());
    for (i, m) in commits.iter().enumerate() {
        assert_eq!(m.epoch, i as u64);
        assert_eq!(m.files.len(), 2, "a state file per worker");
    }
    let last = commits.last().unwrap();
    assert_eq!(
        last.positions,
        vec![1_500_000, 1_500_000],
        "the last epoch holds every event"
    );
    assert_eq!(
        published(&dir.join("sink")).unwrap(),
        expected(j.window, j.n)
    );
}

/// Runs `job` with checkpoints every 2 ms until its 4th commit fails, checks the run
/// failed at epoch 2, republishes what was committed (`between` then sees the sink), and
/// resumes it to the end from the latest checkpoint.
pub(crate) fn fail_then_resume<J: crate::stream::job::Job>(
    job: Arc<J>,
    dir: &Path,
    p: usize,
    republish: &dyn Fn(u64, usize, &Path) -> Result<(), StreamError>,
    between: impl FnOnce(),
) {
    fail_then_resume_on(job, dir, config(p, 2), config(p, 2), republish, between);
}

/// [`fail_then_resume`], the failing run with `first`, the resumed one with `then` (another
/// worker count, another state backend).
pub(crate) fn fail_then_resume_on<J: crate::stream::job::Job>(
    job: Arc<J>,
    dir: &Path,
    first: RunConfig,
    then: RunConfig,
    republish: &dyn Fn(u64, usize, &Path) -> Result<(), StreamError>,
    between: impl FnOnce(),
) {
    let commits = Arc::new(Mutex::new(Vec::new()));
    let store = MemStore {
        commits: commits.clone(),
        fail_at: Some(3),
    };
    let splits = job.splits();
    let c = Checkpointer::start("t", first.p, dir, 0, vec![0; splits], Box::new(store)).unwrap();
    assert!(
        engine::run(job.clone(), first, Some(c), None).is_err(),
        "the failed commit fails the run"
    );
    let latest = commits.lock().unwrap().last().cloned().unwrap();
    assert_eq!(latest.epoch, 2);
    // Outputs of epochs that never committed were staged, never published.
    recover_sink(dir, Some(latest.epoch), republish).unwrap();
    between();
    let restore = Arc::new(load_restore(dir, &latest).unwrap());
    let store = MemStore {
        commits,
        fail_at: None,
    };
    let c = Checkpointer::start(
        "t",
        then.p,
        dir,
        latest.epoch + 1,
        latest.positions.clone(),
        Box::new(store),
    )
    .unwrap();
    engine::run(job, then, Some(c), Some(restore)).unwrap();
}

/// The same with the RocksDB backend (a write cache of 16 keys, so state goes through
/// RocksDB), resumed on another worker count: its checkpoints are RocksDB checkpoints,
/// dealt to the new workers by key group.
#[cfg(feature = "rocksdb")]
#[test]
fn a_rocksdb_run_whose_commits_fail_resumes_on_another_worker_count() {
    use crate::stream::state::StateBackend;
    for (window, p1, p2) in [("tumbling", 2, 3), ("sliding", 3, 1), ("session", 1, 2)] {
        let dir = scratch(&format!("rocks-resume-{window}"));
        let _cleanup = Cleanup(dir.clone());
        // Two splits, whatever the workers.
        let j = job(window, 3_000_000, 2, Some(&dir));
        let all = expected(j.window, j.n);
        let with = |p| RunConfig {
            state_backend: StateBackend::RocksDb {
                dir: dir.join("rocksdb"),
                cache_keys: 16,
            },
            ..config(p, 2)
        };
        fail_then_resume_on(
            j.clone(),
            &dir,
            with(p1),
            with(p2),
            &publish_into(&dir),
            || {
                let before = published(&dir.join("sink")).unwrap();
                assert!(before.results > 0 && before.results < all.results);
                for w in 0..p1 {
                    let saved = dir.join(format!("2/w{w}.rocks/CURRENT"));
                    assert!(saved.exists(), "{}", saved.display());
                }
            },
        );
        assert_eq!(
            published(&dir.join("sink")).unwrap(),
            all,
            "{window} p={p1} then {p2}"
        );
    }
}

#[test]
fn a_run_whose_commits_fail_resumes_to_the_same_sink_contents() {
    for (window, p) in [("tumbling", 2), ("session", 1), ("sliding", 3)] {
        let dir = scratch(&format!("resume-{window}"));
        let _cleanup = Cleanup(dir.clone());
        let j = job(window, 3_000_000, p, Some(&dir));
        let all = expected(j.window, j.n);
        fail_then_resume(j.clone(), &dir, p, &publish_into(&dir), || {
            let before = published(&dir.join("sink")).unwrap();
            assert!(before.results > 0 && before.results < all.results);
        });
        assert_eq!(published(&dir.join("sink")).unwrap(), all, "{window} p={p}");
    }
}
