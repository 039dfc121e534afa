//! The RocksDB backend. Column families: `txnlog` (big-endian zxid -> Adler32 ‖ txn entry,
//! the entry being the exact bytes ZooKeeper logs), `snapshot` (zxid ‖ chunk -> part of a
//! ZooKeeper snapshot file), `meta` (per snapshot: length, chunks, Adler32). A snapshot
//! exists once its meta record does: the server streams its snapshots into an SST file that
//! is ingested whole (so they pass neither the WAL nor a memtable, and never hold up the
//! txn log's group commits), then writes the meta record; a crash before that leaves
//! chunks without meta, which the next open removes.

use std::path::Path;

use rocksdb::{
    ColumnFamilyDescriptor, IngestExternalFileOptions, IteratorMode, Options, SstFileWriter,
    WriteBatch, WriteOptions, DB,
};

use crate::storage::zk::{adler32_combine, SnapshotParts};
use crate::storage::{check_truncation, StorageError, TxnLog};

const CF_LOG: &str = "txnlog";
const CF_SNAP: &str = "snapshot";
const CF_META: &str = "meta";
/// Snapshots are split so no single value is huge.
const CHUNK: usize = 4 << 20;
/// The chunk numbers of a streamed snapshot's head (header, sessions, ACLs) and tail
/// (seals, digest): written last but read first and last, around chunks 0..n.
const HEAD_CHUNK: u32 = u32::MAX - 1;
const TAIL_CHUNK: u32 = u32::MAX;
/// The prefix of the files a snapshot is streamed into before RocksDB ingests them.
const SNAP_TMP_PREFIX: &str = "ferrokeeper-snapshot-";
/// A key after every key of the log and snapshot column families (zxid keys are 8 bytes,
/// chunk keys 12): the exclusive end of a range delete that runs to the end.
const PAST_ALL_KEYS: [u8; 13] = [0xff; 13];

fn rocks(e: rocksdb::Error) -> StorageError {
    StorageError::Io(e.to_string())
}

fn zxid_key(zxid: i64) -> [u8; 8] {
    (zxid as u64).to_be_bytes()
}

fn adler(b: &[u8]) -> u32 {
    adler2::adler32_slice(b)
}

/// A Ferrokeeper data directory.
pub struct RocksStore {
    db: DB,
    /// The data directory (which holds `ferrokeeper-db`).
    data_dir: std::path::PathBuf,
    /// Declared after `db`, so it is dropped once the database is closed.
    _open: OpenMark,
}

/// The data directories whose store is open in this process (a directory once per open
/// store). A process that embeds a server and goes on after it waits here for the store's
/// last handle, held by the writer threads, to close: RocksDB's static destructors abort
/// on a database still open when the process exits ("pthread lock: Invalid argument").
static OPEN_STORES: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

struct OpenMark(std::path::PathBuf);

impl OpenMark {
    fn new(data_dir: &Path) -> OpenMark {
        if let Ok(mut open) = OPEN_STORES.lock() {
            open.push(data_dir.to_path_buf());
        }
        OpenMark(data_dir.to_path_buf())
    }
}

impl Drop for OpenMark {
    fn drop(&mut self) {
        if let Ok(mut open) = OPEN_STORES.lock() {
            if let Some(i) = open.iter().position(|d| d == &self.0) {
                open.swap_remove(i);
            }
        }
    }
}

