//! The follower's IO driver: one connection to the leader's quorum port, running the pure
//! Zab learner ([`crate::quorum::zab`]) over it.
//!
//! A [`Follower`] owns what a follower keeps between connections: its [`DataTree`], its
//! txn log (behind the group-commit [`LogWriter`]) and its epochs. [`Follower::follow`]
//! connects to the leader elected by [`run_election`](super::election::run_election) and
//! runs until the leader is lost (a timeout, a closed or broken stream, a protocol error)
//! or the caller stops it; then the caller elects again and calls it again.
//!
//! The driver contract of the machine, as done here:
//! - FOLLOWERINFO at connect; every decoded packet to `on_packet`, with `now_ms` counted
//!   from the connection's start on tokio's monotonic clock; `tick` at `wake_at_ms`;
//! - actions in order: `Send` is fed to the stream and the call's packets go out with one
//!   flush; `Persist*Epoch` write the [`EpochStore`] before going on; `Truncate` cuts the
//!   log and rebuilds the tree from it; `LoadSnapshot` reads the raw snapshot that follows
//!   SNAP off the stream (see [`super::snap`]); `TakeSnapshot` stores the tree's snapshot
//!   in the log store; `Log` goes to the writer, whose `Ack::Durable` comes back as
//!   `learner.durable`; `Apply` and `Commit` apply the txn with [`pipeline::apply`]
//!   (the header's time, so Stats are the leader's);
//! - `GoLooking` and every error end the connection.
//!
//! Bounds: packets by the codec's jute limit, the snapshot by
//! [`FollowerLimits::max_snapshot_bytes`], proposals logged but not yet durable by
//! [`FollowerLimits::max_unsynced`] (packets are not read past it), proposals awaiting
//! their COMMIT by [`FollowerLimits::max_pending`].
//!
//! [`pipeline::apply`]: crate::pipeline::apply::apply

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::BytesMut;
use futures::{SinkExt, StreamExt};
use tokio::io::AsyncReadExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

use super::snap::SnapScanner;
use super::TransportError;
use crate::config::Config;
use crate::pipeline::apply::apply;
use crate::proto::quorum::packet::{QuorumPacket, QuorumPacketCodec};
use crate::proto::quorum::packet_type as pt;
use crate::proto::TxnEntry;
use crate::quorum::zab::{ping_reply, Action, Learner, LearnerConfig, Persisted};
use crate::quorum::{LearnerType, Sid, Zxid};
use crate::storage::epoch::EpochStore;
use crate::storage::recovery::{replay, Recovered};
use crate::storage::writer::{Ack, Job, LogWriter};
use crate::storage::zk::{read_snapshot, read_snapshot_stream, write_snapshot};
use crate::storage::{StorageError, TxnLog};
use crate::tree::DataTree;

/// The follower's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FollowerLimits {
    /// The largest snapshot accepted after SNAP.
    pub max_snapshot_bytes: usize,
    /// Proposals handed to the log writer and not yet durable; beyond this no packet is
    /// read until the writer catches up.
    pub max_unsynced: usize,
    /// Logged proposals waiting for their COMMIT; beyond this the leader is given up.
    pub max_pending: usize,
    /// How long the TCP connect to the leader may take.
    pub connect_timeout: Duration,
    /// How long one flush of packets to the leader may take.
    pub write_timeout: Duration,
}

impl Default for FollowerLimits {
    fn default() -> Self {
        FollowerLimits {
            max_snapshot_bytes: 1 << 30,
            max_unsynced: 10_000,
            max_pending: 100_000,
            connect_timeout: super::limits::CONNECT_TIMEOUT,
            write_timeout: super::limits::WRITE_TIMEOUT,
        }
    }
}

/// How the leader brought this follower up to date on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// DIFF: the txns we lacked were replayed on top of our log.
    Diff {
        /// The DIFF's zxid (the leader's last committed zxid).
        zxid: Zxid,
    },
    /// SNAP: the leader's whole tree, then the txns after it.
    Snap {
        /// The snapshot's zxid.
        zxid: Zxid,
    },
    /// TRUNC: our log was cut back to the leader's history.
    Trunc {
        /// The last zxid kept.
        zxid: Zxid,
    },
}

