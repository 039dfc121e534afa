//! The Zab leader (Apache ZooKeeper 3.8's `Leader`, `LearnerHandler`, `LearnerMaster`) as
//! pure state machines: learner packets, durability notices and ticks in, [`Action`]s out.
//! No IO, no clock (time arrives as `now_ms`), no randomness.
//!
//! The pieces, in the order a leadership runs through them:
//! - [`epoch`]: discovery and synchronization barriers (`Leader.getEpochToPropose`,
//!   `waitForEpochAck`, `waitForNewLeaderAck`), each bounded by initLimit ticks;
//! - [`sync`]: the DIFF / TRUNC / SNAP choice for one learner (`LearnerHandler.syncFollower`);
//! - [`broadcast`]: proposals, ACK counting and in-order commits (`Leader.propose`,
//!   `processAck`, `tryToCommit`, `processSync`, `startForwarding`);
//! - `reconfig` (inside [`broadcast`]): a reconfig's commit (`getDesignatedLeader`,
//!   `commitAndActivate`, `informAndActivate`);
//! - [`confirm`]: linearizable sync's leadership rounds (not in ZooKeeper; off unless
//!   `linearizableSync=true`);
//! - [`liveness`]: the half-tick loop of `Leader.lead` (the syncLimit quorum check, PINGs)
//!   and the session touches learners report in their PING replies.
//!
//! [`Leader`] runs them together with one handler state per learner; it is what a driver
//! holds. Every machine returns its effects as data; the driver performs them in order.
//!
//! How a driver runs a [`Leader`]:
//! - Build it with [`Leader::new`] once FLE decides LEADING (after loading the database),
//!   with [`LeaderStart::durable_zxid`] what the log writer has reported durable; with
//!   [`Leader::with_last_seen`] when the peer's last-seen config is newer than its
//!   committed one. A tail
//!   the previous role logged but never synced holds back currentEpoch and the leader's
//!   own NEWLEADER ACK until [`Leader::on_durable`] covers it (Java flushes that tail when
//!   the previous role ends, in SyncRequestProcessor.shutdown; a driver should too).
//! - Decode each learner link's first packet with [`LearnerPacket::decode`] and pass it to
//!   [`Leader::on_learner_info`], which names the link's sid; pass every later packet to
//!   [`Leader::on_packet`] with a [`sync::LogState`] view of the leader's history. An
//!   `Err` means: close that link (the machine has already forgotten the learner). When a
//!   link closes for any other reason, call [`Leader::remove_learner`].
//! - The pipeline calls [`Leader::propose`] for each txn (after `Action::Established`;
//!   [`Leader::propose_reconfig`] for a reconfig, after checking
//!   [`Leader::is_quorum_synced`] of its new config),
//!   [`Leader::on_durable`] when its log makes txns durable, [`Leader::process_sync`] for
//!   a learner's forwarded sync, and [`Leader::applied`] after applying a commit.
//! - Call [`Leader::on_tick`] at or after [`Leader::next_wakeup_ms`].
//! - Perform the actions in order: `Send` queues on the learner's link (encode with
//!   [`LeaderPacket::encode`]); `Persist*Epoch` are synchronous writes; `StreamSnapshot`
//!   and `StreamProposals` write the snapshot or the logged txns in place; `GiveUp` ends
//!   the role (close every learner link, go LOOKING).

pub mod broadcast;
pub(crate) mod confirm;
pub mod epoch;
pub mod liveness;
mod machine;
mod packet;
pub mod sync;

#[cfg(test)]
mod broadcast_tests;
#[cfg(test)]
mod golden_tests;
#[cfg(test)]
mod reconfig_tests;
#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod sync_tests;

pub use machine::{Leader, LeaderStart};
pub use packet::{LeaderPacket, LearnerPacket};

use super::{Sid, Zxid};

/// The limits the leader runs under (`tickTime`, `initLimit`, `syncLimit` from zoo.cfg).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderConfig {
    /// This server's sid.
    pub my_sid: Sid,
    /// `tickTime`, in milliseconds.
    pub tick_ms: u64,
    /// `initLimit`, in ticks: how long discovery and sync may take.
    pub init_limit: u64,
    /// `syncLimit`, in ticks: how far a synced learner may lag.
    pub sync_limit: u64,
}

