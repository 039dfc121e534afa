//! A job as a timely dataflow, embedded: `p` worker threads in this process
//! (`timely::Config::process`), each reading its share of the source splits, holding the
//! windows of its key groups and writing its share of the sink.
//!
//! ```text
//! splits --(epoch, event)--> exchange(key group) --> windows --> sink
//! ```
//!
//! Checkpoints: every interval each source closes its epoch (recording where its splits
//! stand); the window operator applies one epoch at a time, stashing records of later
//! ones, writes its state once the epoch is complete at its input, and acks it; the sink
//! stages an epoch's output and publishes it only once its checkpoint is committed.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::operator::{source, Operator};
use timely::dataflow::operators::{Capability, Probe};
use timely::dataflow::ProbeHandle;

use crate::stream::checkpoint::{key_group, Checkpointer, WorkerState, KEY_GROUPS};
use crate::stream::job::{Emitted, Job, SplitReader};
use crate::stream::keyed::KeyedOperator;
use crate::stream::state::StateBackend;
use crate::stream::time::EpochTime;
use crate::stream::StreamError;

/// Records a source emits per split and activation: large enough that the engine costs
/// nothing per record, small enough that the frontier moves often.
const SOURCE_BATCH: usize = 4096;
/// How far (event time) a source may run ahead of the windows' frontier.
const ALIGN_MS: u64 = 30_000;
/// How long a followed source with nothing to read sleeps before it looks again.
const IDLE_POLL: Duration = Duration::from_millis(20);
/// How long a source held back by alignment waits before it looks again.
const PAUSE_POLL: Duration = Duration::from_millis(1);

/// How to run a job.
#[derive(Clone, Debug, Default)]
pub(crate) struct RunConfig {
    /// Worker threads.
    pub(crate) p: usize,
    /// 0: no checkpoints, one epoch.
    pub(crate) checkpoint_ms: u64,
    /// Set, the sources end as if their input had: every window fires, and with
    /// checkpoints the last epoch is committed (`stream stop --drain`).
    pub(crate) drain: Option<Arc<AtomicBool>>,
    /// Counters for a progress line, read by another thread while the job runs.
    pub(crate) progress: Option<Arc<Progress>>,
    /// Set, this process is one of a timely cluster (a distributed job's generation):
    /// `p` threads here, workers numbered across the processes.
    pub(crate) cluster: Option<ClusterSpec>,
    /// Where window state lives: the heap, or a RocksDB instance per worker.
    pub(crate) state_backend: StateBackend,
}

/// This process's place in a timely cluster.
#[derive(Clone, Debug)]
pub(crate) struct ClusterSpec {
    /// This process's index in `addresses`.
    pub(crate) process: usize,
    /// Every process's `host:port`, where its timely listens.
    pub(crate) addresses: Vec<String>,
}

impl RunConfig {
    fn timely(&self) -> timely::Config {
        match &self.cluster {
            None => timely::Config::process(self.p.max(1)),
            Some(c) => timely::Config {
                communication: timely::CommunicationConfig::Cluster {
                    threads: self.p.max(1),
                    process: c.process,
                    addresses: c.addresses.clone(),
                    report: false,
                    zerocopy: false,
                },
                worker: timely::WorkerConfig::default(),
            },
        }
    }
}

/// What a running job has done so far.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Source records read.
    pub(crate) records: AtomicU64,
    /// Window results that reached the sink.
    pub(crate) results: AtomicU64,
    /// The event frontier windows have fired up to (the watermark plus one).
    pub(crate) frontier: AtomicU64,
}

/// Where each split starts and what each worker's windows hold: a restored checkpoint.
#[derive(Clone, Debug, Default)]
pub(crate) struct Restore {
    pub(crate) epoch: u64,
    pub(crate) positions: Vec<u64>,
    pub(crate) state: Vec<WorkerState>,
}

/// What a run gave, beyond its sink.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Outcome {
    /// Records dropped as late: every window they belong to had fired.
    pub(crate) late: u64,
}

/// Shared by a run's workers: the first failure, and a flag that ends every source.
#[derive(Default)]
struct Abort {
    stopped: AtomicBool,
    error: Mutex<Option<StreamError>>,
}

