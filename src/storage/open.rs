//! Opening a node's data directory: recovery, the txn log and the snapshotter, which the
//! server assembles into its core and writer (`server::assemble`). Storage hands back
//! plain state, so it needs nothing of the server.

use std::sync::Arc;

use crate::config::Config;
use crate::storage::recovery::Recovered;
use crate::storage::rocks::{recover_split, RocksLog, RocksStore};
use crate::storage::snapshotter::RocksSnapshotter;
use crate::storage::snapshotting::Snapshotter;
use crate::storage::{StorageError, TxnLog};

/// An opened data directory.
pub(crate) struct Opened {
    /// The state the newest intact snapshot and the log after it rebuilt.
    pub(crate) recovered: Recovered,
    /// The txn log, for the group-commit writer.
    pub(crate) log: Box<dyn TxnLog>,
    /// Stores the node's snapshots beside the log.
    pub(crate) snapshotter: Box<dyn Snapshotter>,
}

/// Opens dataDir (and dataLogDir when set) and recovers the state stored there.
pub(crate) fn open(cfg: &Config) -> Result<Opened, StorageError> {
    let store = Arc::new(RocksStore::open(&cfg.data_dir)?);
    // dataLogDir puts the txn log in a store of its own (another disk); snapshots stay in
    // dataDir, as with ZooKeeper.
    let log_store = match &cfg.data_log_dir {
        Some(d) if d != &cfg.data_dir => Arc::new(RocksStore::open(d)?),
        _ => store.clone(),
    };
    let recovered = recover_split(&store, &log_store, cfg.extended_types_enabled)?;
    tracing::info!(
        "recovered zxid 0x{:x} from snapshot 0x{:x} and {} logged txns; {} sessions",
        recovered.last_zxid,
        recovered.snapshot_zxid,
        recovered.replayed,
        recovered.sessions.len()
    );
    let log = RocksLog::new(log_store.clone(), cfg.force_sync)?.with_snapshot_store(store.clone());
    let snapshotter = RocksSnapshotter::new(store, log_store, cfg);
    Ok(Opened {
        recovered,
        log: Box::new(log),
        snapshotter: Box::new(snapshotter),
    })
}
