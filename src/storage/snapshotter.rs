//! Snapshots in RocksDB: every snapCount txns (randomised) the node's loop starts a fuzzy snapshot
//! in ZooKeeper's format and writes it a few thousand nodes between request batches,
//! handing the bytes in chunks to a background thread that streams them into the store
//! and purges old snapshots. Neither the walk nor the writing of a large snapshot holds
//! requests up, and the snapshot is never whole in memory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::storage::rocks::{RocksStore, SnapPart};
use crate::storage::snapshotting::{SnapshotSource, Snapshotter};
use crate::storage::zk::{read_snapshot_chunks, FuzzySnapshot};
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
    /// The snapshot being walked, the channel to its writer thread, and when it started.
    current: Option<Current>,
}

struct Current {
    snap: FuzzySnapshot,
    parts: std::sync::mpsc::SyncSender<SnapPart>,
    /// Parts the writer has not taken yet: the core never waits for the disk, it stops
    /// walking until the writer catches up.
    queued: std::collections::VecDeque<SnapPart>,
    /// Whether the End part is queued or sent.
    ended: bool,
    started: Instant,
    /// When the walk may take the core thread again.
    next_walk: Instant,
}

impl Current {
    /// Hands queued parts to the writer while it takes them; false if the writer is gone.
    fn flush(&mut self) -> bool {
        use std::sync::mpsc::TrySendError;
        while let Some(part) = self.queued.pop_front() {
            match self.parts.try_send(part) {
                Ok(()) => {}
                Err(TrySendError::Full(part)) => {
                    self.queued.push_front(part);
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        true
    }
}

/// Node bytes handed to the writer at a time.
const CHUNK_BYTES: usize = 1 << 20;
/// Chunks queued for the writer thread.
const QUEUED_CHUNKS: usize = 8;

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

/// Time a step walks the tree for, between request batches.
const STEP_TIME: Duration = Duration::from_millis(2);
/// After walking for some time, the walk waits this many times as long: the snapshot
/// takes at most a quarter of the core thread, which serves requests the rest of the time
/// (ZooKeeper walks on a thread of its own; a snapshot due while one is still under way is
/// skipped, as ZooKeeper skips it).
const WALK_PAUSE_FACTOR: u32 = 3;

impl Snapshotter for RocksSnapshotter {
    fn start(&mut self, source: &dyn SnapshotSource) {
        use std::sync::atomic::Ordering;
        if self.current.is_some() || self.busy.load(Ordering::Acquire) {
            // ZooKeeper skips a snapshot while the previous one is still being written.
            tracing::warn!("too busy to snapshot, skipping");
            return;
        }
        let zxid = source.zxid();
        let started = Instant::now();
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUED_CHUNKS);
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
                match store.put_snapshot_stream(zxid, rx) {
                    Ok(Some(stats)) => tracing::info!(
                        "snapshot 0x{zxid:x}: {} bytes in {} chunks, stored after {:?}",
                        stats.bytes,
                        stats.chunks,
                        started.elapsed()
                    ),
                    Ok(None) => tracing::info!("snapshot 0x{zxid:x} abandoned"),
                    Err(e) => tracing::error!("snapshot 0x{zxid:x} failed: {e}"),
                }
                if let Some(retain) = purge {
                    let purged = store.purge_snapshots(retain).and_then(|oldest| {
                        oldest.map_or(Ok(()), |z| log_store.purge_log_through(z))
                    });
                    if let Err(e) = purged {
                        tracing::error!("purge failed: {e}");
                    }
                }
                busy.store(false, Ordering::Release);
            });
        match spawned {
            Ok(_) => {
                self.current = Some(Current {
                    snap: FuzzySnapshot::new(zxid, source.sessions()),
                    parts: tx,
                    queued: Default::default(),
                    ended: false,
                    started,
                    next_walk: started,
                })
            }
            Err(e) => {
                tracing::error!("cannot start the snapshot writer: {e}");
                self.busy.store(false, Ordering::Release);
            }
        }
    }

    fn next_walk(&self) -> Option<Instant> {
        self.current
            .as_ref()
            .filter(|c| !c.ended && c.queued.is_empty() && !c.snap.walked())
            .map(|c| c.next_walk)
    }

