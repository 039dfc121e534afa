//! The transaction log file (FileTxnLog): a header, then per txn `long adler32(entry)`,
//! `int len`, the entry bytes and a 0x42 byte. Preallocated zeros end the file.

use bytes::{BufMut, BytesMut};

use super::{adler32, Cursor, ZkFileError, FILE_VERSION};
use crate::jute::Jute;

/// "ZKLG".
pub const TXNLOG_MAGIC: i32 = 0x5A4B_4C47;
/// The end-of-record byte, 'B'.
const EOR: u8 = 0x42;
/// TxnHeader: clientId (8), cxid (4), then the zxid.
const ZXID_OFFSET: usize = 12;

/// Reads a log file: (zxid, txn entry bytes) in file order. The file ends at EOF, at a
/// zero length (preallocation) or at a partial last entry (no 0x42), as ZooKeeper reads it;
/// a checksum mismatch is an error. An empty (0-byte) file holds no txns.
pub fn read_txn_log_file(bytes: &[u8]) -> Result<Vec<(i64, Vec<u8>)>, ZkFileError> {
    let mut out = Vec::new();
    if bytes.is_empty() {
        return Ok(out);
    }
    let mut c = Cursor::new(bytes);
    let magic: i32 = c.read("file header")?;
    if magic != TXNLOG_MAGIC {
        return Err(ZkFileError::BadMagic {
            kind: "transaction log",
            expected: TXNLOG_MAGIC,
            found: magic,
        });
    }
    let _version: i32 = c.read("file header")?;
    let _dbid: i64 = c.read("file header")?;
    while c.remaining() >= 12 {
        let at = c.pos;
        let stored: i64 = c.read("entry checksum")?;
        let len: i32 = c.read("entry length")?;
        if len == 0 {
            break;
        }
        if len < 0 {
            return Err(ZkFileError::Invalid(format!(
                "txn log entry length {len} at offset {at}"
            )));
        }
        let len = len as usize;
        // A short entry or a missing end-of-record byte: the last write was cut off.
        if c.remaining() < len + 1 || c.buf[c.pos + len] != EOR {
            break;
        }
        let entry = c.take(len, "entry")?;
        c.pos += 1;
        let computed = adler32(entry);
        if stored != computed {
            return Err(ZkFileError::Checksum {
                what: format!("txn log entry at offset {at}"),
                stored,
                computed,
            });
        }
        let zxid = entry
            .get(ZXID_OFFSET..ZXID_OFFSET + 8)
            .and_then(|z| <[u8; 8]>::try_from(z).ok())
            .map(i64::from_be_bytes)
            .ok_or_else(|| {
                ZkFileError::Invalid(format!(
                    "txn log entry at offset {at}: {len} bytes, too short for a TxnHeader"
                ))
            })?;
        out.push((zxid, entry.to_vec()));
    }
    Ok(out)
}

/// Writes a log file holding `entries` (no preallocation padding).
pub fn write_txn_log_file(entries: &[(i64, Vec<u8>)]) -> Vec<u8> {
    let size: usize = 16 + entries.iter().map(|(_, e)| e.len() + 13).sum::<usize>();
    let mut b = BytesMut::with_capacity(size);
    TXNLOG_MAGIC.write(&mut b);
    FILE_VERSION.write(&mut b);
    0i64.write(&mut b);
    for (_, e) in entries {
        adler32(e).write(&mut b);
        b.put_i32(e.len() as i32);
        b.put_slice(e);
        b.put_u8(EOR);
    }
    b.to_vec()
}
