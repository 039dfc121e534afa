//! Where the snapshot a leader streams after SNAP ends.
//!
//! LearnerHandler writes SNAP, then ZKDatabase.serializeSnapshot (sessions, the ACL cache,
//! the nodes in pre-order up to a "/" path), then the string "BenWasHere", then goes on
//! with packets. Nothing carries the snapshot's length, so [`SnapScanner`] walks the
//! records' own length fields as bytes arrive, item by item, resuming where it stopped:
//! the whole stream is scanned once, and the snapshot is parsed once it is all buffered.
//! Every length is checked against the limits before it is trusted.

/// StatPersisted: czxid, mzxid, ctime, mtime (longs), version, cversion, aversion (ints),
/// ephemeralOwner, pzxid (longs).
const STAT_PERSISTED_LEN: usize = 8 * 4 + 4 * 3 + 8 * 2;

/// Which part of the stream comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    SessionCount,
    Sessions(usize),
    AclCount,
    Acls(usize),
    Nodes,
    Signature,
    Done,
}

/// Why the stream is not a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("snapshot stream at offset {offset}: {reason}")]
pub struct ScanError {
    /// Where.
    pub offset: usize,
    /// What.
    pub reason: String,
}

/// A resumable scan of a SNAP stream.
#[derive(Debug, Clone)]
pub(crate) struct SnapScanner {
    part: Part,
    /// Bytes scanned so far: every complete item before this offset.
    pos: usize,
    /// The longest buffer or string accepted (jute.maxbuffer).
    max_field: usize,
}

impl SnapScanner {
    /// A scan rejecting any buffer or string over `max_field` bytes.
    pub(crate) fn new(max_field: usize) -> SnapScanner {
        SnapScanner {
            part: Part::SessionCount,
            pos: 0,
            max_field,
        }
    }

    /// Scans what `buf` (the stream from the snapshot's first byte) holds beyond the last
    /// call; `Some(len)` once the snapshot and its signature take `buf[..len]`.
    pub(crate) fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, ScanError> {
        loop {
            if self.part == Part::Done {
                return Ok(Some(self.pos));
            }
            let mut at = self.pos;
            let next = match self.step(buf, &mut at)? {
                Some(next) => next,
                None => return Ok(None),
            };
            self.pos = at;
            self.part = next;
        }
    }

    /// One item from `*at`: the part after it, or `None` if it is not all buffered yet.
    fn step(&self, buf: &[u8], at: &mut usize) -> Result<Option<Part>, ScanError> {
        let r = Reader {
            buf,
            max_field: self.max_field,
        };
        Ok(match self.part {
            Part::SessionCount => r.count(at, 12)?.map(Part::Sessions),
            Part::Sessions(0) => Some(Part::AclCount),
            Part::Sessions(n) => r.skip(at, 12)?.map(|()| Part::Sessions(n - 1)),
            Part::AclCount => r.count(at, 12)?.map(Part::Acls),
            Part::Acls(0) => Some(Part::Nodes),
            Part::Acls(n) => {
                // index, then a vector of ACL { perms, Id { scheme, id } }.
                let Some(()) = r.skip(at, 8)? else {
                    return Ok(None);
                };
                let Some(len) = r.count(at, 12)? else {
                    return Ok(None);
                };
                for _ in 0..len {
                    // Each read runs only if the one before it completed.
                    if r.skip(at, 4)?.is_none()
                        || r.string(at)?.is_none()
                        || r.string(at)?.is_none()
                    {
                        return Ok(None);
                    }
                }
                Some(Part::Acls(n - 1))
            }
            Part::Nodes => {
                let Some(path) = r.string(at)? else {
                    return Ok(None);
                };
                if path == b"/" {
                    Some(Part::Signature)
                } else {
                    let Some(_) = r.string(at)? else {
                        return Ok(None);
                    };
                    r.skip(at, 8 + STAT_PERSISTED_LEN)?.map(|()| Part::Nodes)
                }
            }
            Part::Signature => r.string(at)?.map(|_| Part::Done),
            Part::Done => Some(Part::Done),
        })
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    max_field: usize,
}

impl<'a> Reader<'a> {
    fn int(&self, at: &mut usize) -> Option<i32> {
        let v = crate::proto::quorum::be_i32(self.buf, *at)?;
        *at += 4;
        Some(v)
    }

