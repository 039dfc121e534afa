//! Snapshots in RocksDB: every snapCount txns (randomised) the core starts a fuzzy snapshot
//! in ZooKeeper's format and writes it a few thousand nodes between request batches; a
//! background thread assembles and stores it and purges old ones, so neither the walk nor
//! the fsync of a large snapshot holds requests up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::server::core::Core;
use crate::storage::rocks::RocksStore;
use crate::storage::zk::{read_snapshot, FuzzySnapshot};
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
    /// The snapshot being walked, and when it started.
    current: Option<(FuzzySnapshot, Instant)>,
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
            current: None,
        }
    }
}

/// Nodes written per step: about a millisecond of work between request batches.
const NODES_PER_STEP: usize = 4000;

impl crate::server::Snapshotter for RocksSnapshotter {
    fn start(&mut self, core: &Core) {
        use std::sync::atomic::Ordering;
        if self.current.is_some() || self.busy.load(Ordering::Acquire) {
            // ZooKeeper skips a snapshot while the previous one is still being written.
            tracing::warn!("too busy to snapshot, skipping");
            return;
        }
        let zxid = core.tree().last_processed_zxid;
        self.current = Some((
            FuzzySnapshot::new(zxid, core.session_list()),
            Instant::now(),
        ));
    }

    fn step(&mut self, core: &Core, durable_zxid: i64) {
        use std::sync::atomic::Ordering;
        let Some((snap, _)) = self.current.as_mut() else {
            return;
        };
        if !snap.step(core.tree(), NODES_PER_STEP) || snap.zxid() > durable_zxid {
            return;
        }
        let Some((snap, started)) = self.current.take() else {
            return;
        };
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
        busy.store(true, Ordering::Release);
        let spawned = std::thread::Builder::new()
            .name("snapshot-writer".into())
            .spawn(move || {
                let (zxid, nodes) = (snap.zxid(), snap.written());
                let walked = started.elapsed();
                let bytes = snap.finish();
                match store.put_snapshot(zxid, &bytes) {
                    Ok(()) => tracing::info!(
                        "snapshot 0x{zxid:x}: {nodes} nodes, {} bytes, walked in {walked:?}, stored after {:?}",
                        bytes.len(),
                        started.elapsed()
                    ),
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
