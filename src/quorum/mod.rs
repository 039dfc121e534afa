//! The quorum: identities (zxid, sid), server states, and the quorum verifier shared by
//! leader election and Zab. `election`, `leader` and `zab` are pure machines (no IO, no
//! clock, no global state); `transport` is the IO that drives them.

pub mod election;
pub mod leader;
// The whole-ensemble simulator: test-only.
#[cfg(test)]
mod sim;
pub mod transport;
mod verifier;
pub(crate) mod zab;

pub use verifier::{Majority, QuorumVerifier};

/// A ZooKeeper transaction id: the epoch in the high 32 bits, a counter in the low 32.
///
/// Kept as the signed 64-bit value Java holds (`long`), so `-1` (nothing logged) and
/// `Long.MIN_VALUE` (an observer's initial vote) mean what they mean on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Zxid(pub i64);

impl Zxid {
    /// `ZxidUtils.makeZxid`: the counter is masked to 32 bits, the epoch shifted over it.
    pub fn new(epoch: i64, counter: i64) -> Zxid {
        Zxid((epoch << 32) | (counter & 0xffff_ffff))
    }

    /// `ZxidUtils.getEpochFromZxid`: an arithmetic shift, as in Java, so `Zxid(-1).epoch()`
    /// is `-1`.
    pub fn epoch(self) -> i64 {
        self.0 >> 32
    }

    /// `ZxidUtils.getCounterFromZxid`: the low 32 bits.
    pub fn counter(self) -> i64 {
        self.0 & 0xffff_ffff
    }
}

/// A server id (`myid`, the `N` of `server.N`).
///
/// Java holds it in a signed `long` and compares it as one; [`Sid::as_i64`] gives that view,
/// and the wire carries the same 64 bits either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sid(pub u64);

impl Sid {
    /// What a server outside the voting view proposes as leader: Java's `Long.MIN_VALUE`
    /// (FastLeaderElection.getInitId).
    pub const NOT_A_VOTER: Sid = Sid(i64::MIN as u64);

    /// The id as Java's signed `long`, for comparisons that must order as Java does.
    pub fn as_i64(self) -> i64 {
        self.0 as i64
    }
}

/// `QuorumPeer.ServerState`. The discriminants are the enum's ordinals, which is what a
/// notification carries on the wire (FastLeaderElection.buildMsg writes `state.ordinal()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerState {
    /// Electing a leader.
    Looking = 0,
    /// A participant that follows the elected leader.
    Following = 1,
    /// The elected leader.
    Leading = 2,
    /// An observer that follows the leader without voting.
    Observing = 3,
}

impl ServerState {
    /// The wire ordinal.
    pub fn ordinal(self) -> i32 {
        self as i32
    }

    /// The state for a wire ordinal; `None` for anything else (WorkerReceiver skips such a
    /// message).
    pub fn from_ordinal(ordinal: i32) -> Option<ServerState> {
        match ordinal {
            0 => Some(ServerState::Looking),
            1 => Some(ServerState::Following),
            2 => Some(ServerState::Leading),
            3 => Some(ServerState::Observing),
            _ => None,
        }
    }
}

/// `QuorumPeer.LearnerType`: whether this server votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LearnerType {
    /// A voting member (`server.N=host:p1:p2` or `...:participant`).
    Participant,
    /// A non-voting member (`...:observer`).
    Observer,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_splits_like_zxid_utils() {
        let z = Zxid::new(5, 7);
        assert_eq!(z.0, 0x0000_0005_0000_0007);
        assert_eq!((z.epoch(), z.counter()), (5, 7));
        // The counter is masked, never spilling into the epoch.
        assert_eq!(Zxid::new(1, -1), Zxid(0x0000_0001_ffff_ffff));
        // -1 (nothing logged) keeps Java's arithmetic-shift epoch.
        assert_eq!((Zxid(-1).epoch(), Zxid(-1).counter()), (-1, 0xffff_ffff));
    }

    #[test]
    fn server_state_ordinals_match_quorum_peer() {
        for (state, ordinal) in [
            (ServerState::Looking, 0),
            (ServerState::Following, 1),
            (ServerState::Leading, 2),
            (ServerState::Observing, 3),
        ] {
            assert_eq!(state.ordinal(), ordinal);
            assert_eq!(ServerState::from_ordinal(ordinal), Some(state));
        }
        assert_eq!(ServerState::from_ordinal(4), None);
    }

    #[test]
    fn not_a_voter_is_long_min_value() {
        assert_eq!(Sid::NOT_A_VOTER.as_i64(), i64::MIN);
        assert!(Sid::NOT_A_VOTER.as_i64() < Sid(1).as_i64());
    }
}