    fn skip(&self, at: &mut usize, n: usize) -> Result<Option<()>, ScanError> {
        let end = at.checked_add(n).ok_or_else(|| ScanError {
            offset: *at,
            reason: "length overflows".into(),
        })?;
        if end > self.buf.len() {
            return Ok(None);
        }
        *at = end;
        Ok(Some(()))
    }

    /// A count of items at least `min_item` bytes each; bounded by the jute limit.
    fn count(&self, at: &mut usize, min_item: usize) -> Result<Option<usize>, ScanError> {
        let start = *at;
        let Some(n) = self.int(at) else {
            return Ok(None);
        };
        let max = self.max_field / min_item.max(1);
        match usize::try_from(n) {
            Ok(n) if n <= max => Ok(Some(n)),
            // A null vector (-1) reads as empty.
            _ if n == -1 => Ok(Some(0)),
            _ => Err(ScanError {
                offset: start,
                reason: format!("count {n} out of range (at most {max})"),
            }),
        }
    }

    /// A jute buffer or string (-1: null, read as empty).
    fn string(&self, at: &mut usize) -> Result<Option<&'a [u8]>, ScanError> {
        let start = *at;
        let Some(n) = self.int(at) else {
            return Ok(None);
        };
        let len = match usize::try_from(n) {
            Ok(len) if len <= self.max_field => len,
            _ if n == -1 => 0,
            _ => {
                return Err(ScanError {
                    offset: start,
                    reason: format!("length {n} out of range (at most {})", self.max_field),
                })
            }
        };
        let from = *at;
        Ok(self.skip(at, len)?.map(|()| &self.buf[from..from + len]))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::storage::zk::{read_snapshot_stream, write_snapshot, SNAP_SIGNATURE};
    use crate::tree::DataTree;

    /// The stream form of a tree: a snapshot file minus its 16-byte header, seals and
    /// digest section, plus the signature.
    pub(crate) fn stream_of(tree: &DataTree, sessions: &[(i64, i32)]) -> Vec<u8> {
        let mut file = Vec::new();
        write_snapshot(tree, sessions, 5, &mut file);
        // Cut the header and find the body's end by scanning (the seal follows it).
        let body = &file[16..];
        // The body ends where a scan first reaches the signature (the seal after it would
        // read as one).
        let end = (0..=body.len())
            .find_map(|end| {
                let mut s = SnapScanner::new(1 << 20);
                let _ = s.scan(&body[..end]);
                (s.part == Part::Signature).then_some(s.pos)
            })
            .expect("the body ends");
        let mut out = body[..end].to_vec();
        out.extend_from_slice(&(SNAP_SIGNATURE.len() as i32).to_be_bytes());
        out.extend_from_slice(SNAP_SIGNATURE.as_bytes());
        out
    }

    fn sample() -> DataTree {
        let mut t = crate::storage::zk::empty_tree(false);
        let acl = vec![crate::proto::Acl::world(crate::proto::perms::READ)];
        let stat = t.get("/").map(|n| n.stat()).expect("root");
        t.restore_node("/a", Some(b"hello".to_vec()), acl, stat)
            .expect("restore");
        t
    }

    #[test]
    fn finds_the_end_byte_by_byte_and_all_at_once() {
        let tree = sample();
        let mut stream = stream_of(&tree, &[(7, 3000)]);
        let len = stream.len();
        stream.extend_from_slice(&[0, 0, 0, 10, 1, 2]); // the next packet's start
        let mut all = SnapScanner::new(1 << 20);
        assert_eq!(all.scan(&stream).expect("scan"), Some(len));
        let mut bytewise = SnapScanner::new(1 << 20);
        for end in 0..len {
            assert_eq!(bytewise.scan(&stream[..end]).expect("scan"), None, "{end}");
        }
        assert_eq!(bytewise.scan(&stream[..len]).expect("scan"), Some(len));
        let got = read_snapshot_stream(&stream, false).expect("parse");
        assert_eq!((got.sessions, got.len), (vec![(7, 3000)], len));
        assert_eq!(
            got.tree.get("/a").and_then(|n| n.data()),
            Some(&b"hello"[..])
        );
    }

    #[test]
    fn refuses_hostile_lengths() {
        let mut s = SnapScanner::new(1000);
        assert!(s.scan(&[0x7f, 0, 0, 0]).is_err());
        let mut s = SnapScanner::new(1000);
        // No sessions, no ACLs, then a node path of -5 bytes.
        let bad = [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xfb];
        assert!(s.scan(&bad).is_err());
    }
}