/// Waits until no store of `data_dir` is open in this process; false if one still is
/// after `within`.
pub(crate) fn wait_closed(data_dir: &Path, within: std::time::Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        let open = OPEN_STORES
            .lock()
            .is_ok_and(|open| open.iter().any(|d| d == data_dir));
        if !open {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// A part of a snapshot for [`RocksStore::put_snapshot_stream`].
pub enum SnapPart {
    /// Node bytes, in file order.
    Nodes(Vec<u8>),
    /// The rest: the snapshot is complete.
    End(SnapshotParts),
}

/// What a stored snapshot came to.
#[derive(Debug, Clone, Copy)]
pub struct SnapStats {
    /// Bytes of the ZooKeeper snapshot file.
    pub bytes: u64,
    /// Node chunks.
    pub chunks: u32,
}

impl RocksStore {
    /// Opens (creating if needed) the store of a data directory: the RocksDB files live in
    /// `<data_dir>/ferrokeeper-db`, beside what a ZooKeeper data directory holds.
    pub fn open(data_dir: &Path) -> Result<RocksStore, StorageError> {
        let dir = data_dir.join("ferrokeeper-db");
        let dir = dir.as_path();
        std::fs::create_dir_all(dir)
            .map_err(|e| StorageError::Io(format!("{}: {e}", dir.display())))?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // A torn WAL tail from a crash is cut at the last whole record.
        opts.set_wal_recovery_mode(rocksdb::DBRecoveryMode::PointInTime);
        opts.set_max_total_wal_size(64 << 20);
        let cfs = [CF_LOG, CF_SNAP, CF_META]
            .into_iter()
            .map(|n| ColumnFamilyDescriptor::new(n, cf_options(n)));
        let db = DB::open_cf_descriptors(&opts, dir, cfs).map_err(rocks)?;
        let store = RocksStore {
            db,
            data_dir: data_dir.to_path_buf(),
            _open: OpenMark::new(data_dir),
        };
        store.drop_unfinished_snapshots()?;
        Ok(store)
    }

    /// Removes what a crash left of snapshots being written: stream files not yet
    /// ingested, and ingested chunks whose meta record was never written.
    fn drop_unfinished_snapshots(&self) -> Result<(), StorageError> {
        if let Ok(entries) = std::fs::read_dir(&self.data_dir) {
            for e in entries.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(SNAP_TMP_PREFIX) && name.ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let kept: std::collections::HashSet<i64> = self.snapshot_zxids()?.into_iter().collect();
        let snap = self.cf(CF_SNAP)?;
        let mut orphans = Vec::new();
        let mut it = self.db.raw_iterator_cf(snap);
        it.seek_to_first();
        while let Some(k) = it.key() {
            let z = key_zxid(k)?;
            if !kept.contains(&z) {
                orphans.push(z);
            }
            if z == i64::MAX {
                break;
            }
            it.seek(chunk_key(z + 1, 0));
        }
        it.status().map_err(rocks)?;
        for z in orphans {
            tracing::warn!("removing the unfinished snapshot 0x{z:x}");
            self.delete_chunks(z)?;
        }
        Ok(())
    }

    fn cf(&self, name: &str) -> Result<&rocksdb::ColumnFamily, StorageError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StorageError::Corrupt(format!("column family {name} missing")))
    }

    /// Appends txn entries in one batch; with `sync`, durable on return.
    pub fn append_txns(&self, entries: &[(i64, Vec<u8>)], sync: bool) -> Result<(), StorageError> {
        let cf = self.cf(CF_LOG)?;
        let mut batch = WriteBatch::default();
        for (zxid, entry) in entries {
            let mut v = Vec::with_capacity(4 + entry.len());
            v.extend_from_slice(&adler(entry).to_be_bytes());
            v.extend_from_slice(entry);
            batch.put_cf(cf, zxid_key(*zxid), v);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(batch, &wo).map_err(rocks)
    }

    /// Every txn with zxid > `zxid`, checksums verified.
    pub fn txns_after(&self, zxid: i64) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
        self.txns_range(zxid, usize::MAX)
    }

    /// At most `max` txns with zxid > `zxid`, checksums verified.
    pub fn txns_range(&self, zxid: i64, max: usize) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
        let cf = self.cf(CF_LOG)?;
        let start = zxid_key(zxid.saturating_add(1).max(0));
        let mut out = Vec::new();
        for item in self
            .db
            .iterator_cf(cf, IteratorMode::From(&start, rocksdb::Direction::Forward))
            .take(max)
        {
            let (k, v) = item.map_err(rocks)?;
            let z = key_zxid(&k)?;
            if v.len() < 4 {
                return Err(StorageError::Corrupt(format!("txn 0x{z:x} is truncated")));
            }
            let (sum, entry) = v.split_at(4);
            if sum != adler(entry).to_be_bytes() {
                return Err(StorageError::Corrupt(format!(
                    "txn 0x{z:x} fails its checksum"
                )));
            }
            out.push((z, entry.to_vec()));
        }
        Ok(out)
    }

    /// The lowest logged zxid (`None` when the log is empty).
    pub fn first_logged_zxid(&self) -> Result<Option<i64>, StorageError> {
        let cf = self.cf(CF_LOG)?;
        match self.db.iterator_cf(cf, IteratorMode::Start).next() {
            Some(item) => key_zxid(&item.map_err(rocks)?.0).map(Some),
            None => Ok(None),
        }
    }

    /// Deletes, in one synced write, the log entries after `zxid` (when `log`) and the
    /// snapshots after it (when `snapshots`). The meta records go in the same write, so a
    /// snapshot either still exists whole or is gone; chunks a crash might strand are
    /// ranged away here too, and [`RocksStore::open`] would drop them anyway.
    pub fn truncate_after(
        &self,
        zxid: i64,
        log: bool,
        snapshots: bool,
    ) -> Result<(), StorageError> {
        let mut batch = WriteBatch::default();
        if log {
            let from = zxid_key(zxid.saturating_add(1).max(0));
            batch.delete_range_cf(self.cf(CF_LOG)?, &from[..], &PAST_ALL_KEYS[..]);
        }
        if snapshots {
            let meta = self.cf(CF_META)?;
            for z in self.snapshot_zxids()?.into_iter().filter(|z| *z > zxid) {
                batch.delete_cf(meta, snap_meta_key(z));
            }
            let from = chunk_key(zxid.saturating_add(1).max(0), 0);
            batch.delete_range_cf(self.cf(CF_SNAP)?, &from[..], &PAST_ALL_KEYS[..]);
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo).map_err(rocks)
    }

    /// The highest logged zxid (0 when the log is empty).
    pub fn last_logged_zxid(&self) -> Result<i64, StorageError> {
        let cf = self.cf(CF_LOG)?;
        match self.db.iterator_cf(cf, IteratorMode::End).next() {
            Some(item) => key_zxid(&item.map_err(rocks)?.0),
            None => Ok(0),
        }
    }

    /// Stores a snapshot (ZooKeeper's file bytes) atomically and durably.
    pub fn put_snapshot(&self, zxid: i64, bytes: &[u8]) -> Result<(), StorageError> {
        let (snap, meta) = (self.cf(CF_SNAP)?, self.cf(CF_META)?);
        let mut batch = WriteBatch::default();
        // Whatever an earlier snapshot of this zxid left (a streamed one's head and tail).
        batch.delete_range_cf(
            snap,
            chunk_key(zxid, 0),
            chunk_key(zxid.saturating_add(1), 0),
        );
        let mut chunks = 0u32;
        for (i, c) in bytes.chunks(CHUNK).enumerate() {
            batch.put_cf(snap, chunk_key(zxid, i as u32), c);
            chunks += 1;
        }
        batch.put_cf(
            meta,
            snap_meta_key(zxid),
            meta_record(bytes.len() as u64, chunks, adler(bytes)),
        );
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo).map_err(rocks)
    }

    /// The zxids of the stored snapshots, newest first.
    pub fn snapshot_zxids(&self) -> Result<Vec<i64>, StorageError> {
        let meta = self.cf(CF_META)?;
        let mut out = Vec::new();
        let from = IteratorMode::From(b"snap", rocksdb::Direction::Forward);
        for item in self.db.iterator_cf(meta, from) {
            let (k, _) = item.map_err(rocks)?;
            if !k.starts_with(b"snap") {
                break;
            }
            out.push(key_zxid(&k[4..])?);
        }
        out.sort_unstable_by(|a, b| b.cmp(a));
        Ok(out)
    }

    /// A snapshot's meta record: its length, node chunks and Adler32.
    fn snapshot_meta(&self, zxid: i64) -> Result<(usize, u32, u32), StorageError> {
        let m = self
            .db
            .get_cf(self.cf(CF_META)?, snap_meta_key(zxid))
            .map_err(rocks)?
            .ok_or_else(|| {
                StorageError::Corrupt(format!("snapshot 0x{zxid:x} has no meta record"))
            })?;
        if m.len() != 16 {
            return Err(StorageError::Corrupt(format!(
                "snapshot 0x{zxid:x}: bad meta record"
            )));
        }
        let len = u64::from_be_bytes(m[0..8].try_into().unwrap_or_default()) as usize;
        let chunks = u32::from_be_bytes(m[8..12].try_into().unwrap_or_default());
        let sum = u32::from_be_bytes(m[12..16].try_into().unwrap_or_default());
        Ok((len, chunks, sum))
    }

    /// One snapshot's length, from its meta record (the chunks are not read).
    pub fn snapshot_len(&self, zxid: i64) -> Result<u64, StorageError> {
        Ok(self.snapshot_meta(zxid)?.0 as u64)
    }

    /// One snapshot's bytes, verified against its meta record.
    pub fn get_snapshot(&self, zxid: i64) -> Result<Vec<u8>, StorageError> {
        let (len, chunks) = self.snapshot_chunks(zxid)?;
        let mut bytes = Vec::with_capacity(len);
        for c in chunks {
            bytes.extend_from_slice(&c.map_err(StorageError::Corrupt)?);
        }
        Ok(bytes)
    }

    /// One snapshot's length and its chunks in file order, for reading it without holding
    /// it whole. The last item is an error if the chunks do not add up to the length and
    /// checksum of the meta record.
    pub fn snapshot_chunks(
        &self,
        zxid: i64,
    ) -> Result<(usize, impl Iterator<Item = Result<Vec<u8>, String>> + '_), StorageError> {
        let (len, chunks, sum) = self.snapshot_meta(zxid)?;
        // A streamed snapshot has a head and a tail chunk; one stored whole has neither.
        let keys = std::iter::once((HEAD_CHUNK, false))
            .chain((0..chunks).map(|i| (i, true)))
            .chain(std::iter::once((TAIL_CHUNK, false)));
        let chunks = SnapChunks {
            store: self,
            cf: self.cf(CF_SNAP)?,
            zxid,
            keys: Box::new(keys),
            len,
            sum,
            seen: 0,
            adler: 1,
            done: false,
        };
        Ok((len, chunks))
    }

    /// The newest snapshot that reads back intact (ZooKeeper falls back the same way).
    pub fn latest_snapshot(&self) -> Result<Option<(i64, Vec<u8>)>, StorageError> {
        for z in self.snapshot_zxids()? {
            match self.get_snapshot(z) {
                Ok(b) => return Ok(Some((z, b))),
                Err(e) => tracing::warn!("skipping snapshot 0x{z:x}: {e}"),
            }
        }
        Ok(None)
    }

    /// Deletes a snapshot (used by purge, and by tests that damage data).
    pub fn delete_snapshot(&self, zxid: i64) -> Result<(), StorageError> {
        let meta = self.cf(CF_META)?;
        self.db
            .delete_cf(meta, snap_meta_key(zxid))
            .map_err(rocks)?;
        self.delete_chunks(zxid)
    }

    /// Deletes a snapshot's chunks: the SST files that hold nothing else are dropped at
    /// once (a streamed snapshot is one such file), the rest by a range tombstone.
    fn delete_chunks(&self, zxid: i64) -> Result<(), StorageError> {
        let snap = self.cf(CF_SNAP)?;
        let (from, to) = (chunk_key(zxid, 0), chunk_key(zxid.saturating_add(1), 0));
        self.db
            .delete_file_in_range_cf(snap, from, to)
            .map_err(rocks)?;
        self.db.delete_range_cf(snap, from, to).map_err(rocks)
    }

    /// Stores a snapshot that arrives in parts, as the server writes it: node bytes go to
    /// an SST file as they come, head and tail follow at the end, RocksDB ingests the file
    /// and a synced meta record makes the snapshot exist. Parts that stop before
    /// [`SnapPart::End`] (the server gave the snapshot up) leave nothing behind.
    pub fn put_snapshot_stream(
        &self,
        zxid: i64,
        parts: impl IntoIterator<Item = SnapPart>,
    ) -> Result<Option<SnapStats>, StorageError> {
        let tmp = self
            .data_dir
            .join(format!("{SNAP_TMP_PREFIX}{:016x}.sst.tmp", zxid as u64));
        let result = self.stream_to_sst(zxid, &tmp, parts);
        if !matches!(result, Ok(Some(_))) {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn stream_to_sst(
        &self,
        zxid: i64,
        tmp: &Path,
        parts: impl IntoIterator<Item = SnapPart>,
    ) -> Result<Option<SnapStats>, StorageError> {
        let opts = Options::default();
        let mut w = SstFileWriter::create(&opts);
        w.open(tmp).map_err(rocks)?;
        let (mut chunks, mut len, mut sum) = (0u32, 0u64, 1u32);
        let mut put = |w: &mut SstFileWriter, c: &[u8]| -> Result<(), StorageError> {
            if c.is_empty() {
                return Ok(());
            }
            w.put(chunk_key(zxid, chunks), c).map_err(rocks)?;
            sum = adler32_combine(sum, adler(c), c.len() as u64);
            len += c.len() as u64;
            chunks += 1;
            Ok(())
        };
        let mut end = None;
        for part in parts {
            match part {
                SnapPart::Nodes(c) => put(&mut w, &c)?,
                SnapPart::End(p) => {
                    put(&mut w, &p.nodes)?;
                    end = Some(p);
                    break;
                }
            }
        }
        let Some(p) = end else {
            return Ok(None);
        };
        w.put(chunk_key(zxid, HEAD_CHUNK), &p.head).map_err(rocks)?;
        w.put(chunk_key(zxid, TAIL_CHUNK), &p.tail).map_err(rocks)?;
        // Finish syncs the file; ingesting moves it into the store.
        w.finish().map_err(rocks)?;
        let whole = adler32_combine(
            adler32_combine(adler(&p.head), sum, len),
            adler(&p.tail),
            p.tail.len() as u64,
        );
        let total = p.head.len() as u64 + len + p.tail.len() as u64;
        let snap = self.cf(CF_SNAP)?;
        let mut io = IngestExternalFileOptions::default();
        io.set_move_files(true);
        self.db
            .ingest_external_file_cf_opts(snap, &io, vec![tmp])
            .map_err(rocks)?;
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db
            .put_cf_opt(
                self.cf(CF_META)?,
                snap_meta_key(zxid),
                meta_record(total, chunks, whole),
                &wo,
            )
            .map_err(rocks)?;
        Ok(Some(SnapStats {
            bytes: total,
            chunks,
        }))
    }

    /// Keeps the newest `retain` snapshots and the log after the oldest of them.
    pub fn purge(&self, retain: usize) -> Result<(), StorageError> {
        if let Some(oldest_kept) = self.purge_snapshots(retain)? {
            self.purge_log_through(oldest_kept)?;
        }
        Ok(())
    }

    /// Keeps the newest `retain` snapshots; returns the oldest kept when any were removed.
    pub fn purge_snapshots(&self, retain: usize) -> Result<Option<i64>, StorageError> {
        let zxids = self.snapshot_zxids()?;
        if zxids.len() <= retain || retain == 0 {
            return Ok(None);
        }
        for z in &zxids[retain..] {
            self.delete_snapshot(*z)?;
        }
        Ok(Some(zxids[retain - 1]))
    }

    /// Deletes log entries with zxid <= `zxid` (covered by a kept snapshot).
    pub fn purge_log_through(&self, zxid: i64) -> Result<(), StorageError> {
        let log = self.cf(CF_LOG)?;
        self.db
            .delete_range_cf(log, zxid_key(0), zxid_key(zxid.saturating_add(1)))
            .map_err(rocks)
    }

    /// Overwrites a raw log value (tests use it to damage an entry).
    pub fn put_raw_log_value(&self, zxid: i64, value: &[u8]) -> Result<(), StorageError> {
        let cf = self.cf(CF_LOG)?;
        self.db.put_cf(cf, zxid_key(zxid), value).map_err(rocks)
    }
}

/// Column family options. The log is written once and read only at recovery, snapshots
/// arrive as ingested files and meta records are tiny: small memtables keep RocksDB's share
/// of the server's memory small. The default 64 MiB memtable (two of them while one
/// flushes) would hold a large part of the log in RAM; with 8 MiB, RocksDB was still a
/// tenth of a loaded server's RSS.
fn cf_options(name: &str) -> Options {
    let mut o = Options::default();
    let buffer = if name == CF_LOG { 4 << 20 } else { 1 << 20 };
    o.set_write_buffer_size(buffer);
    o.set_max_write_buffer_number(2);
    // Reads happen at recovery only: a small cache, holding the files' index blocks too
    // (otherwise each open file keeps its index in memory for good).
    let mut t = rocksdb::BlockBasedOptions::default();
    t.set_block_cache(&block_cache());
    t.set_cache_index_and_filter_blocks(true);
    o.set_block_based_table_factory(&t);
    o
}

/// The block cache every column family shares: 4 MiB.
fn block_cache() -> rocksdb::Cache {
    static CACHE: std::sync::OnceLock<rocksdb::Cache> = std::sync::OnceLock::new();
    CACHE
        .get_or_init(|| rocksdb::Cache::new_lru_cache(4 << 20))
        .clone()
}

/// A stored snapshot's chunks in file order, checked against its meta record at the end.
struct SnapChunks<'a> {
    store: &'a RocksStore,
    cf: &'a rocksdb::ColumnFamily,
    zxid: i64,
    /// Chunk numbers, and whether the chunk must exist.
    keys: Box<dyn Iterator<Item = (u32, bool)> + 'a>,
    len: usize,
    sum: u32,
    seen: usize,
    adler: u32,
    done: bool,
}

