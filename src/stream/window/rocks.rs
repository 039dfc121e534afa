//! Window state in RocksDB (`--state-backend rocksdb`, Flink's `state.backend: rocksdb`):
//! per worker one RocksDB instance, so a job's keyed state may be larger than memory.
//!
//! - column family `state`: `[key group: u8][key: u64 BE]` -> `[timer: u64 BE][bincode of the
//!   key's slices or sessions]`; the key-group prefix makes a worker's share of a checkpoint
//!   one key range, read as such by a restore onto another worker count;
//! - column family `timers`: `[timer: u64 BE][key group: u8][key: u64 BE]` -> empty: per key,
//!   the least event frontier at which it has something to do (fire a window, drop state),
//!   so firing reads the due keys in order and never scans the rest;
//! - a bounded write cache of `cache_keys` keys in memory (their state decoded, written back
//!   when evicted or at a checkpoint), which spares hot keys a decode and encode per event.
//!
//! Per key the windows are computed by the same functions as on the heap
//! ([`SliceParams`], [`SessionParams`]), so both backends give the same results. The
//! working instance is scratch: it is written without a WAL and removed when the run ends;
//! a checkpoint is a RocksDB checkpoint (SSTs hard-linked, so unchanged files are shared
//! by successive checkpoints) beside the worker's state file.

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};

use rocksdb::checkpoint::Checkpoint;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, IteratorMode, Options, WriteBatch,
    WriteOptions, DB,
};
use serde::{Deserialize, Serialize};

use super::session::{Session, SessionParams};
use super::sliced::{add_to_slices, sum_window, SliceParams};
use super::{Accumulator, WindowResult, WindowSpec};
use crate::stream::checkpoint::{key_group, KEY_GROUPS};
use crate::stream::StreamError;

const STATE: &str = "state";
const TIMERS: &str = "timers";
/// Restores and firings write in batches of about this many bytes.
const WRITE_BATCH: usize = 4 << 20;

/// Which windows, with the parameters their per-key functions take.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Shape {
    Sliced(SliceParams),
    Session(SessionParams),
}

impl Shape {
    pub(crate) fn new(spec: WindowSpec, lateness: u64) -> Shape {
        let sliced = |size, slide: u64| {
            Shape::Sliced(SliceParams {
                size,
                slide: slide.max(1),
                lateness,
            })
        };
        match spec {
            WindowSpec::Tumbling { size } => sliced(size, size),
            WindowSpec::Sliding { size, slide } => sliced(size, slide),
            WindowSpec::Session { gap } => Shape::Session(SessionParams { gap, lateness }),
        }
    }
}

/// One key's state, as the heap keeps it too.
#[derive(Debug, Serialize, Deserialize)]
#[serde(bound = "A: Accumulator")]
enum KeyState<A> {
    Slices(VecDeque<(u64, A)>),
    Sessions(Vec<Session<A>>),
}

impl<A> KeyState<A> {
    fn empty(shape: Shape) -> KeyState<A> {
        match shape {
            Shape::Sliced(_) => KeyState::Slices(VecDeque::new()),
            Shape::Session(_) => KeyState::Sessions(Vec::new()),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            KeyState::Slices(s) => s.is_empty(),
            KeyState::Sessions(s) => s.is_empty(),
        }
    }
}

/// A key in the write cache.
struct Cached<A> {
    state: KeyState<A>,
    /// Its timer now (`u64::MAX`: none).
    timer: u64,
    /// Its entry in the `timers` column family, if any.
    db_timer: Option<u64>,
    /// Changed since it was read or written.
    dirty: bool,
}

/// What a checkpoint keeps beside the RocksDB checkpoint (the worker's state file).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct RocksMeta {
    pub(crate) shape: Shape,
    pub(crate) fired: u64,
    /// Sliced windows: fired windows `(key, start)` a late event updated.
    pub(crate) refire: Vec<(u64, u64)>,
}

