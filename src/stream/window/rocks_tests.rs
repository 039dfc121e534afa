//! The RocksDB backend against the heap: the same results for every window kind, with
//! disorder, late events and allowed lateness, whatever its write cache holds; and a
//! checkpoint restored onto another number of workers by key group.

use std::path::Path;

use super::*;
use crate::stream::checkpoint::engine_tests::{scratch, Cleanup};
use crate::stream::checkpoint::WorkerState;
use crate::stream::datagen::{event, mix64, Event};
use crate::stream::engine::route;
use crate::stream::window::LogStats;

/// Event `i` with up to 4 s of extra disorder (one in 50 over a minute) and 1,000 keys: with a 1 s watermark delay
/// many are late, and with lateness many update fired windows.
fn disordered(i: u64) -> Event {
    let mut e = event(i);
    let h = mix64(i ^ 0x5151);
    e.ts -= h % 4000;
    // Some very late, past every sliding window of their slice.
    if h.is_multiple_of(50) {
        e.ts -= 65_000;
    }
    e.service = (e.service * 1000 + (h >> 20) % 20) % 1000;
    e
}

fn specs() -> Vec<WindowSpec> {
    vec![
        WindowSpec::Tumbling { size: 10_000 },
        WindowSpec::Sliding {
            size: 60_000,
            slide: 10_000,
        },
        WindowSpec::Session { gap: 5_000 },
    ]
}

fn sorted(mut out: Vec<WindowResult>) -> Vec<WindowResult> {
    out.sort_by_key(|r| {
        (
            r.key,
            r.start,
            r.end,
            r.stats.count,
            r.stats.errors,
            r.stats.lat_sum,
        )
    });
    out
}

/// Feeds events `range` (those of keys `keep` says yes to) to `w`, firing every `batch` events at the watermark (the
/// largest ts so far less 1 s), as the engine would; returns (results, late events).
fn feed(
    w: &mut Windows<LogStats>,
    range: std::ops::Range<u64>,
    batch: u64,
    max_ts: &mut u64,
    keep: impl Fn(u64) -> bool,
) -> (Vec<WindowResult>, u64) {
    let (mut out, mut late) = (Vec::new(), 0);
    for i in range {
        // The watermark is global: every worker fires as the heap does.
        let e = disordered(i);
        *max_ts = (*max_ts).max(e.ts);
        if keep(e.service) && !w.add(e.service, e.ts, &e) {
            late += 1;
        }
        if i % batch == batch - 1 {
            let f = max_ts.saturating_sub(1000);
            if f > w.fired() || w.has_refires() {
                w.fire(f, &mut out);
            }
        }
    }
    (out, late)
}

fn rocks(dir: &Path, spec: WindowSpec, lateness: u64, cache: usize) -> Windows<LogStats> {
    let backend = StateBackend::RocksDb {
        dir: dir.to_path_buf(),
        cache_keys: cache,
    };
    Windows::open(&backend, spec, lateness, &[], 0, 1).unwrap()
}

fn heap(spec: WindowSpec, lateness: u64) -> Windows<LogStats> {
    Windows::open(&StateBackend::Heap, spec, lateness, &[], 0, 1).unwrap()
}

#[test]
fn rocksdb_gives_the_heaps_results_for_every_window_kind() {
    let dir = scratch("rocks-equal");
    let _cleanup = Cleanup(dir.clone());
    const N: u64 = 60_000;
    for spec in specs() {
        for lateness in [0, 3000] {
            let mut h = heap(spec, lateness);
            let mut ts = 0;
            let (mut want, want_late) = feed(&mut h, 0..N, 64, &mut ts, |_| true);
            h.fire(u64::MAX, &mut want);
            let want = sorted(want);
            assert!(want_late > 0, "{spec:?}: the test has late events");
            // 0: every event goes through RocksDB; 37: evictions all the time; else all
            // cached.
            for cache in [0, 37, 100_000] {
                let mut r = rocks(&dir, spec, lateness, cache);
                let mut ts = 0;
                let (mut got, late) = feed(&mut r, 0..N, 64, &mut ts, |_| true);
                r.fire(u64::MAX, &mut got);
                assert_eq!(
                    late, want_late,
                    "{spec:?} lateness {lateness} cache {cache}"
                );
                assert_eq!(
                    sorted(got),
                    want,
                    "{spec:?} lateness {lateness} cache {cache}"
                );
            }
        }
    }
}

