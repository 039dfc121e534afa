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
//! ZooKeeper closes them while its ZooKeeperServer is not running. With
//! `readonlymode.enabled`, an election that has not ended after a grace period turns the
//! core read-only (ZooKeeper's ReadOnlyZooKeeperServer) until it ends.

mod committed;
mod following;
mod leading;
mod learner_stats;
pub(crate) mod log;
mod reconfig;
mod txnlog_view;

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
use crate::server::clock::Clock;
use crate::server::core::{Core, CoreMsg};
use crate::server::outlets::Outlets;
use crate::server::ServerError;
use crate::storage::epoch::EpochStore;
use crate::storage::snapshotting::Snapshotter;
use crate::storage::writer::{Ack, LogWriter};
use crate::storage::{StorageError, TxnLog};
pub(crate) use committed::CommittedLog;
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
    /// The client connections' outlets: the core's output goes through them.
    outlets: Outlets,
    /// The clock of the machines and the core: ms since the peer started, on tokio's
    /// monotonic clock. Read here only; the core and the Zab machines are given the time.
    clock: Clock,
    /// Session expiry checks (the leader's), often so sessions end close to their tick.
    expiry: tokio::time::Interval,
    /// The container and TTL reaper (the leader's).
    reap: tokio::time::Interval,
    /// ZKDatabase.committedLog: the newest committed txns, whatever the role, from which a
    /// leader DIFFs learners close behind.
    pub(crate) committed: CommittedLog,
    /// How long the last election took.
    election_time_ms: Option<u64>,
    /// The version of the last config seen (proposed or activated).
    last_seen_version: i64,
    /// The last config seen when newer than the running one (a reconfig proposed or
    /// logged, not activated here): elections and a new leader need its quorum too.
    pub(crate) last_seen: Option<crate::config::dynamic::QuorumText>,
    /// QuorumPeer's reconfigFlag with its vote: a committed reconfig designated this
    /// leader, whose role we take next without an election.
    designated: Option<(crate::quorum::Sid, Zxid)>,
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
        core.init_config_node(&quorum_maj_string(&cfg), cfg.config_version);
        let last = log.last_zxid();
        let committed = CommittedLog::load(&log, cfg.commit_log_count)?;
        let writer = crate::server::assemble::spawn_writer(Box::new(log.clone()));
        let reap_ms = cfg.container_check_interval_ms.max(10);
        let config_version = cfg.config_version;
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
            outlets: Outlets::default(),
            clock: Clock::start(),
            expiry: tokio::time::interval(Duration::from_millis(50)),
            reap: tokio::time::interval(Duration::from_millis(reap_ms)),
            last_seen_version: config_version,
            last_seen: None,
            designated: None,
            committed,
            election_time_ms: None,
        })
    }

    pub(crate) fn now_ms(&self) -> u64 {
        self.clock.mono_ms()
    }

    pub(crate) fn at(&self, ms: u64) -> Instant {
        self.clock.at(ms)
    }

    /// Tells the core the time, before it handles anything.
    pub(crate) fn stamp(&mut self) {
        self.core.set_now(self.clock.now());
    }

    /// Hands log entries to the writer. While its queue is full the writer handle keeps
    /// them, in zxid order behind any kept before, and they go after the next ack
    /// ([`Peer::on_ack`]); they count as submitted, so waiting for durability
    /// ([`Peer::drain_writer`]) waits for them too.
    pub(crate) fn submit(&mut self, entries: Vec<(i64, Vec<u8>)>) -> Result<(), PeerError> {
        let last = entries.last().map(|&(z, _)| z);
        if self.unsynced.len() < MAX_UNSYNCED_TRACKED {
            self.unsynced.extend(entries.iter().map(|(z, _)| *z));
        }
        if !self.writer.submit(entries) {
            return Err(writer_stopped());
        }
        if let Some(last) = last {
            self.submitted = self.submitted.max(last);
        }
        Ok(())
    }

    fn on_ack(&mut self, ack: Option<Ack>) -> Result<i64, PeerError> {
        match ack {
            Some(Ack::Durable(z)) => {
                self.durable = self.durable.max(z);
                while self.unsynced.front().is_some_and(|&u| u <= z) {
                    self.unsynced.pop_front();
                }
                // The thread has taken its queue: entries kept while it was full go now.
                // Kept entries exist only while batches are queued, so an ack always
                // follows them and none waits for ever.
                if !self.writer.flush() {
                    return Err(writer_stopped());
                }
                Ok(z)
            }
            Some(Ack::Failed(e)) => Err(e.into()),
            None => Err(writer_stopped()),
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
        let got = tokio::select! {
            biased;
            ack = self.writer.acks.recv() => Ok(Turn::Durable(self.on_ack(ack)?)),
            ev = role => Ok(Turn::Role(ev)),
            n = self.rx.recv_many(&mut self.batch, BATCH) => {
                if n == 0 {
                    return Err(PeerError::Stopped);
                }
                self.stamp();
                for m in self.batch.drain(..) {
                    let input = self.outlets.admit(m);
                    self.core.handle(input);
                }
                Ok(Turn::Clients)
            }
            _ = sleep_until(wake) => Ok(Turn::Tick),
            _ = self.expiry.tick() => {
                self.stamp();
                self.core.tick();
                Ok(Turn::Clients)
            }
            _ = self.reap.tick() => {
                self.stamp();
                self.core.reap_containers();
                Ok(Turn::Clients)
            }
        };
        // What the caller does with an ack, an event or its timer happens at this time.
        self.stamp();
        got
    }

    /// After a turn: the output that may go now goes, and a snapshot is taken when due.
    pub(crate) fn finish_turn(&mut self) {
        self.stamp();
        self.core.hold_marks();
        self.outlets.finish_turn(&mut self.core);
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

    /// Runs turns (clients, durability, timers) without a role until `ms` have passed.
    async fn pause(&mut self, ms: u64) -> Result<(), PeerError> {
        let until = self.now_ms() + ms;
        loop {
            let got = self.turn(std::future::pending::<()>(), Some(until)).await?;
            self.finish_turn();
            if matches!(got, Turn::Tick) {
                return Ok(());
            }
        }
    }

    /// The quorum peer's life: elect, serve in the elected role, elect again.
    pub(crate) async fn run(mut self) -> Result<(), ServerError> {
        let mut port: Option<ElectionPort> = None;
        // A learner whose leader drops it before it serves is elected back to the same
        // leader within milliseconds: without a pause it would reconnect thousands of times
        // a second (seen when a leader closed every DIFF longer than a link's queue).
        let mut retry_pause_ms = 0;
        loop {
            self.core.stop_serving();
            // Only a serving leader prepares reconfigs.
            self.core.reconfig = None;
            self.drain_writer().await?;
            self.fast_forward()?;
            let last = Zxid(self.core.tree().last_processed_zxid);
            let epoch = self.epochs.current_epoch();
            let designated = self.take_designated();
            let p = match port.take() {
                Some(mut p) => {
                    match designated {
                        Some((leader, zxid)) => p.adopt_designated(leader, zxid).await,
                        None => p.look_again(last, epoch).await,
                    }
                    .map_err(PeerError::from)?;
                    p
                }
                None => {
                    self.load_last_seen();
                    let last_seen = self.last_seen_config();
                    ElectionPort::start_with_last_seen(
                        &self.cfg,
                        last_seen,
                        last,
                        epoch,
                        Default::default(),
                    )
                    .await
                    .map_err(PeerError::from)?
                }
            };
            let mut p = p;
            let looking_since = self.now_ms();
            let decided = if designated.is_some() {
                // QuorumPeer.updateServerState: the role is the designated leader's.
                p.decided().await.map_err(PeerError::from)?
            } else {
                self.report("looking - election", None, None);
                let read_only_at = self
                    .cfg
                    .read_only_mode_enabled
                    .then(|| looking_since + read_only_grace_ms(self.cfg.tick_time_ms));
                let decided = loop {
                    let wake = read_only_at.filter(|_| !self.core.is_read_only());
                    let got = self.turn(p.decided(), wake).await?;
                    if matches!(got, Turn::Tick) && self.core.start_read_only() {
                        tracing::info!("Read-only server started");
                    }
                    self.finish_turn();
                    if let Turn::Role(d) = got {
                        break d.map_err(PeerError::from)?;
                    }
                };
                if self.core.is_read_only() {
                    // The election ended: the read-only server shuts, closing its clients, so
                    // they move to a server of the quorum (or back here once it serves).
                    self.core.stop_serving();
                    self.finish_turn();
                    tracing::info!("Read-only server shut down");
                }
                decided
            };
            if let Some(config) = p.take_newer_config() {
                // The election switched to a newer config it heard of: activate it here
                // too (files, /zookeeper/config, the operations interfaces).
                self.process_reconfig(&p, &config, None, decided.leader)
                    .await?;
            }
            let took = self.now_ms().saturating_sub(looking_since);
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
                    if retry_pause_ms > 0 {
                        tracing::info!("waiting {retry_pause_ms} ms before following again");
                        self.pause(retry_pause_ms).await?;
                    }
                    let followed_at = self.now_ms();
                    let ended = following::follow(&mut self, &p, decided.leader).await;
                    retry_pause_ms = if self.now_ms() - followed_at < QUICK_ROLE_END_MS {
                        (retry_pause_ms * 2).clamp(FIRST_RETRY_PAUSE_MS, MAX_RETRY_PAUSE_MS)
                    } else {
                        0
                    };
                    ended
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

/// A learner role shorter than this ended before it could have served for long.
const QUICK_ROLE_END_MS: u64 = 1000;
/// The pause before following again after one quick end; doubled after each next one.
const FIRST_RETRY_PAUSE_MS: u64 = 50;
const MAX_RETRY_PAUSE_MS: u64 = 2000;

/// How long an election runs before a read-only server starts: ZooKeeper's roZkMgr waits
/// a tick, and at least 2 s, before it takes the peer for partitioned.
pub(crate) fn read_only_grace_ms(tick_ms: u64) -> u64 {
    tick_ms.max(2000)
}

fn writer_stopped() -> PeerError {
    StorageError::Io("the txn log writer stopped".into()).into()
}

pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
