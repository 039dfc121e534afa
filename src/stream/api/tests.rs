//! A keyed process function end to end: sessions built by hand from timers and state
//! give the brute-force answer at any parallelism, and a run whose checkpoint commits
//! fail resumes (on another parallelism) to the same sink contents, each session once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::adapter::ProcessAdapter;
use super::*;
use crate::stream::checkpoint::engine_tests::{config, fail_then_resume_on, scratch, Cleanup};
use crate::stream::datagen::mix64;
use crate::stream::engine;
use crate::stream::job::Job;

const BASE: u64 = 1_700_000_000_000;
const USERS: u64 = 300;
/// Events are at most this far out of order...
const DISORDER: u64 = 500;
/// ...so a watermark this far behind the largest event time sees no late one.
const DELAY: u64 = 600;
const GAP: u64 = 300;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Click {
    user: u64,
    ts: u64,
    bytes: u64,
}

fn click(i: u64) -> Click {
    let h = mix64((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    Click {
        user: (h >> 10) % USERS,
        ts: BASE + i / 4 + DISORDER - h % DISORDER,
        bytes: (h >> 40) % 1000,
    }
}

/// A session: a user's clicks, each less than `GAP` after the one before.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Session {
    user: u64,
    start: u64,
    last: u64,
    clicks: u64,
    bytes: u64,
}

fn brute_force(n: u64) -> Vec<Session> {
    let mut by_user: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for i in 0..n {
        let c = click(i);
        by_user.entry(c.user).or_default().push((c.ts, c.bytes));
    }
    let mut out = Vec::new();
    for (user, mut clicks) in by_user {
        clicks.sort_unstable();
        let mut s: Option<Session> = None;
        for (ts, bytes) in clicks {
            match s.as_mut() {
                Some(cur) if ts - cur.last < GAP => {
                    cur.last = ts;
                    cur.clicks += 1;
                    cur.bytes += bytes;
                }
                _ => {
                    out.extend(s.take());
                    s = Some(Session {
                        user,
                        start: ts,
                        last: ts,
                        clicks: 1,
                        bytes,
                    });
                }
            }
        }
        out.extend(s);
    }
    out.sort();
    out
}

/// Split `k` of `splits` reads clicks `k, k + splits, ...` below `n`; its position is how
/// many it has read.
struct ClickSource {
    next: u64,
    step: u64,
    n: u64,
    read: u64,
}

impl Source for ClickSource {
    type Rec = Click;

    fn read(
        &mut self,
        max: usize,
        give: &mut dyn FnMut(Click),
    ) -> Result<Option<usize>, StreamError> {
        let mut given = 0;
        while given < max && self.next < self.n {
            give(click(self.next));
            self.next += self.step;
            given += 1;
        }
        self.read += given as u64;
        Ok((given > 0).then_some(given))
    }

    fn position(&self) -> u64 {
        self.read
    }
}

#[derive(Default, Serialize, Deserialize)]
struct UserState {
    /// Clicks not yet applied: applied in event-time order once the watermark passes them,
    /// which makes sessions independent of arrival order.
    pending: BTreeMap<u64, Vec<u64>>,
    open: Option<Session>,
}

/// Sessions of each user, the sink in memory (the test's) or in files.
struct Sessions {
    n: u64,
    splits: usize,
    sink: MemSink,
}

/// `(epoch, worker)` -> what it published.
type Parts = BTreeMap<(u64, usize), Vec<Session>>;

#[derive(Clone, Default)]
struct MemSink {
    parts: Arc<Mutex<Parts>>,
}

impl Sink<Session> for MemSink {
    fn publish(&self, epoch: u64, worker: usize, records: Vec<Session>) -> Result<(), StreamError> {
        let mut parts = self.parts.lock().unwrap_or_else(|e| e.into_inner());
        parts.entry((epoch, worker)).or_insert(records);
        Ok(())
    }
}

impl MemSink {
    fn all(&self) -> Vec<Session> {
        let parts = self.parts.lock().unwrap();
        let mut v: Vec<Session> = parts.values().flatten().cloned().collect();
        v.sort();
        v
    }
}

impl ProcessJob for Sessions {
    type Rec = Click;
    type Source = ClickSource;
    type State = UserState;
    type Out = Session;
    type Sink = MemSink;

    fn splits(&self) -> usize {
        self.splits
    }

    fn open(&self, split: usize, position: u64) -> Result<ClickSource, StreamError> {
        let step = self.splits as u64;
        Ok(ClickSource {
            next: split as u64 + position * step,
            step,
            n: self.n,
            read: position,
        })
    }

    fn key(c: &Click) -> u64 {
        c.user
    }

    fn timestamp(c: &Click) -> u64 {
        c.ts
    }

    fn watermark_delay(&self) -> u64 {
        DELAY
    }

    fn process(&self, c: &Click, ctx: &mut Context<'_, UserState, Session>) {
        assert!(
            ctx.watermark().is_none_or(|w| c.ts > w),
            "no click is late: the delay exceeds the disorder"
        );
        ctx.state().pending.entry(c.ts).or_default().push(c.bytes);
        ctx.register_timer(c.ts);
    }

    fn on_timer(&self, ctx: &mut Context<'_, UserState, Session>) {
        let (user, now) = (ctx.key(), ctx.timestamp());
        let s = ctx.state();
        let later = s.pending.split_off(&(now + 1));
        let due = std::mem::replace(&mut s.pending, later);
        let mut closed = Vec::new();
        for (ts, clicks) in due {
            for bytes in clicks {
                match s.open.as_mut() {
                    Some(cur) if ts - cur.last < GAP => {
                        cur.last = ts;
                        cur.clicks += 1;
                        cur.bytes += bytes;
                    }
                    _ => {
                        closed.extend(s.open.take());
                        s.open = Some(Session {
                            user,
                            start: ts,
                            last: ts,
                            clicks: 1,
                            bytes,
                        });
                    }
                }
            }
        }
        if s.open.as_ref().is_some_and(|o| now >= o.last + GAP) {
            closed.extend(s.open.take());
        }
        let next = s.open.as_ref().map(|o| o.last + GAP);
        let empty = s.open.is_none() && s.pending.is_empty();
        for done in closed {
            ctx.emit(done);
        }
        if let Some(t) = next {
            ctx.register_timer(t);
        }
        if empty {
            ctx.clear_state();
        }
    }

    fn sink(&self) -> &MemSink {
        &self.sink
    }
}

fn sessions(n: u64, splits: usize) -> Sessions {
    Sessions {
        n,
        splits,
        sink: MemSink::default(),
    }
}

#[test]
fn a_process_function_gives_the_brute_force_answer_at_any_parallelism() {
    let n = 200_000;
    let want = brute_force(n);
    assert!(want.len() > 1000, "{} sessions", want.len());
    let users: BTreeSet<u64> = want.iter().map(|s| s.user).collect();
    assert_eq!(users.len() as u64, USERS);
    for p in [1, 2, 3] {
        let job = Arc::new(ProcessAdapter::new(Arc::new(sessions(n, 2))));
        engine::run(job.clone(), config(p, 0), None, None).unwrap();
        assert_eq!(job.job.sink.all(), want, "p={p}");
    }
}

#[test]
fn a_process_job_whose_commits_fail_resumes_elsewhere_to_the_same_sessions_once() {
    let n = 600_000;
    let want = brute_force(n);
    for (p1, p2) in [(2, 3), (3, 1)] {
        let dir = scratch(&format!("process-resume-{p1}-{p2}"));
        let _cleanup = Cleanup(dir.clone());
        let job = Arc::new(ProcessAdapter::new(Arc::new(sessions(n, 3))));
        let republish = |e: u64, w: usize, f: &Path| job.publish(e, w, f);
        fail_then_resume_on(
            job.clone(),
            &dir,
            config(p1, 2),
            config(p2, 2),
            &republish,
            || {
                let before = job.job.sink.all();
                assert!(!before.is_empty() && before.len() < want.len());
            },
        );
        assert_eq!(job.job.sink.all(), want, "p={p1} then {p2}");
    }
}

#[test]
fn a_json_lines_sink_writes_each_part_once() {
    let dir = scratch("json-lines-sink");
    let _cleanup = Cleanup(dir.clone());
    let sink = JsonLinesSink::new(dir.join("out"));
    let s = |clicks| Session {
        user: 1,
        start: 2,
        last: 3,
        clicks,
        bytes: 4,
    };
    sink.publish(7, 1, vec![s(1), s(2)]).unwrap();
    // Republished after a crash: the part stands as first written.
    sink.publish(7, 1, vec![s(9)]).unwrap();
    let text = std::fs::read_to_string(dir.join("out/part-00000000000000000007-w1.jsonl")).unwrap();
    let read: Vec<Session> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(read, vec![s(1), s(2)]);
    assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 1);
}
