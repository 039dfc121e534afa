//! The quorum peer (ZooKeeper's QuorumPeer): a server with `server.N` lines runs
//! LOOKING → FastLeaderElection → LEADING or FOLLOWING/OBSERVING → LOOKING, for ever.
//!
//! One task owns the [`Core`] (tree, sessions, watches, client connections) and the Zab
//! machine of the current role, so a commit is applied where clients are served, with no
//! lock and no copy of the tree. The quorum links, the election port and the log writer
//! are tasks of their own that talk to it over bounded channels.
//!
//! - `following`: the learner machine over a link to the leader; client writes forwarded.
//! - `leading`: the leader machine over the learners' links; commits on quorum ACKs.
//!
//! While LOOKING or syncing, the core serves no client: connections are closed, as
//! ZooKeeper closes them while its ZooKeeperServer is not running.

mod following;
mod leading;
pub(crate) mod log;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::config::Config;
use crate::proto::TxnEntry;
use crate::quorum::transport::election::ElectionPort;
use crate::quorum::transport::view::quorum_maj_string;
use crate::quorum::transport::TransportError;
use crate::quorum::{ServerState, Zxid};
use crate::server::core::{Core, CoreMsg};
use crate::server::{ServerError, Snapshotter};
use crate::storage::epoch::EpochStore;
use crate::storage::writer::{Ack, Job, LogWriter};
use crate::storage::{StorageError, TxnLog};
use log::SharedLog;

/// Why a role ended or the peer stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PeerError {
    /// The quorum transport failed (the role ends; the peer looks again).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The log or the epoch files failed: the node stops, as ZooKeeper exits.
    #[error("storage failed: {0}")]
    Storage(#[from] StorageError),
    /// The client side is gone (the server is shutting down).
    #[error("the client listener stopped")]
    Stopped,
}

impl From<PeerError> for ServerError {
    fn from(e: PeerError) -> ServerError {
        match e {
            PeerError::Storage(e) => ServerError::Log(e),
            other => ServerError::Log(StorageError::Io(other.to_string())),
        }
    }
}

/// Txns handed to the writer and not yet durable beyond which a follower stops reading
/// its leader until the disk catches up.
const MAX_UNSYNCED: usize = 10_000;
/// A bound on the unsynced list itself (a leader's own backlog is bounded by its clients).
const MAX_UNSYNCED_TRACKED: usize = 4 * MAX_UNSYNCED;

/// How many client messages the core takes per turn.
const BATCH: usize = 512;

/// The peer's lasting state: what survives from one role to the next.
pub(crate) struct Peer {
    pub(crate) cfg: Arc<Config>,
    pub(crate) core: Core,
    rx: mpsc::Receiver<CoreMsg>,
    pub(crate) log: SharedLog,
    writer: LogWriter,
    /// The last zxid handed to the writer, and the last it made durable.
    pub(crate) submitted: i64,
    pub(crate) durable: i64,
    /// Zxids handed to the writer and not yet durable, oldest first: a follower stops
    /// reading its leader while too many wait, so a slow disk cannot grow memory.
    unsynced: std::collections::VecDeque<i64>,
    pub(crate) epochs: Box<dyn EpochStore>,
    snapshotter: Option<Box<dyn Snapshotter>>,
    batch: Vec<CoreMsg>,
    /// The machines' clock: ms since the peer started, on tokio's monotonic clock.
    start: Instant,
    /// Session expiry checks (the leader's), often so sessions end close to their tick.
    expiry: tokio::time::Interval,
    /// The container and TTL reaper (the leader's).
    reap: tokio::time::Interval,
    /// ZKDatabase.committedLog: the newest committed txns, whatever the role, from which a
    /// leader DIFFs learners close behind.
    pub(crate) committed: CommittedLog,
    /// How long the last election took.
    election_time_ms: Option<u64>,
}

/// What one turn of a role loop got.
pub(crate) enum Turn<T> {
    /// Client messages were handled.
    Clients,
    /// The writer made the log durable up to this zxid.
    Durable(i64),
    /// The role's own event.
    Role(T),
    /// The role's timer fired.
    Tick,
}

impl Peer {
    pub(crate) fn new(
        cfg: Arc<Config>,
        core: Core,
        rx: mpsc::Receiver<CoreMsg>,
        log: SharedLog,
        epochs: Box<dyn EpochStore>,
        snapshotter: Option<Box<dyn Snapshotter>>,
    ) -> Result<Peer, StorageError> {
        let mut core = core;
        core.init_config_node(&quorum_maj_string(&cfg));
        let last = log.last_zxid();
        let committed = CommittedLog::load(&log)?;
        let writer = LogWriter::spawn(Box::new(log.clone()));
        let reap_ms = cfg.container_check_interval_ms.max(10);
        Ok(Peer {
            cfg,
            core,
            rx,
            log,
            writer,
            submitted: last,
            durable: last,
            unsynced: Default::default(),
            epochs,
            snapshotter,
            batch: Vec::with_capacity(BATCH),
            start: Instant::now(),
            expiry: tokio::time::interval(Duration::from_millis(50)),
            reap: tokio::time::interval(Duration::from_millis(reap_ms)),
            committed,
            election_time_ms: None,
        })
    }

    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub(crate) fn at(&self, ms: u64) -> Instant {
        self.start + Duration::from_millis(ms)
    }

