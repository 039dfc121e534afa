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
    let mut w: KeyedWindows = KeyedWindows::new(spec, 0);
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
    let mut w: KeyedWindows = KeyedWindows::new(WindowSpec::Tumbling { size: 10 }, 0);
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
    let mut s: KeyedWindows = KeyedWindows::new(WindowSpec::Session { gap: 5 }, 0);
    assert!(s.add(1, 0, &ev(0)));
    assert!(s.add(1, 10, &ev(10)));
    assert!(s.add(1, 5, &ev(5)), "touches both and merges them");
    s.fire(u64::MAX, &mut out);
    assert_eq!((out[1].start, out[1].end, out[1].stats.count), (0, 15, 3));
}

fn info(ts: u64) -> Event {
    Event {
        ts,
        service: 1,
        level: crate::stream::datagen::Level::Info,
        latency_ms: 1,
    }
}

/// `(start, end, count)` of each result.
fn spans(out: &[WindowResult]) -> Vec<(u64, u64, u64)> {
    out.iter()
        .map(|r| (r.start, r.end, r.stats.count))
        .collect()
}

/// Flink's allowed lateness: a fired window is kept `lateness` past its end; an event for it
/// fires it again with the update (even without the frontier moving), and an event past
/// that is late.
#[test]
fn allowed_lateness_fires_windows_again() {
    let mut w: KeyedWindows = KeyedWindows::new(WindowSpec::Tumbling { size: 10 }, 5);
    let mut out = Vec::new();
    assert!(w.add(1, 5, &info(5)));
    w.fire(12, &mut out);
    assert!(w.add(1, 7, &info(7)), "within the lateness");
    assert!(w.has_refires());
    w.fire(12, &mut out);
    assert_eq!(spans(&out), [(0, 10, 1), (0, 10, 2)]);
    w.fire(15, &mut out);
    assert!(!w.add(1, 8, &info(8)), "past end + lateness");
    w.fire(20, &mut out);
    assert_eq!(spans(&out), [(0, 10, 1), (0, 10, 2)]);

    // Sliding: a late event updates every fired window holding its slice.
    let mut h: KeyedWindows = KeyedWindows::new(
        WindowSpec::Sliding {
            size: 20,
            slide: 10,
        },
        15,
    );
    let mut out = Vec::new();
    assert!(h.add(1, 15, &info(15)));
    h.fire(30, &mut out);
    assert_eq!(spans(&out), [(0, 20, 1), (10, 30, 1)]);
    assert!(h.add(1, 12, &info(12)));
    h.fire(30, &mut out);
    assert_eq!(spans(&out)[2..], [(0, 20, 2), (10, 30, 2)]);
    h.fire(36, &mut out);
    assert!(h.add(1, 13, &info(13)), "[10, 30) is kept until 45");
    h.fire(36, &mut out);
    assert_eq!(spans(&out)[4..], [(10, 30, 3)]);

    // Sessions: a late event merging into a fired session fires the merged one.
    let mut s: KeyedWindows = KeyedWindows::new(WindowSpec::Session { gap: 5 }, 10);
    let mut out = Vec::new();
    assert!(s.add(1, 0, &info(0)));
    s.fire(6, &mut out);
    assert!(
        s.add(1, 3, &info(3)),
        "extends the fired session past the frontier"
    );
    s.fire(6, &mut out);
    assert_eq!(spans(&out), [(0, 5, 1)]);
    s.fire(9, &mut out);
    assert_eq!(spans(&out)[1..], [(0, 8, 2)]);
    assert!(s.add(1, 1, &info(1)), "inside the fired session");
    assert!(s.has_refires());
    s.fire(9, &mut out);
    assert_eq!(spans(&out)[2..], [(0, 8, 3)]);
    s.fire(18, &mut out);
    assert!(!s.add(1, 2, &info(2)), "the session's lateness has passed");
    assert!(s.add(1, 30, &info(30)));
    s.fire(u64::MAX, &mut out);
    assert_eq!(spans(&out)[3..], [(30, 35, 1)]);
}

/// With no lateness allowed nothing fires twice, whatever the order (the benchmark's
/// answers do not change).
#[test]
fn zero_lateness_keeps_the_old_rules() {
    for name in ["tumbling", "sliding", "session"] {
        let spec = WindowSpec::bench(name).unwrap();
        assert_eq!(
            streamed(spec, 50_000, 7),
            brute_force(spec, 50_000),
            "{name}"
        );
    }
}
