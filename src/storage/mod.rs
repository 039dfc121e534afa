//! Storage traits: the transaction log (and, with the RocksDB backend, snapshots).
//! Entries are the exact bytes ZooKeeper logs for a txn: TxnHeader ‖ record ‖ TxnDigest?.

pub mod epoch;
#[cfg(feature = "rocksdb")]
pub(crate) mod open;
pub mod recovery;
#[cfg(feature = "rocksdb")]
pub mod rocks;
#[cfg(feature = "rocksdb")]
pub mod snapshotter;
pub mod snapshotting;
#[cfg(test)]
pub(crate) mod suite;
pub mod writer;
pub mod zk;

/// A storage failure. Fatal for the server: an unlogged write must never be acknowledged,
/// and damaged data must never load as a silently partial tree.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend failed to write or sync.
    #[error("storage I/O failed: {0}")]
    Io(String),
    /// Stored data fails its checks (checksum, length, decoding).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The log does not continue where the snapshot or the previous entry ends.
    #[error("gap in the transaction log: {0}")]
    Gap(String),
    /// A TRUNC asked for a state the store can no longer rebuild (ZooKeeper's learner
    /// exits when `truncateLog` fails); nothing was changed.
    #[error("cannot truncate the transaction log: {0}")]
    Truncate(String),
    /// The epoch files disagree with each other or with the log (QuorumPeer.loadDataBase
    /// refuses to start on the same conditions).
    #[error("inconsistent epochs: {0}")]
    Epoch(String),
}

/// Entries [`TxnLog::read_from`] fetches per [`TxnLog::read_range`] call.
const READ_CHUNK: usize = 4096;

/// An append-only log of txn entries keyed by zxid, which Zab may cut back (TRUNC).
pub trait TxnLog: Send {
    /// Queues an entry; it is durable only after [`TxnLog::sync`].
    fn append(&mut self, zxid: i64, entry: &[u8]) -> Result<(), StorageError>;
    /// Makes every appended entry durable (one group commit).
    fn sync(&mut self) -> Result<(), StorageError>;
    /// Stores a snapshot (ZooKeeper's serialization) taken at `zxid`, durably.
    fn put_snapshot(&mut self, zxid: i64, bytes: &[u8]) -> Result<(), StorageError>;
    /// The stored snapshots' zxids, newest first.
    fn snapshot_zxids(&self) -> Result<Vec<i64>, StorageError>;
    /// One snapshot's bytes, verified.
    fn get_snapshot(&self, zxid: i64) -> Result<Vec<u8>, StorageError>;
    /// One snapshot's length in bytes (the size of ZooKeeper's snapshot file), which a
    /// leader weighs its txn log against; backends answer without reading the snapshot.
    fn snapshot_len(&self, zxid: i64) -> Result<u64, StorageError> {
        Ok(self.get_snapshot(zxid)?.len() as u64)
    }
    /// Removes all but the newest `retain` snapshots and the log up to the oldest kept.
    fn purge(&mut self, retain: usize) -> Result<(), StorageError>;
    /// At most `max_entries` entries with zxid > `after`, in zxid order: one chunk of the
    /// committed log a leader streams to a learner in a DIFF. Synced entries are always
    /// seen; entries not yet synced may or may not be.
    fn read_range(
        &self,
        after: i64,
        max_entries: usize,
    ) -> Result<Vec<(i64, Vec<u8>)>, StorageError>;
    /// Every entry with zxid > `after`, in zxid order (recovery).
    fn read_from(&self, after: i64) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
        let mut out = self.read_range(after, READ_CHUNK)?;
        let mut last_len = out.len();
        while last_len == READ_CHUNK {
            let from = out.last().map_or(after, |(z, _)| *z);
            let more = self.read_range(from, READ_CHUNK)?;
            last_len = more.len();
            out.extend(more);
        }
        Ok(out)
    }
    /// The oldest zxid still in the log (`None`: the log is empty). A leader can DIFF a
    /// learner from the log only if the learner's last zxid is at or after this (ZooKeeper's
    /// `getProposalsFromTxnLog` gives up when the log starts after it); otherwise purging
    /// has dropped what the learner lacks and it gets a SNAP.
    fn first_zxid(&self) -> Result<Option<i64>, StorageError>;
    /// The highest zxid appended.
    fn last_zxid(&self) -> i64;
    /// Zab's TRUNC (ZooKeeper's `FileTxnSnapLog.truncateLog`): removes, durably, every
    /// entry with zxid > `zxid` (txns the new leader never committed) and every snapshot
    /// taken after `zxid`. Afterwards [`TxnLog::last_zxid`] is at most `zxid` and appends
    /// continue from there. With nothing stored after `zxid`, nothing changes. Refused with
    /// [`StorageError::Truncate`], changing nothing, when no snapshot at or before `zxid`
    /// would remain and the log does not start with the first txn ever: the state as of
    /// `zxid` could then no longer be rebuilt.
    fn truncate_after(&mut self, zxid: i64) -> Result<(), StorageError>;
}

