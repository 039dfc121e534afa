//! Why the learner gives up on its leader.

use crate::proto::quorum::QuorumWireError;
use crate::quorum::Zxid;

/// A learner failure. Every variant ends the connection to the leader; the fatal ones are
/// where 3.8 calls `ServiceUtils.requestSystemExit`.
#[derive(Debug, thiserror::Error)]
pub enum ZabError {
    /// LEADERINFO proposed an epoch below our acceptedEpoch (Learner.registerWithLeader).
    #[error("leader's epoch {leader} is less than our accepted epoch {accepted}")]
    EpochBehind {
        /// The epoch in LEADERINFO.
        leader: i64,
        /// Our acceptedEpoch.
        accepted: i64,
    },
    /// The leader speaks Zab before 1.0 (NEWLEADER instead of LEADERINFO). 3.4+ leaders
    /// never do; we refuse rather than carry the old path.
    #[error("pre-Zab-1.0 leader (NEWLEADER before LEADERINFO) is not supported")]
    PreZab10Leader,
    /// A packet that this phase does not allow.
    #[error("unexpected {packet} while {phase}")]
    Unexpected {
        /// The packet type name.
        packet: &'static str,
        /// The phase.
        phase: &'static str,
    },
    /// The first sync packet was not DIFF, TRUNC or SNAP: Java exits (QUORUM_PACKET_ERROR).
    #[error("first sync packet is {0}, not DIFF/TRUNC/SNAP")]
    BadSyncStart(&'static str),
    /// COMMIT during sync with no proposal queued (Java dereferences a null head).
    #[error("COMMIT {0:?} during sync with no proposal queued")]
    CommitBeforeProposal(Zxid),
    /// COMMIT for another zxid than the oldest pending proposal
    /// (FollowerZooKeeperServer.commit: exits with UNMATCHED_TXN_COMMIT).
    #[error("committing {commit:?} but the next pending txn is {pending:?}")]
    UnmatchedCommit {
        /// The COMMIT's zxid.
        commit: Zxid,
        /// The head of the pending queue.
        pending: Zxid,
    },
    /// A payload that does not decode (a short LEADERINFO, a bad txn, ...).
    #[error("malformed {packet}: {source}")]
    Malformed {
        /// The packet type name.
        packet: &'static str,
        /// The decoder's complaint.
        #[source]
        source: QuorumWireError,
    },
    /// A reconfig packet; dynamic reconfig is not supported (it is off by default).
    #[error("{0} (reconfig) is not supported")]
    Unsupported(&'static str),
    /// An input after the machine stopped (an earlier error or timeout).
    #[error("the learner has stopped")]
    Stopped,
}

impl ZabError {
    /// Whether 3.8 would exit the whole process here instead of going LOOKING.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            ZabError::BadSyncStart(_) | ZabError::UnmatchedCommit { .. }
        )
    }
}
