//! ZooKeeper's restore rules over a data directory (FileTxnSnapLog.restore, FileSnap,
//! FileTxnLog.FileTxnIterator), and writing a directory ZooKeeper can start from.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{read_snapshot, read_txn_log_file, write_txn_log_file, ZkFileError};
use crate::storage::epoch::{epoch_of, write_epoch_file, ACCEPTED_EPOCH, CURRENT_EPOCH};

/// The subdirectory ZooKeeper keeps its files in.
pub const VERSION_DIR: &str = "version-2";
/// FileSnap looks at no more than this many snapshots.
const MAX_SNAPSHOTS: usize = 100;

/// What restoring a ZooKeeper data directory starts from.
#[derive(Debug, Default)]
pub struct ZkDataDir {
    /// The snapshot chosen: the zxid from its file name and its bytes as they were.
    /// `None`: the directory has no snapshot.
    pub snapshot: Option<(i64, Vec<u8>)>,
    /// The chosen snapshot's file.
    pub snapshot_file: Option<PathBuf>,
    /// Newer snapshots passed over because they did not load, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Every txn after the snapshot (zxid, entry bytes), contiguous.
    pub txns: Vec<(i64, Vec<u8>)>,
}

impl ZkDataDir {
    /// The snapshot's zxid (0 without one).
    pub fn snapshot_zxid(&self) -> i64 {
        self.snapshot.as_ref().map_or(0, |(z, _)| *z)
    }

    /// The last zxid the directory holds.
    pub fn last_zxid(&self) -> i64 {
        self.txns.last().map_or(self.snapshot_zxid(), |(z, _)| *z)
    }
}

/// Whether `next` may follow `prev`: the next counter in the same epoch, or the first txn
/// (counter 1) of a later epoch.
pub fn zxid_follows(prev: i64, next: i64) -> bool {
    let (pe, ne) = (prev >> 32, next >> 32);
    if ne == pe {
        next == prev.wrapping_add(1)
    } else {
        ne > pe && next & 0xffff_ffff == 1
    }
}

/// Restores a data directory whose snapshots and logs share `dir/version-2`.
pub fn read_data_dir(dir: &Path) -> Result<ZkDataDir, ZkFileError> {
    read_data_dirs(dir, dir)
}

/// Restores from `data_dir/version-2` (snapshots) and `data_log_dir/version-2` (logs).
/// The newest snapshot that loads wins (up to 100 are tried); its zxid is the one in its
/// name; the txns after it come from the log files FileTxnLog would read. A gap is an error.
pub fn read_data_dirs(data_dir: &Path, data_log_dir: &Path) -> Result<ZkDataDir, ZkFileError> {
    let snap_dir = version_dir(data_dir)?;
    let log_dir = version_dir(data_log_dir)?;
    let mut out = ZkDataDir::default();
    let mut snaps = list(&snap_dir, "snapshot")?;
    snaps.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut candidates = 0;
    for (zxid, path, name) in snaps {
        if name.split('.').count() > 2 {
            return Err(ZkFileError::DataDir(format!(
                "{}: compressed snapshots are not supported; decompress it first",
                path.display()
            )));
        }
        let bytes = fs::read(&path).map_err(|source| ZkFileError::Io {
            path: path.clone(),
            source,
        })?;
        // SnapStream.isValidSnapshot: at least 10 bytes, ending with the ustring "/".
        if bytes.len() < 10 || bytes[bytes.len() - 5..] != [0, 0, 0, 1, b'/'] {
            continue;
        }
        candidates += 1;
        match read_snapshot(&bytes, true) {
            Ok(_) => {
                out.snapshot = Some((zxid, bytes));
                out.snapshot_file = Some(path);
                break;
            }
            Err(e) => {
                tracing::warn!("{}: {e}; trying an older snapshot", path.display());
                out.skipped.push((path, e.to_string()));
            }
        }
        if candidates == MAX_SNAPSHOTS {
            break;
        }
    }
    if out.snapshot.is_none() && candidates > 0 {
        return Err(ZkFileError::DataDir(format!(
            "no valid snapshot in {}: {}",
            snap_dir.display(),
            out.skipped
                .iter()
                .map(|(p, e)| format!("{}: {e}", p.display()))
                .collect::<Vec<_>>()
                .join("; ")
        )));
    }
    let start = out.snapshot_zxid();
    out.txns = read_logs_after(&log_dir, start)?;
    let mut prev = start;
    for (z, _) in &out.txns {
        if !zxid_follows(prev, *z) {
            return Err(ZkFileError::Gap { prev, next: *z });
        }
        prev = *z;
    }
    Ok(out)
}

fn version_dir(dir: &Path) -> Result<PathBuf, ZkFileError> {
    let v = dir.join(VERSION_DIR);
    if v.is_dir() {
        Ok(v)
    } else {
        Err(ZkFileError::DataDir(format!(
            "{} has no {VERSION_DIR}/ directory: not a ZooKeeper data directory",
            dir.display()
        )))
    }
}

