//! The benchmark job as a timely dataflow, embedded: `p` worker threads in this process
//! (`timely::Config::process`), each with one datagen split, the windows of its key groups
//! and its share of the checksum sink.
//!
//! ```text
//! datagen split k --(epoch, event)--> exchange(key group) --> windows --> checksum sink
//! ```
//!
//! Checkpoints: every interval each source closes its epoch (recording where its split
//! stands); the window operator applies one epoch at a time, stashing records of later
//! ones, writes its state once the epoch is complete at its input, and acks it; the sink
//! counts an epoch's results only once its checkpoint is committed (publish after commit).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::operator::{source, Operator};
use timely::dataflow::operators::{Capability, Probe};
use timely::dataflow::ProbeHandle;

use crate::stream::checkpoint::{key_group, Checkpointer, WorkerState, KEY_GROUPS};
use crate::stream::checksum::Checksum;
use crate::stream::datagen::{event, split_indices, Event};
use crate::stream::time::EpochTime;
use crate::stream::window::{KeyedWindows, WindowResult, WindowSpec};
use crate::stream::StreamError;

/// Events a source emits per activation: large enough that the engine costs nothing per
/// event, small enough that the frontier moves often.
const SOURCE_BATCH: u64 = 4096;
/// How far (event time) a split may run ahead of the windows' frontier.
const ALIGN_MS: u64 = 30_000;
/// Flink's bounded out-of-orderness in the benchmark job.
pub(crate) const OUT_OF_ORDERNESS_MS: u64 = 2000;

/// What to run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Job {
    pub(crate) window: WindowSpec,
    pub(crate) n: u64,
    pub(crate) p: usize,
    /// 0: no checkpoints, one epoch.
    pub(crate) checkpoint_ms: u64,
}

/// Where each split starts and what each worker's windows hold: a restored checkpoint.
#[derive(Clone, Debug, Default)]
pub(crate) struct Restore {
    pub(crate) epoch: u64,
    pub(crate) positions: Vec<u64>,
    pub(crate) state: Vec<WorkerState>,
}

/// What a run gave.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) checksum: Checksum,
    pub(crate) late: u64,
}

