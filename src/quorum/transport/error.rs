//! The election transport's one error type.

use std::net::SocketAddr;

use crate::quorum::zab::ZabError;
use crate::storage::StorageError;

/// Why the election port could not start, or why one connection was given up.
///
/// Connection-level errors are logged and end only that connection; only configuration
/// and bind errors reach the caller of
/// [`run_election`](super::election::run_election).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The configuration has no quorum view this server can run in.
    #[error("quorum configuration: {0}")]
    Config(String),
    /// The election port could not be bound.
    #[error("cannot listen on election address {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// A dial failed (the address did not resolve, the connect was refused or timed out,
    /// the initial message could not be written).
    #[error("cannot open channel to sid {sid} at {addr}: {reason}")]
    Connect {
        /// The peer.
        sid: u64,
        /// Where we dialed.
        addr: String,
        /// Why.
        reason: String,
    },
    /// An accepted connection sent no valid initial message in time.
    #[error("initial message from {peer}: {reason}")]
    Handshake {
        /// The remote socket address.
        peer: SocketAddr,
        /// Why it was refused.
        reason: String,
    },
    /// A connection announced a sid this server may not talk to.
    #[error("refusing election connection from {peer}: {reason}")]
    Refused {
        /// The remote socket address.
        peer: SocketAddr,
        /// Why (not in the view, our own sid).
        reason: String,
    },
    /// A peer broke the framing (bad or oversized length).
    #[error("bad frame from sid {sid}: {reason}")]
    Frame {
        /// The peer.
        sid: u64,
        /// Why.
        reason: String,
    },
    /// Reading or writing a connection failed.
    #[error("io with sid {sid}: {source}")]
    Io {
        /// The peer.
        sid: u64,
        /// The error.
        source: std::io::Error,
    },
    /// The election driver has stopped.
    #[error("the election driver has stopped")]
    Stopped,
    /// The quorum connection to the leader failed (connect, read, write, framing).
    #[error("leader at {addr}: {reason}")]
    Leader {
        /// The leader's quorum address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The Zab learner gave up on the leader.
    #[error("zab: {0}")]
    Zab(#[source] ZabError),
    /// The snapshot after SNAP did not parse.
    #[error("the leader's snapshot: {0}")]
    Snapshot(String),
    /// The follower's log or epochs could not be written or read.
    #[error("follower storage: {0}")]
    Storage(#[from] StorageError),
    /// A bound of the follower was exceeded.
    #[error("limit exceeded: {0}")]
    Limit(String),
}