impl LeaderConfig {
    /// `initLimit * tickTime`: the wait in each of Leader's barriers.
    pub fn init_timeout_ms(&self) -> u64 {
        self.init_limit.saturating_mul(self.tick_ms)
    }

    /// `syncLimit * tickTime` (Leader.syncTimeout): the longest a learner may leave a
    /// proposal unacknowledged (LearnerHandler.SyncLimitCheck).
    pub fn sync_timeout_ms(&self) -> u64 {
        self.sync_limit.saturating_mul(self.tick_ms)
    }
}

/// Something the driver must do. Perform the actions in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Queue `packet` on the link to learner `to` (LearnerHandler.queuePacket).
    Send {
        /// The learner.
        to: Sid,
        /// The packet.
        packet: LeaderPacket,
    },
    /// Write `acceptedEpoch` durably before going on (QuorumPeer.setAcceptedEpoch).
    PersistAcceptedEpoch(i64),
    /// Write `currentEpoch` durably before going on (QuorumPeer.setCurrentEpoch).
    PersistCurrentEpoch(i64),
    /// Stream the snapshot (the data tree at the SNAP zxid, then the "BenWasHere"
    /// signature) to `to`, right after the SNAP packet (ZKDatabase.serializeSnapshot).
    StreamSnapshot {
        /// The learner.
        to: Sid,
    },
    /// Queue, for each logged txn in `range`, PROPOSAL(txn) then COMMIT(zxid) to `to`.
    StreamProposals {
        /// The learner.
        to: Sid,
        /// Which txns.
        range: sync::StreamRange,
    },
    /// A quorum acknowledged NEWLEADER: start serving with `zxid` as the last processed
    /// zxid (Leader.startZkServer: zk.startup, setlastProcessedZxid, and
    /// QuorumPeer.updateElectionVote with the new epoch). Learners now get UPTODATE.
    Established {
        /// `makeZxid(epoch, 0)`.
        zxid: Zxid,
    },
    /// A learner forwarded a client request (LearnerHandler → submitLearnerRequest): hand
    /// it to the prep stage with the learner as owner. A `sync` (op 9) comes back through
    /// [`Leader::process_sync`].
    Forwarded {
        /// The learner.
        from: Sid,
        /// The [`LearnerPacket::Request`].
        request: Box<LearnerPacket>,
    },
    /// A learner asks whether a session may reattach there (Leader.revalidateSession):
    /// check it with the session tracker (and make the learner its owner if valid), then
    /// send [`LeaderPacket::Revalidate`] on that learner's link.
    Revalidate {
        /// The learner.
        from: Sid,
        /// The session.
        session_id: i64,
        /// Its timeout.
        timeout_ms: i32,
    },
    /// A sync of the leader's own client ([`Leader::local_sync`]) may be answered now.
    SyncConfirmed {
        /// The driver's token for it.
        token: u64,
    },
    /// The reconfig `zxid` committed (its COMMITANDACTIVATE / INFORMANDACTIVATE are queued
    /// just before): activate its config locally (QuorumPeer.processReconfig with the
    /// designated leader, which Leader.tryToCommit calls before the local commit), then go
    /// on with its [`Action::Commit`]. The machine already counts with the new config. If
    /// `designated` is another server, this leader commits nothing more; as in Java it
    /// keeps leading until its followers have left for the designated leader and the
    /// liveness loop gives up.
    ///
    /// Also emitted at establishment, just before [`Action::Established`], by a leader
    /// built with [`Leader::with_last_seen`] whose last-seen config was newer than its
    /// committed one (Leader.startZkServer's processReconfig): `zxid` is then the
    /// established zxid, not a reconfig's, and the config to activate is the last-seen one
    /// the driver gave (of version [`LeaderStart::last_seen_config_version`]); it cannot
    /// be looked up by `zxid`.
    Activate {
        /// The reconfig's zxid (also the new config's version); at establishment, the
        /// NEWLEADER zxid.
        zxid: Zxid,
        /// The leader the reconfig designated (Leader.getDesignatedLeader).
        designated: Sid,
    },
    /// Apply the committed txn `zxid` locally (CommitProcessor.commit).
    Commit {
        /// The committed txn.
        zxid: Zxid,
    },
    /// Hand these (session id, timeout ms) pairs from a learner's PING to the session
    /// tracker (LearnerMaster.touch → ZooKeeperServer.touch).
    Touch {
        /// The touched sessions, in the order the learner listed them.
        sessions: Vec<(i64, i32)>,
    },
    /// Close the link to this learner (its LearnerHandler ends; the learner goes LOOKING).
    CloseLearner {
        /// The learner.
        sid: Sid,
        /// Why, as ZooKeeper logs it.
        reason: String,
    },
    /// Stop leading and go back to LOOKING (Leader.shutdown).
    GiveUp {
        /// Why, as ZooKeeper logs it.
        reason: String,
    },
}

