//! ZooKeeper's records, named as in `zookeeper.jute`, one file per family.

pub mod acl;
pub mod codes;
pub mod data;
pub mod header;
pub mod multi;
// The election port (src/quorum/transport/) uses the election codecs; the Zab packets
// wait for the Zab driver, and until then only their tests use them.
#[allow(dead_code)]
pub(crate) mod quorum;
pub mod request;
pub mod txn;
pub mod watch;

pub use acl::*;
pub use codes::*;
pub use data::*;
pub use header::*;
pub use multi::*;
pub use request::*;
pub use txn::*;
pub use watch::*;

#[cfg(test)]
mod tests;