impl Iterator for SnapChunks<'_> {
    type Item = Result<Vec<u8>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let zxid = self.zxid;
        while !self.done {
            let Some((i, required)) = self.keys.next() else {
                self.done = true;
                let intact = self.seen == self.len && self.adler == self.sum;
                return (!intact).then(|| Err(format!("snapshot 0x{zxid:x} fails its checksum")));
            };
            match self.store.db.get_cf(self.cf, chunk_key(zxid, i)) {
                Ok(Some(c)) => {
                    self.seen += c.len();
                    self.adler = adler32_combine(self.adler, adler(&c), c.len() as u64);
                    return Some(Ok(c));
                }
                Ok(None) if !required => {}
                Ok(None) => {
                    self.done = true;
                    return Some(Err(format!("snapshot 0x{zxid:x}: chunk {i} missing")));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(format!("snapshot 0x{zxid:x}: {e}")));
                }
            }
        }
        None
    }
}

/// A snapshot's meta record: its length, node chunks and Adler32.
fn meta_record(len: u64, chunks: u32, sum: u32) -> Vec<u8> {
    let mut m = Vec::with_capacity(16);
    m.extend_from_slice(&len.to_be_bytes());
    m.extend_from_slice(&chunks.to_be_bytes());
    m.extend_from_slice(&sum.to_be_bytes());
    m
}

