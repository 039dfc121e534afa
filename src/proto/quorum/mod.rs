//! The quorum wire formats, byte-compatible with Apache ZooKeeper 3.8 servers:
//!
//! - the quorum port (Zab): back-to-back jute `QuorumPacket` records with **no** length
//!   prefix ([`packet`]), and what their `data` buffer carries per packet type ([`payload`]);
//! - the election port (FastLeaderElection): the dialer's initial message
//!   ([`handshake`]), then int-length-prefixed notifications ([`election`]).
//!
//! Only codecs live here: no sockets, no state machines. Every decoder returns an error
//! value for malformed or oversized input and never panics; stream decoders answer
//! `None` until a whole message is buffered, and check lengths before allocating.
//! Golden bytes captured from a real 3.8 ensemble pin the formats
//! (`tests/golden/quorum/`, see its README).

pub(crate) mod election;
pub(crate) mod handshake;
pub(crate) mod packet;
pub(crate) mod payload;

#[cfg(test)]
mod tests;

use crate::jute::JuteError;

/// Why quorum bytes could not be decoded (or a message could not be encoded).
#[derive(Debug, thiserror::Error)]
pub enum QuorumWireError {
    /// A length field was negative where only -1 (null) or a size is allowed.
    #[error("invalid {what} length {len}")]
    BadLength {
        /// The field.
        what: &'static str,
        /// The value read.
        len: i64,
    },
    /// A length or a whole message exceeds the configured limit; rejected before allocating.
    #[error("{what} of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// The field or message.
        what: &'static str,
        /// The length read or about to be written.
        len: i64,
        /// The limit.
        max: usize,
    },
    /// A jute record inside a packet did not decode.
    #[error("malformed record: {0}")]
    Jute(#[from] JuteError),
    /// A packet's data does not have the layout its type requires.
    #[error("malformed {kind} payload: {reason}")]
    BadPayload {
        /// The payload kind (LEARNERINFO, ACKEPOCH, ...).
        kind: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The election handshake started with a negative version that is neither V1 nor V2.
    #[error("unrecognized election protocol version {0}")]
    UnknownProtocolVersion(i64),
    /// An address in the election handshake is not `host:port`.
    #[error("badly formed election address {0:?}")]
    BadAddress(String),
    /// The transport failed (tokio-util codecs need this variant).
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Quorum packet types, as Leader.java numbers them (checked against the 3.8.0 jar).
pub(crate) mod packet_type {
    /// Learner → leader: a client write (or sync) forwarded for proposal.
    pub(crate) const REQUEST: i32 = 1;
    /// Leader → follower: a txn to log and ack.
    pub(crate) const PROPOSAL: i32 = 2;
    /// Follower → leader: the txn with this zxid is logged.
    pub(crate) const ACK: i32 = 3;
    /// Leader → follower: apply everything up to this zxid.
    pub(crate) const COMMIT: i32 = 4;
    /// Both ways: liveness; the learner's reply carries its session touch table.
    pub(crate) const PING: i32 = 5;
    /// Both ways: a session reattaching on a learner is checked with the leader.
    pub(crate) const REVALIDATE: i32 = 6;
    /// Leader → learner: answers a forwarded sync.
    pub(crate) const SYNC: i32 = 7;
    /// Leader → observer: a committed txn (observers see no PROPOSAL/COMMIT).
    pub(crate) const INFORM: i32 = 8;
    /// Leader → follower: COMMIT of a reconfig, with the designated leader.
    pub(crate) const COMMITANDACTIVATE: i32 = 9;
    /// Leader → learner: end of sync; data = the leader's config.
    pub(crate) const NEWLEADER: i32 = 10;
    /// Follower → leader: first packet, with a LearnerInfo.
    pub(crate) const FOLLOWERINFO: i32 = 11;
    /// Leader → learner: start serving.
    pub(crate) const UPTODATE: i32 = 12;
    /// Leader → learner: sync by replaying the proposals that follow.
    pub(crate) const DIFF: i32 = 13;
    /// Leader → learner: truncate the log to this zxid.
    pub(crate) const TRUNC: i32 = 14;
    /// Leader → learner: a raw snapshot follows on the stream.
    pub(crate) const SNAP: i32 = 15;
    /// Observer → leader: first packet, with a LearnerInfo.
    pub(crate) const OBSERVERINFO: i32 = 16;
    /// Leader → learner: the proposed epoch and protocol version.
    pub(crate) const LEADERINFO: i32 = 17;
    /// Learner → leader: its current epoch and last logged zxid.
    pub(crate) const ACKEPOCH: i32 = 18;
    /// Leader → observer: INFORM of a reconfig, with the designated leader.
    pub(crate) const INFORMANDACTIVATE: i32 = 19;

    /// The name Leader.getPacketType would print, for logs and errors.
    pub(crate) fn name(t: i32) -> &'static str {
        const NAMES: [&str; 20] = [
            "UNKNOWN",
            "REQUEST",
            "PROPOSAL",
            "ACK",
            "COMMIT",
            "PING",
            "REVALIDATE",
            "SYNC",
            "INFORM",
            "COMMITANDACTIVATE",
            "NEWLEADER",
            "FOLLOWERINFO",
            "UPTODATE",
            "DIFF",
            "TRUNC",
            "SNAP",
            "OBSERVERINFO",
            "LEADERINFO",
            "ACKEPOCH",
            "INFORMANDACTIVATE",
        ];
        usize::try_from(t)
            .ok()
            .and_then(|i| NAMES.get(i))
            .copied()
            .unwrap_or("UNKNOWN")
    }
}

/// The big-endian long at `at`, or None when the buffer ends before it.
pub(crate) fn be_i64(buf: &[u8], at: usize) -> Option<i64> {
    let b: [u8; 8] = buf.get(at..at.checked_add(8)?)?.try_into().ok()?;
    Some(i64::from_be_bytes(b))
}

/// The big-endian int at `at`, or None when the buffer ends before it.
pub(crate) fn be_i32(buf: &[u8], at: usize) -> Option<i32> {
    let b: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}