/// Files named `<prefix>.<hex zxid>[.…]` (Util.getZxidFromName).
fn list(dir: &Path, prefix: &str) -> Result<Vec<(i64, PathBuf, String)>, ZkFileError> {
    let io = |source| ZkFileError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(io)? {
        let e = e.map_err(io)?;
        let name = e.file_name().to_string_lossy().into_owned();
        let mut parts = name.split('.');
        if parts.next() != Some(prefix) {
            continue;
        }
        let Some(Ok(zxid)) = parts.next().map(|h| i64::from_str_radix(h, 16)) else {
            continue;
        };
        if e.path().is_file() {
            out.push((zxid, e.path(), name));
        }
    }
    Ok(out)
}

/// The txns with zxid > `after`: every log whose name-zxid is > `after`, plus the newest one
/// at or before it (FileTxnIterator.init with zxid `after + 1`), oldest first.
fn read_logs_after(dir: &Path, after: i64) -> Result<Vec<(i64, Vec<u8>)>, ZkFileError> {
    let from = after + 1;
    let mut logs = list(dir, "log")?;
    logs.sort_by_key(|l| std::cmp::Reverse(l.0));
    let mut chosen = Vec::new();
    for (zxid, path, _) in logs {
        let older = zxid < from;
        chosen.push(path);
        if older {
            break;
        }
    }
    let mut out = Vec::new();
    for path in chosen.iter().rev() {
        let bytes = fs::read(path).map_err(|source| ZkFileError::Io {
            path: path.clone(),
            source,
        })?;
        let entries = read_txn_log_file(&bytes).map_err(|e| e.in_file(path))?;
        for (z, e) in entries {
            // FileTxnIterator skips ahead to the first txn >= from, then takes the rest.
            if out.is_empty() && z < from {
                continue;
            }
            out.push((z, e));
        }
    }
    Ok(out)
}

/// The epochs an export writes (`acceptedEpoch`, `currentEpoch`); a `None` is derived
/// from the last zxid's epoch, as ZooKeeper derives a missing file.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ZkEpochs {
    /// The value for `acceptedEpoch`.
    pub accepted: Option<i64>,
    /// The value for `currentEpoch`.
    pub current: Option<i64>,
}

/// Writes a directory Apache ZooKeeper starts from: `dir/version-2/snapshot.<zxid>`, the
/// txns after it as `log.<first zxid>`, and the epoch files when the zxids have an epoch.
/// Refuses to overwrite a directory that already holds snapshots or logs.
pub fn write_data_dir(
    dir: &Path,
    snapshot_zxid: i64,
    snapshot: &[u8],
    txns: &[(i64, Vec<u8>)],
) -> Result<Vec<PathBuf>, ZkFileError> {
    write_data_dir_with_epochs(dir, snapshot_zxid, snapshot, txns, ZkEpochs::default())
}

/// [`write_data_dir`] with the epochs a quorum peer recorded. Refuses epochs ZooKeeper
/// would refuse to start with (QuorumPeer.loadDataBase): a current epoch older than the
/// last zxid's, or an accepted epoch below the current one.
pub fn write_data_dir_with_epochs(
    dir: &Path,
    snapshot_zxid: i64,
    snapshot: &[u8],
    txns: &[(i64, Vec<u8>)],
    epochs: ZkEpochs,
) -> Result<Vec<PathBuf>, ZkFileError> {
    let last = txns.last().map_or(snapshot_zxid, |(z, _)| *z);
    let derived = epoch_of(last);
    let (accepted, current) = (
        epochs.accepted.unwrap_or(derived),
        epochs.current.unwrap_or(derived),
    );
    if current < derived || accepted < current {
        return Err(ZkFileError::DataDir(format!(
            "acceptedEpoch {accepted} and currentEpoch {current} do not fit the last zxid \
             0x{last:x}: ZooKeeper would refuse to start"
        )));
    }
    let v = dir.join(VERSION_DIR);
    fs::create_dir_all(&v).map_err(|source| ZkFileError::Io {
        path: v.clone(),
        source,
    })?;
    if !list(&v, "snapshot")?.is_empty() || !list(&v, "log")?.is_empty() {
        return Err(ZkFileError::DataDir(format!(
            "{} already holds ZooKeeper data; export into an empty directory",
            v.display()
        )));
    }
    let mut written = Vec::new();
    if let Some((first, _)) = txns.first() {
        let p = v.join(format!("log.{first:x}"));
        write_file(&p, &write_txn_log_file(txns))?;
        written.push(p);
    }
    let p = v.join(format!("snapshot.{snapshot_zxid:x}"));
    write_file(&p, snapshot)?;
    written.push(p);
    for (name, given, value) in [
        (ACCEPTED_EPOCH, epochs.accepted, accepted),
        (CURRENT_EPOCH, epochs.current, current),
    ] {
        // An epoch 0 derived from the zxids is what ZooKeeper derives too: no file needed.
        if given.is_some() || value > 0 {
            write_epoch_file(&v, name, value).map_err(|e| ZkFileError::DataDir(e.to_string()))?;
            written.push(v.join(name));
        }
    }
    Ok(written)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ZkFileError> {
    let io = |source| ZkFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = fs::File::create(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}
