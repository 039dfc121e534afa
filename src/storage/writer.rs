//! Group commit: one thread owns the txn log. The core hands it each batch's entries with a
//! sequence number and carries on preparing the next batch; the thread coalesces what has
//! queued up into one write and one fsync, then acknowledges the highest sequence number it
//! made durable. The core releases a batch's replies only after that acknowledgement.

use std::sync::mpsc;
use std::thread;

use tokio::sync::mpsc as tokio_mpsc;

use crate::storage::TxnLog;

/// One batch of txn entries.
pub struct Job {
    /// The core's batch number.
    pub seq: u64,
    /// (zxid, txn entry bytes), in zxid order.
    pub entries: Vec<(i64, Vec<u8>)>,
}

/// The handle the core keeps.
pub struct LogWriter {
    tx: mpsc::Sender<Job>,
    /// Durable batch numbers, in increasing order.
    pub acks: tokio_mpsc::UnboundedReceiver<u64>,
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
                    let mut seq = first.seq;
                    let mut entries = first.entries;
                    // Whatever queued while the last fsync ran joins this one.
                    while let Ok(more) = rx.try_recv() {
                        seq = more.seq;
                        entries.extend(more.entries);
                    }
                    let started = std::time::Instant::now();
                    let result = entries
                        .iter()
                        .try_for_each(|(z, e)| log.append(*z, e))
                        .and_then(|()| log.sync());
                    crate::server::metrics::fsync_done(started.elapsed().as_millis() as u64);
                    if let Err(e) = result {
                        // An acknowledged write must never be lost: stop, as ZooKeeper does.
                        tracing::error!("fatal: cannot write the txn log: {e}");
                        std::process::exit(2);
                    }
                    if ack_tx.send(seq).is_err() {
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
    async fn batches_are_acknowledged_in_order() {
        let mut w = LogWriter::spawn(Box::new(MemLog::default()));
        for seq in 1..=5u64 {
            assert!(w.submit(Job {
                seq,
                entries: vec![(seq as i64, vec![seq as u8])],
            }));
        }
        let mut last = 0;
        while last < 5 {
            let a = w.acks.recv().await.unwrap();
            assert!(a > last);
            last = a;
        }
    }
}
