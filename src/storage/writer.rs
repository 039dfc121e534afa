//! Group commit: one thread owns the txn log. The core hands it each batch's entries and
//! carries on preparing the next batch; the thread coalesces what has queued up into one
//! write and one fsync, then answers the highest zxid it made durable. The writer knows no
//! roles: the core turns "durable up to zxid" into commits (standalone), its own ACK (a
//! leader) or ACK packets (a follower).
//!
//! A failed write or sync is reported as [`Ack::Failed`] and the thread stops: the caller
//! decides how the node stops (ZooKeeper's SyncRequestProcessor ends the server), and no
//! entry after the failure is ever acknowledged.

use std::sync::mpsc;
use std::thread;

use tokio::sync::mpsc as tokio_mpsc;

use crate::storage::{StorageError, TxnLog};

/// One batch of txn entries.
pub struct Job {
    /// (zxid, txn entry bytes), in zxid order, after every entry of earlier jobs.
    pub entries: Vec<(i64, Vec<u8>)>,
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
    tx: mpsc::Sender<Job>,
    /// Durable zxids in increasing order, then at most one failure.
    pub acks: tokio_mpsc::UnboundedReceiver<Ack>,
}

impl LogWriter {
    /// Starts the writer thread.
    pub fn spawn(mut log: Box<dyn TxnLog>) -> LogWriter {
        let (tx, rx) = mpsc::channel::<Job>();
        let (ack_tx, acks) = tokio_mpsc::unbounded_channel();
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
                    crate::server::metrics::fsync_done(started.elapsed().as_millis() as u64);
                    if let Err(e) = result {
                        // An acknowledged write must never be lost: nothing more is written.
                        tracing::error!("fatal: cannot write the txn log: {e}");
                        let _ = ack_tx.send(Ack::Failed(e));
                        break;
                    }
                    if ack_tx.send(Ack::Durable(upto)).is_err() {
                        break;
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("fatal: cannot start the txn log writer: {e}");
            std::process::exit(2);
        }
        LogWriter { tx, acks }
    }

    /// Queues a batch; false if the writer is gone.
    pub fn submit(&self, job: Job) -> bool {
        self.tx.send(job).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemLog;

    #[tokio::test]
    async fn durable_zxids_are_acknowledged_in_order() {
        let mut w = LogWriter::spawn(Box::new(MemLog::default()));
        for zxid in 1..=5i64 {
            assert!(w.submit(Job {
                entries: vec![(zxid, vec![zxid as u8])],
            }));
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
        let mut w = LogWriter::spawn(Box::new(Failing { ok: 1 }));
        assert!(w.submit(Job {
            entries: vec![(1, vec![1])],
        }));
        assert!(matches!(w.acks.recv().await, Some(Ack::Durable(1))));
        assert!(w.submit(Job {
            entries: vec![(2, vec![2])],
        }));
        assert!(matches!(w.acks.recv().await, Some(Ack::Failed(_))));
        // The thread has stopped: later batches are refused or never answered.
        let _ = w.submit(Job {
            entries: vec![(3, vec![3])],
        });
        assert!(w.acks.recv().await.is_none());
    }
}
