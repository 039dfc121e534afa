//! One znode, packed: a million of them must fit in a quarter of what the JVM server needs.
//!
//! 72 bytes plus one allocation holding the name and the data. The stat fields are kept
//! flat (a nested `StatPersisted` would be padded to 64 bytes), the ephemeral owner, zero
//! for most nodes, goes in the allocation only when it is not, the ACL list is an index
//! into the tree's interned lists, and the full path is not stored: the tree is walked
//! from the root by name, so a path costs its parent nothing.

use crate::proto::StatPersisted;
use crate::tree::buf::Buf;
use crate::tree::childset::ChildSet;

/// A node's index in the tree's slab.
pub type NodeId = u32;

/// A znode: its stat, ACL index, name and data, and child set.
#[derive(Debug)]
pub struct Node {
    pub(super) czxid: i64,
    pub(super) mzxid: i64,
    pub(super) ctime: i64,
    pub(super) mtime: i64,
    pub(super) pzxid: i64,
    pub(super) version: i32,
    /// Stored as ZooKeeper persists it: it counts creates only.
    pub(super) cversion: i32,
    pub(super) aversion: i32,
    /// Index into the tree's `AclTable`.
    pub(super) acl: u32,
    /// varint(name length << 2 | has owner << 1 | has data) ‖ owner (8 bytes, little
    /// endian, when not 0) ‖ name ‖ data.
    buf: Buf,
    /// None for leaves, most nodes of a big tree.
    pub(super) children: Option<Box<ChildSet>>,
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The varint at the start of `b` and its length (a malformed one reads as 0).
fn get_varint(b: &[u8]) -> (u64, usize) {
    let mut v = 0u64;
    for (i, byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return (v, i + 1);
        }
    }
    (0, 0)
}

fn pack(name: &[u8], data: Option<&[u8]>, owner: i64) -> Buf {
    let mut head = Vec::with_capacity(14);
    let flags = u64::from(owner != 0) << 1 | u64::from(data.is_some());
    put_varint(&mut head, (name.len() as u64) << 2 | flags);
    if owner != 0 {
        head.extend_from_slice(&owner.to_le_bytes());
    }
    Buf::from_parts(&[&head, name, data.unwrap_or_default()])
}

/// Where the parts of a node's buffer are.
struct Layout {
    owner: Option<usize>,
    name: usize,
    data: usize,
    has_data: bool,
}

impl Node {
    /// A node without children.
    pub(super) fn new(name: &str, data: Option<&[u8]>, acl: u32, stat: &StatPersisted) -> Node {
        let mut n = Node {
            czxid: 0,
            mzxid: 0,
            ctime: 0,
            mtime: 0,
            pzxid: 0,
            version: 0,
            cversion: 0,
            aversion: 0,
            acl,
            buf: pack(name.as_bytes(), data, stat.ephemeral_owner),
            children: None,
        };
        n.set_stat(stat);
        n
    }

    fn layout(&self) -> Layout {
        let b = self.buf.as_slice();
        let (v, mut at) = get_varint(b);
        let owner = (v & 2 != 0).then_some(at);
        if owner.is_some() {
            at += 8;
        }
        let name = at.min(b.len());
        let data = (name + (v >> 2) as usize).min(b.len());
        Layout {
            owner,
            name,
            data,
            has_data: v & 1 == 1,
        }
    }

    /// The last component of the node's path ("" for the root).
    pub fn name_bytes(&self) -> &[u8] {
        let l = self.layout();
        &self.buf.as_slice()[l.name..l.data]
    }