pub(crate) struct RocksWindows<A> {
    shape: Shape,
    fired: u64,
    refire: BTreeSet<(u64, u64)>,
    /// Some key has a timer at or below `fired`: a session a late event changed.
    refire_due: bool,
    /// No timer is below this.
    min_timer: u64,
    /// No timer in the database is below this: reads of the timers start here, past the
    /// tombstones of those already run.
    db_low: u64,
    db: ManuallyDrop<DB>,
    dir: PathBuf,
    cache: HashMap<u64, Cached<A>>,
    cache_keys: usize,
    write: WriteOptions,
    /// The first error of a step, for the engine to fail the run with: a failure of the
    /// worker's RocksDB in the middle of a step has no way back, and the job resumes from
    /// its last committed checkpoint.
    failed: Option<StreamError>,
    /// Set by an error: nothing more is applied or fired.
    dead: bool,
}

fn rocks(e: rocksdb::Error) -> StreamError {
    StreamError::State(format!("rocksdb: {e}"))
}

/// An error of the instance's own data: a run that meets one fails (and can resume from
/// its last checkpoint); it never panics the worker.
fn corrupt(e: impl std::fmt::Display) -> StreamError {
    StreamError::State(format!("stream state backend rocksdb: {e}"))
}

fn state_key(key: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = key_group(key) as u8;
    k[1..].copy_from_slice(&key.to_be_bytes());
    k
}

fn timer_key(t: u64, key: u64) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[..8].copy_from_slice(&t.to_be_bytes());
    k[8] = key_group(key) as u8;
    k[9..].copy_from_slice(&key.to_be_bytes());
    k
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

fn encode<A: Accumulator>(timer: u64, state: &KeyState<A>) -> Result<Vec<u8>, StreamError> {
    let mut v = timer.to_be_bytes().to_vec();
    bincode::serialize_into(&mut v, state).map_err(corrupt)?;
    Ok(v)
}

fn decode<A: Accumulator>(bytes: &[u8]) -> Result<(u64, KeyState<A>), StreamError> {
    if bytes.len() < 8 {
        return Err(StreamError::State(
            "rocksdb: a state value of < 8 bytes".into(),
        ));
    }
    let state = bincode::deserialize(&bytes[8..])
        .map_err(|e| StreamError::State(format!("rocksdb: a state value: {e}")))?;
    Ok((be_u64(bytes), state))
}

fn options() -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_write_buffer_size(16 << 20);
    o.set_max_write_buffer_number(2);
    o.set_max_background_jobs(2);
    o.set_max_open_files(512);
    let mut t = BlockBasedOptions::default();
    // A Bloom filter spares a key that is not there (every new key) a read of each level.
    // Index and filter blocks stay with their table readers (about 1.3 bytes a key): in a
    // block cache this small, a large table's filter would be read again at every get.
    t.set_block_cache(&Cache::new_lru_cache(16 << 20));
    t.set_bloom_filter(10.0, false);
    o.set_block_based_table_factory(&t);
    o
}

fn open_db(path: &Path, read_only: bool) -> Result<DB, StreamError> {
    let o = options();
    if read_only {
        DB::open_cf_for_read_only(&o, path, [STATE, TIMERS], false).map_err(rocks)
    } else {
        let cfs = [STATE, TIMERS].map(|n| ColumnFamilyDescriptor::new(n, options()));
        DB::open_cf_descriptors(&o, path, cfs).map_err(rocks)
    }
}

/// Loads a key's state from the database into a cache entry (empty when it has none).
fn load<A: Accumulator>(db: &DB, shape: Shape, key: u64) -> Result<Cached<A>, StreamError> {
    let cf = db
        .cf_handle(STATE)
        .ok_or_else(|| corrupt("no state family"))?;
    Ok(match db.get_pinned_cf(cf, state_key(key)).map_err(rocks)? {
        Some(v) => {
            let (timer, state) = decode(&v)?;
            Cached {
                state,
                timer,
                db_timer: (timer != u64::MAX).then_some(timer),
                dirty: false,
            }
        }
        None => Cached {
            state: KeyState::empty(shape),
            timer: u64::MAX,
            db_timer: None,
            dirty: false,
        },
    })
}

