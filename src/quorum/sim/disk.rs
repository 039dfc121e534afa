//! A server's disk and the parts of its memory the invariants read: the txn log with a
//! durable prefix (an fsync makes the tail durable; a crash loses it), the epoch files,
//! and how much of the history has been delivered (Zab.tla's `history` and
//! `lastCommitted`).

use bytes::Bytes;

use crate::quorum::Zxid;

/// One logged txn: its zxid and the TxnEntry bytes exactly as proposed.
pub(crate) type Txn = (Zxid, Bytes);

/// A simulated server's disk and delivery state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Disk {
    /// The txn log (after SNAP: the snapshot's txns, then the log), ascending zxids.
    pub(crate) log: Vec<Txn>,
    /// How many leading entries of `log` survive a crash.
    pub(crate) durable: usize,
    /// The acceptedEpoch file (written synchronously).
    pub(crate) accepted_epoch: i64,
    /// The currentEpoch file (written synchronously).
    pub(crate) current_epoch: i64,
    /// Zab.tla `lastCommitted`: `log[..committed]` is delivered. Memory: a crash resets it
    /// to 0, as Zab.tla's Restart does.
    pub(crate) committed: usize,
}

impl Disk {
    /// The last logged zxid; 0 for an empty log (an empty ZKDatabase's lastProcessedZxid).
    pub(crate) fn last_zxid(&self) -> Zxid {
        self.log.last().map_or(Zxid(0), |t| t.0)
    }

    /// The index of `zxid` in the log.
    pub(crate) fn position(&self, zxid: Zxid) -> Option<usize> {
        self.log.binary_search_by_key(&zxid, |t| t.0).ok()
    }

    /// Appends a txn; `Err` when it does not follow the last one (a log out of order).
    pub(crate) fn append(&mut self, txn: Txn) -> Result<(), String> {
        if self.log.last().is_some_and(|t| t.0 >= txn.0) {
            return Err(format!(
                "log append 0x{:x} not after last 0x{:x}",
                txn.0 .0,
                self.last_zxid().0
            ));
        }
        self.log.push(txn);
        Ok(())
    }

    /// TRUNC: drops every txn after `zxid`. `Err` when that drops a delivered txn.
    pub(crate) fn truncate(&mut self, zxid: Zxid) -> Result<(), String> {
        let keep = self.log.partition_point(|t| t.0 <= zxid);
        let delivered = self.committed;
        self.log.truncate(keep);
        self.durable = self.durable.min(keep);
        if keep < delivered {
            self.committed = keep;
            return Err(format!(
                "TRUNC to 0x{:x} drops delivered txns ({delivered} delivered, {keep} kept)",
                zxid.0
            ));
        }
        Ok(())
    }

    /// Delivers everything up to `zxid` (which must be logged).
    pub(crate) fn deliver_upto(&mut self, zxid: Zxid) -> Result<(), String> {
        let Some(i) = self.position(zxid) else {
            return Err(format!("delivering 0x{:x}, which is not logged", zxid.0));
        };
        self.committed = self.committed.max(i + 1);
        Ok(())
    }

    /// The fsync ran: everything written so far is durable.
    pub(crate) fn sync(&mut self) {
        self.durable = self.log.len();
    }

    /// A crash: the unsynced tail and everything in memory are lost.
    pub(crate) fn crash(&mut self) {
        self.log.truncate(self.durable);
        self.committed = 0;
    }

    /// The delivered txns.
    pub(crate) fn delivered(&self) -> &[Txn] {
        &self.log[..self.committed]
    }
}
