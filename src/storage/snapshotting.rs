//! The seam between the node's loop and whoever stores its snapshots: the loop offers its
//! state as a [`SnapshotSource`] and drives a [`Snapshotter`] between request batches.
//! Storage sees only what a snapshot is made of (the tree, the sessions, the zxid), never
//! the server's core, so backends and their tests need no server.

use std::time::Instant;

use crate::tree::DataTree;

/// The state a snapshot is taken of. The node's loop owns it and goes on changing it while
/// a fuzzy snapshot walks it, so a snapshotter borrows it for one call at a time and reads
/// the tree afresh at every step (ZooKeeper's snapshots are fuzzy the same way).
///
/// A trait rather than a struct of borrowed parts: the session list is built (and sorted)
/// only when a snapshot starts, while the tree is read at every step, after every batch.
pub trait SnapshotSource {
    /// The tree as it stands now.
    fn tree(&self) -> &DataTree;
    /// The live sessions (id, timeout ms), sorted by id, as a snapshot records them.
    fn sessions(&self) -> Vec<(i64, i32)>;
    /// The zxid a snapshot started now is taken at: the last txn applied to the tree.
    fn zxid(&self) -> i64 {
        self.tree().last_processed_zxid
    }
}

/// Takes snapshots for the node's loop when enough txns went by.
pub trait Snapshotter: Send {
    /// Begins a snapshot of `source` (ignored while one is under way).
    fn start(&mut self, source: &dyn SnapshotSource);
    /// Writes the next part of a snapshot under way; the loop calls it after every batch,
    /// so a snapshot never holds requests up for long. `durable_zxid` is the last zxid the
    /// log has made durable: a snapshot is stored only once the log covers its zxid, so it
    /// never gets ahead of the log.
    fn step(&mut self, source: &dyn SnapshotSource, durable_zxid: i64);
    /// When a snapshot with nodes left to walk may take its next step (the loop then
    /// steps it at that time even when no requests come).
    fn next_walk(&self) -> Option<Instant> {
        None
    }
}