/// Why an input was refused. For a learner's packet the driver closes that learner's
/// link; none of these stops the leader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaderError {
    /// A packet's data did not have the layout its type needs.
    #[error("malformed {kind} from learner: {reason}")]
    Malformed {
        /// The packet type's name.
        kind: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A packet type the learner may not send at this point of its handshake
    /// (LearnerHandler.run: "First packet ... is not FOLLOWERINFO", "is not ACKEPOCH",
    /// "Next packet was supposed to be an ACK").
    #[error("unexpected {got} from learner {sid:?} while {expected}")]
    OutOfOrder {
        /// The learner.
        sid: Sid,
        /// The packet type received.
        got: &'static str,
        /// What the handler was waiting for.
        expected: &'static str,
    },
    /// A learner announced a config newer than the leader's (LearnerHandler.run).
    #[error("Follower is ahead of the leader (has a later activated configuration)")]
    ConfigAhead,
    /// A learner's (currentEpoch, lastZxid) is more recent than the leader's
    /// (Leader.waitForEpochAck).
    #[error("Follower is ahead of the leader, leader summary: {leader_epoch} (current epoch), {leader_zxid} (last zxid)")]
    FollowerAhead {
        /// The leader's currentEpoch.
        leader_epoch: i64,
        /// The leader's last processed zxid.
        leader_zxid: i64,
    },
    /// No learner with this sid is known (the driver already closed it).
    #[error("no learner {0:?}")]
    UnknownLearner(Sid),
    /// The next zxid's counter is 0xffffffff (Leader.propose, ZOOKEEPER-1277).
    #[error(
        "zxid lower 32 bits have rolled over, forcing re-election, and therefore new epoch start"
    )]
    XidRollover,
    /// The local pipeline proposed before the leader serves (a bug in the caller).
    #[error("the leader does not serve yet")]
    NotServing,
    /// A reconfig was proposed while another is outstanding (a bug in the caller: the
    /// prep stage answers RECONFIGINPROGRESS first).
    #[error("a reconfig is already in progress")]
    ReconfigInProgress,
    /// The local pipeline proposed a zxid not above the last one (a bug in the caller).
    #[error("proposal 0x{zxid:x} is not after the last proposed 0x{last:x}")]
    ProposalOutOfOrder {
        /// The zxid proposed.
        zxid: i64,
        /// Leader.lastProposed.
        last: i64,
    },
}

/// `StateSummary`: what a server reports in ACKEPOCH, and what the leader compares it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateSummary {
    /// The server's currentEpoch.
    pub current_epoch: i64,
    /// The last zxid it logged.
    pub last_zxid: Zxid,
}

impl StateSummary {
    /// StateSummary.isMoreRecentThan: a higher epoch, or the same epoch and a higher zxid.
    pub fn is_more_recent_than(&self, other: &StateSummary) -> bool {
        self.current_epoch > other.current_epoch
            || (self.current_epoch == other.current_epoch && self.last_zxid > other.last_zxid)
    }
}

/// Whether the low 32 bits of a zxid are zero: the zxid an epoch starts at, which names no
/// txn (Leader.processAck ignores ACKs of it; syncFollower's `isPeerNewEpochZxid`).
pub(crate) fn is_epoch_start(zxid: Zxid) -> bool {
    zxid.counter() == 0
}

/// Zxids as ZooKeeper logs them: hex, no prefix.
pub(crate) fn hex(zxid: Zxid) -> String {
    format!("{:x}", zxid.0)
}
