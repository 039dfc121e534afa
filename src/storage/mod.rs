//! Storage traits: the transaction log (and, with the RocksDB backend, snapshots).
//! Entries are the exact bytes ZooKeeper logs for a txn: TxnHeader ‖ record ‖ TxnDigest?.

pub mod recovery;
#[cfg(feature = "rocksdb")]
pub mod rocks;
#[cfg(feature = "rocksdb")]
pub mod snapshotter;
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
}

/// An append-only log of txn entries keyed by zxid.
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
    /// Removes all but the newest `retain` snapshots and the log up to the oldest kept.
    fn purge(&mut self, retain: usize) -> Result<(), StorageError>;
    /// Entries with zxid > `after`, in zxid order.
    fn read_from(&self, after: i64) -> Result<Vec<(i64, Vec<u8>)>, StorageError>;
    /// The highest zxid appended.
    fn last_zxid(&self) -> i64;
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

    fn read_from(&self, after: i64) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
        Ok(self
            .entries
            .iter()
            .filter(|(z, _)| *z > after)
            .cloned()
            .collect())
    }

    fn last_zxid(&self) -> i64 {
        self.entries.last().map_or(0, |(z, _)| *z)
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

/// The suite every storage backend must pass (called by each backend's tests).
#[cfg(test)]
pub(crate) fn backend_suite(log: &mut dyn TxnLog) {
    // The log: zxid order, durability boundary, reads after a zxid.
    assert_eq!(log.last_zxid(), 0);
    log.append(1, b"a").unwrap();
    log.append(2, b"b").unwrap();
    assert!(log.append(2, b"dup").is_err(), "zxids only grow");
    log.sync().unwrap();
    assert_eq!(log.last_zxid(), 2);
    assert_eq!(log.read_from(1).unwrap(), vec![(2, b"b".to_vec())]);
    assert_eq!(log.read_from(0).unwrap().len(), 2);
    for z in 3..=10 {
        log.append(z, &[z as u8; 100]).unwrap();
    }
    log.sync().unwrap();
    // Snapshots: newest first, bytes intact (a big one spans chunks), purge keeps the log
    // after the oldest kept snapshot.
    assert!(log.snapshot_zxids().unwrap().is_empty());
    let big: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
    log.put_snapshot(4, b"four").unwrap();
    log.put_snapshot(6, &big).unwrap();
    log.put_snapshot(8, b"eight").unwrap();
    assert_eq!(log.snapshot_zxids().unwrap(), vec![8, 6, 4]);
    assert_eq!(log.get_snapshot(6).unwrap(), big);
    assert!(log.get_snapshot(5).is_err());
    log.purge(2).unwrap();
    assert_eq!(log.snapshot_zxids().unwrap(), vec![8, 6]);
    let rest: Vec<i64> = log
        .read_from(0)
        .unwrap()
        .into_iter()
        .map(|(z, _)| z)
        .collect();
    assert_eq!(rest, vec![7, 8, 9, 10]);
    log.append(11, b"after purge").unwrap();
    log.sync().unwrap();
    assert_eq!(log.last_zxid(), 11);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_log_passes_the_suite() {
        backend_suite(&mut MemLog::default());
    }
}