/// Writes a key's state and timer into `batch` (deletes them once it is empty); `low`
/// stays at or below every timer in the database.
fn write_entry<A: Accumulator>(
    db: &DB,
    batch: &mut WriteBatch,
    key: u64,
    e: &mut Cached<A>,
    low: &mut u64,
) -> Result<(), StreamError> {
    let (Some(state_cf), Some(timers_cf)) = (db.cf_handle(STATE), db.cf_handle(TIMERS)) else {
        return Err(corrupt("no column families"));
    };
    let empty = e.state.is_empty();
    let timer = if empty { None } else { Some(e.timer) }.filter(|t| *t != u64::MAX);
    if let Some(old) = e.db_timer.filter(|old| Some(*old) != timer) {
        batch.delete_cf(timers_cf, timer_key(old, key));
    }
    if empty {
        batch.delete_cf(state_cf, state_key(key));
    } else {
        batch.put_cf(state_cf, state_key(key), encode(e.timer, &e.state)?);
        if let Some(t) = timer.filter(|t| e.db_timer != Some(*t)) {
            batch.put_cf(timers_cf, timer_key(t, key), []);
            *low = (*low).min(t);
        }
    }
    e.db_timer = timer;
    e.dirty = false;
    Ok(())
}

/// The key groups worker `index` of `peers` owns: a range (see `engine::route`).
fn owned_groups(index: usize, peers: usize) -> std::ops::Range<u64> {
    let owns = |kg: u64| kg * peers as u64 / KEY_GROUPS == index as u64;
    let lo = (0..KEY_GROUPS).find(|kg| owns(*kg)).unwrap_or(KEY_GROUPS);
    let hi = (lo..KEY_GROUPS).find(|kg| !owns(*kg)).unwrap_or(KEY_GROUPS);
    lo..hi
}

