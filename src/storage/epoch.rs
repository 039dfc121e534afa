//! Zab's two epochs, kept the way ZooKeeper 3.8's QuorumPeer keeps them: `acceptedEpoch`
//! (the newest epoch this peer agreed to follow, from NEWEPOCH) and `currentEpoch` (the
//! epoch of the leader it last synced with, from NEWLEADER).
//!
//! Each is a file in the snapshot directory, `<dataDir>/version-2/`, holding the number
//! in decimal with no newline (`Long.toString`). Ferrokeeper's own data lives in
//! `<dataDir>/ferrokeeper-db`, but the epoch files stay where ZooKeeper puts them so that
//! an operator's tooling finds them and a Java server started on an exported dataDir reads
//! them. A write goes to `<name>.tmp`, is fsynced and renamed over the file, then the
//! directory is fsynced (ZooKeeper's AtomicFileOutputStream, plus the directory sync it
//! leaves out, without which the rename itself may not survive a power cut).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::storage::zk::VERSION_DIR;
use crate::storage::StorageError;

/// QuorumPeer.ACCEPTED_EPOCH_FILENAME.
pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";
/// QuorumPeer.CURRENT_EPOCH_FILENAME.
pub const CURRENT_EPOCH: &str = "currentEpoch";
/// AtomicFileOutputStream.TMP_EXTENSION: the file a write goes to before its rename.
const TMP_EXTENSION: &str = ".tmp";

/// ZxidUtils.getEpochFromZxid: the high 32 bits (an arithmetic shift, as Java's `>>`).
pub fn epoch_of(zxid: i64) -> i64 {
    zxid >> 32
}

/// Where a peer keeps its two epochs. A setter returns only once the value is durable;
/// if it fails, the getter still answers the old value.
pub trait EpochStore: Send {
    /// The newest epoch this peer accepted (ZooKeeper's `acceptedEpoch`).
    fn accepted_epoch(&self) -> i64;
    /// The epoch of the last leader this peer synced with (ZooKeeper's `currentEpoch`).
    fn current_epoch(&self) -> i64;
    /// Durably records a newly accepted epoch.
    fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), StorageError>;
    /// Durably records the epoch of the leader just synced with.
    fn set_current_epoch(&mut self, epoch: i64) -> Result<(), StorageError>;
}

/// The in-memory epochs: for tests and simulations.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MemEpochs {
    /// The accepted epoch.
    pub accepted: i64,
    /// The current epoch.
    pub current: i64,
}

impl EpochStore for MemEpochs {
    fn accepted_epoch(&self) -> i64 {
        self.accepted
    }
    fn current_epoch(&self) -> i64 {
        self.current
    }
    fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), StorageError> {
        self.accepted = epoch;
        Ok(())
    }
    fn set_current_epoch(&mut self, epoch: i64) -> Result<(), StorageError> {
        self.current = epoch;
        Ok(())
    }
}

/// The epochs in `<dataDir>/version-2/`, loaded once and cached as QuorumPeer does.
#[derive(Debug)]
pub struct EpochFiles {
    dir: PathBuf,
    accepted: i64,
    current: i64,
}

