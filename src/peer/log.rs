//! The txn log as the quorum peer shares it: the core's group-commit writer thread appends
//! through it while the peer truncates it (TRUNC), stores snapshots in it (SNAP), reads
//! DIFFs and the committed log from it, and rebuilds a tree from it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::storage::recovery::{replay, Recovered};
use crate::storage::zk::read_snapshot;
use crate::storage::{StorageError, TxnLog};
use crate::tree::DataTree;

/// A txn log shared by the peer and its group-commit writer thread, which appends through
/// the same lock.
#[derive(Clone)]
pub(crate) struct SharedLog(Arc<Mutex<Box<dyn TxnLog>>>);

impl std::fmt::Debug for SharedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedLog")
    }
}

impl SharedLog {
    /// Shares `log`.
    pub(crate) fn new(log: Box<dyn TxnLog>) -> SharedLog {
        SharedLog(Arc::new(Mutex::new(log)))
    }

    /// The log, locked. A panic while it was held does not make it unusable: every
    /// TxnLog call leaves the log consistent or reports an error.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Box<dyn TxnLog>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl TxnLog for SharedLog {
    fn append(&mut self, zxid: i64, entry: &[u8]) -> Result<(), StorageError> {
        self.lock().append(zxid, entry)
    }
    fn sync(&mut self) -> Result<(), StorageError> {
        self.lock().sync()
    }
    fn put_snapshot(&mut self, zxid: i64, bytes: &[u8]) -> Result<(), StorageError> {
        self.lock().put_snapshot(zxid, bytes)
    }
    fn snapshot_zxids(&self) -> Result<Vec<i64>, StorageError> {
        self.lock().snapshot_zxids()
    }
    fn get_snapshot(&self, zxid: i64) -> Result<Vec<u8>, StorageError> {
        self.lock().get_snapshot(zxid)
    }
    fn snapshot_len(&self, zxid: i64) -> Result<u64, StorageError> {
        self.lock().snapshot_len(zxid)
    }
    fn purge(&mut self, retain: usize) -> Result<(), StorageError> {
        self.lock().purge(retain)
    }
    fn read_range(
        &self,
        after: i64,
        max_entries: usize,
    ) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
        self.lock().read_range(after, max_entries)
    }
    fn first_zxid(&self) -> Result<Option<i64>, StorageError> {
        self.lock().first_zxid()
    }
    fn last_zxid(&self) -> i64 {
        self.lock().last_zxid()
    }
    fn truncate_after(&mut self, zxid: i64) -> Result<(), StorageError> {
        self.lock().truncate_after(zxid)
    }
}

/// Rebuilds the tree from the newest stored snapshot and the log after it.
pub(crate) fn recover(log: &dyn TxnLog, extended_types: bool) -> Result<Recovered, StorageError> {
    let (tree, sessions, snap_zxid) = match log.snapshot_zxids()?.first() {
        Some(&z) => {
            let bytes = log.get_snapshot(z)?;
            let (tree, sessions) = read_snapshot(&bytes, extended_types)
                .map_err(|e| StorageError::Corrupt(format!("snapshot 0x{z:x}: {e}")))?;
            (tree, sessions.into_iter().collect(), z)
        }
        None => (DataTree::new(extended_types), BTreeMap::new(), 0),
    };
    let mut r = replay(tree, sessions, snap_zxid, log.read_from(snap_zxid)?)?;
    r.tree.last_processed_zxid = r.last_zxid;
    Ok(r)
}
