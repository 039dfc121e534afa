//! Storage traits: the transaction log (and, with the RocksDB backend, snapshots).
//! Entries are the exact bytes ZooKeeper logs for a txn: TxnHeader ‖ record ‖ TxnDigest?.

pub mod recovery;
#[cfg(feature = "rocksdb")]
pub mod rocks;
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
    fn put_snapshot(&mut self, _zxid: i64, _bytes: &[u8]) -> Result<(), StorageError> {
        Ok(())
    }
    /// Removes all but the newest `retain` snapshots and the log before the oldest kept.
    fn purge(&mut self, _retain: usize) -> Result<(), StorageError> {
        Ok(())
    }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The suite every TxnLog backend must pass.
    pub fn log_suite(log: &mut dyn TxnLog) {
        log.append(1, b"a").unwrap();
        log.append(2, b"b").unwrap();
        assert!(log.append(2, b"dup").is_err(), "zxids only grow");
        log.sync().unwrap();
        assert_eq!(log.last_zxid(), 2);
        assert_eq!(log.read_from(1).unwrap(), vec![(2, b"b".to_vec())]);
    }

    #[test]
    fn mem_log_passes_the_suite() {
        log_suite(&mut MemLog::default());
    }
}
