//! Ferrokeeper: a wire-compatible replacement for Apache ZooKeeper.
#![deny(missing_docs)]

pub mod config;
pub mod jute;
pub mod proto;
pub mod tree;