    /// Hands log entries to the writer.
    pub(crate) fn submit(&mut self, entries: Vec<(i64, Vec<u8>)>) -> Result<(), PeerError> {
        let Some(&(last, _)) = entries.last() else {
            return Ok(());
        };
        if self.unsynced.len() < MAX_UNSYNCED_TRACKED {
            self.unsynced.extend(entries.iter().map(|(z, _)| *z));
        }
        if !self.writer.submit(Job { entries }) {
            return Err(StorageError::Io("the txn log writer stopped".into()).into());
        }
        self.submitted = self.submitted.max(last);
        Ok(())
    }

    fn on_ack(&mut self, ack: Option<Ack>) -> Result<i64, PeerError> {
        match ack {
            Some(Ack::Durable(z)) => {
                self.durable = self.durable.max(z);
                while self.unsynced.front().is_some_and(|&u| u <= z) {
                    self.unsynced.pop_front();
                }
                Ok(z)
            }
            Some(Ack::Failed(e)) => Err(e.into()),
            None => Err(StorageError::Io("the txn log writer stopped".into()).into()),
        }
    }

    /// Whether so many txns wait for the disk that the leader's stream should wait.
    pub(crate) fn log_backlogged(&self) -> bool {
        self.unsynced.len() >= MAX_UNSYNCED
    }

    /// Waits until everything handed to the writer is durable.
    pub(crate) async fn drain_writer(&mut self) -> Result<(), PeerError> {
        while self.durable < self.submitted {
            let ack = self.writer.acks.recv().await;
            self.on_ack(ack)?;
        }
        Ok(())
    }

    /// One turn: client messages, the writer's acks, the role's events, or its timer.
    pub(crate) async fn turn<T>(
        &mut self,
        role: impl std::future::Future<Output = T>,
        wake_at_ms: Option<u64>,
    ) -> Result<Turn<T>, PeerError> {
        let wake = wake_at_ms.map(|ms| self.at(ms));
        tokio::select! {
            biased;
            ack = self.writer.acks.recv() => Ok(Turn::Durable(self.on_ack(ack)?)),
            ev = role => Ok(Turn::Role(ev)),
            n = self.rx.recv_many(&mut self.batch, BATCH) => {
                if n == 0 {
                    return Err(PeerError::Stopped);
                }
                for m in self.batch.drain(..) {
                    self.core.handle(m);
                }
                Ok(Turn::Clients)
            }
            _ = sleep_until(wake) => Ok(Turn::Tick),
            _ = self.expiry.tick() => {
                self.core.tick();
                Ok(Turn::Clients)
            }
            _ = self.reap.tick() => {
                self.core.reap_containers();
                Ok(Turn::Clients)
            }
        }
    }

    /// After a turn: the output that may go now goes, and a snapshot is taken when due.
    pub(crate) fn finish_turn(&mut self) {
        self.core.hold_marks();
        let outbox = self.core.take_outbox();
        let marks = self.core.take_marks();
        self.core.deliver(outbox);
        self.core.complete(marks);
        if let Some(s) = self.snapshotter.as_mut() {
            if self.core.snapshot_due() {
                s.start(&self.core);
            }
            s.step(&self.core, self.durable);
        }
    }

    /// What the operations interfaces report of the role: the peer state (QuorumPeer's
    /// `state - zabState`), the leader, and a leader's own facts.
    pub(crate) fn report(
        &mut self,
        peer_state: &str,
        leader: Option<u64>,
        leading: Option<crate::server::facts::LeadingFacts>,
    ) {
        let quorum_size = self.cfg.servers.values().filter(|s| !s.observer).count();
        let facts = crate::server::facts::QuorumFacts {
            quorum_size,
            peer_state: peer_state.to_string(),
            leader,
            election_time_ms: self.election_time_ms,
            leading,
        };
        if self.core.quorum.as_ref() != Some(&facts) {
            self.core.quorum = Some(facts);
        }
    }