    fn step(&mut self, source: &dyn SnapshotSource, durable_zxid: i64) {
        let Some(cur) = self.current.as_mut() else {
            return;
        };
        if !cur.flush() {
            // The writer failed and said why; this snapshot is given up.
            self.current = None;
            return;
        }
        if cur.ended {
            if cur.queued.is_empty() {
                self.current = None;
            }
            return;
        }
        if !cur.queued.is_empty() {
            return;
        }
        let t0 = Instant::now();
        let mut done = cur.snap.walked();
        if !done && t0 < cur.next_walk {
            return;
        }
        // Walk in slices of 256 nodes until the step's time is used up.
        while !done && t0.elapsed() < STEP_TIME {
            done = cur.snap.step(source.tree(), 256);
        }
        cur.next_walk = Instant::now() + t0.elapsed() * WALK_PAUSE_FACTOR;
        if let Some(chunk) = cur.snap.take_nodes(CHUNK_BYTES) {
            cur.queued.push_back(SnapPart::Nodes(chunk));
        }
        if done && cur.snap.zxid() <= durable_zxid {
            let snap = std::mem::replace(&mut cur.snap, FuzzySnapshot::new(0, Vec::new()));
            let (zxid, nodes) = (snap.zxid(), snap.written());
            tracing::debug!(
                "snapshot 0x{zxid:x}: {nodes} nodes walked in {:?}",
                cur.started.elapsed()
            );
            // Head and tail are small; the writer checksums and stores everything.
            cur.queued.push_back(SnapPart::End(snap.finish_parts()));
            cur.ended = true;
        }
        if !cur.flush() {
            self.current = None;
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
        // Read chunk by chunk: a big snapshot is never whole in memory beside its tree.
        let loaded = store.snapshot_chunks(z).and_then(|(len, chunks)| {
            read_snapshot_chunks(len, chunks, extended_types)
                .map_err(|e| StorageError::Corrupt(e.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{perms, Acl};

    /// A source that owns its state: the snapshotter needs no core.
    struct OwnedSource {
        tree: DataTree,
        sessions: Vec<(i64, i32)>,
    }

    impl SnapshotSource for OwnedSource {
        fn tree(&self) -> &DataTree {
            &self.tree
        }
        fn sessions(&self) -> Vec<(i64, i32)> {
            self.sessions.clone()
        }
    }

    impl OwnedSource {
        /// Creates `/n<i>` as the txn `zxid` would.
        fn create(&mut self, i: usize, zxid: i64) {
            let pcv = self.tree.get("/").map_or(0, |n| n.stat().cversion) + 1;
            self.tree
                .create(
                    &format!("/n{i}"),
                    Some(vec![i as u8; 16]),
                    vec![Acl::world(perms::ALL)],
                    0,
                    pcv,
                    zxid,
                    zxid,
                )
                .expect("create");
            self.tree.last_processed_zxid = zxid;
        }
    }

    /// Steps `s` until `done` says so, waiting for its walk pauses.
    fn step_until(
        s: &mut RocksSnapshotter,
        src: &OwnedSource,
        durable: i64,
        mut done: impl FnMut(&RocksSnapshotter) -> bool,
    ) {
        let until = Instant::now() + Duration::from_secs(20);
        while !done(s) {
            assert!(Instant::now() < until, "the snapshot did not get there");
            s.step(src, durable);
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_fuzzy_snapshot_of_a_changing_source_is_stored_once_the_log_covers_its_zxid() {
        let dir = std::env::temp_dir().join(format!("fk-snapshotter-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Arc::new(RocksStore::open(&dir).expect("open"));
        let cfg = Config::default_standalone();
        let mut s = RocksSnapshotter::new(store.clone(), store.clone(), &cfg);
        let mut src = OwnedSource {
            tree: DataTree::new(cfg.extended_types_enabled),
            sessions: vec![(0x101, 30_000), (0x102, 4_000)],
        };
        let before = 20_000;
        for i in 0..before {
            src.create(i, i as i64 + 1);
        }
        let zxid = src.zxid();
        s.start(&src);
        // The source goes on changing while the walk is under way (requests go on).
        s.step(&src, 0);
        for i in before..before + 100 {
            src.create(i, i as i64 + 1);
        }
        src.sessions.push((0x103, 5_000));
        // Walked to the end, but the log is not durable up to the snapshot's zxid yet:
        // nothing is stored.
        step_until(&mut s, &src, zxid - 1, |s| {
            s.current.as_ref().is_some_and(|c| c.snap.walked())
        });
        for _ in 0..10 {
            s.step(&src, zxid - 1);
        }
        assert!(s.current.as_ref().is_some_and(|c| !c.ended));
        assert!(store.snapshot_zxids().expect("zxids").is_empty());
        // Once the log covers it, the snapshot is finished and stored under its zxid.
        step_until(&mut s, &src, zxid, |s| s.current.is_none());
        let until = Instant::now() + Duration::from_secs(20);
        while store.snapshot_zxids().expect("zxids").is_empty() {
            assert!(Instant::now() < until, "the snapshot was not stored");
            std::thread::sleep(Duration::from_millis(10));
        }
        let (tree, sessions, at) = load_latest(&store, cfg.extended_types_enabled)
            .expect("load")
            .expect("a snapshot");
        assert_eq!(at, zxid);
        // The sessions are those of the start; every node of the start is there (later
        // ones may be too: the snapshot is fuzzy, and replaying the log from its zxid
        // makes it exact).
        assert_eq!(
            sessions.into_iter().collect::<Vec<_>>(),
            vec![(0x101, 30_000), (0x102, 4_000)]
        );
        for i in 0..before {
            assert!(tree.get(&format!("/n{i}")).is_some(), "/n{i}");
        }
        drop(s);
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
