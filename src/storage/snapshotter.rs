//! Snapshots in RocksDB: every snapCount txns (randomised) the core serializes the tree in
//! ZooKeeper's snapshot format; a background thread stores it and purges old ones, so the
//! fsync of a large snapshot never holds up the group commit of writes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::server::core::Core;
use crate::storage::rocks::RocksStore;
use crate::storage::zk::{read_snapshot, write_snapshot};
use crate::storage::StorageError;
use crate::tree::DataTree;

/// Stores snapshots of a running server.
pub struct RocksSnapshotter {
    store: Arc<RocksStore>,
    log_store: Arc<RocksStore>,
    retain: usize,
    purge_every: Option<Duration>,
    last_purge: Instant,
    busy: Arc<std::sync::atomic::AtomicBool>,
}

impl RocksSnapshotter {
    /// autopurge.snapRetainCount and autopurge.purgeInterval (hours; 0 = never) apply.
    pub fn new(
        store: Arc<RocksStore>,
        log_store: Arc<RocksStore>,
        cfg: &Config,
    ) -> RocksSnapshotter {
        let hours = u64::from(cfg.autopurge_purge_interval_hours);
        RocksSnapshotter {
            store,
            log_store,
            retain: cfg.autopurge_snap_retain_count.max(3) as usize,
            purge_every: (hours > 0).then(|| Duration::from_secs(hours * 3600)),
            last_purge: Instant::now(),
            busy: Arc::default(),
        }
    }
}

impl crate::server::Snapshotter for RocksSnapshotter {
    fn take(&mut self, core: &Core) {
        use std::sync::atomic::Ordering;
        if self.busy.swap(true, Ordering::AcqRel) {
            // ZooKeeper skips a snapshot while the previous one is still being written.
            tracing::warn!("too busy to snapshot, skipping");
            return;
        }
        let tree = core.tree();
        let zxid = tree.last_processed_zxid;
        let started = Instant::now();
        let mut bytes =
            Vec::with_capacity(tree.approximate_data_size() as usize + tree.node_count() * 96);
        write_snapshot(tree, &core.session_list(), zxid, &mut bytes);
        let serialized = started.elapsed();
        let purge = self
            .purge_every
            .is_some_and(|every| self.last_purge.elapsed() >= every)
            .then_some(self.retain);
        if purge.is_some() {
            self.last_purge = Instant::now();
        }
        let (store, log_store, busy) = (
            self.store.clone(),
            self.log_store.clone(),
            self.busy.clone(),
        );
        let spawned = std::thread::Builder::new()
            .name("snapshot-writer".into())
            .spawn(move || {
                match store.put_snapshot(zxid, &bytes) {
                    Ok(()) => {
                        crate::server::metrics::snapshot_done(
                            zxid,
                            started.elapsed().as_millis() as u64,
                        );
                        tracing::info!(
                        "snapshot 0x{zxid:x}: {} bytes, serialized in {serialized:?}, stored in {:?}",
                        bytes.len(),
                        started.elapsed()
                        )
                    }
                    Err(e) => tracing::error!("snapshot 0x{zxid:x} failed: {e}"),
                }
                if let Some(retain) = purge {
                    let purged = store
                        .purge_snapshots(retain)
                        .and_then(|oldest| oldest.map_or(Ok(()), |z| log_store.purge_log_through(z)));
                    if let Err(e) = purged {
                        tracing::error!("purge failed: {e}");
                    }
                }
                busy.store(false, Ordering::Release);
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the snapshot writer: {e}");
            self.busy.store(false, Ordering::Release);
        }
    }
}

/// A loaded snapshot: the tree, the sessions (id -> timeout) and its zxid.
pub type LoadedSnapshot = (DataTree, BTreeMap<i64, i32>, i64);

/// The newest snapshot that loads: (tree, sessions, zxid). A damaged one is skipped with a
/// warning and the previous one is tried, as ZooKeeper does.
pub fn load_latest(
    store: &RocksStore,
    extended_types: bool,
) -> Result<Option<LoadedSnapshot>, StorageError> {
    for z in store.snapshot_zxids()? {
        let loaded = store.get_snapshot(z).and_then(|b| {
            read_snapshot(&b, extended_types).map_err(|e| StorageError::Corrupt(e.to_string()))
        });
        match loaded {
            Ok((mut tree, sessions)) => {
                tree.last_processed_zxid = z;
                return Ok(Some((tree, sessions.into_iter().collect(), z)));
            }
            Err(e) => tracing::warn!("snapshot 0x{z:x} is damaged, trying an older one: {e}"),
        }
    }
    Ok(None)
}
