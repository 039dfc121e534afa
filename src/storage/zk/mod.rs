//! Apache ZooKeeper's own data files: snapshots (`snapshot.<zxid>`), transaction logs
//! (`log.<zxid>`) and the restore rules that pick them out of a `version-2/` directory.
//! Ferrokeeper stores its snapshots in this serialization and imports/exports ZooKeeper data
//! directories with it. Nothing here panics on bad input: damage is a [`ZkFileError`].

mod datadir;
mod fuzzy;
mod snapshot;
mod source;
mod txnlog;

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use crate::jute::{Jute, JuteError};

pub use datadir::{
    read_data_dir, read_data_dirs, write_data_dir, write_data_dir_with_epochs, zxid_follows,
    ZkDataDir, ZkEpochs, VERSION_DIR,
};
pub use fuzzy::{FuzzySnapshot, SnapshotParts};
pub use snapshot::{
    empty_tree, node_digest, read_snapshot, read_snapshot_chunks, read_snapshot_full,
    read_snapshot_stream, snapshot_stream, tree_digest, write_snapshot, SnapshotContents,
    StreamedSnapshot, ZxidDigest, DIGEST_VERSION, SNAP_MAGIC, SNAP_SIGNATURE,
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

/// The Adler32 of `a ‖ b` from the Adler32s of `a` and `b` and the length of `b`, so a
/// snapshot streamed out part by part can carry the checksum of the whole file. Adler32
/// is two sums modulo 65521: the low sum of `a ‖ b` adds b's low sum (less its initial 1),
/// and the high sum gains `len(b)` times a's low sum.
pub(crate) fn adler32_combine(a: u32, b: u32, len_b: u64) -> u32 {
    const BASE: u64 = 65521;
    let rem = len_b % BASE;
    let (a_lo, a_hi) = (u64::from(a & 0xffff), u64::from(a >> 16));
    let (b_lo, b_hi) = (u64::from(b & 0xffff), u64::from(b >> 16));
    let lo = (a_lo + b_lo + BASE - 1) % BASE;
    let hi = (a_hi + b_hi + rem * a_lo + BASE - rem) % BASE;
    (lo | (hi << 16)) as u32
}

#[cfg(test)]
mod adler_tests {
    use super::adler32_combine;

    #[test]
    fn combined_checksums_equal_the_checksum_of_the_whole() {
        // Deterministic pseudo-random bytes, split at many points, including the ends.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let bytes: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for cut in [0, 1, 2, 100, 65520, 65521, 65522, 131_042, 199_999, 200_000] {
            let (a, b) = bytes.split_at(cut);
            let whole = adler2::adler32_slice(&bytes);
            let combined = adler32_combine(
                adler2::adler32_slice(a),
                adler2::adler32_slice(b),
                b.len() as u64,
            );
            assert_eq!(combined, whole, "cut at {cut}");
        }
        // 0xff bytes push both sums to their largest values.
        let ff = vec![0xffu8; 300_000];
        let (a, b) = ff.split_at(123_457);
        assert_eq!(
            adler32_combine(
                adler2::adler32_slice(a),
                adler2::adler32_slice(b),
                b.len() as u64
            ),
            adler2::adler32_slice(&ff)
        );
    }
}
