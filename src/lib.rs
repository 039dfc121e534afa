//! Ferrokeeper: a wire-compatible replacement for Apache ZooKeeper.
#![deny(missing_docs)]

pub mod bench;
pub mod config;
pub mod jute;
pub(crate) mod peer;
pub mod pipeline;
pub mod proto;
pub mod quorum;
pub(crate) mod rng;
pub mod server;
pub mod session;
pub mod storage;
pub mod stream;
pub mod tree;
pub mod watch;