impl EpochFiles {
    /// Loads the epochs after recovery, by QuorumPeer.loadDataBase's rules, given the last
    /// zxid the recovered tree holds:
    /// - a missing file is created with the epoch of that zxid (an installation that
    ///   predates the file);
    /// - a `currentEpoch` older than that zxid's epoch means a crash between logging the new
    ///   epoch's txns and renaming `currentEpoch.tmp` into place: the tmp file's value is
    ///   taken (and written properly); without a tmp file it is an error;
    /// - any other leftover tmp file is ignored (the next write replaces it);
    /// - `acceptedEpoch` below `currentEpoch` is an error.
    pub fn open(data_dir: &Path, last_processed_zxid: i64) -> Result<EpochFiles, StorageError> {
        let dir = data_dir.join(VERSION_DIR);
        fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let mut files = EpochFiles {
            dir,
            accepted: -1,
            current: -1,
        };
        let zxid_epoch = epoch_of(last_processed_zxid);
        files.current = match read_epoch_file(&files.path(CURRENT_EPOCH))? {
            Some(e) => e,
            None => {
                tracing::info!("{CURRENT_EPOCH} not found, creating it with {zxid_epoch}");
                files.set_current_epoch(zxid_epoch)?;
                zxid_epoch
            }
        };
        if zxid_epoch > files.current {
            let tmp = files.path(&format!("{CURRENT_EPOCH}{TMP_EXTENSION}"));
            let Some(e) = read_epoch_file(&tmp)? else {
                return Err(StorageError::Epoch(format!(
                    "the current epoch, {}, is older than the last zxid, 0x{:x}",
                    files.current, last_processed_zxid
                )));
            };
            tracing::info!("{} found, setting the current epoch to {e}", tmp.display());
            files.set_current_epoch(e)?;
        }
        files.accepted = match read_epoch_file(&files.path(ACCEPTED_EPOCH))? {
            Some(e) => e,
            None => {
                tracing::info!("{ACCEPTED_EPOCH} not found, creating it with {zxid_epoch}");
                files.set_accepted_epoch(zxid_epoch)?;
                zxid_epoch
            }
        };
        if files.accepted < files.current {
            return Err(StorageError::Epoch(format!(
                "the accepted epoch, {}, is less than the current epoch, {}",
                files.accepted, files.current
            )));
        }
        Ok(files)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl EpochStore for EpochFiles {
    fn accepted_epoch(&self) -> i64 {
        self.accepted
    }
    fn current_epoch(&self) -> i64 {
        self.current
    }
    fn set_accepted_epoch(&mut self, epoch: i64) -> Result<(), StorageError> {
        write_epoch_file(&self.dir, ACCEPTED_EPOCH, epoch)?;
        self.accepted = epoch;
        Ok(())
    }
    fn set_current_epoch(&mut self, epoch: i64) -> Result<(), StorageError> {
        write_epoch_file(&self.dir, CURRENT_EPOCH, epoch)?;
        self.current = epoch;
        Ok(())
    }
}

fn io(path: &Path, e: std::io::Error) -> StorageError {
    StorageError::Io(format!("{}: {e}", path.display()))
}

/// Reads an epoch file as QuorumPeer.readLongFromFile does: the first line, parsed as a
/// decimal long. `None` when the file does not exist; anything else unreadable is an error
/// (ZooKeeper refuses to start on it, and so must we).
pub fn read_epoch_file(path: &Path) -> Result<Option<i64>, StorageError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path, e)),
    };
    // BufferedReader.readLine ends a line at \n, \r or \r\n.
    let line = bytes
        .split(|b| *b == b'\n' || *b == b'\r')
        .next()
        .unwrap_or_default();
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| {
            StorageError::Corrupt(format!(
                "found {:?} in {}",
                String::from_utf8_lossy(line),
                path.display()
            ))
        })
}

