//! The snapshot file (FileSnap, SerializeUtils.serializeSnapshot, DataTree.serialize,
//! ReferenceCountedACLCache.serialize): header, sessions, ACL cache, nodes in pre-order,
//! an Adler32 seal, then the zxid/digest section and its own seal.

use std::collections::HashMap;

use bytes::{BufMut, BytesMut};

use super::source::{ChunkSource, Source};
use super::{adler32, Cursor, ZkFileError, FILE_VERSION};
use crate::jute::Jute;
use crate::proto::{perms, Acl, StatPersisted};
use crate::tree::{AclId, DataTree, Node, QUOTA_PATH, ZOOKEEPER_PATH};

/// "ZKSN".
pub const SNAP_MAGIC: i32 = 0x5A4B_534E;
/// The digest version ZooKeeper 3.8 writes (a long; older versions wrote a hex string).
pub use crate::tree::digest::DIGEST_VERSION;
/// ReferenceCountedACLCache's index for OPEN_ACL_UNSAFE on nodes created without a list.
pub(super) const OPEN_ACL_INDEX: i64 = -1;
/// The zxid/digest section that follows the first seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    /// The zxid the digest was taken at (0: none; the loader ignores it).
    pub zxid: i64,
    /// The digest version (2 in 3.8).
    pub version: i32,
    /// The tree digest at `zxid`.
    pub digest: i64,
}

/// Everything a snapshot file holds.
#[derive(Debug)]
pub struct SnapshotContents {
    /// The tree (its `last_processed_zxid` is left 0: the zxid comes from the file name).
    pub tree: DataTree,
    /// (session id, timeout ms), in file order.
    pub sessions: Vec<(i64, i32)>,
    /// The digest section, when the file has one.
    pub digest: Option<ZxidDigest>,
    /// The 3.9 lastProcessedZxid trailer, when the file has one.
    pub last_processed_zxid: Option<i64>,
}

/// DigestCalculator.calculateDigest (the tree keeps the sum up to date as it changes).
pub use crate::tree::digest::node_digest;

/// The tree digest: the wrapping sum of every node's digest, the root counted once.
pub fn tree_digest(tree: &DataTree) -> i64 {
    tree.preorder().iter().fold(0u64, |acc, (p, n)| {
        acc.wrapping_add(node_digest(p, n.data(), &n.stat()))
    }) as i64
}

/// The tree of a ZooKeeper server that has applied nothing, as its snapshot.0 holds it:
/// `DataTree::new` with ZooKeeper's empty (not null) data on "/", /zookeeper and
/// /zookeeper/quota. Import starts from it when a data dir has logs but no snapshot.
pub fn empty_tree(extended_types: bool) -> DataTree {
    let mut t = DataTree::new(extended_types);
    for p in ["/", ZOOKEEPER_PATH, QUOTA_PATH] {
        if let Some(n) = t.get(p) {
            let (acl, stat) = (t.acl(n).to_vec(), n.stat());
            let _ = t.restore_node(p, Some(Vec::new()), acl, stat);
        }
    }
    t
}

pub(super) fn is_open(acl: &[Acl]) -> bool {
    acl.len() == 1 && acl[0] == Acl::world(perms::ALL)
}

/// Writes ZooKeeper 3.8's snapshot of `tree` at `zxid` (with the digest section):
/// FileSnap.serialize, i.e. the file header, [`write_body`], the seal, then
/// `DataTree.serializeZxidDigest` and its own seal.
pub fn write_snapshot(tree: &DataTree, sessions: &[(i64, i32)], zxid: i64, out: &mut Vec<u8>) {
    let mut b = BytesMut::with_capacity(4096);
    SNAP_MAGIC.write(&mut b);
    FILE_VERSION.write(&mut b);
    (-1i64).write(&mut b);
    write_body(tree, sessions, &mut b);
    seal(&mut b);
    zxid.write(&mut b);
    DIGEST_VERSION.write(&mut b);
    tree_digest(tree).write(&mut b);
    seal(&mut b);
    out.extend_from_slice(&b);
}

/// What a 3.8 leader writes on the quorum stream right after a SNAP packet
/// (LearnerHandler.syncFollower → ZKDatabase.serializeSnapshot, then
/// `oa.writeString("BenWasHere", "signature")`): [`write_body`] and the signature. No
/// file header and no seals; and no digest section, which in 3.8 only FileSnap writes
/// (after its first seal), so the learner recomputes the digest from the nodes.
/// [`read_snapshot_stream`] reads it back.
pub fn snapshot_stream(tree: &DataTree, sessions: &[(i64, i32)]) -> bytes::Bytes {
    let mut b = BytesMut::with_capacity(4096);
    write_body(tree, sessions, &mut b);
    SNAP_SIGNATURE.to_string().write(&mut b);
    // Handed on as it is: a large tree's stream is not copied again.
    b.freeze()
}