/// Runs the job to the end of its input.
pub(crate) fn run(
    job: Job,
    checkpointer: Option<Arc<Checkpointer>>,
    restore: Option<Arc<Restore>>,
) -> Result<Outcome, StreamError> {
    let p = job.p.max(1);
    let guards = timely::execute(timely::Config::process(p), move |worker| {
        let index = worker.index();
        let peers = worker.peers();
        let ckpt = checkpointer.clone();
        let restore = restore.clone();
        let start_epoch = restore.as_ref().map_or(0, |r| r.epoch + 1);
        let sink = Rc::new(RefCell::new(SinkState::new(
            index,
            ckpt.clone(),
            start_epoch,
        )));
        let sink_op = sink.clone();
        worker.dataflow::<EpochTime, _, _>(|scope| {
            let from = restore
                .as_ref()
                .and_then(|r| r.positions.get(index).copied())
                .unwrap_or(0);
            let src_ckpt = ckpt.clone();
            let progress = ProbeHandle::<EpochTime>::new();
            let src_progress = progress.clone();
            let events = source::<_, CapacityContainerBuilder<Vec<Event>>, _, _>(
                scope,
                "datagen",
                move |cap, info| {
                    let activator = scope.activator_for(info.address);
                    let mut split = Split::new(job, index, peers, from, start_epoch, cap);
                    move |output| {
                        // Watermark alignment: a split that runs ahead of the windows'
                        // frontier waits, which bounds the window state a skew can pile up.
                        let (global, global_epoch) = src_progress.with_frontier(|f| {
                            let event = f.iter().map(|t| t.event).min().unwrap_or(u64::MAX);
                            let epoch = f.iter().map(|t| t.epoch).min().unwrap_or(u64::MAX);
                            (event, epoch)
                        });
                        let paused = global > 0 && split.max_ts > global.saturating_add(ALIGN_MS);
                        // At most two epochs in flight: a checkpoint that costs more than its
                        // interval delays the next one instead of piling up epochs.
                        let may_end = split.epoch <= global_epoch.saturating_add(1);
                        if split.step(output, src_ckpt.as_deref(), paused, may_end) {
                            activator.activate();
                        }
                    }
                },
            );
            let mut windows = KeyedWindows::new(job.window);
            if let Some(r) = restore.as_ref() {
                for s in &r.state {
                    if let Ok(w) = s.windows() {
                        windows.absorb(w);
                    }
                }
                windows.retain_keys(|k| route(k, peers) == index as u64);
            }
            let win_ckpt = ckpt.clone();
            let results = events
                .unary_frontier::<CapacityContainerBuilder<Vec<WindowResult>>, _, _, _>(
                    Exchange::new(move |e: &Event| route(e.service, peers)),
                    "windows",
                    move |cap, _info| {
                        let mut op = WindowOp::new(windows, cap, start_epoch, index, win_ckpt);
                        move |(input, frontier), output| {
                            input.for_each(|time, data| op.receive(stamp_time(time.stamp()), data));
                            op.advance(frontier.frontier(), output);
                        }
                    },
                );
            let results = results.probe_with(&progress);
            results.sink(Pipeline, "checksum", move |(input, frontier)| {
                let mut sink = sink_op.borrow_mut();
                input.for_each(|time, data| {
                    let c = sink
                        .pending
                        .entry(stamp_time(time.stamp()).epoch)
                        .or_default();
                    for r in data.iter() {
                        c.add(r);
                    }
                });
                let done_below = frontier
                    .frontier()
                    .iter()
                    .map(|t| t.epoch)
                    .min()
                    .unwrap_or(u64::MAX);
                sink.epochs_done(done_below);
            });
        });
        while worker.step_or_park(Some(Duration::from_millis(1))) {}
        // The last epochs' commits may land after the dataflow is done.
        let mut sink = sink.borrow_mut();
        sink.finish()?;
        Ok::<Outcome, StreamError>(Outcome {
            checksum: sink.published,
            late: LATE.with(|l| l.replace(0)),
        })
    })
    .map_err(StreamError::Engine)?;
    let mut total = Outcome::default();
    for r in guards.join() {
        let o = r.map_err(StreamError::Engine)??;
        total.checksum.merge(o.checksum);
        total.late += o.late;
    }
    Ok(total)
}

/// The checksum sink of one worker. Without checkpoints an epoch's results count once the
/// epoch is done. With them, the results of each completed epoch are staged in the
/// checkpoint (write-ahead) and published once it is committed, so a crash anywhere
/// publishes each result exactly once.
struct SinkState {
    worker: usize,
    ckpt: Option<Arc<Checkpointer>>,
    /// Results per epoch, not yet staged.
    pending: BTreeMap<u64, Checksum>,
    /// The next epoch to stage: every earlier one is staged.
    next_stage: u64,
    /// Staged epochs awaiting their commit.
    staged: Vec<u64>,
    /// Without checkpoints: what counted.
    published: Checksum,
}

impl SinkState {
    fn new(worker: usize, ckpt: Option<Arc<Checkpointer>>, start_epoch: u64) -> SinkState {
        SinkState {
            worker,
            ckpt,
            pending: BTreeMap::new(),
            next_stage: start_epoch,
            staged: Vec::new(),
            published: Checksum::default(),
        }
    }

    /// Every epoch below `done_below` is complete at the sink's input.
    fn epochs_done(&mut self, done_below: u64) {
        let Some(c) = self.ckpt.clone() else {
            while let Some(entry) = self.pending.first_entry() {
                if *entry.key() >= done_below {
                    break;
                }
                self.published.merge(entry.remove());
            }
            return;
        };
        // Stage each completed epoch, empty ones too: the commit waits for every sink.
        let last = if done_below == u64::MAX {
            self.pending
                .keys()
                .next_back()
                .map_or(self.next_stage, |e| e + 1)
        } else {
            done_below
        };
        while self.next_stage < last {
            let e = self.next_stage;
            let out = self.pending.remove(&e).unwrap_or_default();
            c.stage_sink(e, self.worker, out);
            self.staged.push(e);
            self.next_stage += 1;
        }
        if done_below == u64::MAX {
            c.sink_done(self.worker, self.next_stage);
        }
        self.publish_committed();
    }