fn key_zxid(k: &[u8]) -> Result<i64, StorageError> {
    let b: [u8; 8] = k
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| StorageError::Corrupt("short key".into()))?;
    Ok(u64::from_be_bytes(b) as i64)
}

fn chunk_key(zxid: i64, i: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&zxid_key(zxid));
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

fn snap_meta_key(zxid: i64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(b"snap");
    k[4..].copy_from_slice(&zxid_key(zxid));
    k
}

/// The RocksDB store as a [`TxnLog`]: appends collect in a batch, `sync` writes it.
pub struct RocksLog {
    /// The store of the log (dataLogDir's when that is set).
    store: std::sync::Arc<RocksStore>,
    /// The store of the snapshots (dataDir's): the same as `store` unless dataLogDir is set.
    snaps: std::sync::Arc<RocksStore>,
    batch: Vec<(i64, Vec<u8>)>,
    last: i64,
    /// forceSync: fsync each group commit (ZooKeeper's default, `forceSync=no` turns it off).
    pub force_sync: bool,
}

impl RocksLog {
    /// Wraps an opened store.
    pub fn new(
        store: std::sync::Arc<RocksStore>,
        force_sync: bool,
    ) -> Result<RocksLog, StorageError> {
        let last = store.last_logged_zxid()?;
        Ok(RocksLog {
            snaps: store.clone(),
            store,
            batch: Vec::new(),
            last,
            force_sync,
        })
    }

