//! How the leader synchronizes one learner: DIFF, TRUNC or SNAP, exactly as
//! `LearnerHandler.syncFollower` and `queueCommittedProposals` decide in 3.8.
//!
//! The leader's history comes from two places: the in-memory `committedLog` (the last
//! `commitLogCount`, 500 by default, committed proposals: ZKDatabase.addCommittedProposal)
//! and the on-disk txn log, which is read only when the learner is older than the
//! committedLog and the log to send is smaller than `snapshotSizeFactor` (0.33) times the
//! newest snapshot (ZKDatabase.calculateTxnLogSizeLimit, getProposalsFromTxnLog).
//!
//! The plan names the op packet (DIFF/TRUNC/SNAP and its zxid), the log ranges to stream
//! as PROPOSAL+COMMIT pairs after it, and the zxid to hand to `Leader.startForwarding`.
//! The driver then queues NEWLEADER, and UPTODATE once the NEWLEADER quorum has formed.

use super::{hex, is_epoch_start};
use crate::quorum::Zxid;

/// The first packet of a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// DIFF(zxid): the streamed proposals (possibly none) bring the learner to `zxid`.
    Diff,
    /// TRUNC(zxid): the learner drops its txns after `zxid`; streamed proposals follow.
    Trunc,
    /// SNAP(zxid): the snapshot at the leader's last processed zxid follows.
    Snap,
}

/// Where streamed proposals are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    /// ZKDatabase.committedLog.
    CommittedLog,
    /// The on-disk txn log (FileTxnSnapLog.readTxnLog).
    TxnLog,
}

/// The proposals of `source` with `after < zxid <= upto`, each sent as PROPOSAL then COMMIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRange {
    /// Where to read.
    pub source: LogSource,
    /// Exclusive lower bound.
    pub after: Zxid,
    /// Inclusive upper bound.
    pub upto: Zxid,
}

/// What syncFollower decided for one learner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncPlan {
    /// The op packet.
    pub kind: SyncKind,
    /// Its zxid.
    pub zxid: Zxid,
    /// The proposals to stream after it, in order (empty for SNAP).
    pub stream: Vec<StreamRange>,
    /// `lastSeenZxid` for Leader.startForwarding: the last zxid the sync gives the learner.
    pub forward_from: Zxid,
}

/// What `FileTxnLog.read(zxid, false)` yields: every txn from the start of the newest log
/// file that begins before `zxid` (or of the oldest file, if none does) to the end of the
/// log, and FileTxnIterator.getStorageSize right after: the total size of the files after
/// that first one (the iterator has already taken the first off its list of files to read,
/// so a read within the newest file weighs 0 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogRead {
    /// The txns' zxids, ascending.
    pub zxids: Vec<Zxid>,
    /// The size in bytes of the files after the first.
    pub storage_size: u64,
}

/// The on-disk txn log and snapshots, as the sync needs them. Asked only when a learner is
/// older than the committedLog, so each call may read the store.
pub trait TxnLogView {
    /// FileTxnLog.read(zxid, false); `None` when there is no log or it cannot be read.
    fn read_from(&self, zxid: Zxid) -> Option<TxnLogRead>;
    /// The newest snapshot's file size (0 when there is none: then the limit is 0, which
    /// getProposalsFromTxnLog reads as unlimited).
    fn snapshot_size(&self) -> u64;
}

/// The leader's history when a learner syncs.
pub struct LogState<'a> {
    /// ZKDatabase.getDataTreeLastProcessedZxid.
    pub last_processed_zxid: Zxid,
    /// The zxids in committedLog, ascending.
    pub committed_log: &'a [Zxid],
    /// The on-disk txn log.
    pub txn_log: &'a dyn TxnLogView,
    /// `zookeeper.snapshotSizeFactor`; negative disables syncing from the txn log.
    pub snapshot_size_factor: f64,
    /// `zookeeper.forceSnapshotSync` (tests only in ZooKeeper).
    pub force_snap_sync: bool,
}

/// queueCommittedProposals' state across its two calls (`needOpPacket` is a field of the
/// handler in Java, so the txn-log pass's TRUNC/DIFF carries into the committedLog pass).
struct Queue {
    op: Option<(SyncKind, Zxid)>,
    stream: Vec<StreamRange>,
}

impl Queue {
    /// LearnerHandler.queueCommittedProposals over `zxids` from `source`: queues the
    /// proposals in (peer_last_zxid, max_zxid], preceded by DIFF or TRUNC if none was
    /// queued yet. Returns the last queued zxid, or `None` for Java's early return (a TRUNC
    /// would cross an epoch boundary).
    fn committed_proposals(
        &mut self,
        source: LogSource,
        zxids: &[Zxid],
        peer_last_zxid: Zxid,
        max_zxid: Option<Zxid>,
        last_committed_zxid: Zxid,
    ) -> Option<Zxid> {
        let is_peer_new_epoch = is_epoch_start(peer_last_zxid);
        let mut queued = peer_last_zxid;
        let mut prev = Zxid(-1);
        let mut first_queued: Option<Zxid> = None;
        for &z in zxids {
            if max_zxid.is_some_and(|m| z > m) {
                break;
            }
            if z < peer_last_zxid {
                prev = z;
                continue;
            }
            if self.op.is_none() {
                if z == peer_last_zxid {
                    self.op = Some((SyncKind::Diff, last_committed_zxid));
                    continue;
                }
                if is_peer_new_epoch {
                    self.op = Some((SyncKind::Diff, last_committed_zxid));
                } else if z > peer_last_zxid {
                    // The learner has txns the leader never saw (an old leader's).
                    if z.epoch() != peer_last_zxid.epoch() {
                        tracing::warn!(
                            "Cannot send TRUNC to peer: peer zxid is from different epoch"
                        );
                        self.close(source, first_queued, queued);
                        return None;
                    }
                    self.op = Some((SyncKind::Trunc, prev));
                }
            }
            if z <= queued {
                continue;
            }
            first_queued.get_or_insert(queued);
            queued = z;
        }
        if self.op.is_none() && is_peer_new_epoch {
            // Our history is older than the learner's epoch start and nothing is newer.
            self.op = Some((SyncKind::Diff, last_committed_zxid));
        }
        self.close(source, first_queued, queued);
        Some(queued)
    }

