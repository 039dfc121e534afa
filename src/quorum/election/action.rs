//! What the election machine returns, and its timeouts.

use super::notification::ToSend;
use super::vote::Vote;
use crate::quorum::{ServerState, Sid};

/// The election's timeouts (FastLeaderElection's statics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// `finalizeWait`: how long a quorum must stand with no better vote arriving.
    pub finalize_wait_ms: u64,
    /// `minNotificationInterval` (`zookeeper.fastleader.minNotificationInterval`): the first
    /// notification timeout.
    pub min_notification_interval_ms: u64,
    /// `maxNotificationInterval` (`zookeeper.fastleader.maxNotificationInterval`): where the
    /// doubling stops.
    pub max_notification_interval_ms: u64,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            finalize_wait_ms: 200,
            min_notification_interval_ms: 200,
            max_notification_interval_ms: 60_000,
        }
    }
}

/// Something the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a notification to `to`; when `to` is this server, feed it back through
    /// [`Election::on_notification`](super::Election::on_notification) (QuorumCnxManager.toSend loops it to the recv queue).
    Send {
        /// The recipient.
        to: Sid,
        /// The notification.
        msg: ToSend,
    },
    /// The notification timeout fired while nothing had been delivered: open the missing
    /// connections (QuorumCnxManager.connectAll) instead of sending again.
    ConnectAll,
    /// The election is over: run `state` (LEADING, FOLLOWING or OBSERVING) under `leader`.
    /// `vote` becomes the current vote (QuorumPeer.setCurrentVote).
    Decided {
        /// The elected leader.
        leader: Sid,
        /// This server's new state.
        state: ServerState,
        /// The final vote, as Java builds it: version 0 and state LOOKING.
        vote: Vote,
    },
}

/// What one input produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// When to call [`Election::tick`](super::Election::tick) next; `None` when not LOOKING.
    pub wake_at_ms: Option<u64>,
}