    /// Keeps snapshots in `snaps` (dataDir's store) while the log is elsewhere.
    pub(crate) fn with_snapshot_store(mut self, snaps: std::sync::Arc<RocksStore>) -> RocksLog {
        self.snaps = snaps;
        self
    }
}

impl TxnLog for RocksLog {
    fn append(&mut self, zxid: i64, entry: &[u8]) -> Result<(), StorageError> {
        if zxid <= self.last {
            return Err(StorageError::Io(format!(
                "zxid 0x{zxid:x} is not after 0x{:x}",
                self.last
            )));
        }
        self.last = zxid;
        self.batch.push((zxid, entry.to_vec()));
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StorageError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        self.store.append_txns(&batch, self.force_sync)
    }

    fn read_range(
        &self,
        after: i64,
        max_entries: usize,
    ) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
        self.store.txns_range(after, max_entries)
    }

    fn read_from(&self, after: i64) -> Result<Vec<(i64, Vec<u8>)>, StorageError> {
        // One pass: recovery reads the whole log anyway.
        self.store.txns_after(after)
    }

    fn first_zxid(&self) -> Result<Option<i64>, StorageError> {
        self.store.first_logged_zxid()
    }

    fn last_zxid(&self) -> i64 {
        self.last
    }

    fn truncate_after(&mut self, zxid: i64) -> Result<(), StorageError> {
        // What was appended is written first, so the truncation below covers it too.
        self.sync()?;
        let snapshots = self.snaps.snapshot_zxids()?;
        if zxid >= self.last && snapshots.iter().all(|z| *z <= zxid) {
            return Ok(());
        }
        check_truncation(zxid, &snapshots, self.store.first_logged_zxid()?)?;
        if std::sync::Arc::ptr_eq(&self.store, &self.snaps) {
            self.store.truncate_after(zxid, true, true)?;
        } else {
            // Snapshots first: a crash in between leaves the dropped txns in the log, to be
            // truncated again, but never a snapshot ahead of the log.
            self.snaps.truncate_after(zxid, false, true)?;
            self.store.truncate_after(zxid, true, false)?;
        }
        self.last = self.store.last_logged_zxid()?;
        Ok(())
    }

    fn put_snapshot(&mut self, zxid: i64, bytes: &[u8]) -> Result<(), StorageError> {
        self.snaps.put_snapshot(zxid, bytes)
    }

    fn snapshot_zxids(&self) -> Result<Vec<i64>, StorageError> {
        self.snaps.snapshot_zxids()
    }

    fn get_snapshot(&self, zxid: i64) -> Result<Vec<u8>, StorageError> {
        self.snaps.get_snapshot(zxid)
    }

    fn snapshot_len(&self, zxid: i64) -> Result<u64, StorageError> {
        self.snaps.snapshot_len(zxid)
    }

    fn purge(&mut self, retain: usize) -> Result<(), StorageError> {
        if let Some(oldest_kept) = self.snaps.purge_snapshots(retain)? {
            self.store.purge_log_through(oldest_kept)?;
        }
        Ok(())
    }
}