    fn publish_committed(&mut self) {
        let Some(c) = self.ckpt.as_ref() else {
            return;
        };
        let committed = c.committed_below();
        let worker = self.worker;
        self.staged.retain(|&e| {
            if e < committed {
                if let Err(err) = c.publish_sink(e, worker) {
                    c.fail(err.to_string());
                }
                false
            } else {
                true
            }
        });
    }

    /// After the dataflow: waits for the last commits and publishes.
    fn finish(&mut self) -> Result<(), StreamError> {
        if let Some(c) = self.ckpt.clone() {
            if let Some(&last) = self.staged.last() {
                c.wait_committed(last)?;
            }
            self.publish_committed();
        } else {
            self.epochs_done(u64::MAX);
        }
        Ok(())
    }
}

thread_local! {
    /// Late events this worker dropped.
    static LATE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// The time of a message. Every operator here sends under one capability, so stamps are
/// singletons; a wider stamp is taken at its latest epoch, which only delays its records
/// to a later checkpoint.
fn stamp_time(stamp: &timely::progress::Stamp<EpochTime>) -> EpochTime {
    match stamp.as_singleton() {
        Some(t) => *t,
        None => EpochTime::new(
            stamp.iter().map(|t| t.epoch).max().unwrap_or(0),
            stamp.iter().map(|t| t.event).min().unwrap_or(0),
        ),
    }
}

/// Which worker owns `key`: its key group's share of the workers, so a checkpoint's state
/// can be dealt to any number of workers on restore.
pub(crate) fn route(key: u64, peers: usize) -> u64 {
    key_group(key) * peers as u64 / KEY_GROUPS
}

/// One datagen split: events `k, k+p, ...`, its watermark and its epochs.
struct Split {
    indices: std::iter::StepBy<std::ops::Range<u64>>,
    position: u64,
    split: usize,
    max_ts: u64,
    epoch: u64,
    interval: Option<Duration>,
    epoch_ends: Instant,
    cap: Option<Capability<EpochTime>>,
}

impl Split {
    fn new(
        job: Job,
        k: usize,
        p: usize,
        from: u64,
        epoch: u64,
        cap: Capability<EpochTime>,
    ) -> Split {
        let mut cap = cap;
        cap.downgrade(&EpochTime::new(epoch, 0));
        let interval = (job.checkpoint_ms > 0).then(|| Duration::from_millis(job.checkpoint_ms));
        Split {
            indices: split_indices(job.n, p as u64, k as u64, from),
            position: from,
            split: k,
            max_ts: 0,
            epoch,
            interval,
            epoch_ends: Instant::now() + interval.unwrap_or_default(),
            cap: Some(cap),
        }
    }

    /// Emits a batch (nothing when `paused`); false once the split is exhausted and its
    /// capability dropped.
    fn step(
        &mut self,
        output: &mut timely::dataflow::operators::generic::OutputBuilderSession<
            '_,
            EpochTime,
            CapacityContainerBuilder<Vec<Event>>,
        >,
        ckpt: Option<&Checkpointer>,
        paused: bool,
        may_end_epoch: bool,
    ) -> bool {
        let Some(cap) = self.cap.as_mut() else {
            return false;
        };
        // A paused split still ends its epochs on time: an operator that waits for the end
        // of its epoch could otherwise wait for it forever.
        let budget = if paused { 0 } else { SOURCE_BATCH };
        let mut emitted = 0;
        {
            let mut session = output.session(&*cap);
            for i in self.indices.by_ref().take(budget as usize) {
                let e = event(i);
                self.max_ts = self.max_ts.max(e.ts);
                session.give(e);
                emitted += 1;
            }
        }
        self.position += emitted;
        let exhausted = !paused && emitted < SOURCE_BATCH;
        if let (Some(interval), Some(c)) = (self.interval, ckpt) {
            let now = Instant::now();
            if exhausted || (may_end_epoch && now >= self.epoch_ends) {
                // The epoch ends here: a restore from its checkpoint starts the split at
                // `position`.
                c.source_end(self.epoch, self.split, self.position);
                if !exhausted {
                    self.epoch += 1;
                    self.epoch_ends = now + interval;
                }
            }
        }
        if exhausted {
            self.cap = None;
            return false;
        }
        let f = self.max_ts.saturating_sub(OUT_OF_ORDERNESS_MS);
        let t = EpochTime::new(self.epoch, f.max(cap.time().event));
        cap.downgrade(&t);
        true
    }
}

/// The windows of one worker, one epoch at a time.
struct WindowOp {
    windows: KeyedWindows,
    /// Output capability at `(epoch, fired)`.
    cap: Option<Capability<EpochTime>>,
    /// The epoch being applied; records of later ones wait in `stash`.
    epoch: u64,
    stash: BTreeMap<u64, Vec<(u64, Vec<Event>)>>,
    worker: usize,
    ckpt: Option<Arc<Checkpointer>>,
    fired: Vec<WindowResult>,
}

impl WindowOp {
    fn new(
        windows: KeyedWindows,
        mut cap: Capability<EpochTime>,
        epoch: u64,
        worker: usize,
        ckpt: Option<Arc<Checkpointer>>,
    ) -> WindowOp {
        cap.downgrade(&EpochTime::new(epoch, 0));
        WindowOp {
            windows,
            cap: Some(cap),
            epoch,
            stash: BTreeMap::new(),
            worker,
            ckpt,
            fired: Vec::new(),
        }
    }

    fn receive(&mut self, time: EpochTime, data: &mut Vec<Event>) {
        if time.epoch <= self.epoch {
            self.apply(data.drain(..));
        } else {
            self.stash
                .entry(time.epoch)
                .or_default()
                .push((time.event, std::mem::take(data)));
        }
    }

    fn apply(&mut self, events: impl Iterator<Item = Event>) {
        let mut late = 0;
        for e in events {
            if !self.windows.add(e.service, &e) {
                late += 1;
            }
        }
        if late > 0 {
            LATE.with(|l| l.set(l.get() + late));
        }
    }

    fn advance(
        &mut self,
        frontier: timely::progress::frontier::AntichainRef<'_, EpochTime>,
        output: &mut timely::dataflow::operators::generic::OutputBuilderSession<
            '_,
            EpochTime,
            CapacityContainerBuilder<Vec<WindowResult>>,
        >,
    ) {
        loop {
            let Some(cap) = self.cap.as_mut() else {
                return;
            };
            // Windows fire up to the least event frontier still to come: the input's and
            // that of records stashed for later epochs, which are not applied yet.
            let stashed = self
                .stash
                .values()
                .flat_map(|v| v.iter().map(|(f, _)| *f))
                .min()
                .unwrap_or(u64::MAX);
            let f = frontier
                .iter()
                .map(|t| t.event)
                .min()
                .unwrap_or(u64::MAX)
                .min(stashed);
            if f > self.windows.fired() {
                self.windows.fire(f, &mut self.fired);
                if !self.fired.is_empty() {
                    output.session(&*cap).give_iterator(self.fired.drain(..));
                }
                if f != u64::MAX {
                    cap.downgrade(&EpochTime::new(self.epoch, f));
                }
            }
            let min_epoch = frontier.iter().map(|t| t.epoch).min().unwrap_or(u64::MAX);
            if min_epoch <= self.epoch {
                return;
            }
            // Epoch complete here: its records are all applied and its windows fired.
            let next = self
                .stash
                .keys()
                .next()
                .copied()
                .unwrap_or(u64::MAX)
                .min(min_epoch);
            if let Some(c) = self.ckpt.as_ref() {
                // The frontier may pass several epochs at once; those between had no
                // records here, so this state is theirs too. After the last one, it is the
                // state of every later epoch (a split may end epochs this worker never saw).
                if next == u64::MAX {
                    c.ack_from(self.epoch, self.worker, &self.windows);
                } else {
                    for e in self.epoch..next {
                        c.ack(e, self.worker, &self.windows);
                    }
                }
            }
            if next == u64::MAX {
                self.cap = None;
                return;
            }
            self.epoch = next;
            let fired = self.windows.fired();
            cap.downgrade(&EpochTime::new(next, fired.max(cap.time().event)));
            if let Some(batches) = self.stash.remove(&next) {
                for (_, mut events) in batches {
                    self.apply(events.drain(..));
                }
            }
        }
    }
}