impl<A: Accumulator> RocksWindows<A> {
    /// A fresh instance in `dir` (whatever was there is removed).
    pub(crate) fn open(
        dir: &Path,
        shape: Shape,
        cache_keys: usize,
    ) -> Result<RocksWindows<A>, StreamError> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).map_err(|e| StreamError::io(dir, e))?;
        let db = open_db(dir, false)?;
        let mut write = WriteOptions::default();
        // Scratch: a run that dies restarts from its last checkpoint, never from this.
        write.disable_wal(true);
        Ok(RocksWindows {
            shape,
            fired: 0,
            refire: BTreeSet::new(),
            refire_due: false,
            min_timer: u64::MAX,
            db_low: u64::MAX,
            db: ManuallyDrop::new(db),
            dir: dir.to_path_buf(),
            cache: HashMap::new(),
            cache_keys,
            write,
            failed: None,
            dead: false,
        })
    }

    /// Takes in worker `index` of `peers`'s share of a saved worker's state: its key
    /// groups' range of the checkpoint in `saved` (a directory a snapshot made).
    pub(crate) fn restore(
        &mut self,
        meta: &RocksMeta,
        saved: &Path,
        index: usize,
        peers: usize,
    ) -> Result<(), StreamError> {
        if meta.shape != self.shape {
            return Err(StreamError::State(format!(
                "{}: saved for {:?}, this job has {:?}",
                saved.display(),
                meta.shape,
                self.shape
            )));
        }
        let mine = |key: u64| owned_groups(index, peers).contains(&key_group(key));
        self.fired = self.fired.max(meta.fired);
        self.refire
            .extend(meta.refire.iter().filter(|(k, _)| mine(*k)));
        let groups = owned_groups(index, peers);
        if groups.is_empty() {
            return Ok(());
        }
        let src = open_db(saved, true)?;
        let src_cf = src
            .cf_handle(STATE)
            .ok_or_else(|| StreamError::State(format!("{}: no state", saved.display())))?;
        let (Some(state_cf), Some(timers_cf)) =
            (self.db.cf_handle(STATE), self.db.cf_handle(TIMERS))
        else {
            return Err(StreamError::State("rocksdb: no column families".into()));
        };
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_upper_bound(vec![groups.end as u8]);
        let from = [groups.start as u8];
        let mut batch = WriteBatch::default();
        for item in src.iterator_cf_opt(
            src_cf,
            ro,
            IteratorMode::From(&from, rocksdb::Direction::Forward),
        ) {
            let (k, v) = item.map_err(rocks)?;
            if k.len() != 9 || v.len() < 8 {
                return Err(StreamError::State(format!(
                    "{}: a state entry of {} and {} bytes",
                    saved.display(),
                    k.len(),
                    v.len()
                )));
            }
            let (key, timer) = (be_u64(&k[1..]), be_u64(&v));
            batch.put_cf(state_cf, &k, &v);
            if timer != u64::MAX {
                batch.put_cf(timers_cf, timer_key(timer, key), []);
                self.min_timer = self.min_timer.min(timer);
                self.db_low = self.db_low.min(timer);
                // A timer saved at or below the frontier: a refire not yet done.
                self.refire_due |= timer <= meta.fired;
            }
            if batch.size_in_bytes() >= WRITE_BATCH {
                self.db
                    .write_opt(std::mem::take(&mut batch), &self.write)
                    .map_err(rocks)?;
            }
        }
        self.db.write_opt(batch, &self.write).map_err(rocks)
    }

    pub(crate) fn fired(&self) -> u64 {
        self.fired
    }

    pub(crate) fn has_refires(&self) -> bool {
        !self.refire.is_empty() || self.refire_due
    }

    fn entry(&mut self, key: u64) -> Result<&mut Cached<A>, StreamError> {
        Ok(match self.cache.entry(key) {
            MapEntry::Occupied(o) => o.into_mut(),
            MapEntry::Vacant(v) => v.insert(load(&self.db, self.shape, key)?),
        })
    }

    /// The first error met since the last call: the run must fail.
    pub(crate) fn take_error(&mut self) -> Option<StreamError> {
        self.failed.take()
    }

    /// Keeps the first error; the instance does nothing more.
    fn fail(&mut self, e: StreamError) {
        self.failed.get_or_insert(e);
        self.dead = true;
    }

    /// Adds an event; false when it was late. After an error it does nothing (the run is
    /// failing, see [`RocksWindows::take_error`]).
    pub(crate) fn add(&mut self, key: u64, ts: u64, e: &A::In) -> bool {
        if self.dead {
            return true;
        }
        match self.try_add(key, ts, e) {
            Ok(added) => added,
            Err(err) => {
                self.fail(err);
                true
            }
        }
    }

    fn try_add(&mut self, key: u64, ts: u64, e: &A::In) -> Result<bool, StreamError> {
        let fired = self.fired;
        let timer = match self.shape {
            Shape::Sliced(p) => {
                let Some(start) = p.admit(key, ts, fired, &mut self.refire) else {
                    return Ok(false);
                };
                let c = self.entry(key)?;
                let KeyState::Slices(slices) = &mut c.state else {
                    return Err(corrupt("sessions in sliced windows"));
                };
                add_to_slices(slices, start, e);
                c.timer = p.timer(slices, fired);
                c.dirty = true;
                c.timer
            }
            Shape::Session(p) => {
                let c = self.entry(key)?;
                let KeyState::Sessions(sessions) = &mut c.state else {
                    return Err(corrupt("slices in session windows"));
                };
                if p.add(sessions, ts, e, fired).is_none() {
                    self.evict_if_full()?;
                    return Ok(false);
                }
                c.timer = p.timer(sessions);
                c.dirty = true;
                let timer = c.timer;
                // A session that fired and changed: its timer is due at once.
                self.refire_due |= timer <= fired;
                timer
            }
        };
        self.min_timer = self.min_timer.min(timer);
        self.evict_if_full()?;
        Ok(true)
    }

    /// Keeps the write cache within `cache_keys`: writes back and drops a quarter of it
    /// (any keys: hashing order).
    fn evict_if_full(&mut self) -> Result<(), StreamError> {
        if self.cache.len() <= self.cache_keys {
            return Ok(());
        }
        let excess = self.cache.len() - self.cache_keys * 3 / 4;
        let victims: Vec<u64> = self.cache.keys().take(excess).copied().collect();
        let mut batch = WriteBatch::default();
        for k in victims {
            if let Some(mut c) = self.cache.remove(&k) {
                if c.dirty {
                    write_entry(&self.db, &mut batch, k, &mut c, &mut self.db_low)?;
                }
            }
        }
        self.db.write_opt(batch, &self.write).map_err(rocks)
    }

    /// Fires what is due before `f`. After an error it does nothing (see
    /// [`RocksWindows::take_error`]).
    pub(crate) fn fire(&mut self, f: u64, out: &mut Vec<WindowResult<A>>) {
        if self.dead {
            return;
        }
        if let Err(e) = self.try_fire(f, out) {
            self.fail(e);
        }
    }

    fn try_fire(&mut self, f: u64, out: &mut Vec<WindowResult<A>>) -> Result<(), StreamError> {
        match self.shape {
            Shape::Sliced(p) => {
                // Updated windows first, while all their slices are still kept.
                for (key, start) in std::mem::take(&mut self.refire) {
                    let c = self.entry(key)?;
                    if let KeyState::Slices(slices) = &c.state {
                        if let Some(stats) = sum_window(slices, start, p.size) {
                            out.push(WindowResult {
                                key,
                                start,
                                end: start + p.size,
                                stats,
                            });
                        }
                    }
                }
                self.evict_if_full()?;
                if f <= self.fired {
                    return Ok(());
                }
            }
            Shape::Session(_) => {
                if f <= self.fired && !self.refire_due {
                    return Ok(());
                }
            }
        }
        let f = f.max(self.fired);
        if self.min_timer <= f {
            self.fire_due(f, out)?;
        }
        self.fired = f;
        self.refire_due = false;
        Ok(())
    }

    /// Runs every key whose timer is at or below `f`, cached or not.
    fn fire_due(&mut self, f: u64, out: &mut Vec<WindowResult<A>>) -> Result<(), StreamError> {
        let (shape, fired) = (self.shape, self.fired);
        let db: &DB = &self.db;
        let (Some(state_cf), Some(timers_cf)) = (db.cf_handle(STATE), db.cf_handle(TIMERS)) else {
            return Err(StreamError::State("rocksdb: no column families".into()));
        };
        let run = |key: u64,
                   state: &mut KeyState<A>,
                   out: &mut Vec<WindowResult<A>>|
         -> Result<u64, StreamError> {
            match (shape, state) {
                (Shape::Sliced(p), KeyState::Slices(s)) => {
                    p.fire_key(key, s, fired, f, out);
                    Ok(p.timer(s, f))
                }
                (Shape::Session(p), KeyState::Sessions(s)) => {
                    p.fire_key(key, s, f, out);
                    Ok(p.timer(s))
                }
                _ => Err(corrupt("state of another window kind")),
            }
        };
        let mut batch = WriteBatch::default();
        // Due keys in the database, in time order: a cached one is run below (its timer
        // here is the one that counts, and the entry is rewritten); another is run here.
        // The batch is written as it grows, so a firing of many keys stays bounded.
        let mut ro = rocksdb::ReadOptions::default();
        ro.set_iterate_upper_bound(f.saturating_add(1).to_be_bytes().to_vec());
        let low = self.db_low.to_be_bytes();
        let mut db_low = u64::MAX;
        for item in db.iterator_cf_opt(
            timers_cf,
            ro,
            IteratorMode::From(&low, rocksdb::Direction::Forward),
        ) {
            let (k, _) = item.map_err(rocks)?;
            if k.len() != 17 {
                return Err(corrupt(format!("a timer key of {} bytes", k.len())));
            }
            let (t, key) = (be_u64(&k), be_u64(&k[9..]));
            if t > f {
                break;
            }
            batch.delete_cf(timers_cf, &k);
            if let Some(c) = self.cache.get_mut(&key) {
                if c.db_timer == Some(t) {
                    c.db_timer = None;
                    c.dirty = true;
                }
                continue;
            }
            let Some(v) = db.get_pinned_cf(state_cf, state_key(key)).map_err(rocks)? else {
                continue;
            };
            let (_, mut state) = decode::<A>(&v)?;
            drop(v);
            let timer = run(key, &mut state, out)?;
            let mut c = Cached {
                state,
                timer,
                db_timer: None,
                dirty: true,
            };
            write_entry(db, &mut batch, key, &mut c, &mut db_low)?;
            if batch.size_in_bytes() >= WRITE_BATCH {
                db.write_opt(std::mem::take(&mut batch), &self.write)
                    .map_err(rocks)?;
            }
        }
        let mut min = u64::MAX;
        let mut emptied = Vec::new();
        for (&key, c) in self.cache.iter_mut() {
            if c.timer <= f {
                c.timer = run(key, &mut c.state, out)?;
                c.dirty = true;
                if c.state.is_empty() {
                    write_entry(db, &mut batch, key, c, &mut db_low)?;
                    emptied.push(key);
                    continue;
                }
            }
            min = min.min(c.timer);
        }
        for key in emptied {
            self.cache.remove(&key);
        }
        db.write_opt(batch, &self.write).map_err(rocks)?;
        // Every timer at or below `f` has run; those written since are above it.
        self.db_low = db_low.min(f.saturating_add(1));
        let low = self.db_low.to_be_bytes();
        let first = db
            .iterator_cf(
                timers_cf,
                IteratorMode::From(&low, rocksdb::Direction::Forward),
            )
            .next();
        if let Some(item) = first {
            let (k, _) = item.map_err(rocks)?;
            if k.len() != 17 {
                return Err(corrupt(format!("a timer key of {} bytes", k.len())));
            }
            min = min.min(be_u64(&k));
        }
        self.min_timer = min;
        Ok(())
    }

    /// Writes the cache back and makes a RocksDB checkpoint of the instance in `to`
    /// (replacing whatever is there): the worker's state, with what
    /// [`RocksWindows::restore`] needs beside it.
    pub(crate) fn snapshot(&mut self, to: &Path) -> Result<RocksMeta, StreamError> {
        let mut batch = WriteBatch::default();
        let db: &DB = &self.db;
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        for (&key, c) in self.cache.iter_mut().filter(|(_, c)| c.dirty) {
            write_entry(db, &mut batch, key, c, &mut self.db_low)?;
        }
        self.cache.retain(|_, c| !c.state.is_empty());
        self.db.write_opt(batch, &self.write).map_err(rocks)?;
        let _ = std::fs::remove_dir_all(to);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StreamError::io(parent, e))?;
        }
        // Flushes the memtables (there is no WAL), then links the SSTs.
        Checkpoint::new(&self.db)
            .and_then(|c| c.create_checkpoint(to))
            .map_err(rocks)?;
        Ok(RocksMeta {
            shape: self.shape,
            fired: self.fired,
            refire: self.refire.iter().copied().collect(),
        })
    }
}

impl<A> Drop for RocksWindows<A> {
    fn drop(&mut self) {
        // SAFETY: the database is not used after this.
        unsafe { ManuallyDrop::drop(&mut self.db) };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
