//! Where the server meets storage: a data directory opened by storage becomes the core,
//! the txn log and the snapshotter (standalone and quorum peer alike), the log writer
//! reports to the server's metrics, and the core offers its state to snapshots. Storage
//! knows nothing of the server; this is the only place that knows both.

use crate::server::core::Core;
use crate::storage::snapshotting::SnapshotSource;
use crate::storage::writer::LogWriter;
use crate::storage::TxnLog;
use crate::tree::DataTree;

/// A server's recovered core, the log for its group-commit writer, and its snapshotter.
#[cfg(feature = "rocksdb")]
pub(crate) type Parts = (
    Core,
    Box<dyn TxnLog>,
    Option<Box<dyn crate::storage::snapshotting::Snapshotter>>,
);

/// Opens the data directory and builds the core over the state it recovered.
#[cfg(feature = "rocksdb")]
pub(crate) fn open(
    cfg: std::sync::Arc<crate::config::Config>,
) -> Result<Parts, crate::storage::StorageError> {
    let opened = crate::storage::open::open(&cfg)?;
    let rec = opened.recovered;
    let now = crate::server::clock::Now::at_start();
    let core = Core::with_state(cfg, rec.tree, rec.sessions, now);
    Ok((core, opened.log, Some(opened.snapshotter)))
}

/// Starts the group-commit writer over `log`, its fsync times going to mntr's
/// `fsynctime` summary and to Prometheus under the same name.
pub(crate) fn spawn_writer(log: Box<dyn TxnLog>) -> LogWriter {
    LogWriter::spawn(log, crate::server::metrics::fsync_done)
}

/// A snapshot is of the tree, the live sessions and the tree's zxid, read from the core
/// between request batches.
impl SnapshotSource for Core {
    fn tree(&self) -> &DataTree {
        Core::tree(self)
    }
    fn sessions(&self) -> Vec<(i64, i32)> {
        self.session_list()
    }
}