    fn close(&mut self, source: LogSource, first: Option<Zxid>, upto: Zxid) {
        if let Some(after) = first {
            self.stream.push(StreamRange {
                source,
                after,
                upto,
            });
        }
    }
}

/// LearnerHandler.syncFollower: how to bring a learner whose last zxid is
/// `peer_last_zxid` in line with the leader.
pub fn plan_sync(peer_last_zxid: Zxid, log: &LogState<'_>) -> SyncPlan {
    let last_processed = log.last_processed_zxid;
    let is_peer_new_epoch = is_epoch_start(peer_last_zxid);
    // An empty committedLog stands for the last processed zxid (see the Java comment).
    let (min_committed, max_committed) = match (log.committed_log.first(), log.committed_log.last())
    {
        (Some(&min), Some(&max)) => (min, max),
        _ => (last_processed, last_processed),
    };
    let mut q = Queue {
        op: None,
        stream: Vec::new(),
    };
    let mut current = peer_last_zxid;
    let mut need_snap = true;

    if log.force_snap_sync {
        tracing::warn!("Forcing snapshot sync - should not see this in production");
    } else if last_processed == peer_last_zxid {
        // Already in sync: an empty DIFF.
        q.op = Some((SyncKind::Diff, peer_last_zxid));
        need_snap = false;
    } else if peer_last_zxid > max_committed && !is_peer_new_epoch {
        // Ahead of everything we committed: truncate to our last committed txn.
        q.op = Some((SyncKind::Trunc, max_committed));
        current = max_committed;
        need_snap = false;
    } else if max_committed >= peer_last_zxid && min_committed <= peer_last_zxid {
        // Within committedLog: DIFF, or TRUNC first if the learner has txns we lack.
        if let Some(z) = q.committed_proposals(
            LogSource::CommittedLog,
            log.committed_log,
            peer_last_zxid,
            None,
            max_committed,
        ) {
            current = z;
        }
        need_snap = false;
    } else if peer_last_zxid < min_committed && log.snapshot_size_factor >= 0.0 {
        // Older than committedLog: the txn log, if it covers the peer and is small enough.
        // ZKDatabase.calculateTxnLogSizeLimit, then getProposalsFromTxnLog's two refusals.
        let limit = (log.txn_log.snapshot_size() as f64 * log.snapshot_size_factor) as u64;
        let read = log.txn_log.read_from(peer_last_zxid).filter(|r| {
            let covers = r
                .zxids
                .first()
                .is_some_and(|&first| first <= peer_last_zxid);
            if !covers {
                tracing::warn!(
                    "Unable to find proposals from txnlog for zxid: 0x{}",
                    hex(peer_last_zxid)
                );
                return false;
            }
            if limit > 0 && r.storage_size > limit {
                tracing::info!("Txnlog size: {} exceeds sizeLimit: {limit}", r.storage_size);
                return false;
            }
            true
        });
        if let Some(read) = read {
            let z = q.committed_proposals(
                LogSource::TxnLog,
                &read.zxids,
                peer_last_zxid,
                Some(min_committed),
                max_committed,
            );
            match z {
                Some(z) if z >= min_committed => {
                    current = q
                        .committed_proposals(
                            LogSource::CommittedLog,
                            log.committed_log,
                            z,
                            None,
                            max_committed,
                        )
                        .unwrap_or(z);
                    need_snap = false;
                }
                // Java's early return leaves queuedZxid at the peer's zxid...
                None => current = peer_last_zxid,
                // ...and a gap between the txn log and committedLog clears the queue.
                Some(z) => {
                    tracing::info!(
                        "Detected gap between end of txnlog: 0x{} and start of committedLog: 0x{}",
                        hex(z),
                        hex(min_committed)
                    );
                    current = peer_last_zxid;
                    q = Queue {
                        op: None,
                        stream: Vec::new(),
                    };
                }
            }
        }
    } else {
        tracing::warn!(
            "Unhandled scenario for peer: maxCommittedLog=0x{} minCommittedLog=0x{} lastProcessedZxid=0x{} peerLastZxid=0x{}",
            hex(max_committed),
            hex(min_committed),
            hex(last_processed),
            hex(peer_last_zxid)
        );
    }
    if need_snap {
        current = last_processed;
    }
    match q.op {
        Some((kind, zxid)) if !need_snap => SyncPlan {
            kind,
            zxid,
            stream: q.stream,
            forward_from: current,
        },
        _ => {
            if !need_snap {
                // "This should never happen": no op packet queued; Java falls back to SNAP
                // after it already called startForwarding with the queued zxid.
                tracing::error!("Unhandled scenario for peer: fall back to use snapshot");
            }
            SyncPlan {
                kind: SyncKind::Snap,
                zxid: last_processed,
                stream: Vec::new(),
                forward_from: current,
            }
        }
    }
}