/// Writes `dir/name` atomically and durably: the value goes to `name.tmp`, which is
/// fsynced and renamed over `name`, and then the directory is fsynced. On failure the tmp
/// file is removed (AtomicFileOutputStream's abort); a crash may leave it behind, which
/// [`EpochFiles::open`] handles as ZooKeeper does.
pub fn write_epoch_file(dir: &Path, name: &str, value: i64) -> Result<(), StorageError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}{TMP_EXTENSION}"));
    let written = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(value.to_string().as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io(&tmp, e));
    }
    fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("fk-epoch-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn the_files_hold_the_bare_decimal_where_zookeeper_keeps_them() {
        let d = temp_dir("format");
        let mut e = EpochFiles::open(&d, 0).unwrap();
        e.set_accepted_epoch(7).unwrap();
        e.set_current_epoch(6).unwrap();
        let v = d.join("version-2");
        assert_eq!(fs::read(v.join("acceptedEpoch")).unwrap(), b"7");
        assert_eq!(fs::read(v.join("currentEpoch")).unwrap(), b"6");
        assert!(!v.join("acceptedEpoch.tmp").exists());
        // What Java's readLine + parseLong accepts, and what it refuses.
        fs::write(v.join("currentEpoch"), b"12\r\n").unwrap();
        assert_eq!(read_epoch_file(&v.join("currentEpoch")).unwrap(), Some(12));
        for bad in [&b""[..], b" 12", b"x", b"12 "] {
            fs::write(v.join("currentEpoch"), bad).unwrap();
            assert!(matches!(
                read_epoch_file(&v.join("currentEpoch")),
                Err(StorageError::Corrupt(_))
            ));
        }
        assert_eq!(read_epoch_file(&v.join("none")).unwrap(), None);
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn missing_files_take_the_epoch_of_the_last_zxid() {
        let d = temp_dir("missing");
        let e = EpochFiles::open(&d, 0x3_0000_0009).unwrap();
        assert_eq!((e.accepted_epoch(), e.current_epoch()), (3, 3));
        let v = d.join("version-2");
        assert_eq!(fs::read(v.join("acceptedEpoch")).unwrap(), b"3");
        assert_eq!(fs::read(v.join("currentEpoch")).unwrap(), b"3");
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn inconsistent_epochs_refuse_to_load() {
        let d = temp_dir("inconsistent");
        let mut e = EpochFiles::open(&d, 0).unwrap();
        e.set_current_epoch(4).unwrap();
        e.set_accepted_epoch(3).unwrap();
        drop(e);
        assert!(matches!(
            EpochFiles::open(&d, 0x4_0000_0001),
            Err(StorageError::Epoch(_))
        ));
        // The log is in epoch 5 but currentEpoch says 4 and no tmp file explains it.
        write_epoch_file(&d.join("version-2"), ACCEPTED_EPOCH, 5).unwrap();
        assert!(matches!(
            EpochFiles::open(&d, 0x5_0000_0001),
            Err(StorageError::Epoch(_))
        ));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn epochs_survive_a_reopen() {
        let d = temp_dir("reopen");
        let mut e = EpochFiles::open(&d, 0x1_0000_0004).unwrap();
        e.set_accepted_epoch(3).unwrap();
        e.set_current_epoch(2).unwrap();
        drop(e);
        // The last zxid no longer decides anything once the files exist.
        let e = EpochFiles::open(&d, 0x1_0000_0004).unwrap();
        assert_eq!((e.accepted_epoch(), e.current_epoch()), (3, 2));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_torn_epoch_write_is_resolved_as_zookeeper_does() {
        let d = temp_dir("torn");
        let v = d.join("version-2");
        let mut e = EpochFiles::open(&d, 0x1_0000_0001).unwrap();
        e.set_accepted_epoch(2).unwrap();
        drop(e);
        // A crash after currentEpoch.tmp was synced but before its rename, and the new
        // epoch's txns already logged: the tmp file's value wins and is put in place.
        fs::write(v.join("currentEpoch.tmp"), b"2").unwrap();
        let e = EpochFiles::open(&d, 0x2_0000_0003).unwrap();
        assert_eq!((e.accepted_epoch(), e.current_epoch()), (2, 2));
        assert_eq!(fs::read(v.join("currentEpoch")).unwrap(), b"2");
        assert!(!v.join("currentEpoch.tmp").exists());
        drop(e);
        // A tmp file torn mid-write while the log is still in the current epoch: ignored,
        // as are leftovers of acceptedEpoch.
        fs::write(v.join("currentEpoch.tmp"), b"").unwrap();
        fs::write(v.join("acceptedEpoch.tmp"), b"9").unwrap();
        let mut e = EpochFiles::open(&d, 0x2_0000_0003).unwrap();
        assert_eq!((e.accepted_epoch(), e.current_epoch()), (2, 2));
        // The next write replaces the leftover.
        e.set_accepted_epoch(3).unwrap();
        assert!(!v.join("acceptedEpoch.tmp").exists());
        assert_eq!(fs::read(v.join("acceptedEpoch")).unwrap(), b"3");
        drop(e);
        // The log is ahead of currentEpoch and the tmp file is unreadable: refuse to start.
        assert!(matches!(
            EpochFiles::open(&d, 0x3_0000_0001),
            Err(StorageError::Corrupt(_))
        ));
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn mem_epochs_keep_what_is_set() {
        let mut e = MemEpochs::default();
        e.set_accepted_epoch(2).unwrap();
        e.set_current_epoch(1).unwrap();
        assert_eq!((e.accepted_epoch(), e.current_epoch()), (2, 1));
    }
}