    /// ZKDatabase.fastForwardDataBase: txns logged by the last role but never committed
    /// are applied, so the tree stands at the last logged zxid, which the election votes
    /// with and the next leader's sync starts from.
    pub(crate) fn fast_forward(&mut self) -> Result<(), PeerError> {
        loop {
            let from = self.core.tree().last_processed_zxid;
            let entries = self.log.read_range(from, 1024)?;
            if entries.is_empty() {
                return Ok(());
            }
            for (zxid, bytes) in entries {
                let entry = TxnEntry::from_bytes(&bytes)
                    .map_err(|e| StorageError::Corrupt(format!("logged txn 0x{zxid:x}: {e}")))?;
                self.core.apply_from_leader(&entry);
                self.committed.push(zxid, bytes.into());
            }
        }
    }

    /// The quorum peer's life: elect, serve in the elected role, elect again.
    pub(crate) async fn run(mut self) -> Result<(), ServerError> {
        let mut port: Option<ElectionPort> = None;
        loop {
            self.core.stop_serving();
            self.drain_writer().await?;
            self.fast_forward()?;
            let last = Zxid(self.core.tree().last_processed_zxid);
            let epoch = self.epochs.current_epoch();
            let p = match port.take() {
                Some(mut p) => {
                    p.look_again(last, epoch).await.map_err(PeerError::from)?;
                    p
                }
                None => ElectionPort::start(&self.cfg, last, epoch, Default::default())
                    .await
                    .map_err(PeerError::from)?,
            };
            let mut p = p;
            self.report("looking - election", None, None);
            let looking_since = Instant::now();
            let decided = loop {
                let got = self.turn(p.decided(), None).await?;
                self.finish_turn();
                if let Turn::Role(d) = got {
                    break d.map_err(PeerError::from)?;
                }
            };
            let took = u64::try_from(looking_since.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.election_time_ms = Some(took);
            crate::server::metrics::observe("election_time", took);
            tracing::info!(
                "sid {}: {:?}, leader {} (election took {took} ms)",
                p.sid().0,
                decided.state,
                decided.leader.0
            );
            let ended = match decided.state {
                ServerState::Leading => leading::lead(&mut self, &p).await,
                ServerState::Following | ServerState::Observing => {
                    following::follow(&mut self, &p, decided.leader).await
                }
                ServerState::Looking => Ok(()),
            };
            match ended {
                Ok(()) => {}
                Err(PeerError::Storage(e)) => return Err(ServerError::Log(e)),
                Err(PeerError::Stopped) => return Ok(()),
                Err(e) => tracing::warn!("the role ended: {e}"),
            }
            port = Some(p);
        }
    }
}

pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Keeps the last `COMMIT_LOG_COUNT` committed proposals (ZKDatabase.committedLog), from
/// which the leader DIFFs learners that are close behind.
#[derive(Debug, Default)]
pub(crate) struct CommittedLog {
    entries: BTreeMap<i64, bytes::Bytes>,
}

/// ZKDatabase.commitLogCount's default.
pub(crate) const COMMIT_LOG_COUNT: usize = 500;

impl CommittedLog {
    /// The newest committed txns as the log holds them (ZKDatabase loads them while it
    /// replays the log at start-up).
    pub(crate) fn load(log: &dyn TxnLog) -> Result<CommittedLog, StorageError> {
        let mut c = CommittedLog::default();
        let mut after = -1;
        loop {
            let slice = log.read_range(after, 10_000)?;
            let Some(&(last, _)) = slice.last() else {
                return Ok(c);
            };
            for (zxid, data) in slice {
                c.push(zxid, data.into());
            }
            after = last;
        }
    }

    /// Forgets everything (a SNAP replaced the history).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    pub(crate) fn push(&mut self, zxid: i64, data: bytes::Bytes) {
        self.entries.insert(zxid, data);
        while self.entries.len() > COMMIT_LOG_COUNT {
            self.entries.pop_first();
        }
    }

    pub(crate) fn zxids(&self) -> Vec<Zxid> {
        self.entries.keys().map(|z| Zxid(*z)).collect()
    }

    pub(crate) fn range(&self, after: i64, upto: i64) -> Vec<(i64, bytes::Bytes)> {
        self.entries
            .range(after + 1..=upto)
            .map(|(z, d)| (*z, d.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemLog;

    #[test]
    fn the_committed_log_keeps_the_newest_500_and_loads_them_from_the_log() {
        let mut log = MemLog::default();
        for z in 1..=700i64 {
            log.append(z, &z.to_be_bytes()).expect("append");
        }
        let c = CommittedLog::load(&log).expect("load");
        let zxids = c.zxids();
        assert_eq!(zxids.len(), COMMIT_LOG_COUNT);
        assert_eq!((zxids[0], zxids[499]), (Zxid(201), Zxid(700)));
        let r = c.range(600, 602);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].0, &r[1].1[..]), (601, &602i64.to_be_bytes()[..]));
    }
}
