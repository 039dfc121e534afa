use std::collections::BTreeMap;

use super::*;
use crate::stream::checksum::Checksum;
use crate::stream::datagen::event;

/// Every window of every event, computed the obvious way (no lateness: the whole input is
/// there before anything fires).
pub(crate) fn brute_force(spec: WindowSpec, n: u64) -> Vec<WindowResult> {
    let mut windows: BTreeMap<(u64, u64, u64), LogStats> = BTreeMap::new();
    let mut sessions: BTreeMap<u64, Vec<(u64, u64, LogStats)>> = BTreeMap::new();
    for i in 0..n {
        let e = event(i);
        match spec {
            WindowSpec::Tumbling { size } => {
                let s = e.ts - e.ts % size;
                windows.entry((e.service, s, s + size)).or_default().add(&e);
            }
            WindowSpec::Sliding { size, slide } => {
                let last = e.ts - e.ts % slide;
                let mut s = last as i64;
                while s > e.ts as i64 - size as i64 {
                    let st = s as u64;
                    windows
                        .entry((e.service, st, st + size))
                        .or_default()
                        .add(&e);
                    s -= slide as i64;
                }
            }
            WindowSpec::Session { .. } => {
                let mut st = LogStats::default();
                st.add(&e);
                sessions
                    .entry(e.service)
                    .or_default()
                    .push((e.ts, e.ts, st));
            }
        }
    }
    if let WindowSpec::Session { gap } = spec {
        for (key, mut evs) in sessions {
            evs.sort_by_key(|x| x.0);
            let mut cur: Option<(u64, u64, LogStats)> = None;
            for (ts, _, st) in evs {
                match &mut cur {
                    Some((_, end, acc)) if ts <= *end => {
                        *end = (*end).max(ts + gap);
                        acc.merge(&st);
                    }
                    _ => {
                        if let Some((s, e, acc)) = cur.take() {
                            windows.insert((key, s, e), acc);
                        }
                        cur = Some((ts, ts + gap, st));
                    }
                }
            }
            if let Some((s, e, acc)) = cur {
                windows.insert((key, s, e), acc);
            }
        }
    }
    windows
        .into_iter()
        .map(|((key, start, end), stats)| WindowResult {
            key,
            start,
            end,
            stats,
        })
        .collect()
}

/// Feeds events in order with a bounded-out-of-orderness watermark advanced every `batch`
/// events, as a source would, then the final frontier.
fn streamed(spec: WindowSpec, n: u64, batch: u64) -> Vec<WindowResult> {
    let mut w: KeyedWindows = KeyedWindows::new(spec);
    let mut out = Vec::new();
    let mut max_ts = 0;
    for i in 0..n {
        let e = event(i);
        max_ts = max_ts.max(e.ts);
        assert!(w.add(e.service, e.ts, &e), "event {i} late");
        if i % batch == batch - 1 {
            w.fire(max_ts.saturating_sub(2000), &mut out);
        }
    }
    w.fire(u64::MAX, &mut out);
    out.sort_by_key(|r| (r.key, r.start, r.end));
    out
}

#[test]
fn streamed_windows_equal_the_brute_force_ones() {
    for name in ["tumbling", "sliding", "session"] {
        let spec = WindowSpec::bench(name).unwrap();
        for batch in [1, 100, 4096] {
            assert_eq!(
                streamed(spec, 120_000, batch),
                brute_force(spec, 120_000),
                "{name} batch {batch}"
            );
        }
    }
}

#[test]
fn the_known_answer_of_the_benchmark_job() {
    // The check: N = 100,000, tumbling.
    let mut c = Checksum::default();
    for r in streamed(WindowSpec::bench("tumbling").unwrap(), 100_000, 1024) {
        c.add(&r);
    }
    assert_eq!((c.results, c.hex().as_str()), (1051, "4bd7edf5115d2fdd"));
}

#[test]
fn late_events_are_dropped_and_windows_fire_once() {
    let mut w: KeyedWindows = KeyedWindows::new(WindowSpec::Tumbling { size: 10 });
    let ev = |ts| Event {
        ts,
        service: 1,
        level: crate::stream::datagen::Level::Info,
        latency_ms: 1,
    };
    let mut out = Vec::new();
    assert!(w.add(1, 5, &ev(5)));
    w.fire(10, &mut out);
    assert_eq!(out.len(), 1);
    assert!(!w.add(1, 9, &ev(9)), "its window fired");
    assert!(w.add(1, 10, &ev(10)));
    w.fire(10, &mut out);
    assert_eq!(out.len(), 1);
    let mut s: KeyedWindows = KeyedWindows::new(WindowSpec::Session { gap: 5 });
    assert!(s.add(1, 0, &ev(0)));
    assert!(s.add(1, 10, &ev(10)));
    assert!(s.add(1, 5, &ev(5)), "touches both and merges them");
    s.fire(u64::MAX, &mut out);
    assert_eq!((out[1].start, out[1].end, out[1].stats.count), (0, 15, 3));
}