/// The newest intact snapshot plus the log after it.
pub fn recover(
    store: &RocksStore,
    extended_types: bool,
) -> Result<crate::storage::recovery::Recovered, StorageError> {
    recover_split(store, store, extended_types)
}

/// Recovery with snapshots and log in separate stores (dataDir and dataLogDir).
pub fn recover_split(
    store: &RocksStore,
    log_store: &RocksStore,
    extended_types: bool,
) -> Result<crate::storage::recovery::Recovered, StorageError> {
    let loaded = crate::storage::snapshotter::load_latest(store, extended_types)?;
    let (tree, sessions, snap_zxid) = match loaded {
        Some(x) => x,
        None => (
            crate::tree::DataTree::new(extended_types),
            Default::default(),
            0,
        ),
    };
    let txns = log_store.txns_after(snap_zxid)?;
    crate::storage::recovery::replay(tree, sessions, snap_zxid, txns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("fk-rocks-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// A data directory as a suite backend; `log_dir` plays dataLogDir when set.
    struct Rocks {
        dir: std::path::PathBuf,
        log_dir: Option<std::path::PathBuf>,
    }

    impl crate::storage::suite::Backend for Rocks {
        fn open(&mut self) -> Box<dyn TxnLog> {
            let store = std::sync::Arc::new(RocksStore::open(&self.dir).unwrap());
            let log = match &self.log_dir {
                Some(d) => RocksLog::new(std::sync::Arc::new(RocksStore::open(d).unwrap()), true)
                    .unwrap()
                    .with_snapshot_store(store),
                None => RocksLog::new(store, true).unwrap(),
            };
            Box::new(log)
        }
        fn reopen(&mut self, log: Box<dyn TxnLog>) -> Box<dyn TxnLog> {
            // Dropping the last handle closes the database.
            drop(log);
            self.open()
        }
    }

    impl Drop for Rocks {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
            if let Some(d) = &self.log_dir {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }

    fn rocks(name: &str) -> Rocks {
        Rocks {
            dir: temp_dir(name),
            log_dir: None,
        }
    }

    crate::storage::suite::backend_cases!(rocks);

    /// The suite again with the log in a store of its own (dataLogDir).
    mod split_log_dir {
        use super::{temp_dir, Rocks};

        fn rocks_split(name: &str) -> Rocks {
            Rocks {
                dir: temp_dir(&format!("{name}-data")),
                log_dir: Some(temp_dir(&format!("{name}-log"))),
            }
        }

        crate::storage::suite::backend_cases!(rocks_split);
    }

    #[test]
    fn a_store_is_open_until_its_last_handle_is_gone() {
        let dir = temp_dir("open-mark");
        let store = std::sync::Arc::new(RocksStore::open(&dir).unwrap());
        let held = store.clone();
        let short = std::time::Duration::from_millis(20);
        assert!(!wait_closed(&dir, short));
        drop(store);
        assert!(!wait_closed(&dir, short), "another handle still holds it");
        let closer = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            drop(held);
        });
        assert!(wait_closed(&dir, std::time::Duration::from_secs(10)));
        closer.join().unwrap();
        // Closed for good: the directory can be opened again at once.
        drop(RocksStore::open(&dir).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn damaged_entries_are_reported() {
        let dir = temp_dir("damage");
        let store = RocksStore::open(&dir).unwrap();
        store
            .append_txns(&[(1, b"x".to_vec()), (2, b"y".to_vec())], true)
            .unwrap();
        store.put_raw_log_value(2, b"\0\0\0\0y").unwrap();
        let err = store.txns_after(0).unwrap_err().to_string();
        assert!(err.contains("0x2") && err.contains("checksum"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn parts(head: &[u8], chunks: &[&[u8]], last: &[u8], tail: &[u8]) -> Vec<SnapPart> {
        let mut v: Vec<SnapPart> = chunks.iter().map(|c| SnapPart::Nodes(c.to_vec())).collect();
        v.push(SnapPart::End(SnapshotParts {
            head: head.to_vec(),
            nodes: last.to_vec(),
            tail: tail.to_vec(),
        }));
        v
    }

    #[test]
    fn streamed_snapshots_read_back_whole_and_purge_cleanly() {
        let dir = temp_dir("stream");
        let store = RocksStore::open(&dir).unwrap();
        store.put_snapshot(5, b"older, stored whole").unwrap();
        let big = vec![7u8; 3 << 20];
        let stats = store
            .put_snapshot_stream(9, parts(b"HEAD", &[b"one", &big, b""], b"last", b"TAIL"))
            .unwrap()
            .unwrap();
        assert_eq!(stats.chunks, 3);
        let mut want = b"HEADone".to_vec();
        want.extend_from_slice(&big);
        want.extend_from_slice(b"lastTAIL");
        assert_eq!(stats.bytes, want.len() as u64);
        assert_eq!(store.get_snapshot(9).unwrap(), want);
        assert_eq!(store.latest_snapshot().unwrap().unwrap().0, 9);
        // No stream file is left beside the store.
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(SNAP_TMP_PREFIX))
            .collect();
        assert!(left.is_empty());
        // A whole snapshot stored again under the same zxid replaces head and tail too.
        store.put_snapshot(9, b"replaced").unwrap();
        assert_eq!(store.get_snapshot(9).unwrap(), b"replaced");
        store
            .put_snapshot_stream(9, parts(b"H", &[b"n"], b"", b"T"))
            .unwrap()
            .unwrap();
        assert_eq!(store.get_snapshot(9).unwrap(), b"HnT");
        store.purge_snapshots(1).unwrap();
        assert_eq!(store.snapshot_zxids().unwrap(), vec![9]);
        assert!(store.get_snapshot(5).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_abandoned_or_unfinished_snapshot_leaves_nothing() {
        let dir = temp_dir("abandon");
        let store = RocksStore::open(&dir).unwrap();
        // The sender went away before End: nothing is stored.
        let given_up = vec![SnapPart::Nodes(b"partial".to_vec())];
        assert!(store.put_snapshot_stream(3, given_up).unwrap().is_none());
        assert!(store.snapshot_zxids().unwrap().is_empty());
        // A crash between ingest and meta: chunks without meta, and a stream file.
        store
            .put_snapshot_stream(4, parts(b"H", &[b"n"], b"", b"T"))
            .unwrap()
            .unwrap();
        store
            .db
            .delete_cf(store.cf(CF_META).unwrap(), snap_meta_key(4))
            .unwrap();
        std::fs::write(
            dir.join(format!("{SNAP_TMP_PREFIX}0000000000000007.sst.tmp")),
            b"x",
        )
        .unwrap();
        drop(store);
        let store = RocksStore::open(&dir).unwrap();
        let snap = store.cf(CF_SNAP).unwrap();
        assert!(store
            .db
            .iterator_cf(snap, IteratorMode::Start)
            .next()
            .is_none());
        assert!(std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().starts_with(SNAP_TMP_PREFIX)));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
