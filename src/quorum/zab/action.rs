//! What the learner machine asks its driver to do, and what it only warns about.

use crate::proto::acl::Id;
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::proto::quorum::payload::{Payload, PingTouches, SessionTouch};
use crate::proto::txn::TxnEntry;
use crate::quorum::Zxid;

/// Something the driver must do, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    /// Write this packet to the leader.
    Send(QuorumPacket),
    /// Write the acceptedEpoch file before going on (QuorumPeer.setAcceptedEpoch).
    PersistAcceptedEpoch(i64),
    /// Write the currentEpoch file before going on (QuorumPeer.setCurrentEpoch).
    PersistCurrentEpoch(i64),
    /// TRUNC: drop every logged txn after `zxid` and reload the tree up to it
    /// (ZKDatabase.truncateLog; failing is fatal, as in Java).
    Truncate {
        /// The last zxid to keep.
        zxid: Zxid,
    },
    /// SNAP: clear the tree and read the leader's snapshot from the stream, which now
    /// carries snapshot bytes, not packets; the tree is then at `zxid`. Call
    /// [`Learner::snapshot_loaded`](super::Learner::snapshot_loaded) when done.
    LoadSnapshot {
        /// The zxid the snapshot stands for.
        zxid: Zxid,
    },
    /// Take a snapshot of the tree now, fsynced if `sync` (ZooKeeperServer.takeSnapshot).
    /// Asked at NEWLEADER after a SNAP or TRUNC, whose history the log no longer holds.
    TakeSnapshot {
        /// Whether to fsync it (after SNAP: the log has a gap).
        sync: bool,
    },
    /// Apply a txn to the tree without logging it: a COMMIT during a SNAP/TRUNC sync,
    /// which the snapshot at NEWLEADER will hold (Learner.syncWithLeader, zk.processTxn).
    Apply {
        /// The txn.
        entry: Box<TxnEntry>,
    },
    /// Append a proposal to the txn log (via the group-commit writer); report it with
    /// [`Learner::durable`](super::Learner::durable).
    Log {
        /// Its zxid (the header's).
        zxid: Zxid,
        /// The decoded txn.
        entry: Box<TxnEntry>,
        /// The PROPOSAL's data exactly as received, for a byte-identical log.
        raw: Vec<u8>,
    },
    /// Apply the logged txn `zxid` (FollowerZooKeeperServer.commit → CommitProcessor).
    Commit {
        /// The zxid.
        zxid: Zxid,
    },
    /// Observer: log the txn if `syncEnabled`, without waiting, and apply it
    /// (ObserverZooKeeperServer.commitRequest).
    CommitInformed {
        /// Its zxid.
        zxid: Zxid,
        /// The decoded txn.
        entry: Box<TxnEntry>,
        /// The INFORM's (or synced PROPOSAL's) data as received.
        raw: Vec<u8>,
    },
    /// Synced: start serving clients in `epoch` and update the election vote to it
    /// (ZooKeeperServer.startServing, QuorumPeer.updateElectionVote).
    Serving {
        /// The new epoch.
        epoch: i64,
    },
    /// Answer the leader's PING: build it with [`ping_reply`] from the session touch table
    /// (drained, LearnerSessionTracker.snapshot) and send it (Learner.ping).
    ReplyPing {
        /// The PING's zxid, echoed.
        zxid: i64,
        /// The PING's authinfo, echoed.
        authinfo: Option<Vec<Id>>,
    },
    /// The leader answered the oldest forwarded sync: complete it
    /// (FollowerZooKeeperServer.sync).
    SyncDone,
    /// The leader's answer to a REVALIDATE for `session_id` (Learner.revalidate).
    Revalidated {
        /// The session.
        session_id: i64,
        /// Whether the leader still knows it.
        valid: bool,
    },
    /// A config was proposed (a reconfig PROPOSAL, or NEWLEADER's config): remember it as
    /// the last seen (QuorumPeer.setLastSeenQuorumVerifier(qv, true)).
    SeenConfig {
        /// QuorumVerifier.toString bytes.
        config: Vec<u8>,
    },
    /// Activate a config (QuorumPeer.processReconfig): at UPTODATE NEWLEADER's, at
    /// COMMITANDACTIVATE / INFORMANDACTIVATE the reconfig's. If the driver finds a major
    /// change (our role or our leader changes), the role ends here, as Java's
    /// "changes proposed in reconfig" exception ends it, and nothing after this action
    /// is performed.
    Activate {
        /// QuorumVerifier.toString bytes.
        config: Vec<u8>,
        /// The leader the reconfig designated, with the reconfig's zxid; `None` at
        /// UPTODATE.
        designated: Option<(i64, Zxid)>,
    },
    /// Log it and carry on: what Java only warns about.
    Warn(Warning),
    /// The leader is gone: close the link and go LOOKING.
    GoLooking {
        /// Why.
        reason: String,
    },
}

/// What 3.8 logs at WARN (or ERROR) and then ignores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Warning {
    /// A proposal that does not follow the last one (Follower.processPacket "Got zxid 0x..
    /// expected 0x..").
    UnexpectedZxid {
        /// The proposal's zxid.
        got: Zxid,
        /// What would have followed.
        expected: Zxid,
    },
    /// A COMMIT during a SNAP/TRUNC sync that is not for the oldest queued proposal
    /// ("Committing 0x.., but next proposal is 0x..").
    CommitOutOfOrder {
        /// The COMMIT's zxid.
        commit: Zxid,
        /// The oldest queued proposal.
        next: Zxid,
    },
    /// COMMIT with nothing pending ("Committing .. without seeing txn").
    CommitWithoutTxn(Zxid),
    /// A packet this phase ignores (UPTODATE after serving, PROPOSAL/COMMIT at an
    /// observer, unknown types).
    Ignored {
        /// The packet type name.
        packet: &'static str,
        /// The phase.
        phase: &'static str,
    },
}

/// The PING reply Learner.ping writes: same type, zxid and authinfo, the data is the
/// touch table, 12 bytes per session (empty, not null, when no session was touched).
pub(crate) fn ping_reply(
    zxid: i64,
    authinfo: Option<Vec<Id>>,
    touches: &[SessionTouch],
) -> QuorumPacket {
    QuorumPacket {
        r#type: pt::PING,
        zxid,
        data: Some(PingTouches(touches.to_vec()).to_data()),
        authinfo,
    }
}
