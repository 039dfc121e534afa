//! Election messages as domain values. The byte codec (FastLeaderElection.buildMsg and
//! WorkerReceiver's parsing) lives apart; these are plain structs.

use super::vote::Proposal;
use crate::quorum::{ServerState, Sid, Zxid};

/// The notification format version this server sends (`Notification.CURRENTVERSION`): the
/// one that carries the configuration.
pub const CURRENT_VERSION: i32 = 0x2;

/// A notification received from a peer (`FastLeaderElection.Notification`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The format version: 0 for the 28- and 40-byte formats, 1 before reconfig, 2 now.
    pub version: i32,
    /// The leader the sender proposes (or follows, when it is not LOOKING).
    pub leader: Sid,
    /// That leader's zxid.
    pub zxid: Zxid,
    /// The sender's election round (its `logicalclock`, or its vote's when not LOOKING).
    pub election_epoch: i64,
    /// The sender's state.
    pub state: ServerState,
    /// The sender. WorkerReceiver takes it from the connection, not from the bytes.
    pub sid: Sid,
    /// The proposed leader's epoch.
    pub peer_epoch: i64,
    /// The sender's configuration (`QuorumVerifier.toString()` bytes), version 2 only.
    pub config: Option<Vec<u8>>,
}

impl Notification {
    /// The proposal the notification carries.
    pub fn proposal(&self) -> Proposal {
        Proposal {
            leader: self.leader,
            zxid: self.zxid,
            peer_epoch: self.peer_epoch,
        }
    }
}

/// A notification to send (`FastLeaderElection.ToSend`); the recipient goes beside it, in
/// the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToSend {
    /// The proposed (or followed) leader.
    pub leader: Sid,
    /// That leader's zxid.
    pub zxid: Zxid,
    /// The election round.
    pub election_epoch: i64,
    /// This server's state.
    pub state: ServerState,
    /// The proposed leader's epoch.
    pub peer_epoch: i64,
    /// This server's configuration bytes; always sent, with version [`CURRENT_VERSION`].
    pub config: Vec<u8>,
}

impl ToSend {
    /// The notification `from` delivers: what the receiving side decodes, and what a
    /// driver feeds back when the recipient is itself (QuorumCnxManager.toSend puts a
    /// message to its own sid straight on the receive queue).
    pub fn into_notification(self, from: Sid) -> Notification {
        Notification {
            version: CURRENT_VERSION,
            leader: self.leader,
            zxid: self.zxid,
            election_epoch: self.election_epoch,
            state: self.state,
            sid: from,
            peer_epoch: self.peer_epoch,
            config: Some(self.config),
        }
    }
}
