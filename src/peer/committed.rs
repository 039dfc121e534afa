//! ZKDatabase.committedLog: the newest committed txns, whatever the role, from which a
//! leader DIFFs learners that are close behind.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::quorum::Zxid;
use crate::storage::{StorageError, TxnLog};

/// Keeps the last `zookeeper.commitLogCount` + 1 committed proposals: ZooKeeper's
/// addCommittedProposal drops the oldest only when it already holds more than the count,
/// then adds, so it holds one more than the count once full.
#[derive(Debug)]
pub(crate) struct CommittedLog {
    entries: BTreeMap<i64, Bytes>,
    capacity: usize,
}

impl CommittedLog {
    /// An empty log keeping `count` + 1 txns.
    pub(crate) fn new(count: usize) -> CommittedLog {
        CommittedLog {
            entries: BTreeMap::new(),
            capacity: count.saturating_add(1),
        }
    }

    /// The newest committed txns as the log holds them (ZKDatabase loads them while it
    /// replays the log at start-up).
    pub(crate) fn load(log: &dyn TxnLog, count: usize) -> Result<CommittedLog, StorageError> {
        let mut c = CommittedLog::new(count);
        let mut after = -1;
        loop {
            let slice = log.read_range(after, 10_000)?;
            let Some(&(last, _)) = slice.last() else {
                return Ok(c);
            };
            for (zxid, data) in slice {
                c.push(zxid, data.into());
            }
            after = last;
        }
    }

    /// Forgets everything (a SNAP replaced the history).
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    pub(crate) fn push(&mut self, zxid: i64, data: Bytes) {
        self.entries.insert(zxid, data);
        while self.entries.len() > self.capacity {
            self.entries.pop_first();
        }
    }

    pub(crate) fn zxids(&self) -> Vec<Zxid> {
        self.entries.keys().map(|z| Zxid(*z)).collect()
    }

    pub(crate) fn range(&self, after: i64, upto: i64) -> Vec<(i64, Bytes)> {
        self.entries
            .range(after + 1..=upto)
            .map(|(z, d)| (*z, d.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemLog;

    #[test]
    fn the_committed_log_keeps_count_plus_one_and_loads_them_from_the_log() {
        let mut log = MemLog::default();
        for z in 1..=700i64 {
            log.append(z, &z.to_be_bytes()).expect("append");
        }
        let c = CommittedLog::load(&log, 500).expect("load");
        let zxids = c.zxids();
        assert_eq!(zxids.len(), 501);
        assert_eq!((zxids[0], zxids[500]), (Zxid(200), Zxid(700)));
        let r = c.range(600, 602);
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].0, &r[1].1[..]), (601, &602i64.to_be_bytes()[..]));
        let c = CommittedLog::load(&log, 650).expect("load");
        assert_eq!(c.zxids().first(), Some(&Zxid(50)));
    }
}