/// A snapshot of `w` as a checkpoint's worker state, read back as a restore would.
fn checkpoint(w: &mut Windows<LogStats>, dir: &Path, worker: usize) -> WorkerState {
    let file = dir.join(format!("w{worker}.json"));
    let (backend, windows) = w.snapshot(&file.with_extension("rocks")).unwrap();
    WorkerState {
        worker,
        windows,
        backend,
        path: Some(file),
    }
}

/// Runs the first `cut` events on `from` workers, checkpoints them, restores onto `to`
/// workers and runs the rest: the results, with those before the checkpoint, are the
/// heap's without a restore.
fn rescaled(spec: WindowSpec, lateness: u64, from: usize, to: usize, cache: usize) {
    const N: u64 = 40_000;
    let cut = 17_001;
    let dir = scratch(&format!("rocks-rescale-{from}-{to}-{cache}"));
    let _cleanup = Cleanup(dir.clone());
    let mut h = heap(spec, lateness);
    let mut ts = 0;
    let (mut want, _) = feed(&mut h, 0..N, 64, &mut ts, |_| true);
    h.fire(u64::MAX, &mut want);

    let backend = StateBackend::RocksDb {
        dir: dir.join("run1"),
        cache_keys: cache,
    };
    let mut got = Vec::new();
    let mut saved = Vec::new();
    let mut max_ts = 0;
    for i in 0..from {
        let mut w = Windows::open(&backend, spec, lateness, &[], i, from).unwrap();
        let mut ts = 0;
        let (out, _) = feed(&mut w, 0..cut, 64, &mut ts, |k| route(k, from) == i as u64);
        max_ts = max_ts.max(ts);
        got.extend(out);
        saved.push(checkpoint(&mut w, &dir.join("ckpt"), i));
    }
    // The frontier each worker had fired to differs: like the engine, a restore takes the
    // largest, and every worker fires to it before going on.
    let backend = StateBackend::RocksDb {
        dir: dir.join("run2"),
        cache_keys: cache,
    };
    for i in 0..to {
        let mut w = Windows::open(&backend, spec, lateness, &saved, i, to).unwrap();
        let mut ts = max_ts;
        let (out, _) = feed(&mut w, cut..N, 64, &mut ts, |k| route(k, to) == i as u64);
        got.extend(out);
        let mut rest = Vec::new();
        w.fire(u64::MAX, &mut rest);
        got.extend(rest);
    }
    assert_eq!(
        sorted(got),
        sorted(want),
        "{spec:?} lateness {lateness}: {from} -> {to} workers, cache {cache}"
    );
}

#[test]
fn a_rocksdb_checkpoint_restores_onto_any_worker_count() {
    for spec in specs() {
        for (from, to) in [(1, 3), (2, 1), (3, 2)] {
            rescaled(spec, 0, from, to, 16);
        }
        rescaled(spec, 3000, 2, 3, 0);
    }
}

#[test]
fn a_checkpoint_is_resumed_with_the_backend_that_wrote_it() {
    let dir = scratch("rocks-kind");
    let _cleanup = Cleanup(dir.clone());
    let spec = WindowSpec::Tumbling { size: 10 };
    let mut h = heap(spec, 0);
    let s = checkpoint(&mut h, &dir, 0);
    assert_eq!(s.backend, BackendKind::Heap);
    let backend = StateBackend::RocksDb {
        dir: dir.clone(),
        cache_keys: 1,
    };
    let err = Windows::<LogStats>::open(&backend, spec, 0, &[s], 0, 1).err();
    assert!(err.is_some_and(|e| e.to_string().contains("heap")));
}