/// What the follower has done so far (published on a `watch` channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// How the current (or last) connection synced, once its first sync packet came.
    pub sync: Option<SyncKind>,
    /// The epoch of the leader we serve under, once UPTODATE came on this connection.
    pub serving_epoch: Option<i64>,
    /// The last zxid applied to the tree.
    pub applied: Zxid,
    /// The last zxid the log writer made durable.
    pub durable: Zxid,
    /// ACKs sent for proposals (the NEWLEADER and UPTODATE ACKs not counted).
    pub acks: u64,
    /// Txns applied whose header digest the tree matched after applying them.
    pub digests_matched: u64,
    /// Txns applied whose digest the tree did not match.
    pub digests_mismatched: u64,
}

/// Why [`Follower::follow`] returned without an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowEnd {
    /// The machine gave up on the leader (it went quiet): elect again.
    GoLooking(String),
    /// The leader closed the connection: elect again.
    Closed,
    /// The caller's stop token fired.
    Stopped,
}

/// A txn log shared by the follower (truncate, snapshots, recovery) and its group-commit
/// writer thread, which appends through the same lock.
#[derive(Clone)]
pub struct SharedLog(Arc<Mutex<Box<dyn TxnLog>>>);

impl std::fmt::Debug for SharedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedLog")
    }
}

impl SharedLog {
    /// Shares `log`.
    pub fn new(log: Box<dyn TxnLog>) -> SharedLog {
        SharedLog(Arc::new(Mutex::new(log)))
    }

    /// The log, locked. A panic while it was held does not make it unusable: every
    /// TxnLog call leaves the log consistent or reports an error.
    pub fn lock(&self) -> MutexGuard<'_, Box<dyn TxnLog>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TxnLog for SharedLog {
    fn append(&mut self, zxid: i64, entry: &[u8]) -> Result<(), StorageError> {
        self.lock().append(zxid, entry)
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        self.lock().sync()
    }
    fn put_snapshot(&mut self, zxid: i64, bytes: &[u8]) -> Result<(), StorageError> {
        self.lock().put_snapshot(zxid, bytes)
    }
    fn snapshot_zxids(&self) -> Result<Vec<i64>, StorageError> {
        self.lock().snapshot_zxids()
    }
    fn get_snapshot(&self, zxid: i64) -> Result<Vec<u8>, StorageError> {
        self.lock().get_snapshot(zxid)
    }
    fn purge(&mut self, retain: usize) -> Result<(), StorageError> {
        self.lock().purge(retain)
    }
    fn read_range(
        &self,
        after: i64,
        max_entries: usize,
    ) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
        self.lock().read_range(after, max_entries)
    }
    fn first_zxid(&self) -> Result<Option<i64>, StorageError> {
        self.lock().first_zxid()
    }
    fn last_zxid(&self) -> i64 {
        self.lock().last_zxid()
    }
    fn truncate_after(&mut self, zxid: i64) -> Result<(), StorageError> {
        self.lock().truncate_after(zxid)
    }
}

/// Rebuilds the tree from the newest stored snapshot and the log after it.
pub fn recover(log: &dyn TxnLog, extended_types: bool) -> Result<Recovered, StorageError> {
    let (tree, sessions, snap_zxid) = match log.snapshot_zxids()?.first() {
        Some(&z) => {
            let bytes = log.get_snapshot(z)?;
            let (tree, sessions) = read_snapshot(&bytes, extended_types)
                .map_err(|e| StorageError::Corrupt(format!("snapshot 0x{z:x}: {e}")))?;
            (tree, sessions.into_iter().collect(), z)
        }
        None => (DataTree::new(extended_types), BTreeMap::new(), 0),
    };
    let mut r = replay(tree, sessions, snap_zxid, log.read_from(snap_zxid)?)?;
    r.tree.last_processed_zxid = r.last_zxid;
    Ok(r)
}

