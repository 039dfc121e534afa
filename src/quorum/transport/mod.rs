//! The quorum's network side. [`election`] is the election port: QuorumCnxManager as
//! ZooKeeper 3.8 speaks it, and the task that runs FastLeaderElection over it.
//!
//! Layout:
//! - `view.rs`: who is in the ensemble, where to listen and dial, what config we announce;
//! - `cnx.rs`: QuorumCnxManager (listener, the one-connection-per-pair rule, dialing with
//!   backoff, `haveDelivered`);
//! - `link.rs`: one established connection (the initial message, a writer task and a
//!   receive loop);
//! - `slot.rs`: the per-peer send queue of capacity 1 that keeps only the newest message;
//! - `election.rs`: the driver task that owns the pure [`crate::quorum::election::Election`];
//! - `links/`: the quorum-port links (the leader's listener, the learner's dial) as tasks
//!   over bounded channels; `snap.rs`: where the snapshot streamed after SNAP ends;
//!   `proposals.rs`: a DIFF's PROPOSAL and COMMIT packets from the log. The Zab roles
//!   that run over them are in [`crate::peer`];
//! - `tls/`: TLS on both ports (`sslQuorum`, `portUnification`, `ssl.quorum.*`): what a
//!   dialer and an acceptor do with a TCP stream before either protocol starts;
//! - `sasl/`: quorum SASL (`quorum.auth.*`, DIGEST-MD5): the QuorumAuthPacket exchange
//!   after the election initial message and first thing on a learner's Zab connection.
//!
//! Every limit lives in [`limits`].

mod cnx;
pub mod election;
mod error;
mod frames;
mod link;
pub(crate) mod links;
pub(crate) mod proposals;
pub(crate) mod sasl;
mod slot;
mod snap;
pub(crate) mod tls;
pub(crate) mod view;

#[cfg(test)]
mod tests;

pub use error::TransportError;

/// The bounds of the election transport; ZooKeeper's names where it has one.
pub mod limits {
    use std::time::Duration;

    /// QuorumCnxManager.PACKETMAXSIZE: the largest notification frame accepted.
    pub const PACKET_MAX_SIZE: usize = crate::proto::quorum::election::MAX_FRAME_LEN;
    /// InitialMessage's `maxBuffer`: the longest election address a dialer may announce.
    pub const MAX_ADDRESS_LEN: usize = crate::proto::quorum::handshake::MAX_ADDRESS_LEN;
    /// QuorumCnxManager.SEND_CAPACITY: each peer's send queue holds one message, and a new
    /// one replaces it, so that a peer never gets a stale notification.
    pub const SEND_CAPACITY: usize = 1;
    /// QuorumCnxManager.RECV_CAPACITY: frames received but not yet taken by the election.
    /// Java drops the oldest when full; here the receive loops wait instead.
    pub const RECV_CAPACITY: usize = 100;
    /// Accepted connections whose initial message is still being read; beyond this a new
    /// connection is closed at once, so a flood of idle sockets cannot pile up.
    pub const MAX_PENDING_HANDSHAKES: usize = 16;
    /// Established connections per peer sid: a new one replaces the old
    /// (QuorumCnxManager keeps one SendWorker per sid).
    pub const CONNECTIONS_PER_SID: usize = 1;
    /// How long a learner's dial to its leader may take (the election port's comes from
    /// `zookeeper.cnxTimeout`, [`crate::config::Config::cnx_timeout_ms`]).
    pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(5000);
    /// How long an accepted connection may take to send its initial message when the
    /// config gives no `tickTime * syncLimit` (Java's socketTimeout).
    pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_millis(5000);
    /// How long one frame may take to write before the connection is given up (Java
    /// blocks forever; a stuck peer must not hold our writer).
    pub const WRITE_TIMEOUT: Duration = Duration::from_millis(10_000);
    /// The first pause between dials to an unreachable peer.
    pub const MIN_BACKOFF: Duration = Duration::from_millis(100);
    /// Where the doubling of that pause stops.
    pub const MAX_BACKOFF: Duration = Duration::from_millis(5000);
    /// Servers outside the configured membership that may hold an election connection at
    /// once (a server joining by reconfig, one a reconfig removed): Java lets any sid in
    /// and answers it as a non-voter.
    pub const MAX_STRANGERS: usize = 16;
    /// Commands queued to the election driver (restart, epoch updates).
    pub const COMMAND_CAPACITY: usize = 16;
}
