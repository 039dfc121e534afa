//! Group commit: one thread owns the txn log. The core hands it each batch's entries and
//! carries on preparing the next batch; the thread coalesces what has queued up into one
//! write and one fsync, then answers the highest zxid it made durable. The writer knows no
//! roles: the core turns "durable up to zxid" into commits (standalone), its own ACK (a
//! leader) or ACK packets (a follower).
//!
//! A failed write or sync is reported as [`Ack::Failed`] and the thread stops: the caller
//! decides how the node stops (ZooKeeper's SyncRequestProcessor ends the server), and no
//! entry after the failure is ever acknowledged.

use std::sync::mpsc::{self, TrySendError};
use std::thread;

use tokio::sync::mpsc as tokio_mpsc;

use crate::storage::{StorageError, TxnLog};

/// Txn entries: (zxid, entry bytes), in zxid order.
pub type Entries = Vec<(i64, Vec<u8>)>;

/// Batches queued toward the writer thread. The thread takes everything queued at each
/// fsync, so a deep queue buys no throughput, only memory and messages while the disk
/// falls behind: past this many batches the caller keeps its newest entries itself
/// ([`LogWriter::submit`]) and hands them over as one batch after the next ack. Kept
/// entries can miss the group commit that starts right after that ack and go with the
/// following one; that costs latency only when the disk is already 64 turns of the
/// caller's loop behind. The caller's own limits (a follower stops reading its leader
/// while too many txns wait for the disk) still count every entry not yet durable.
const JOB_QUEUE: usize = 64;

/// Acks queued toward the caller. The thread sends at most one ack per batch it takes,
/// and it takes at least one queued batch each time, so acks never outnumber the batches
/// handed over; the bound only matters if the caller stops reading acks for a while, and
/// then the thread waits for it. That cannot deadlock: the caller never waits for the
/// thread to take a batch (it keeps the entries instead), and every wait of the caller's
/// for durability reads acks.
const ACK_QUEUE: usize = JOB_QUEUE;

/// One batch of txn entries, after every entry of earlier batches.
struct Job {
    entries: Entries,
}

/// What the writer tells the core.
#[derive(Debug)]
pub enum Ack {
    /// Every entry up to this zxid is durable (zxids only increase).
    Durable(i64),
    /// The log could not be written or synced; nothing after the last `Durable` is, and
    /// the writer has stopped.
    Failed(StorageError),
}

/// The handle the core keeps.
pub struct LogWriter {
    tx: mpsc::SyncSender<Job>,
    /// Entries the full queue did not take yet, in zxid order: they go, ahead of any
    /// later entries, with the next [`LogWriter::submit`] or [`LogWriter::flush`].
    held: Entries,
    /// Durable zxids in increasing order, then at most one failure.
    pub acks: tokio_mpsc::Receiver<Ack>,
}