/// SerializeUtils.serializeSnapshot: the sessions, then DataTree.serialize (the ACL cache,
/// the nodes in pre-order with "" for the root, and the "/" that ends them); what both the
/// snapshot file and the SNAP stream carry.
///
/// ACL lists get indexes 1, 2, … in pre-order of first use, as a fresh
/// ReferenceCountedACLCache would; the built-in nodes with the open ACL keep index -1, as
/// ZooKeeper creates them. Sessions go in the order given (Java writes a HashMap's order;
/// readers do not care).
fn write_body(tree: &DataTree, sessions: &[(i64, i32)], b: &mut BytesMut) {
    let nodes = tree.preorder();
    let mut index: HashMap<&[Acl], i64> = HashMap::new();
    let mut lists: Vec<&[Acl]> = Vec::new();
    let mut node_acl = Vec::with_capacity(nodes.len());
    for (path, node) in &nodes {
        let builtin = matches!(path.as_str(), "/" | ZOOKEEPER_PATH | QUOTA_PATH);
        let acl: &[Acl] = tree.acl(node);
        let i = if builtin && is_open(acl) {
            OPEN_ACL_INDEX
        } else {
            *index.entry(acl).or_insert_with(|| {
                lists.push(acl);
                lists.len() as i64
            })
        };
        node_acl.push(i);
    }

    (sessions.len() as i32).write(b);
    for (id, timeout) in sessions {
        id.write(b);
        timeout.write(b);
    }
    (lists.len() as i32).write(b);
    for (i, acl) in lists.iter().enumerate() {
        (i as i64 + 1).write(b);
        (acl.len() as i32).write(b);
        for a in acl.iter() {
            a.write(b);
        }
    }
    for ((path, node), acl) in nodes.iter().zip(node_acl) {
        let p = if path == "/" { "" } else { path.as_str() };
        write_node(b, p, node, acl);
    }
    "/".to_string().write(b);
}

pub(super) fn write_node(b: &mut BytesMut, path: &str, node: &Node, acl: i64) {
    b.put_i32(path.len() as i32);
    b.put_slice(path.as_bytes());
    match node.data() {
        Some(d) => {
            b.put_i32(d.len() as i32);
            b.put_slice(d);
        }
        None => b.put_i32(-1),
    }
    acl.write(b);
    node.stat().write(b);
}

/// SnapStream.sealStream: the Adler32 of everything so far, then the string "/".
pub(super) fn seal(b: &mut BytesMut) {
    adler32(b).write(b);
    "/".to_string().write(b);
}

/// SnapStream.checkSealIntegrity: the checksum covers every byte before the stored value.
fn check_seal(c: &mut impl Source, what: &str) -> Result<(), ZkFileError> {
    let computed = c.checksum_before();
    let stored: i64 = c.read("seal checksum")?;
    let _slash: String = c.read("seal path")?;
    if stored != computed {
        return Err(ZkFileError::Checksum {
            what: what.to_string(),
            stored,
            computed,
        });
    }
    Ok(())
}

/// Reads a snapshot file: the tree and the sessions. Both seals are verified.
pub fn read_snapshot(
    bytes: &[u8],
    extended_types: bool,
) -> Result<(DataTree, Vec<(i64, i32)>), ZkFileError> {
    let s = read_snapshot_full(bytes, extended_types)?;
    Ok((s.tree, s.sessions))
}

/// Reads a snapshot file with its digest section and 3.9 trailer (both optional).
pub fn read_snapshot_full(
    bytes: &[u8],
    extended_types: bool,
) -> Result<SnapshotContents, ZkFileError> {
    read_snapshot_from(&mut Cursor::new(bytes), extended_types)
}

/// Reads a snapshot of `total` bytes that arrives in chunks (as Ferrokeeper stores them),
/// rebuilding the tree as the bytes come, so the file is never whole in memory. Every
/// chunk is read, so that their source can verify all of them.
pub fn read_snapshot_chunks(
    total: usize,
    chunks: impl Iterator<Item = Result<Vec<u8>, String>>,
    extended_types: bool,
) -> Result<(DataTree, Vec<(i64, i32)>), ZkFileError> {
    let mut src = ChunkSource::new(total, chunks);
    let s = read_snapshot_from(&mut src, extended_types)?;
    src.drain()?;
    Ok((s.tree, s.sessions))
}

fn read_snapshot_from(
    c: &mut impl Source,
    extended_types: bool,
) -> Result<SnapshotContents, ZkFileError> {
    let magic: i32 = c.read("file header")?;
    if magic != SNAP_MAGIC {
        return Err(ZkFileError::BadMagic {
            kind: "snapshot",
            expected: SNAP_MAGIC,
            found: magic,
        });
    }
    let _version: i32 = c.read("file header")?;
    let _dbid: i64 = c.read("file header")?;
    let (tree, sessions) = read_body(c, extended_types)?;
    check_seal(c, "snapshot seal")?;
    let mut out = SnapshotContents {
        tree,
        sessions,
        digest: None,
        last_processed_zxid: None,
    };
    if c.remaining() == 0 {
        return Ok(out);
    }
    let zxid: i64 = c.read("digest zxid")?;
    let version: i32 = c.read("digest version")?;
    let digest = if version < 2 {
        let hex: String = c.read("digest")?;
        u64::from_str_radix(&hex, 16)
            .map_err(|_| ZkFileError::Invalid(format!("snapshot digest {hex:?}")))? as i64
    } else {
        c.read("digest")?
    };
    check_seal(c, "digest seal")?;
    out.digest = Some(ZxidDigest {
        zxid,
        version,
        digest,
    });
    // 3.9: lastProcessedZxid and a third seal. 3.8 stops reading before it.
    if c.remaining() > 0 {
        let z: i64 = c.read("lastProcessedZxid")?;
        check_seal(c, "lastProcessedZxid seal")?;
        out.last_processed_zxid = Some(z);
    }
    Ok(out)
}

