//! Zab's learner side (Apache ZooKeeper 3.8 `Learner`, `Follower`, `Observer`,
//! `FollowerZooKeeperServer`, `SendAckRequestProcessor`) as a pure state machine: packets
//! from the leader, durability notices and ticks in, [`Action`]s out. No IO, no clock (time
//! arrives as `now_ms`), no randomness.
//!
//! How a driver runs one [`Learner`] per connection to the leader:
//! - Build a [`Learner`] with [`Persisted::durable_zxid`] set to what the log writer has
//!   reported durable: a tail the previous role logged but never synced is then waited
//!   for before the NEWLEADER ACK (found by the ensemble simulator, `quorum::sim`, seed
//!   1034 with 5 servers). Java flushes that tail when the previous role ends
//!   (SyncRequestProcessor.shutdown); a driver should do the same.
//! - After the TCP connect, [`Learner::start`] returns FOLLOWERINFO (OBSERVERINFO).
//! - Every decoded [`QuorumPacket`](crate::proto::quorum::packet::QuorumPacket) goes to
//!   [`Learner::on_packet`].
//! - After [`Action::LoadSnapshot`] the driver stops decoding packets, reads the snapshot
//!   off the stream (up to its "BenWasHere" signature), loads it, then calls
//!   [`Learner::snapshot_loaded`] before decoding packets again.
//! - Whenever the log writer reports entries durable, [`Learner::durable`] with the highest
//!   durable zxid.
//! - [`Learner::tick`] at [`Learner::wake_at_ms`] (or every tick); it says when the
//!   leader went quiet (`GoLooking`).
//! - Actions are performed in order. Persist/Truncate/TakeSnapshot/Apply are synchronous
//!   (done before the next action), `Log` is handed to the group-commit writer. The
//!   `Send`s of one call may go out with one flush, as SendAckRequestProcessor.flush does.
//! - An `Err` means: close the link and go LOOKING; if [`ZabError::is_fatal`], Java
//!   would exit the process instead (`ServiceUtils.requestSystemExit`).
//!
//! Which Java release: the NEWLEADER rules are 3.8.5's (ZOOKEEPER-4785 on top of
//! ZOOKEEPER-3911): the txns synced before NEWLEADER are durable and currentEpoch is
//! written before the NEWLEADER ACK, and their ACKs follow the UPTODATE ACK. Every 3.8
//! leader takes the first packet after NEWLEADER to be its ACK (LearnerHandler.run checks
//! only the type), so this order suits 3.8.0's leaders too.
//!
//! Not modelled: the pre-Zab-1.0 handshake (NEWLEADER as first packet: refused), reconfig
//! (COMMITANDACTIVATE / INFORMANDACTIVATE are refused; NEWLEADER's config is not read),
//! the ObserverMaster, and `shouldForceWriteInitialSnapshotAfterLeaderElection`.

mod action;
mod broadcast;
mod discovery;
mod error;
mod learner;
mod sync;

#[cfg(test)]
mod tests;

#[allow(unused_imports)]
pub(crate) use action::{ping_reply, Action, Warning};
pub use error::ZabError;
pub(crate) use learner::{Learner, LearnerConfig, Persisted};
