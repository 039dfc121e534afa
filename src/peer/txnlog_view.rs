//! The leader's txn log as LearnerHandler.syncFollower weighs it for a learner older than
//! the committed log: ZooKeeper reads its on-disk log files (FileTxnLog.read) and DIFFs
//! when they are small next to the newest snapshot.
//!
//! ZooKeeper's log is files that roll at each snapshot, each named by its first zxid; the
//! store here is one log. So a "file" starts at the log's first entry and at the first
//! entry after each stored snapshot, and a file's size is what ZooKeeper's would be: a
//! 16-byte header, each txn framed by CRC, length and end-of-record (13 bytes), padded by
//! `preAllocSize` as FilePadding does (64 MiB by default). A read within the newest file
//! weighs nothing; one that spans a roll weighs the newer files in full, which with the
//! padding outweighs any ordinary snapshot, as it does in ZooKeeper.
//! (Java also starts a new file when the process restarts; the store does not record
//! restarts, so those files are not modelled.)
//!
//! Every read takes the shared log's lock once per call and per chunk: the group-commit
//! writer appends and syncs under the same lock.

use super::log::SharedLog;
use crate::quorum::leader::sync::{TxnLogRead, TxnLogView};
use crate::quorum::Zxid;
use crate::storage::{StorageError, TxnLog};

/// FileHeader: magic, version, dbid.
const FILE_HEADER_BYTES: u64 = 16;
/// Per txn around its bytes: CRC (8), length (4), end-of-record byte (1).
const TXN_FRAMING_BYTES: u64 = 13;
/// FilePadding grows the file when a write comes this close to its end.
const PAD_MARGIN: u64 = 4096;
/// Entries read from the log per lock.
const READ_CHUNK: usize = 1024;

/// The peer's log, seen by the sync.
pub(crate) struct DiskTxnLog<'a> {
    log: &'a SharedLog,
    /// `preAllocSize`, bytes (0: no padding).
    pre_alloc: u64,
}

impl<'a> DiskTxnLog<'a> {
    pub(crate) fn new(log: &'a SharedLog, pre_alloc: u64) -> DiskTxnLog<'a> {
        DiskTxnLog { log, pre_alloc }
    }

    /// Where each "file" begins, ascending: the log's first zxid and the first zxid after
    /// each snapshot. Empty when the log is.
    fn file_starts(&self) -> Result<Vec<i64>, StorageError> {
        let Some(first) = self.log.first_zxid()? else {
            return Ok(Vec::new());
        };
        let mut starts = vec![first];
        for snap in self.log.snapshot_zxids()? {
            if snap < first {
                continue;
            }
            if let Some(&(z, _)) = self.log.read_range(snap, 1)?.first() {
                starts.push(z);
            }
        }
        starts.sort_unstable();
        starts.dedup();
        Ok(starts)
    }

    fn read(&self, zxid: Zxid) -> Result<Option<TxnLogRead>, StorageError> {
        let starts = self.file_starts()?;
        // FileTxnIterator.init: the newest file that begins before zxid (else the oldest)
        // is opened first; the files after it are what getStorageSize adds up.
        let Some(&open) = starts
            .iter()
            .rev()
            .find(|&&s| s < zxid.0)
            .or(starts.first())
        else {
            return Ok(None);
        };
        let later: Vec<i64> = starts.into_iter().filter(|&s| s > open).collect();
        let mut zxids = Vec::new();
        let mut storage_size = 0;
        // How many of the later files the scan has entered (0: still in the opened one,
        // which is not weighed), and the one being measured.
        let mut entered = 0;
        let mut file = FileLen::new(self.pre_alloc);
        let mut after = open - 1;
        loop {
            let chunk = self.log.read_range(after, READ_CHUNK)?;
            for (z, entry) in &chunk {
                let before = entered;
                while entered < later.len() && *z >= later[entered] {
                    entered += 1;
                }
                if entered != before {
                    storage_size += file.finish();
                    file = FileLen::new(self.pre_alloc);
                }
                if entered > 0 {
                    file.append(entry.len() as u64);
                }
                zxids.push(Zxid(*z));
            }
            match chunk.last() {
                Some(&(z, _)) if chunk.len() == READ_CHUNK => after = z,
                _ => break,
            }
        }
        storage_size += file.finish();
        Ok(Some(TxnLogRead {
            zxids,
            storage_size,
        }))
    }

    fn newest_snapshot_len(&self) -> Result<u64, StorageError> {
        match self.log.snapshot_zxids()?.first() {
            Some(&z) => self.log.snapshot_len(z),
            None => Ok(0),
        }
    }
}

impl TxnLogView for DiskTxnLog<'_> {
    fn read_from(&self, zxid: Zxid) -> Option<TxnLogRead> {
        self.read(zxid)
            .inspect_err(|e| tracing::error!("Unable to read txnlog from disk: {e}"))
            .ok()
            .flatten()
    }

    fn snapshot_size(&self) -> u64 {
        self.newest_snapshot_len()
            .inspect_err(|e| tracing::error!("Unable to get size of most recent snapshot: {e}"))
            .unwrap_or(0)
    }
}

/// The length ZooKeeper's log file would have, grown append by append.
struct FileLen {
    pre_alloc: u64,
    /// Bytes written (FileChannel.position).
    position: u64,
    /// The padded size (FilePadding.currentSize).
    padded: u64,
    txns: u64,
}

impl FileLen {
    fn new(pre_alloc: u64) -> FileLen {
        FileLen {
            pre_alloc,
            position: FILE_HEADER_BYTES,
            padded: 0,
            txns: 0,
        }
    }

    /// One txn of `len` bytes: FilePadding.padFile, then the framed record.
    fn append(&mut self, len: u64) {
        let p = self.pre_alloc;
        if p > 0 && self.position + PAD_MARGIN >= self.padded {
            self.padded = if self.position > self.padded {
                let grown = self.position.saturating_add(p);
                grown - grown % p
            } else {
                self.padded.saturating_add(p)
            };
        }
        self.position = self.position.saturating_add(len + TXN_FRAMING_BYTES);
        self.txns += 1;
    }

    /// The file's length; 0 for a file never written (ZooKeeper creates none).
    fn finish(&self) -> u64 {
        if self.txns == 0 {
            0
        } else {
            self.position.max(self.padded)
        }
    }
}

#[cfg(test)]
#[path = "txnlog_view_tests.rs"]
mod tests;