/// SerializeUtils.deserializeSnapshot: the sessions, the ACL cache and the nodes up to the
/// "/" terminator (what both the snapshot file and the leader's SNAP stream carry).
fn read_body(
    c: &mut impl Source,
    extended_types: bool,
) -> Result<(DataTree, Vec<(i64, i32)>), ZkFileError> {
    let sessions = read_sessions(c)?;
    let mut tree = DataTree::new(extended_types);
    // Each list is interned once, not once per node that uses it.
    let acls: HashMap<i64, AclId> = read_acl_cache(c)?
        .into_iter()
        .map(|(i, list)| (i, tree.intern(&list)))
        .collect();
    let open = tree.intern(&[Acl::world(perms::ALL)]);
    loop {
        let at = c.offset();
        let path: String = c.read("node path")?;
        if path == "/" {
            break;
        }
        let data: Option<Vec<u8>> = c.read("node data")?;
        let acl_index: i64 = c.read("node acl")?;
        let stat: StatPersisted = c.read("node stat")?;
        let acl = if acl_index == OPEN_ACL_INDEX {
            open
        } else {
            acls.get(&acl_index).copied().ok_or_else(|| {
                ZkFileError::Invalid(format!(
                    "snapshot: node {path:?} (offset {at}) uses ACL index {acl_index}, not in the ACL cache"
                ))
            })?
        };
        if !path.is_empty() && !path.starts_with('/') {
            return Err(ZkFileError::Invalid(format!(
                "snapshot: node path {path:?} at offset {at}"
            )));
        }
        tree.restore_shared(&path, data, acl, stat).map_err(|_| {
            ZkFileError::Invalid(format!(
                "snapshot: node {path:?} (offset {at}) comes before its parent"
            ))
        })?;
    }
    tree.purge_unused_acls();
    Ok((tree, sessions))
}

/// LearnerHandler's SNAP signature, written after the snapshot on the quorum stream.
pub const SNAP_SIGNATURE: &str = "BenWasHere";

/// A snapshot read off a leader's quorum stream.
#[derive(Debug)]
pub struct StreamedSnapshot {
    /// The tree (its `last_processed_zxid` is left 0: the SNAP packet carries the zxid).
    pub tree: DataTree,
    /// (session id, timeout ms), in stream order.
    pub sessions: Vec<(i64, i32)>,
    /// The bytes the snapshot and its signature took.
    pub len: usize,
}

/// Reads what a 3.8 leader streams after SNAP (ZKDatabase.serializeSnapshot, then the
/// "BenWasHere" signature): no file header, no seals, no digest section.
pub fn read_snapshot_stream(
    bytes: &[u8],
    extended_types: bool,
) -> Result<StreamedSnapshot, ZkFileError> {
    let mut c = Cursor::new(bytes);
    let (tree, sessions) = read_body(&mut c, extended_types)?;
    let signature: String = c.read("signature")?;
    if signature != SNAP_SIGNATURE {
        return Err(ZkFileError::Invalid(format!(
            "snapshot stream: signature {signature:?}, not {SNAP_SIGNATURE:?}"
        )));
    }
    Ok(StreamedSnapshot {
        tree,
        sessions,
        len: c.pos,
    })
}

fn read_sessions(c: &mut impl Source) -> Result<Vec<(i64, i32)>, ZkFileError> {
    let n: i32 = c.read("session count")?;
    if n < 0 || n as usize > c.remaining() / 12 {
        return Err(ZkFileError::Invalid(format!("snapshot: session count {n}")));
    }
    let mut sessions = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let id: i64 = c.read("session id")?;
        let timeout: i32 = c.read("session timeout")?;
        sessions.push((id, timeout));
    }
    Ok(sessions)
}

fn read_acl_cache(c: &mut impl Source) -> Result<HashMap<i64, Vec<Acl>>, ZkFileError> {
    let n: i32 = c.read("ACL cache count")?;
    if n < 0 || n as usize > c.remaining() / 12 {
        return Err(ZkFileError::Invalid(format!(
            "snapshot: ACL cache count {n}"
        )));
    }
    let mut acls = HashMap::with_capacity(n as usize);
    for _ in 0..n {
        let index: i64 = c.read("ACL index")?;
        let list: Vec<Acl> = c.read("ACL list")?;
        acls.insert(index, list);
    }
    Ok(acls)
}