    /// The name as text (names are stored from `&str`, so this never loses anything).
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.name_bytes())
    }

    /// The data; `None` when created with null data (getData then answers null too).
    pub fn data(&self) -> Option<&[u8]> {
        let l = self.layout();
        l.has_data.then(|| &self.buf.as_slice()[l.data..])
    }

    /// Length of the data (0 for null).
    pub fn data_len(&self) -> usize {
        self.data().map_or(0, <[u8]>::len)
    }

    /// Replaces the data, keeping the name and owner.
    pub(super) fn set_data(&mut self, data: Option<&[u8]>) {
        let l = self.layout();
        // Data of the same length (a counter, a state record) is written over the old:
        // no allocation on the path of most setData calls.
        if let (true, Some(d)) = (l.has_data, data) {
            if let Some(old) = self.buf.as_mut_slice().get_mut(l.data..) {
                if old.len() == d.len() {
                    old.copy_from_slice(d);
                    return;
                }
            }
        }
        self.buf = pack(self.name_bytes(), data, self.ephemeral_owner());
    }

    /// The stat as ZooKeeper persists it.
    pub fn stat(&self) -> StatPersisted {
        StatPersisted {
            czxid: self.czxid,
            mzxid: self.mzxid,
            ctime: self.ctime,
            mtime: self.mtime,
            version: self.version,
            cversion: self.cversion,
            aversion: self.aversion,
            ephemeral_owner: self.ephemeral_owner(),
            pzxid: self.pzxid,
        }
    }

    pub(super) fn set_stat(&mut self, s: &StatPersisted) {
        self.czxid = s.czxid;
        self.mzxid = s.mzxid;
        self.ctime = s.ctime;
        self.mtime = s.mtime;
        self.version = s.version;
        self.cversion = s.cversion;
        self.aversion = s.aversion;
        self.pzxid = s.pzxid;
        if s.ephemeral_owner != self.ephemeral_owner() {
            self.buf = pack(self.name_bytes(), self.data(), s.ephemeral_owner);
        }
    }

    /// The zxid that created the node: with its slot, it names one incarnation of a node.
    pub fn czxid(&self) -> i64 {
        self.czxid
    }

    /// When the data last changed.
    pub fn mzxid(&self) -> i64 {
        self.mzxid
    }

    /// When the children last changed.
    pub fn pzxid(&self) -> i64 {
        self.pzxid
    }

    /// When the data was last set (ms).
    pub fn mtime(&self) -> i64 {
        self.mtime
    }

    /// Creates of children, as stored.
    pub fn cversion(&self) -> i32 {
        self.cversion
    }

    /// The owning session, or the container/TTL marker; 0 for a persistent node.
    pub fn ephemeral_owner(&self) -> i64 {
        let Some(at) = self.layout().owner else {
            return 0;
        };
        let mut b = [0u8; 8];
        if let Some(s) = self.buf.as_slice().get(at..at + 8) {
            b.copy_from_slice(s);
        }
        i64::from_le_bytes(b)
    }

    /// Number of children.
    pub fn num_children(&self) -> usize {
        self.children.as_ref().map_or(0, |c| c.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_is_packed() {
        assert_eq!(std::mem::size_of::<Node>(), 72);
        assert_eq!(std::mem::size_of::<Option<Node>>(), 72);
    }

    #[test]
    fn name_and_data_share_one_buffer() {
        let long = "n".repeat(300);
        for (name, data, owner) in [
            ("", None, 0),
            ("a", Some(&b""[..]), -1),
            ("n123", Some(&[1u8; 100][..]), 0x1234_5678_9abc),
            (long.as_str(), Some(&b"xyz"[..]), 0),
        ] {
            let stat = StatPersisted {
                czxid: 7,
                version: 3,
                ephemeral_owner: owner,
                ..Default::default()
            };
            let mut n = Node::new(name, data, 5, &stat);
            assert_eq!(n.name(), name);
            assert_eq!(n.data(), data);
            assert_eq!(n.data_len(), data.map_or(0, <[u8]>::len));
            assert_eq!(n.stat(), stat);
            n.set_data(None);
            assert_eq!((n.name_bytes(), n.data()), (name.as_bytes(), None));
            n.set_data(Some(b"new"));
            assert_eq!(
                (n.name_bytes(), n.data()),
                (name.as_bytes(), Some(&b"new"[..]))
            );
            assert_eq!(n.ephemeral_owner(), owner);
            // Same length: written in place.
            n.set_data(Some(b"abc"));
            assert_eq!(
                (n.name_bytes(), n.data()),
                (name.as_bytes(), Some(&b"abc"[..]))
            );
            assert_eq!(n.ephemeral_owner(), owner);
            n.set_data(Some(b"new"));
            n.set_stat(&StatPersisted {
                ephemeral_owner: 99,
                ..stat
            });
            assert_eq!((n.ephemeral_owner(), n.data()), (99, Some(&b"new"[..])));
        }
    }
}
