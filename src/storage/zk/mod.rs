//! Apache ZooKeeper's own data files: snapshots (`snapshot.<zxid>`), transaction logs
//! (`log.<zxid>`) and the restore rules that pick them out of a `version-2/` directory.
//! Ferrokeeper stores its snapshots in this serialization and imports/exports ZooKeeper data
//! directories with it. Nothing here panics on bad input: damage is a [`ZkFileError`].

mod datadir;
mod fuzzy;
mod snapshot;
mod txnlog;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

use crate::jute::{Jute, JuteError};

pub use datadir::{
    read_data_dir, read_data_dirs, write_data_dir, zxid_follows, ZkDataDir, VERSION_DIR,
};
pub use fuzzy::FuzzySnapshot;
pub use snapshot::{
    empty_tree, node_digest, read_snapshot, read_snapshot_full, tree_digest, write_snapshot,
    SnapshotContents, ZxidDigest, DIGEST_VERSION, SNAP_MAGIC,
};
pub use txnlog::{read_txn_log_file, write_txn_log_file, TXNLOG_MAGIC};

/// The version both file headers carry.
pub const FILE_VERSION: i32 = 2;

/// What is wrong with a ZooKeeper data file or directory.
#[derive(Debug, thiserror::Error)]
pub enum ZkFileError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file header does not start with the expected magic number.
    #[error("bad magic number 0x{found:08x} (expected 0x{expected:08x}, not a {kind})")]
    BadMagic {
        /// "snapshot" or "transaction log".
        kind: &'static str,
        /// What the file should start with.
        expected: i32,
        /// What it starts with.
        found: i32,
    },
    /// A field could not be decoded (truncated, a bad length...).
    #[error("malformed {what} at offset {offset}: {err}")]
    Malformed {
        /// The field being read.
        what: &'static str,
        /// Its byte offset in the file.
        offset: usize,
        /// The decoding error.
        err: JuteError,
    },
    /// An Adler32 seal or entry checksum does not match the bytes.
    #[error("{what} checksum mismatch: stored 0x{stored:x}, computed 0x{computed:x}")]
    Checksum {
        /// Which checksum: "snapshot seal", "digest seal", "txn 0x.. entry"...
        what: String,
        /// The value in the file.
        stored: i64,
        /// The value of the bytes.
        computed: i64,
    },
    /// The content decodes but is inconsistent (a node without its parent, an unknown ACL index).
    #[error("invalid {0}")]
    Invalid(String),
    /// The txns after the snapshot do not follow each other.
    #[error("zxid gap: 0x{prev:x} is followed by 0x{next:x}")]
    Gap {
        /// The last zxid before the gap (the snapshot's for the first txn).
        prev: i64,
        /// The zxid found.
        next: i64,
    },
    /// A data directory that cannot be restored (no `version-2/`, no valid snapshot...).
    #[error("{0}")]
    DataDir(String),
    /// An error inside a named file.
    #[error("{path}: {err}")]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        err: Box<ZkFileError>,
    },
}

impl ZkFileError {
    pub(crate) fn in_file(self, path: &std::path::Path) -> ZkFileError {
        ZkFileError::InFile {
            path: path.to_path_buf(),
            err: Box::new(self),
        }
    }
}

/// A position in a whole file's bytes, reading jute values with offsets for errors.
pub(crate) struct Cursor<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn read<T: Jute>(&mut self, what: &'static str) -> Result<T, ZkFileError> {
        match T::read(&self.buf[self.pos..]) {
            Ok((rest, v)) => {
                self.pos = self.buf.len() - rest.len();
                Ok(v)
            }
            Err(err) => Err(ZkFileError::Malformed {
                what,
                offset: self.pos,
                err,
            }),
        }
    }

    /// Reads `n` raw bytes.
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ZkFileError> {
        if self.remaining() < n {
            return Err(ZkFileError::Malformed {
                what,
                offset: self.pos,
                err: JuteError::Truncated,
            });
        }
        let b = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(b)
    }
}

/// Java's `Adler32.getValue()`: the checksum in a long with the upper half zero.
pub(crate) fn adler32(bytes: &[u8]) -> i64 {
    i64::from(adler2::adler32_slice(bytes))
}
