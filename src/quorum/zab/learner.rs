//! The learner machine: its state, the inputs' dispatch and the leader-silence timeout.

use std::collections::VecDeque;

use super::action::Action;
use super::error::ZabError;
use super::sync::SyncState;
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::proto::quorum::QuorumWireError;
use crate::quorum::{LearnerType, Sid, Zxid};

/// What the learner is configured with (zoo.cfg and myid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LearnerConfig {
    /// Our sid.
    pub(crate) sid: Sid,
    /// Follower (participant) or observer.
    pub(crate) learner_type: LearnerType,
    /// The version of our quorum config (QuorumVerifier.getVersion), sent in LearnerInfo.
    pub(crate) config_version: i64,
    /// `tickTime`.
    pub(crate) tick_time_ms: u64,
    /// `initLimit`: ticks the leader may stay silent until NEWLEADER.
    pub(crate) init_limit: u64,
    /// `syncLimit`: ticks the leader may stay silent from NEWLEADER on.
    pub(crate) sync_limit: u64,
}

/// What this server has on disk when it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Persisted {
    /// The acceptedEpoch file: the last epoch we acked in discovery.
    pub(crate) accepted_epoch: i64,
    /// The currentEpoch file: the last epoch whose NEWLEADER we acked.
    pub(crate) current_epoch: i64,
    /// The last zxid in our txn log (QuorumPeer.getLastLoggedZxid).
    pub(crate) last_logged_zxid: Zxid,
    /// The last zxid the log writer has reported durable. Below `last_logged_zxid` when a
    /// tail written in the previous role is still unsynced: the NEWLEADER ACK then waits
    /// for [`Learner::durable`] to cover it too.
    pub(crate) durable_zxid: Zxid,
}

/// Where the conversation with the leader stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Not yet started.
    Idle,
    /// FOLLOWERINFO sent, waiting for LEADERINFO.
    Discovery,
    /// ACKEPOCH sent, waiting for DIFF, TRUNC or SNAP.
    SyncStart,
    /// The driver is reading the snapshot off the stream.
    AwaitSnapshot,
    /// Receiving the proposals and commits up to UPTODATE.
    Syncing,
    /// UPTODATE received: following the leader.
    Broadcast,
    /// Failed or timed out; every input is refused.
    Stopped,
}

impl Phase {
    pub(super) fn name(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Discovery => "discovery",
            Phase::SyncStart => "waiting for DIFF/TRUNC/SNAP",
            Phase::AwaitSnapshot => "reading the snapshot",
            Phase::Syncing => "syncing",
            Phase::Broadcast => "broadcast",
            Phase::Stopped => "stopped",
        }
    }
}

/// One connection's worth of Zab on the learner side.
#[derive(Debug)]
pub(crate) struct Learner {
    pub(super) cfg: LearnerConfig,
    pub(super) accepted_epoch: i64,
    pub(super) current_epoch: i64,
    pub(super) last_logged: Zxid,
    /// The highest zxid the log writer reported durable.
    pub(super) durable_upto: Zxid,
    pub(super) phase: Phase,
    /// When the leader was last heard from (a socket read succeeding, for Java).
    last_heard_ms: u64,
    /// The read timeout: tickTime × initLimit, then × syncLimit from NEWLEADER on
    /// (Learner.createSocket, then syncWithLeader's setSoTimeout).
    pub(super) silence_limit_ms: u64,
    /// The epoch LEADERINFO proposed.
    pub(super) new_epoch: i64,
    /// The zxid of the last proposal queued (Follower.lastQueued), for the order warning.
    pub(super) last_queued: Zxid,
    /// syncWithLeader's locals.
    pub(super) sync: SyncState,
    /// Logged proposals not yet committed (FollowerZooKeeperServer.pendingTxns).
    pub(super) pending_txns: VecDeque<Zxid>,
    /// Logged proposals waiting to be durable before their ACK (SendAckRequestProcessor).
    pub(super) unacked: VecDeque<Zxid>,
    /// The configs proposed by reconfig txns not yet committed, by zxid: COMMITANDACTIVATE
    /// names only the zxid (Java reads the config from the head of pendingTxns).
    pub(super) reconfigs: std::collections::BTreeMap<Zxid, Vec<u8>>,
}

impl Learner {
    /// A learner about to talk to a freshly connected leader.
    pub(crate) fn new(cfg: LearnerConfig, persisted: Persisted) -> Learner {
        Learner {
            cfg,
            accepted_epoch: persisted.accepted_epoch,
            current_epoch: persisted.current_epoch,
            last_logged: persisted.last_logged_zxid,
            durable_upto: persisted.durable_zxid,
            phase: Phase::Idle,
            last_heard_ms: 0,
            silence_limit_ms: cfg.tick_time_ms.saturating_mul(cfg.init_limit),
            new_epoch: 0,
            last_queued: persisted.last_logged_zxid,
            sync: SyncState::default(),
            pending_txns: VecDeque::new(),
            reconfigs: Default::default(),
            unacked: VecDeque::new(),
        }
    }

