//! A job of your own on `ferrokeeper::stream::api`: user sessions (clicks less than a gap
//! apart) built by a keyed process function from per-user state and event-time timers, read
//! from a custom source and written exactly-once to JSON-lines files.
//!
//! ```text
//! cargo run --release --example keyed_process -- --n 400000 --p 2 --checkpoint-ms 100 \
//!     --state-dir /tmp/sessions --out /tmp/sessions/out
//! ```
//!
//! Kill it (`kill -9`) and run it again with `--resume` (any `--p`): the output directory
//! then holds every session once. `--expect` prints the sessions a brute-force computation
//! gives, in the sink's format, to compare with. `--zk host:port` keeps the checkpoints in
//! that ensemble (Ferrokeeper or Apache ZooKeeper) instead of an embedded server;
//! `--rate` limits the clicks read per second.

use std::collections::BTreeMap;
use std::time::Instant;

use ferrokeeper::stream::api::{
    self, Context, JsonLinesSink, ProcessJob, RunOptions, Source, StreamError,
};
use serde::{Deserialize, Serialize};

const BASE: u64 = 1_700_000_000_000;
const USERS: u64 = 500;
/// Clicks come at most this much out of order...
const DISORDER: u64 = 500;
/// ...so a watermark this far behind the latest click sees none late.
const DELAY: u64 = 600;
/// A session ends after this long without a click.
const GAP: u64 = 300;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Click {
    user: u64,
    ts: u64,
    bytes: u64,
}

/// SplitMix64's finalizer: click `i` is a function of `i`, so a split can be replayed.
fn mix64(mut z: u64) -> u64 {
    z ^= z >> 30;
    z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 27;
    z = z.wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn click(i: u64) -> Click {
    let h = mix64((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    Click {
        user: (h >> 10) % USERS,
        ts: BASE + i / 4 + DISORDER - h % DISORDER,
        bytes: (h >> 40) % 1000,
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Session {
    user: u64,
    start: u64,
    last: u64,
    clicks: u64,
    bytes: u64,
}

impl Session {
    fn new(user: u64, ts: u64, bytes: u64) -> Session {
        Session {
            user,
            start: ts,
            last: ts,
            clicks: 1,
            bytes,
        }
    }

    /// Adds a click in time order; the session it closed, if the gap was reached.
    fn add(open: &mut Option<Session>, user: u64, ts: u64, bytes: u64) -> Option<Session> {
        match open {
            Some(s) if ts - s.last < GAP => {
                s.last = ts;
                s.clicks += 1;
                s.bytes += bytes;
                None
            }
            _ => open.replace(Session::new(user, ts, bytes)),
        }
    }
}

/// Split `k` of `p` reads clicks `k, k + p, ...`; its position is how many it has read.
struct ClickSource {
    next: u64,
    step: u64,
    n: u64,
    read: u64,
    rate: Option<(f64, Instant)>,
}

impl Source for ClickSource {
    type Rec = Click;

    fn read(
        &mut self,
        max: usize,
        give: &mut dyn FnMut(Click),
    ) -> Result<Option<usize>, StreamError> {
        let mut max = max as u64;
        if let Some((per_s, since)) = self.rate {
            let allowed = (since.elapsed().as_secs_f64() * per_s) as u64;
            max = max.min(allowed.saturating_sub(self.read));
        }
        let mut given = 0;
        while given < max && self.next < self.n {
            give(click(self.next));
            self.next += self.step;
            given += 1;
        }
        self.read += given;
        let ended = self.next >= self.n;
        Ok((!ended || given > 0).then_some(given as usize))
    }

    fn position(&self) -> u64 {
        self.read
    }
}

/// A user's clicks waiting for the watermark, and the open session.
#[derive(Default, Serialize, Deserialize)]
struct UserState {
    /// Clicks are applied in event-time order once the watermark passes them, so the
    /// sessions do not depend on the order clicks arrive in.
    pending: BTreeMap<u64, Vec<u64>>,
    open: Option<Session>,
}

struct Sessions {
    n: u64,
    splits: usize,
    rate: Option<f64>,
    sink: JsonLinesSink,
}

impl ProcessJob for Sessions {
    type Rec = Click;
    type Source = ClickSource;
    type State = UserState;
    type Out = Session;
    type Sink = JsonLinesSink;

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
            rate: self
                .rate
                .map(|r| (r / self.splits as f64, Instant::now()))
                .map(|(r, t)| {
                    (
                        r,
                        t - std::time::Duration::from_secs_f64(position as f64 / r),
                    )
                }),
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
                closed.extend(Session::add(&mut s.open, user, ts, bytes));
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

    fn sink(&self) -> &JsonLinesSink {
        &self.sink
    }
}

/// The sessions of clicks `0..n`, computed directly.
fn expect(n: u64) -> Vec<Session> {
    let mut by_user: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for i in 0..n {
        let c = click(i);
        by_user.entry(c.user).or_default().push((c.ts, c.bytes));
    }
    let mut out = Vec::new();
    for (user, mut clicks) in by_user {
        clicks.sort_unstable();
        let mut open = None;
        for (ts, bytes) in clicks {
            out.extend(Session::add(&mut open, user, ts, bytes));
        }
        out.extend(open);
    }
    out
}

fn usage(e: &str) -> ! {
    eprintln!(
        "keyed_process: {e}\nusage: keyed_process [--n N] [--p P] [--splits S] [--checkpoint-ms MS] \
         [--state-dir DIR] [--out DIR] [--zk HOST:PORT] [--name NAME] [--rate PER_S] [--resume] | --expect --n N"
    );
    std::process::exit(2)
}

fn main() {
    let mut opts = RunOptions::new("sessions");
    let (mut n, mut splits, mut rate, mut out, mut expect_only) =
        (400_000u64, 2, None, None, false);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a}: a value")))
        };
        let num = |v: String| {
            v.parse::<u64>()
                .unwrap_or_else(|_| usage(&format!("{v}: a number")))
        };
        match a.as_str() {
            "--n" => n = num(value()),
            "--p" => opts.parallelism = num(value()) as usize,
            "--splits" => splits = num(value()) as usize,
            "--checkpoint-ms" => opts.checkpoint_ms = num(value()),
            "--state-dir" => opts.state_dir = Some(value().into()),
            "--out" => out = Some(value()),
            "--zk" => opts.zk = Some(value()),
            "--name" => opts.name = value(),
            "--rate" => rate = Some(num(value()) as f64),
            "--resume" => opts.resume = true,
            "--expect" => expect_only = true,
            "-h" | "--help" => {
                println!(
                    "{}",
                    include_str!("keyed_process.rs")
                        .lines()
                        .take(15)
                        .map(|l| l.trim_start_matches("//!").trim_start())
                        .collect::<Vec<_>>()
                        .join("\n")
                );
                return;
            }
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    if expect_only {
        for s in expect(n) {
            println!("{}", serde_json::to_string(&s).unwrap_or_default());
        }
        return;
    }
    let out = out.unwrap_or_else(|| usage("--out DIR"));
    let job = Sessions {
        n,
        splits: splits.max(1),
        rate,
        sink: JsonLinesSink::new(out),
    };
    match api::run(job, &opts) {
        Ok(summary) => eprintln!(
            "{{\"checkpoints\":{},\"resumed_from\":{},\"records\":{},\"results\":{}}}",
            summary.checkpoints,
            summary
                .resumed_from
                .map_or("null".into(), |e| e.to_string()),
            summary.records,
            summary.results
        ),
        Err(e) => {
            eprintln!("keyed_process: {e}");
            std::process::exit(1);
        }
    }
}