/// Where `leader` takes quorum connections, from `cfg`'s `server.N` lines.
pub async fn leader_address(cfg: &Config, leader: Sid) -> Result<SocketAddr, TransportError> {
    let spec = cfg.servers.get(&leader.0).ok_or_else(|| {
        TransportError::Config(format!(
            "leader {} has no server.{} line",
            leader.0, leader.0
        ))
    })?;
    let hp = super::view::host_port(&spec.host, spec.quorum_port);
    let mut addrs = tokio::net::lookup_host(&hp)
        .await
        .map_err(|e| leader_err(&hp, e))?;
    addrs
        .next()
        .ok_or_else(|| leader_err(&hp, "the address resolves to nothing"))
}

fn leader_err(addr: impl std::fmt::Display, reason: impl std::fmt::Display) -> TransportError {
    TransportError::Leader {
        addr: addr.to_string(),
        reason: reason.to_string(),
    }
}

/// The follower: its tree, log and epochs, and the driver of one connection at a time.
pub struct Follower {
    cfg: LearnerConfig,
    extended_types: bool,
    max_buffer: usize,
    limits: FollowerLimits,
    tree: DataTree,
    sessions: BTreeMap<i64, i32>,
    log: SharedLog,
    writer: LogWriter,
    epochs: Box<dyn EpochStore>,
    /// Zxids handed to the writer and not yet durable, oldest first.
    unsynced: VecDeque<Zxid>,
    /// Logged txns waiting for their COMMIT.
    pending: BTreeMap<Zxid, Box<TxnEntry>>,
    progress: watch::Sender<Progress>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("sid", &self.cfg.sid)
            .field("applied", &self.tree.last_processed_zxid)
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

/// One connection's streams and clock.
struct Link {
    reader: FramedRead<OwnedReadHalf, QuorumPacketCodec>,
    writer: FramedWrite<OwnedWriteHalf, QuorumPacketCodec>,
    addr: SocketAddr,
    start: Instant,
}

impl Link {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl Follower {
    /// A follower for `cfg`'s `myid`, its tree rebuilt from `log` (the newest snapshot
    /// and the txns after it) and its epochs from `epochs`.
    pub fn new(
        cfg: &Config,
        log: SharedLog,
        epochs: Box<dyn EpochStore>,
        limits: FollowerLimits,
    ) -> Result<Follower, TransportError> {
        let my_id = cfg
            .my_id
            .ok_or_else(|| TransportError::Config("no myid".into()))?;
        let me = cfg.servers.get(&my_id).ok_or_else(|| {
            TransportError::Config(format!("myid {my_id} has no server.{my_id} line"))
        })?;
        let recovered = recover(&log, cfg.extended_types_enabled)?;
        let learner_cfg = LearnerConfig {
            sid: Sid(my_id),
            learner_type: if me.observer {
                LearnerType::Observer
            } else {
                LearnerType::Participant
            },
            // A static configuration's QuorumMaj has version 0.
            config_version: 0,
            tick_time_ms: cfg.tick_time_ms,
            init_limit: u64::from(cfg.init_limit),
            sync_limit: u64::from(cfg.sync_limit),
        };
        let applied = Zxid(recovered.tree.last_processed_zxid);
        let writer = LogWriter::spawn(Box::new(log.clone()));
        let (progress, _) = watch::channel(Progress {
            applied,
            durable: Zxid(log.last_zxid()),
            sync: None,
            serving_epoch: None,
            acks: 0,
            digests_matched: 0,
            digests_mismatched: 0,
        });
        Ok(Follower {
            cfg: learner_cfg,
            extended_types: cfg.extended_types_enabled,
            // BinaryInputArchive's limit: jute.maxbuffer plus
            // zookeeper.jute.maxbuffer.extrasize, which defaults to jute.maxbuffer.
            max_buffer: cfg.jute_max_buffer.saturating_mul(2),
            limits,
            tree: recovered.tree,
            sessions: recovered.sessions,
            log,
            writer,
            epochs,
            unsynced: VecDeque::new(),
            pending: BTreeMap::new(),
            progress,
        })
    }

    /// The tree as applied so far.
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The live sessions the applied txns created.
    pub fn sessions(&self) -> &BTreeMap<i64, i32> {
        &self.sessions
    }

