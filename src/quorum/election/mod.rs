//! FastLeaderElection (Apache ZooKeeper 3.8) as a pure state machine: notifications and
//! ticks in, sends and a decision out. A driver does the IO (QuorumCnxManager's part).

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
