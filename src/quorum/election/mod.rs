//! FastLeaderElection (Apache ZooKeeper 3.8) as a pure state machine: notifications and
//! ticks in, sends and a decision out. A driver does the IO (QuorumCnxManager's part).
//!
//! How a driver runs it:
//! - Build one [`Election`] per peer with [`Election::new`] and keep it for the peer's
//!   life (`logicalclock` carries over between elections).
//! - Whenever the peer turns LOOKING (boot, or a role that ended), call [`Election::start`]
//!   with the last logged zxid and the current epoch.
//! - Decode every election-port frame into a [`Notification`] and pass it to
//!   [`Election::on_notification`] with the connection's sid, in any state: a server that
//!   is not LOOKING still answers LOOKING peers.
//! - Call [`Election::tick`] at or after [`Output::wake_at_ms`], saying whether the
//!   transport has delivered (QuorumCnxManager.haveDelivered: some peer's send queue is
//!   empty).
//! - Perform the [`Action`]s in order. `Send` to our own sid must come back through
//!   `on_notification` (QuorumCnxManager loops it). `ConnectAll` dials the missing peers.
//!   `Decided` starts the role; once Zab settles the new epoch, call
//!   [`Election::update_election_vote`].
//!
//! Not modelled: reconfig (a newer config carried by a notification makes Java restart the
//! election; [`Notification::config`] is left to the driver), QuorumOracleMaj, and the
//! leader's `reportLookingSid`.

mod action;
mod fle;
mod notification;
mod vote;

#[cfg(test)]
mod fle_tests;
#[cfg(test)]
mod sim_tests;

pub use action::{Action, Output, Timing};
pub use fle::Election;
pub use notification::{Notification, ToSend, CURRENT_VERSION};
pub use vote::{total_order_predicate, OrderPredicate, Proposal, Vote};