impl Abort {
    fn fail(&self, e: StreamError, ckpt: Option<&Checkpointer>) {
        // A failed source must not look finished to the checkpoints: stop committing.
        if let Some(c) = ckpt {
            c.abort(e.to_string());
        }
        let mut slot = self.error.lock().unwrap_or_else(|x| x.into_inner());
        slot.get_or_insert(e);
        self.stopped.store(true, Ordering::Release);
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }
}

/// Runs the job to the end of its input.
pub(crate) fn run<J: Job>(
    job: Arc<J>,
    config: RunConfig,
    checkpointer: Option<Arc<Checkpointer>>,
    restore: Option<Arc<Restore>>,
) -> Result<Outcome, StreamError> {
    let timely_config = config.timely();
    let local_workers = config.p.max(1);
    let ended = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let abort = Arc::new(Abort::default());
    let drain = config.drain.clone().unwrap_or_default();
    let progress = config.progress.clone().unwrap_or_default();
    let state_backend = config.state_backend.clone();
    let run_abort = abort.clone();
    let guards = timely::execute(timely_config, move |worker| {
        let index = worker.index();
        let peers = worker.peers();
        let ckpt = checkpointer.clone();
        let restore = restore.clone();
        let abort = run_abort.clone();
        let start_epoch = restore.as_ref().map_or(0, |r| r.epoch + 1);
        let sink = Rc::new(RefCell::new(SinkState::new(
            job.clone(),
            index,
            ckpt.clone(),
            start_epoch,
            abort.clone(),
        )));
        let sink_op = sink.clone();
        let job = job.clone();
        worker.dataflow::<EpochTime, _, _>(|scope| {
            let src_ckpt = ckpt.clone();
            let probe = ProbeHandle::<EpochTime>::new();
            let src_progress = probe.clone();
            let src_job = job.clone();
            let src_restore = restore.clone();
            let src_abort = abort.clone();
            let src_drain = drain.clone();
            let src_count = progress.clone();
            let records = source::<_, CapacityContainerBuilder<Vec<J::Rec>>, _, _>(
                scope,
                "source",
                move |cap, info| {
                    let activator = scope.activator_for(info.address);
                    let mut sources = Sources::open(
                        &*src_job,
                        config.checkpoint_ms,
                        index,
                        peers,
                        src_restore.as_deref(),
                        start_epoch,
                        cap,
                    );
                    if let Err(e) = &sources {
                        src_abort.fail(StreamError::Source(e.to_string()), src_ckpt.as_deref());
                    }
                    move |output| {
                        let Ok(sources) = sources.as_mut() else {
                            return;
                        };
                        // Watermark alignment: a source that runs ahead of the windows'
                        // frontier waits, which bounds the window state a skew can pile up.
                        let (global, global_epoch) = src_progress.with_frontier(|f| {
                            let event = f.iter().map(|t| t.event).min().unwrap_or(u64::MAX);
                            let epoch = f.iter().map(|t| t.epoch).min().unwrap_or(u64::MAX);
                            (event, epoch)
                        });
                        let paused =
                            global > 0 && sources.low_ts() > global.saturating_add(ALIGN_MS);
                        // At most two epochs in flight: a checkpoint that costs more than its
                        // interval delays the next one instead of piling up epochs.
                        let may_end = sources.epoch <= global_epoch.saturating_add(1);
                        if index == 0 && global != u64::MAX {
                            src_count.frontier.store(global, Ordering::Relaxed);
                        }
                        if src_drain.load(Ordering::Acquire) {
                            sources.drain();
                        }
                        match sources.step(
                            output,
                            src_ckpt.as_deref(),
                            paused,
                            may_end,
                            &src_abort,
                            &src_count,
                        ) {
                            Step::More => activator.activate(),
                            Step::Idle => activator.activate_after(IDLE_POLL),
                            Step::Paused => activator.activate_after(PAUSE_POLL),
                            Step::Done => {}
                        }
                    }
                },
            );
            let saved = restore.as_ref().map_or(&[][..], |r| &r.state[..]);
            let keyed = match job.open_op(&state_backend, saved, index, peers) {
                Ok(w) => Some(w),
                Err(e) => {
                    abort.fail(e, ckpt.as_deref());
                    None
                }
            };
            let op_ckpt = ckpt.clone();
            let op_abort = abort.clone();
            let late_output = job.late_output();
            let results = records
                .unary_frontier::<CapacityContainerBuilder<Vec<Emitted<J>>>, _, _, _>(
                    Exchange::new(move |r: &J::Rec| route(J::key(r), peers)),
                    "keyed",
                    move |cap, _info| {
                        let mut op = KeyedOp::<J>::new(
                            keyed,
                            cap,
                            start_epoch,
                            index,
                            op_ckpt,
                            late_output,
                            op_abort,
                        );
                        move |(input, frontier), output| {
                            input.for_each(|time, data| op.receive(stamp_time(time.stamp()), data));
                            op.advance(frontier.frontier(), output);
                        }
                    },
                );
            let results = results.probe_with(&probe);
            let sink_count = progress.clone();
            results.sink(Pipeline, "sink", move |(input, frontier)| {
                let mut sink = sink_op.borrow_mut();
                input.for_each(|time, data| {
                    sink_count
                        .results
                        .fetch_add(data.len() as u64, Ordering::Relaxed);
                    sink.give(stamp_time(time.stamp()).epoch, &data[..]);
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
        // Every worker here is done: a peer process closing its links now is no failure.
        if ended.fetch_add(1, Ordering::AcqRel) + 1 == local_workers {
            WORKERS_DONE.store(true, Ordering::Release);
        }
        Ok::<Outcome, StreamError>(Outcome {
            late: LATE.with(|l| l.replace(0)),
        })
    })
    .map_err(StreamError::Engine)?;
    let mut total = Outcome::default();
    let mut first_err = None;
    for r in guards.join() {
        match r.map_err(StreamError::Engine) {
            Ok(Ok(o)) => total.late += o.late,
            Ok(Err(e)) | Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    let aborted = abort.error.lock().unwrap_or_else(|x| x.into_inner()).take();
    match aborted.or(first_err) {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// Set once this process's workers of a run have all ended (see [`workers_done`]).
static WORKERS_DONE: AtomicBool = AtomicBool::new(false);

/// Whether this process's workers have ended. In a cluster, a peer that has ended too may
/// close its links before this process's network threads have: their panic then is no
/// failure of the job.
pub(crate) fn workers_done() -> bool {
    WORKERS_DONE.load(Ordering::Acquire)
}

/// The sink of one worker. Without checkpoints output goes to the sink as it arrives. With
/// them, the output of each completed epoch is staged in the checkpoint (write-ahead) and
/// published once it is committed, so a crash anywhere publishes each result exactly once.
struct SinkState<J: Job> {
    job: Arc<J>,
    worker: usize,
    ckpt: Option<Arc<Checkpointer>>,
    abort: Arc<Abort>,
    /// Output per epoch, not yet staged.
    pending: BTreeMap<u64, J::Out>,
    /// The next epoch to stage: every earlier one is staged.
    next_stage: u64,
    /// Staged epochs awaiting their commit.
    staged: Vec<u64>,
}

impl<J: Job> SinkState<J> {
    fn new(
        job: Arc<J>,
        worker: usize,
        ckpt: Option<Arc<Checkpointer>>,
        start_epoch: u64,
        abort: Arc<Abort>,
    ) -> SinkState<J> {
        SinkState {
            job,
            worker,
            ckpt,
            abort,
            pending: BTreeMap::new(),
            next_stage: start_epoch,
            staged: Vec::new(),
        }
    }

    fn give(&mut self, epoch: u64, data: &[Emitted<J>]) {
        if self.ckpt.is_none() {
            let mut out = J::Out::default();
            for r in data.iter() {
                self.job.collect(&mut out, r);
            }
            if let Err(e) = self.job.deliver(self.worker, out) {
                self.abort.fail(e, None);
            }
            return;
        }
        let out = self.pending.entry(epoch).or_default();
        for r in data.iter() {
            self.job.collect(out, r);
        }
    }

    /// Every epoch below `done_below` is complete at the sink's input.
    fn epochs_done(&mut self, done_below: u64) {
        let Some(c) = self.ckpt.clone() else {
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
            if let Some(late) = self.job.encode_late(&out) {
                // Written before the output it goes with: a staged output has its late
                // file. Written always, so no file of a dropped attempt at this epoch stays.
                c.stage_late(e, self.worker, &late);
            }
            match self.job.encode(&out) {
                Ok(bytes) => c.stage_sink(e, self.worker, &bytes),
                Err(err) => {
                    self.abort.fail(err, Some(&c));
                    return;
                }
            }
            self.staged.push(e);
            self.next_stage += 1;
        }
        if done_below == u64::MAX {
            c.sink_done(self.worker, self.next_stage);
        }
        self.publish_committed();
    }

    fn publish_committed(&mut self) {
        let Some(c) = self.ckpt.clone() else {
            return;
        };
        let committed = c.committed_below();
        let (worker, job) = (self.worker, self.job.clone());
        let mut failed = None;
        self.staged.retain(|&e| {
            if e >= committed {
                return true;
            }
            if failed.is_none() {
                if let Err(err) = job.publish(e, worker, &c.staged_path(e, worker)) {
                    failed = Some(err);
                }
            }
            false
        });
        if let Some(e) = failed {
            self.abort.fail(e, Some(&c));
        }
    }

    /// After the dataflow: waits for the last commits and publishes.
    fn finish(&mut self) -> Result<(), StreamError> {
        if let Some(c) = self.ckpt.clone() {
            if let Some(&last) = self.staged.last() {
                c.wait_committed(last)?;
            }
            self.publish_committed();
        }
        Ok(())
    }
}

thread_local! {
    /// Late records this worker dropped.
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

enum Step {
    /// Activate again at once.
    More,
    /// Nothing to read now: look again after [`IDLE_POLL`].
    Idle,
    /// Held back by alignment: look again after [`PAUSE_POLL`].
    Paused,
    /// Every split is done and the capability dropped.
    Done,
}

/// One split a worker reads.
struct OpenSplit<R> {
    k: usize,
    reader: R,
    /// The largest event time read: the split's watermark is this less the delay.
    max_ts: u64,
    done: bool,
    /// Ended by a drain: read no more.
    drained: bool,
    /// When it last gave a record.
    last_data: Instant,
}

/// A worker's splits (`w, w + p, ...`), their watermark and their epochs.
struct Sources<J: Job> {
    splits: Vec<OpenSplit<J::Reader>>,
    delay: u64,
    idle_timeout: Option<Duration>,
    epoch: u64,
    interval: Option<Duration>,
    epoch_ends: Instant,
    cap: Option<Capability<EpochTime>>,
}

impl<J: Job> Sources<J> {
    fn open(
        job: &J,
        checkpoint_ms: u64,
        worker: usize,
        peers: usize,
        restore: Option<&Restore>,
        epoch: u64,
        cap: Capability<EpochTime>,
    ) -> Result<Sources<J>, StreamError> {
        let mut cap = cap;
        cap.downgrade(&EpochTime::new(epoch, 0));
        let mut splits = Vec::new();
        for k in (worker..job.splits()).step_by(peers.max(1)) {
            let from = restore
                .and_then(|r| r.positions.get(k).copied())
                .unwrap_or(0);
            splits.push(OpenSplit {
                k,
                reader: job.open(k, from)?,
                max_ts: 0,
                done: false,
                drained: false,
                last_data: Instant::now(),
            });
        }
        let interval = (checkpoint_ms > 0).then(|| Duration::from_millis(checkpoint_ms));
        Ok(Sources {
            // A worker without splits holds nothing back.
            cap: (!splits.is_empty()).then_some(cap),
            splits,
            delay: job.watermark_delay(),
            idle_timeout: job.idle_timeout(),
            epoch,
            interval,
            epoch_ends: Instant::now() + interval.unwrap_or_default(),
        })
    }

    /// The alignment's basis: idle splits count, so one that gives again is read.
    fn low_ts(&self) -> u64 {
        low_ts(&self.splits, None, Instant::now()).unwrap_or(u64::MAX)
    }

    /// Ends every split where it stands, as if its input had ended there.
    fn drain(&mut self) {
        for s in &mut self.splits {
            s.drained = true;
        }
    }

    /// Emits a batch per split (nothing when `paused`).
    fn step(
        &mut self,
        output: &mut timely::dataflow::operators::generic::OutputBuilderSession<
            '_,
            EpochTime,
            CapacityContainerBuilder<Vec<J::Rec>>,
        >,
        ckpt: Option<&Checkpointer>,
        paused: bool,
        may_end_epoch: bool,
        abort: &Abort,
        progress: &Progress,
    ) -> Step {
        let Some(cap) = self.cap.as_mut() else {
            return Step::Done;
        };
        // Stopped at a commit: the checkpoint holds where each split stands.
        if abort.stopped() || ckpt.is_some_and(|c| c.halted()) {
            self.cap = None;
            return Step::Done;
        }
        // A paused source still ends its epochs on time: an operator that waits for the end
        // of its epoch could otherwise wait for it forever.
        let (mut read_any, mut ended) = (false, false);
        if !paused {
            let mut session = output.session(&*cap);
            for s in self.splits.iter_mut().filter(|s| !s.done) {
                if s.drained {
                    s.done = true;
                    ended = true;
                    continue;
                }
                let mut max_ts = s.max_ts;
                let got = s.reader.read(SOURCE_BATCH, &mut |r| {
                    max_ts = max_ts.max(J::ts(&r));
                    session.give(r);
                });
                s.max_ts = max_ts;
                match got {
                    Ok(Some(n)) => {
                        if n > 0 {
                            read_any = true;
                            s.last_data = Instant::now();
                            progress.records.fetch_add(n as u64, Ordering::Relaxed);
                        }
                    }
                    Ok(None) => {
                        s.done = true;
                        ended = true;
                    }
                    Err(e) => {
                        drop(session);
                        abort.fail(e, ckpt);
                        self.cap = None;
                        return Step::Done;
                    }
                }
            }
        }
        let all_done = self.splits.iter().all(|s| s.done);
        if let (Some(interval), Some(c)) = (self.interval, ckpt) {
            let now = Instant::now();
            if all_done || (may_end_epoch && now >= self.epoch_ends) {
                // The epoch ends here: a restore from its checkpoint starts each split at
                // its position. A split that ended reports its last one, kept from then on.
                for s in &self.splits {
                    c.source_end(self.epoch, s.k, s.reader.position());
                }
                if !all_done {
                    self.epoch += 1;
                    self.epoch_ends = now + interval;
                }
            } else if ended {
                for s in self.splits.iter().filter(|s| s.done) {
                    c.source_end(self.epoch, s.k, s.reader.position());
                }
            }
        }
        if all_done {
            self.cap = None;
            return Step::Done;
        }
        // Every split idle: the watermark stays where it is until one gives again.
        let f = low_ts(&self.splits, self.idle_timeout, Instant::now())
            .map_or(0, |ts| ts.saturating_sub(self.delay));
        let t = EpochTime::new(self.epoch, f.max(cap.time().event));
        cap.downgrade(&t);
        if paused && !read_any && !ended {
            // Waiting for the windows' frontier: spinning here would take the CPU the
            // progress it waits for needs (a cluster's network threads, on few cores).
            Step::Paused
        } else if read_any || ended {
            Step::More
        } else {
            Step::Idle
        }
    }
}

/// The least largest event time over splits still read and not idle: the basis of the
/// watermark. None when every such split is idle.
fn low_ts<R>(splits: &[OpenSplit<R>], idle: Option<Duration>, now: Instant) -> Option<u64> {
    let active =
        |s: &&OpenSplit<R>| !s.done && idle.is_none_or(|t| now.duration_since(s.last_data) < t);
    match splits.iter().filter(active).map(|s| s.max_ts).min() {
        Some(ts) => Some(ts),
        // No split left at all: nothing holds the watermark.
        None if splits.iter().all(|s| s.done) => Some(u64::MAX),
        None => None,
    }
}

/// A batch held for a later epoch, with its event frontier.
type Stashed<R> = (u64, Vec<R>);

/// The keyed operator of one worker (windows, or a process function), one epoch at a time.
struct KeyedOp<J: Job> {
    /// None when it could not be opened (the run is failing).
    op: Option<J::Op>,
    /// Output capability at `(epoch, fired)`.
    cap: Option<Capability<EpochTime>>,
    /// The epoch being applied; records of later ones wait in `stash`.
    epoch: u64,
    stash: BTreeMap<u64, Vec<Stashed<J::Rec>>>,
    worker: usize,
    ckpt: Option<Arc<Checkpointer>>,
    fired: Vec<Emitted<J>>,
    /// What applying records emitted (a process function's output, late records for the
    /// job's late output): it goes out with the epoch they were applied in.
    emitted: Vec<Emitted<J>>,
    late_output: bool,
    abort: Arc<Abort>,
}

impl<J: Job> KeyedOp<J> {
    fn new(
        op: Option<J::Op>,
        mut cap: Capability<EpochTime>,
        epoch: u64,
        worker: usize,
        ckpt: Option<Arc<Checkpointer>>,
        late_output: bool,
        abort: Arc<Abort>,
    ) -> KeyedOp<J> {
        cap.downgrade(&EpochTime::new(epoch, 0));
        KeyedOp {
            op,
            cap: Some(cap),
            epoch,
            stash: BTreeMap::new(),
            worker,
            ckpt,
            fired: Vec::new(),
            emitted: Vec::new(),
            late_output,
            abort,
        }
    }

    fn receive(&mut self, time: EpochTime, data: &mut Vec<J::Rec>) {
        let Some(op) = self.op.as_mut() else {
            data.clear();
            return;
        };
        if time.epoch <= self.epoch {
            Self::apply(op, data.drain(..), &mut self.emitted, self.late_output);
        } else {
            self.stash
                .entry(time.epoch)
                .or_default()
                .push((time.event, std::mem::take(data)));
        }
    }

    fn apply(
        op: &mut J::Op,
        records: impl Iterator<Item = J::Rec>,
        emitted: &mut Vec<Emitted<J>>,
        late_output: bool,
    ) {
        let mut late = 0;
        for r in records {
            let (key, ts) = (J::key(&r), J::ts(&r));
            if !op.add(key, ts, &r, emitted) {
                late += 1;
                if late_output {
                    emitted.extend(op.late_record(key, ts, &r));
                }
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
            CapacityContainerBuilder<Vec<Emitted<J>>>,
        >,
    ) {
        loop {
            let Some(cap) = self.cap.as_mut() else {
                return;
            };
            let Some(op) = self.op.as_mut() else {
                self.cap = None;
                return;
            };
            // The state backend failed (I/O): the run fails, nothing more is acked.
            if let Some(e) = op.take_error() {
                self.abort.fail(e, self.ckpt.as_deref());
                self.cap = None;
                return;
            }
            // Stopped at a commit: the sources are gone, but their windows are not done;
            // they stay in the checkpoint, unfired.
            if self.ckpt.as_ref().is_some_and(|c| c.halted()) {
                self.cap = None;
                return;
            }
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
            if !self.emitted.is_empty() {
                output.session(&*cap).give_iterator(self.emitted.drain(..));
            }
            if f > op.fired() || op.has_refires() {
                op.fire(f, &mut self.fired);
                if !self.fired.is_empty() {
                    output.session(&*cap).give_iterator(self.fired.drain(..));
                }
                // A refire may come without the frontier moving: the capability only rises.
                if f != u64::MAX && f > cap.time().event {
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
                    c.ack_from(self.epoch, self.worker, op);
                } else {
                    for e in self.epoch..next {
                        c.ack(e, self.worker, op);
                    }
                }
            }
            if next == u64::MAX {
                self.cap = None;
                return;
            }
            self.epoch = next;
            let fired = op.fired();
            cap.downgrade(&EpochTime::new(next, fired.max(cap.time().event)));
            if let Some(batches) = self.stash.remove(&next) {
                for (_, mut records) in batches {
                    Self::apply(op, records.drain(..), &mut self.emitted, self.late_output);
                }
            }
        }
    }
}