/// Whether the state as of `zxid` can still be rebuilt once everything after it is gone:
/// from a snapshot at or before it (purge keeps the whole log after every kept snapshot),
/// or from a log that begins with the very first txn. `snapshots` are the store's snapshot
/// zxids and `first` its oldest log entry.
pub(crate) fn check_truncation(
    zxid: i64,
    snapshots: &[i64],
    first: Option<i64>,
) -> Result<(), StorageError> {
    if snapshots.iter().any(|s| *s <= zxid) {
        return Ok(());
    }
    match first {
        Some(f) if recovery::follows(0, f) => Ok(()),
        // Nothing stored at all: the empty state is the state at any zxid.
        None if snapshots.is_empty() => Ok(()),
        _ => Err(StorageError::Truncate(format!(
            "the log starts at {} and no snapshot is at or before 0x{zxid:x}",
            first.map_or("no entry".to_string(), |f| format!("0x{f:x}"))
        ))),
    }
}

/// The in-memory log: for tests and for running without a data directory.
#[derive(Debug, Default)]
pub struct MemLog {
    entries: Vec<(i64, Vec<u8>)>,
    synced: usize,
    snapshots: std::collections::BTreeMap<i64, Vec<u8>>,
}

impl MemLog {
    /// Entries made durable so far.
    pub fn synced_len(&self) -> usize {
        self.synced
    }
}

impl TxnLog for MemLog {
    fn append(&mut self, zxid: i64, entry: &[u8]) -> Result<(), StorageError> {
        if let Some((last, _)) = self.entries.last() {
            if zxid <= *last {
                return Err(StorageError::Io(format!(
                    "zxid 0x{zxid:x} is not after 0x{last:x}"
                )));
            }
        }
        self.entries.push((zxid, entry.to_vec()));
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        self.synced = self.entries.len();
        Ok(())
    }

    fn read_range(
        &self,
        after: i64,
        max_entries: usize,
    ) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
        let start = self.entries.partition_point(|(z, _)| *z <= after);
        Ok(self.entries[start..]
            .iter()
            .take(max_entries)
            .cloned()
            .collect())
    }

    fn first_zxid(&self) -> Result<Option<i64>, StorageError> {
        Ok(self.entries.first().map(|(z, _)| *z))
    }

    fn last_zxid(&self) -> i64 {
        self.entries.last().map_or(0, |(z, _)| *z)
    }

    fn truncate_after(&mut self, zxid: i64) -> Result<(), StorageError> {
        use std::ops::Bound::{Excluded, Unbounded};
        let newer_snapshot = self.snapshots.range((Excluded(zxid), Unbounded)).next();
        if zxid >= self.last_zxid() && newer_snapshot.is_none() {
            return Ok(());
        }
        check_truncation(zxid, &self.snapshot_zxids()?, self.first_zxid()?)?;
        let keep = self.entries.partition_point(|(z, _)| *z <= zxid);
        self.entries.truncate(keep);
        self.synced = self.synced.min(keep);
        self.snapshots.retain(|z, _| *z <= zxid);
        Ok(())
    }

    fn put_snapshot(&mut self, zxid: i64, bytes: &[u8]) -> Result<(), StorageError> {
        self.snapshots.insert(zxid, bytes.to_vec());
        Ok(())
    }

    fn snapshot_zxids(&self) -> Result<Vec<i64>, StorageError> {
        Ok(self.snapshots.keys().rev().copied().collect())
    }

    fn get_snapshot(&self, zxid: i64) -> Result<Vec<u8>, StorageError> {
        self.snapshots
            .get(&zxid)
            .cloned()
            .ok_or_else(|| StorageError::Corrupt(format!("no snapshot 0x{zxid:x}")))
    }

    fn snapshot_len(&self, zxid: i64) -> Result<u64, StorageError> {
        self.snapshots
            .get(&zxid)
            .map(|s| s.len() as u64)
            .ok_or_else(|| StorageError::Corrupt(format!("no snapshot 0x{zxid:x}")))
    }

    fn purge(&mut self, retain: usize) -> Result<(), StorageError> {
        let zxids = self.snapshot_zxids()?;
        if retain == 0 || zxids.len() <= retain {
            return Ok(());
        }
        for z in &zxids[retain..] {
            self.snapshots.remove(z);
        }
        let oldest = zxids[retain - 1];
        self.entries.retain(|(z, _)| *z > oldest);
        self.synced = self.entries.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-memory log as a suite backend: there is nothing to reopen.
    struct Mem;

    impl suite::Backend for Mem {
        fn open(&mut self) -> Box<dyn TxnLog> {
            Box::new(MemLog::default())
        }
        fn reopen(&mut self, log: Box<dyn TxnLog>) -> Box<dyn TxnLog> {
            log
        }
    }

    fn mem(_name: &str) -> Mem {
        Mem
    }

    suite::backend_cases!(mem);
}