impl LogWriter {
    /// Starts the writer thread. `on_fsync` is told how long each group commit took (ms),
    /// for the node's metrics; storage keeps none of its own.
    pub fn spawn(
        mut log: Box<dyn TxnLog>,
        mut on_fsync: impl FnMut(u64) + Send + 'static,
    ) -> LogWriter {
        let (tx, rx) = mpsc::sync_channel::<Job>(JOB_QUEUE);
        let (ack_tx, acks) = tokio_mpsc::channel(ACK_QUEUE);
        let spawned = thread::Builder::new()
            .name("txnlog-writer".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut entries = first.entries;
                    // Whatever queued while the last fsync ran joins this one.
                    while let Ok(more) = rx.try_recv() {
                        entries.extend(more.entries);
                    }
                    let Some(&(upto, _)) = entries.last() else {
                        continue;
                    };
                    let started = std::time::Instant::now();
                    let result = entries
                        .iter()
                        .try_for_each(|(z, e)| log.append(*z, e))
                        .and_then(|()| log.sync());
                    on_fsync(started.elapsed().as_millis() as u64);
                    if let Err(e) = result {
                        // An acknowledged write must never be lost: nothing more is written.
                        tracing::error!("fatal: cannot write the txn log: {e}");
                        let _ = ack_tx.blocking_send(Ack::Failed(e));
                        break;
                    }
                    if ack_tx.blocking_send(Ack::Durable(upto)).is_err() {
                        break;
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("fatal: cannot start the txn log writer: {e}");
            std::process::exit(2);
        }
        LogWriter {
            tx,
            held: Vec::new(),
            acks,
        }
    }

    /// Hands entries (in zxid order, after every entry handed over before) to the writer.
    /// When its queue is full they are kept, behind any kept before, and go with a later
    /// call: the caller calls [`LogWriter::flush`] (or `submit`) again after each ack,
    /// when the thread has taken the queue. False if the writer is gone.
    pub fn submit(&mut self, entries: Entries) -> bool {
        if self.held.is_empty() {
            self.held = entries;
        } else {
            self.held.extend(entries);
        }
        self.flush()
    }

    /// Hands the kept entries to the writer if its queue takes them; false if the writer
    /// is gone.
    pub fn flush(&mut self) -> bool {
        if self.held.is_empty() {
            return true;
        }
        let job = Job {
            entries: std::mem::take(&mut self.held),
        };
        match self.tx.try_send(job) {
            Ok(()) => true,
            Err(TrySendError::Full(job)) => {
                self.held = job.entries;
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Entries kept because the queue was full.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemLog;

    #[tokio::test]
    async fn durable_zxids_are_acknowledged_in_order() {
        let mut w = LogWriter::spawn(Box::new(MemLog::default()), |_| {});
        for zxid in 1..=5i64 {
            assert!(w.submit(vec![(zxid, vec![zxid as u8])]));
        }
        let mut last = 0;
        while last < 5 {
            let Some(Ack::Durable(a)) = w.acks.recv().await else {
                panic!("the writer failed");
            };
            assert!(a > last);
            last = a;
        }
    }

    /// A log whose sync fails after `ok` successful ones.
    struct Failing {
        ok: usize,
    }

    impl TxnLog for Failing {
        fn append(&mut self, _: i64, _: &[u8]) -> Result<(), StorageError> {
            Ok(())
        }
        fn sync(&mut self) -> Result<(), StorageError> {
            if self.ok == 0 {
                return Err(StorageError::Io("disk gone".into()));
            }
            self.ok -= 1;
            Ok(())
        }
        fn put_snapshot(&mut self, _: i64, _: &[u8]) -> Result<(), StorageError> {
            Ok(())
        }
        fn snapshot_zxids(&self) -> Result<Vec<i64>, StorageError> {
            Ok(Vec::new())
        }
        fn get_snapshot(&self, _: i64) -> Result<Vec<u8>, StorageError> {
            Err(StorageError::Corrupt("none".into()))
        }
        fn purge(&mut self, _: usize) -> Result<(), StorageError> {
            Ok(())
        }
        fn read_range(&self, _: i64, _: usize) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
            Ok(Vec::new())
        }
        fn first_zxid(&self) -> Result<Option<i64>, StorageError> {
            Ok(None)
        }
        fn last_zxid(&self) -> i64 {
            0
        }
        fn truncate_after(&mut self, _: i64) -> Result<(), StorageError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_failed_sync_is_reported_once_and_nothing_after_it_is_acknowledged() {
        let mut w = LogWriter::spawn(Box::new(Failing { ok: 1 }), |_| {});
        assert!(w.submit(vec![(1, vec![1])]));
        assert!(matches!(w.acks.recv().await, Some(Ack::Durable(1))));
        assert!(w.submit(vec![(2, vec![2])]));
        assert!(matches!(w.acks.recv().await, Some(Ack::Failed(_))));
        // The thread has stopped: later batches are refused or never answered.
        let _ = w.submit(vec![(3, vec![3])]);
        assert!(w.acks.recv().await.is_none());
    }

    /// A log that records what it appends and whose syncs wait at a gate: it says when a
    /// sync has begun, and each sync waits for a permit (or for the gate to be dropped).
    struct Gated {
        appended: std::sync::Arc<std::sync::Mutex<Vec<i64>>>,
        entered: std::sync::mpsc::Sender<()>,
        gate: std::sync::mpsc::Receiver<()>,
    }

    impl TxnLog for Gated {
        fn append(&mut self, zxid: i64, _: &[u8]) -> Result<(), StorageError> {
            self.appended
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(zxid);
            Ok(())
        }
        fn sync(&mut self) -> Result<(), StorageError> {
            let _ = self.entered.send(());
            let _ = self.gate.recv();
            Ok(())
        }
        fn put_snapshot(&mut self, _: i64, _: &[u8]) -> Result<(), StorageError> {
            Ok(())
        }
        fn snapshot_zxids(&self) -> Result<Vec<i64>, StorageError> {
            Ok(Vec::new())
        }
        fn get_snapshot(&self, _: i64) -> Result<Vec<u8>, StorageError> {
            Err(StorageError::Corrupt("none".into()))
        }
        fn purge(&mut self, _: usize) -> Result<(), StorageError> {
            Ok(())
        }
        fn read_range(&self, _: i64, _: usize) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
            Ok(Vec::new())
        }
        fn first_zxid(&self) -> Result<Option<i64>, StorageError> {
            Ok(None)
        }
        fn last_zxid(&self) -> i64 {
            0
        }
        fn truncate_after(&mut self, _: i64) -> Result<(), StorageError> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_full_queue_keeps_entries_with_the_caller_in_order_and_loses_none() {
        let appended = std::sync::Arc::default();
        let (entered_tx, entered) = std::sync::mpsc::channel();
        let (open, gate) = std::sync::mpsc::channel();
        let log = Gated {
            appended: std::sync::Arc::clone(&appended),
            entered: entered_tx,
            gate,
        };
        let mut w = LogWriter::spawn(Box::new(log), |_| {});
        // The thread takes the first batch and stops in its sync: nothing more is taken.
        assert!(w.submit(vec![(1, vec![1])]));
        entered.recv().expect("the writer syncs");
        let last = 200i64;
        for zxid in 2..=last {
            assert!(w.submit(vec![(zxid, vec![zxid as u8])]));
        }
        // 2..=65 fill the queue; the rest wait with the caller as one batch.
        assert_eq!(w.held(), (last - 1) as usize - JOB_QUEUE);
        // Nothing is handed over while the queue is still full.
        assert!(w.flush());
        assert_eq!(w.held(), (last - 1) as usize - JOB_QUEUE);
        drop(open);
        let mut durable = 0;
        while durable < last {
            match w.acks.recv().await {
                Some(Ack::Durable(z)) => {
                    assert!(z > durable);
                    durable = z;
                }
                other => panic!("the writer failed: {other:?}"),
            }
            // After an ack the thread has taken the queue: the kept entries go now.
            assert!(w.flush());
        }
        assert_eq!(w.held(), 0);
        let appended = appended.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(appended, (1..=last).collect::<Vec<_>>());
    }
}