    /// The log (shared with the writer thread).
    pub fn log(&self) -> &SharedLog {
        &self.log
    }

    /// The epochs (acceptedEpoch, currentEpoch) as stored.
    pub fn epochs(&self) -> (i64, i64) {
        (self.epochs.accepted_epoch(), self.epochs.current_epoch())
    }

    /// The last zxid applied to the tree: what the election votes with.
    pub fn last_zxid(&self) -> Zxid {
        Zxid(self.tree.last_processed_zxid)
    }

    /// Watch what the follower does (sync kind, serving, applied and durable zxids).
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Hands back the log and the epochs (to restart a follower over them).
    pub async fn into_parts(mut self) -> Result<(SharedLog, Box<dyn EpochStore>), TransportError> {
        self.drain_writer().await?;
        Ok((self.log, self.epochs))
    }

    /// Waits until everything handed to the writer is durable.
    async fn drain_writer(&mut self) -> Result<(), TransportError> {
        while let Some(&last) = self.unsynced.back() {
            let upto = self.next_ack().await?;
            self.note_durable(upto);
            if upto >= last {
                self.unsynced.clear();
            }
        }
        Ok(())
    }

    async fn next_ack(&mut self) -> Result<Zxid, TransportError> {
        match self.writer.acks.recv().await {
            Some(Ack::Durable(z)) => Ok(Zxid(z)),
            Some(Ack::Failed(e)) => Err(TransportError::Storage(e)),
            None => Err(TransportError::Storage(StorageError::Io(
                "the txn log writer has stopped".into(),
            ))),
        }
    }

    fn note_durable(&mut self, upto: Zxid) {
        while self.unsynced.front().is_some_and(|&z| z <= upto) {
            self.unsynced.pop_front();
        }
        self.progress
            .send_modify(|p| p.durable = p.durable.max(upto));
    }

    /// Connect to the leader at `leader` and follow it until it is lost or `stop` fires.
    /// `Ok` means: go LOOKING (or stop); `Err` too, after logging it; a
    /// [`TransportError::Zab`] with a fatal cause is where Java would exit the process.
    pub async fn follow(
        &mut self,
        leader: SocketAddr,
        stop: &CancellationToken,
    ) -> Result<FollowEnd, TransportError> {
        // What a previous connection logged is durable, and what it left uncommitted is
        // in the tree as Java's reload of the log would put it (getLastLoggedZxid).
        self.drain_writer().await?;
        if !self.pending.is_empty() {
            self.pending.clear();
            let r = recover(&self.log, self.extended_types)?;
            (self.tree, self.sessions) = (r.tree, r.sessions);
        }
        self.progress.send_modify(|p| {
            p.sync = None;
            p.serving_epoch = None;
            p.applied = Zxid(self.tree.last_processed_zxid);
        });
        let stream = tokio::time::timeout(self.limits.connect_timeout, TcpStream::connect(leader))
            .await
            .map_err(|_| leader_err(leader, "connect timed out"))?
            .map_err(|e| leader_err(leader, e))?;
        // Learner.createSocket: TCP_NODELAY (learner.tcpNoDelay defaults to true).
        stream
            .set_nodelay(true)
            .map_err(|e| leader_err(leader, e))?;
        let (rd, wr) = stream.into_split();
        let mut link = Link {
            reader: FramedRead::new(rd, QuorumPacketCodec::new(self.max_buffer)),
            writer: FramedWrite::new(wr, QuorumPacketCodec::new(self.max_buffer)),
            addr: leader,
            start: Instant::now(),
        };
        let persisted = Persisted {
            accepted_epoch: self.epochs.accepted_epoch(),
            current_epoch: self.epochs.current_epoch(),
            last_logged_zxid: Zxid(self.tree.last_processed_zxid),
            // drain_writer above made everything logged durable.
            durable_zxid: Zxid(self.tree.last_processed_zxid),
        };
        tracing::info!(
            "sid {} following the leader at {leader} from zxid {:#x}, epochs {:?}",
            self.cfg.sid.0,
            persisted.last_logged_zxid.0,
            self.epochs()
        );
        let mut learner = Learner::new(self.cfg, persisted);
        let out = learner.start(link.now_ms()).map_err(TransportError::Zab)?;
        if let Some(end) = self.perform(&mut learner, &mut link, out).await? {
            return Ok(end);
        }
        loop {
            let wake = learner
                .wake_at_ms()
                .map(|ms| link.start + Duration::from_millis(ms));
            let can_read = self.unsynced.len() < self.limits.max_unsynced;
            let out = tokio::select! {
                biased;
                _ = stop.cancelled() => return Ok(FollowEnd::Stopped),
                ack = self.writer.acks.recv() => {
                    let upto = match ack {
                        Some(Ack::Durable(z)) => Zxid(z),
                        Some(Ack::Failed(e)) => return Err(TransportError::Storage(e)),
                        None => return Err(TransportError::Storage(StorageError::Io(
                            "the txn log writer has stopped".into(),
                        ))),
                    };
                    self.note_durable(upto);
                    learner.durable(upto).map_err(zab_err)?
                }
                p = link.reader.next(), if can_read => match p {
                    None => return Ok(FollowEnd::Closed),
                    Some(Err(e)) => return Err(leader_err(leader, e)),
                    Some(Ok(p)) => {
                        self.note_sync_kind(&p);
                        learner.on_packet(link.now_ms(), &p).map_err(zab_err)?
                    }
                },
                _ = sleep_until(wake) => learner.tick(link.now_ms()),
            };
            if let Some(end) = self.perform(&mut learner, &mut link, out).await? {
                return Ok(end);
            }
        }
    }