    /// Whether this learner is an observer (OBSERVERINFO, INFORM, no ACKs).
    pub(super) fn is_observer(&self) -> bool {
        self.cfg.learner_type == LearnerType::Observer
    }

    /// The epochs as they now stand on disk (after the Persist actions performed so far).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn epochs(&self) -> (i64, i64) {
        (self.accepted_epoch, self.current_epoch)
    }

    /// Whether UPTODATE came: the server serves clients and follows the broadcast.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn is_serving(&self) -> bool {
        self.phase == Phase::Broadcast
    }

    /// The connection is up: send FOLLOWERINFO (OBSERVERINFO) with zxid
    /// (acceptedEpoch, 0) and our LearnerInfo (Learner.registerWithLeader).
    pub(crate) fn start(&mut self, now_ms: u64) -> Result<Vec<Action>, ZabError> {
        if self.phase != Phase::Idle {
            return Err(self.stop(ZabError::Stopped));
        }
        self.phase = Phase::Discovery;
        self.last_heard_ms = now_ms;
        Ok(vec![Action::Send(self.learner_info())])
    }

    /// A packet from the leader arrived at `now_ms`.
    pub(crate) fn on_packet(
        &mut self,
        now_ms: u64,
        p: &QuorumPacket,
    ) -> Result<Vec<Action>, ZabError> {
        let mut out = Vec::new();
        let result = match self.phase {
            Phase::Stopped => Err(ZabError::Stopped),
            Phase::Idle | Phase::AwaitSnapshot => Err(ZabError::Unexpected {
                packet: pt::name(p.r#type),
                phase: self.phase.name(),
            }),
            Phase::Discovery => self.on_leader_info(p, &mut out),
            Phase::SyncStart => self.on_sync_start(p, &mut out),
            Phase::Syncing => self.on_sync_packet(p, &mut out),
            Phase::Broadcast => self.on_broadcast_packet(p, &mut out),
        };
        self.last_heard_ms = now_ms;
        result.map(|()| out).map_err(|e| self.stop(e))
    }

    /// The driver has read and loaded the snapshot announced by
    /// [`Action::LoadSnapshot`]; packets may flow again.
    pub(crate) fn snapshot_loaded(&mut self, now_ms: u64) -> Result<Vec<Action>, ZabError> {
        if self.phase != Phase::AwaitSnapshot {
            return Err(self.stop(ZabError::Unexpected {
                packet: "snapshot",
                phase: self.phase.name(),
            }));
        }
        self.last_heard_ms = now_ms;
        self.phase = Phase::Syncing;
        Ok(Vec::new())
    }

    /// Every txn logged up to `upto` is durable: finish a pending NEWLEADER, and ACK each
    /// proposal now durable, oldest first (SyncRequestProcessor → SendAckRequestProcessor).
    pub(crate) fn durable(&mut self, upto: Zxid) -> Result<Vec<Action>, ZabError> {
        if self.phase == Phase::Stopped {
            return Err(ZabError::Stopped);
        }
        let mut out = Vec::new();
        self.durable_upto = self.durable_upto.max(upto);
        if self.sync.newleader_waits_for(upto) {
            self.ack_newleader(&mut out);
        }
        while let Some(&z) = self.unacked.front().filter(|&&z| z <= upto) {
            self.unacked.pop_front();
            out.push(Action::Send(QuorumPacket::bare(pt::ACK, z.0)));
        }
        Ok(out)
    }

    /// When [`Learner::tick`] would next find the leader silent, if nothing arrives
    /// before: the driver's timer. `None` while no timeout runs.
    pub(crate) fn wake_at_ms(&self) -> Option<u64> {
        match self.phase {
            Phase::Idle | Phase::Stopped | Phase::AwaitSnapshot => None,
            _ => Some(self.last_heard_ms.saturating_add(self.silence_limit_ms)),
        }
    }

    /// Time passes. The leader counts as lost once it has been silent for the read
    /// timeout (Java's SO_TIMEOUT). Not while the driver reads a snapshot: that read has
    /// its own timeout.
    pub(crate) fn tick(&mut self, now_ms: u64) -> Vec<Action> {
        match self.phase {
            Phase::Idle | Phase::Stopped | Phase::AwaitSnapshot => Vec::new(),
            phase => {
                let silent = now_ms.saturating_sub(self.last_heard_ms);
                if silent < self.silence_limit_ms {
                    return Vec::new();
                }
                self.phase = Phase::Stopped;
                vec![Action::GoLooking {
                    reason: format!(
                        "no packet from the leader for {silent} ms while {} (limit {} ms)",
                        phase.name(),
                        self.silence_limit_ms
                    ),
                }]
            }
        }
    }

    /// Stops the machine; every later input is refused.
    pub(super) fn stop(&mut self, e: ZabError) -> ZabError {
        self.phase = Phase::Stopped;
        e
    }
}

/// Maps a payload decode error to [`ZabError::Malformed`] for `packet`.
pub(super) fn malformed(packet: &'static str) -> impl Fn(QuorumWireError) -> ZabError {
    move |source| ZabError::Malformed { packet, source }
}