    fn note_sync_kind(&self, p: &QuorumPacket) {
        let kind = match p.r#type {
            pt::DIFF => SyncKind::Diff { zxid: Zxid(p.zxid) },
            pt::SNAP => SyncKind::Snap { zxid: Zxid(p.zxid) },
            pt::TRUNC => SyncKind::Trunc { zxid: Zxid(p.zxid) },
            _ => return,
        };
        self.progress.send_if_modified(|pr| {
            if pr.sync.is_some() {
                return false;
            }
            tracing::info!("sid {} syncing with the leader by {kind:?}", self.cfg.sid.0);
            pr.sync = Some(kind);
            true
        });
    }

    /// Performs `actions` in order; `Some` when the connection must end.
    async fn perform(
        &mut self,
        learner: &mut Learner,
        link: &mut Link,
        actions: Vec<Action>,
    ) -> Result<Option<FollowEnd>, TransportError> {
        let mut queue: VecDeque<Action> = actions.into();
        let mut sends = 0usize;
        let mut job = Vec::new();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send(p) => {
                    if p.r#type == pt::ACK && Zxid(p.zxid).counter() != 0 {
                        self.progress.send_modify(|pr| pr.acks += 1);
                    }
                    self.send(link, p).await?;
                    sends += 1;
                }
                Action::ReplyPing { zxid, authinfo } => {
                    // No sessions are served yet: the touch table is empty.
                    self.send(link, ping_reply(zxid, authinfo, &[])).await?;
                    sends += 1;
                }
                Action::PersistAcceptedEpoch(e) => self.epochs.set_accepted_epoch(e)?,
                Action::PersistCurrentEpoch(e) => self.epochs.set_current_epoch(e)?,
                Action::Truncate { zxid } => self.truncate(zxid)?,
                Action::LoadSnapshot { zxid } => {
                    // Whatever this call sent must reach the leader before we block.
                    self.flush(link, &mut sends).await?;
                    self.load_snapshot(link, zxid).await?;
                    queue.extend(learner.snapshot_loaded(link.now_ms()).map_err(zab_err)?);
                }
                Action::TakeSnapshot { sync } => self.take_snapshot(sync)?,
                Action::Apply { entry } => self.apply_entry(&entry),
                Action::Log { zxid, entry, raw } => {
                    if zxid.counter() != 0 {
                        if self.pending.len() >= self.limits.max_pending {
                            return Err(TransportError::Limit(format!(
                                "{} proposals await their COMMIT",
                                self.pending.len()
                            )));
                        }
                        self.pending.insert(zxid, entry);
                    }
                    self.unsynced.push_back(zxid);
                    job.push((zxid.0, raw));
                }
                Action::Commit { zxid } => match self.pending.remove(&zxid) {
                    Some(entry) => self.apply_entry(&entry),
                    None => tracing::error!("COMMIT {:#x}: the txn is not pending", zxid.0),
                },
                Action::CommitInformed { zxid, entry, raw } => {
                    self.unsynced.push_back(zxid);
                    job.push((zxid.0, raw));
                    self.apply_entry(&entry);
                }
                Action::Serving { epoch } => {
                    tracing::info!(
                        "sid {} serving in epoch {epoch} at zxid {:#x}",
                        self.cfg.sid.0,
                        self.tree.last_processed_zxid
                    );
                    self.progress.send_modify(|p| p.serving_epoch = Some(epoch));
                }
                Action::SyncDone => tracing::debug!("SYNC answered (no client waits yet)"),
                Action::Revalidated { session_id, valid } => {
                    tracing::debug!("REVALIDATE {session_id:#x}: {valid} (no client waits)")
                }
                Action::Warn(w) => tracing::warn!("from leader {}: {w:?}", link.addr),
                Action::GoLooking { reason } => {
                    tracing::warn!("leaving leader {}: {reason}", link.addr);
                    self.submit(job)?;
                    self.flush(link, &mut sends).await?;
                    return Ok(Some(FollowEnd::GoLooking(reason)));
                }
            }
        }
        self.submit(job)?;
        self.flush(link, &mut sends).await?;
        Ok(None)
    }

    async fn send(&mut self, link: &mut Link, p: QuorumPacket) -> Result<(), TransportError> {
        tokio::time::timeout(self.limits.write_timeout, link.writer.feed(p))
            .await
            .map_err(|_| leader_err(link.addr, "write timed out"))?
            .map_err(|e| leader_err(link.addr, e))
    }

    async fn flush(&mut self, link: &mut Link, sends: &mut usize) -> Result<(), TransportError> {
        if *sends == 0 {
            return Ok(());
        }
        *sends = 0;
        tokio::time::timeout(
            self.limits.write_timeout,
            SinkExt::<QuorumPacket>::flush(&mut link.writer),
        )
        .await
        .map_err(|_| leader_err(link.addr, "flush timed out"))?
        .map_err(|e| leader_err(link.addr, e))
    }

    fn submit(&self, entries: Vec<(i64, Vec<u8>)>) -> Result<(), TransportError> {
        if entries.is_empty() || self.writer.submit(Job { entries }) {
            return Ok(());
        }
        Err(TransportError::Storage(StorageError::Io(
            "the txn log writer has stopped".into(),
        )))
    }

    /// DataTree.processTxn with the leader's header (its time, its zxid), then the digest
    /// the leader computed after the same txn is compared with ours.
    fn apply_entry(&mut self, entry: &TxnEntry) {
        let applied = apply(&mut self.tree, &entry.header, &entry.txn);
        if let Some((id, timeout)) = applied.session_created {
            self.sessions.insert(id, timeout);
        }
        if let Some(id) = applied.session_closed {
            self.sessions.remove(&id);
        }
        let matched = entry
            .digest
            .as_ref()
            .map(|d| d.tree_digest == self.tree.digest());
        if matched == Some(false) {
            tracing::debug!(
                "digest mismatch after {:#x}: ours {:#x}",
                entry.header.zxid,
                self.tree.digest()
            );
        }
        let zxid = Zxid(self.tree.last_processed_zxid);
        self.progress.send_modify(|p| {
            p.applied = zxid;
            match matched {
                Some(true) => p.digests_matched += 1,
                Some(false) => p.digests_mismatched += 1,
                None => {}
            }
        });
    }

    /// TRUNC: cut the log after `zxid` and rebuild the tree from what is left
    /// (ZKDatabase.truncateLog). Nothing of this connection is in the writer yet: TRUNC
    /// is the first sync packet, and `follow` drained the writer before connecting.
    fn truncate(&mut self, zxid: Zxid) -> Result<(), TransportError> {
        tracing::warn!("truncating the log after {:#x} for the leader", zxid.0);
        self.log.truncate_after(zxid.0)?;
        let r = recover(&self.log, self.extended_types)?;
        (self.tree, self.sessions) = (r.tree, r.sessions);
        self.tree.last_processed_zxid = zxid.0;
        self.pending.clear();
        self.progress.send_modify(|p| {
            p.applied = zxid;
            p.durable = p.durable.min(zxid);
        });
        Ok(())
    }

    /// Reads the snapshot that follows SNAP straight off the stream (it is not made of
    /// packets), replaces the tree with it, and leaves what follows it for the codec.
    async fn load_snapshot(&mut self, link: &mut Link, zxid: Zxid) -> Result<(), TransportError> {
        let timeout = Duration::from_millis(
            self.cfg
                .tick_time_ms
                .saturating_mul(self.cfg.init_limit)
                .max(1000),
        );
        let mut buf: BytesMut = std::mem::take(link.reader.read_buffer_mut());
        let mut scanner = SnapScanner::new(self.max_buffer);
        let len = loop {
            if let Some(len) = scanner
                .scan(&buf)
                .map_err(|e| TransportError::Snapshot(e.to_string()))?
            {
                break len;
            }
            if buf.len() > self.limits.max_snapshot_bytes {
                return Err(TransportError::Limit(format!(
                    "the snapshot exceeds {} bytes",
                    self.limits.max_snapshot_bytes
                )));
            }
            buf.reserve(64 * 1024);
            let n = tokio::time::timeout(timeout, link.reader.get_mut().read_buf(&mut buf))
                .await
                .map_err(|_| leader_err(link.addr, "the snapshot stalled"))?
                .map_err(|e| leader_err(link.addr, e))?;
            if n == 0 {
                return Err(leader_err(
                    link.addr,
                    "closed in the middle of the snapshot",
                ));
            }
        };
        let snap = buf.split_to(len);
        *link.reader.read_buffer_mut() = buf;
        let streamed = read_snapshot_stream(&snap, self.extended_types)
            .map_err(|e| TransportError::Snapshot(e.to_string()))?;
        let (mut tree, sessions) = (streamed.tree, streamed.sessions);
        tree.last_processed_zxid = zxid.0;
        tracing::info!(
            "loaded the leader's snapshot at {:#x}: {len} bytes, {} nodes, {} sessions",
            zxid.0,
            tree.node_count(),
            sessions.len()
        );
        self.tree = tree;
        self.sessions = sessions.into_iter().collect();
        self.pending.clear();
        // A log that runs past the snapshot (txns this leader never committed) would
        // refuse the txns that now follow it, and replay them after a restart: store the
        // snapshot, which lets the log be cut back to it.
        if self.log.last_zxid() > zxid.0 {
            tracing::warn!(
                "the log runs to {:#x}, past the leader's snapshot at {:#x}: cutting it back",
                self.log.last_zxid(),
                zxid.0
            );
            self.take_snapshot(true)?;
            self.log.truncate_after(zxid.0)?;
        }
        self.progress.send_modify(|p| p.applied = zxid);
        Ok(())
    }

    /// ZooKeeperServer.takeSnapshot: the tree as a ZooKeeper snapshot, stored durably with
    /// the log (whose history before it a SNAP or TRUNC left incomplete).
    fn take_snapshot(&mut self, sync: bool) -> Result<(), TransportError> {
        let zxid = self.tree.last_processed_zxid;
        let sessions: Vec<(i64, i32)> = self.sessions.iter().map(|(k, v)| (*k, *v)).collect();
        let mut bytes = Vec::new();
        write_snapshot(&self.tree, &sessions, zxid, &mut bytes);
        self.log.put_snapshot(zxid, &bytes)?;
        tracing::info!(
            "snapshot at {zxid:#x} stored ({} bytes, sync {sync})",
            bytes.len()
        );
        Ok(())
    }
}

fn zab_err(e: crate::quorum::zab::ZabError) -> TransportError {
    if e.is_fatal() {
        tracing::error!("{e}: a Java server would exit here");
    }
    TransportError::Zab(e)
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "learner_tests.rs"]
mod tests;
