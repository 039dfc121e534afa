//! A fuzzy snapshot, as ZooKeeper takes them: the tree is written a few thousand nodes at a
//! time between request batches, while writes go on. It is named after the last zxid
//! applied when it started; recovery replays the log from there, and replaying a txn whose
//! effect the snapshot already holds is harmless (a create finds the node, a delete misses
//! it, a setData writes the same version). Nodes go out in pre-order, so a parent always
//! comes before its children; the ACL cache, which the file puts before the nodes, is
//! assembled at the end from the lists the written nodes use.

use std::sync::Arc;

use bytes::BytesMut;

use super::snapshot::{is_open, write_node, OPEN_ACL_INDEX};
use super::{adler32_combine, node_digest, DIGEST_VERSION, FILE_VERSION, SNAP_MAGIC};
use crate::jute::Jute;
use crate::proto::Acl;
use crate::tree::{DataTree, Node, NodeId, QUOTA_PATH, ROOT, ZOOKEEPER_PATH};

/// A snapshot being written.
pub struct FuzzySnapshot {
    zxid: i64,
    sessions: Vec<(i64, i32)>,
    /// Depth first: per level, a visited node's path and the children still to visit.
    stack: Vec<Level>,
    /// The path of the node being written (one buffer, not an allocation per node).
    scratch: String,
    /// Whether the root was visited.
    started: bool,
    /// ACL list (by address: the tree interns them) -> its index in the file's cache.
    index: hashbrown::HashMap<usize, i64>,
    lists: Vec<Arc<[Acl]>>,
    nodes: BytesMut,
    /// What was handed out of `nodes` already: its length and Adler32.
    taken_len: u64,
    taken_adler: u32,
    digest: u64,
    written: usize,
}

/// Up to this many children are walked in slab order.
const SORTED_CHILDREN_MAX: usize = 4096;

/// A visited node's path and its children still to visit, copied out when it was visited:
/// their slab ids, 4 bytes a child, read from the child set without touching the children
/// (a wide node has hundreds of thousands, and the copy must not hold the core up).
///
/// An id may name another node by the time it is popped: the child was deleted and its
/// slot reused. A node that existed when the snapshot began has a czxid no later than the
/// snapshot's zxid, and it was in its slot all along; a node in the slot with a later
/// czxid was created since, and the log replay after the snapshot creates it (and its
/// subtree, all created since as well). So the czxid alone tells which to write.
struct Level {
    path: String,
    kids: Vec<NodeId>,
}

/// A snapshot file in three parts for streaming: `head` (header, sessions, ACL cache) is
/// known only at the end, `nodes` is the rest of the node section (earlier node bytes were
/// handed out with [`FuzzySnapshot::take_nodes`]), and `tail` the end marker, seals and
/// digest, computed over the whole file. The file is head ‖ taken nodes ‖ nodes ‖ tail.
pub struct SnapshotParts {
    /// Header, sessions and ACL cache.
    pub head: Vec<u8>,
    /// The node bytes not taken yet.
    pub nodes: Vec<u8>,
    /// The "/" end marker, the seal, the digest section and the last seal.
    pub tail: Vec<u8>,
}

impl FuzzySnapshot {
    /// Starts a snapshot named `zxid` with the sessions alive now.
    pub fn new(zxid: i64, sessions: Vec<(i64, i32)>) -> FuzzySnapshot {
        FuzzySnapshot {
            zxid,
            sessions,
            stack: Vec::new(),
            scratch: String::new(),
            started: false,
            index: hashbrown::HashMap::new(),
            lists: Vec::new(),
            nodes: BytesMut::with_capacity(1 << 20),
            taken_len: 0,
            taken_adler: 1,
            digest: 0,
            written: 0,
        }
    }

    /// The zxid the snapshot is named after.
    pub fn zxid(&self) -> i64 {
        self.zxid
    }

    /// Whether every node has been visited.
    pub fn walked(&self) -> bool {
        self.started && self.stack.is_empty()
    }

    /// Nodes written so far.
    pub fn written(&self) -> usize {
        self.written
    }

    /// Writes up to `budget` more nodes of the tree as it is now; true once every node
    /// has been visited.
    pub fn step(&mut self, tree: &DataTree, budget: usize) -> bool {
        if !self.started {
            self.started = true;
            if let Some(root) = tree.node(ROOT) {
                self.visit(tree, root, "/");
            }
        }
        let mut left = budget;
        let mut path = std::mem::take(&mut self.scratch);
        while left > 0 {
            let Some(level) = self.stack.last_mut() else {
                break;
            };
            let Some(id) = level.kids.pop() else {
                self.stack.pop();
                continue;
            };
            // Deleted since its parent was visited (its delete txn is in the log), or the
            // slot now holds a node created after the snapshot began: skip.
            let Some(node) = tree.node(id).filter(|n| n.czxid() <= self.zxid) else {
                continue;
            };
            path.clear();
            path.push_str(&level.path);
            if level.path != "/" {
                path.push('/');
            }
            path.push_str(&node.name());
            self.visit(tree, node, &path);
            left -= 1;
        }
        self.scratch = path;
        self.stack.is_empty()
    }

    /// Writes one node and queues its children.
    fn visit(&mut self, tree: &DataTree, node: &Node, path: &str) {
        let builtin = matches!(path, "/" | ZOOKEEPER_PATH | QUOTA_PATH);
        let list = tree.acl(node);
        let acl = if builtin && is_open(list) {
            OPEN_ACL_INDEX
        } else {
            let lists = &mut self.lists;
            let key = Arc::as_ptr(list).cast::<Acl>() as usize;
            *self.index.entry(key).or_insert_with(|| {
                lists.push(list.clone());
                lists.len() as i64
            })
        };
        let p = if path == "/" { "" } else { path };
        write_node(&mut self.nodes, p, node, acl);
        self.digest = self
            .digest
            .wrapping_add(node_digest(path, node.data(), &node.stat()));
        self.written += 1;
        if node.num_children() > 0 {
            let mut kids: Vec<NodeId> = tree.child_ids(node).collect();
            // Lowest slot first, for memory locality (popped from the end). A very wide
            // node is left in table order: sorting a million ids would hold the core up.
            if kids.len() <= SORTED_CHILDREN_MAX {
                kids.sort_unstable_by_key(|k| std::cmp::Reverse(*k));
            }
            self.stack.push(Level {
                path: path.to_string(),
                kids,
            });
        }
    }

    /// Hands out the node bytes written so far once there are at least `min` of them, so
    /// a big snapshot never sits whole in memory.
    pub fn take_nodes(&mut self, min: usize) -> Option<Vec<u8>> {
        if self.nodes.len() < min.max(1) {
            return None;
        }
        let chunk = self.nodes.split().to_vec();
        self.taken_adler = adler32_combine(
            self.taken_adler,
            adler2::adler32_slice(&chunk),
            chunk.len() as u64,
        );
        self.taken_len += chunk.len() as u64;
        Some(chunk)
    }

    /// Assembles the parts around the node bytes: header, sessions and ACL cache before,
    /// the seals and digest section after, with checksums over the whole file.
    pub fn finish_parts(self) -> SnapshotParts {
        let mut b = BytesMut::with_capacity(4096);
        SNAP_MAGIC.write(&mut b);
        FILE_VERSION.write(&mut b);
        (-1i64).write(&mut b);
        (self.sessions.len() as i32).write(&mut b);
        for (id, timeout) in &self.sessions {
            id.write(&mut b);
            timeout.write(&mut b);
        }
        (self.lists.len() as i32).write(&mut b);
        for (i, acl) in self.lists.iter().enumerate() {
            (i as i64 + 1).write(&mut b);
            (acl.len() as i32).write(&mut b);
            for a in acl.iter() {
                a.write(&mut b);
            }
        }
        let head = b.to_vec();
        let nodes = self.nodes.to_vec();
        // The checksum of head ‖ every node byte, which the tail's seals extend.
        let mut before_tail = adler32_combine(
            adler2::adler32_slice(&head),
            self.taken_adler,
            self.taken_len,
        );
        before_tail = adler32_combine(
            before_tail,
            adler2::adler32_slice(&nodes),
            nodes.len() as u64,
        );
        let mut t = BytesMut::with_capacity(64);
        "/".to_string().write(&mut t);
        seal_after(&mut t, before_tail);
        self.zxid.write(&mut t);
        DIGEST_VERSION.write(&mut t);
        (self.digest as i64).write(&mut t);
        seal_after(&mut t, before_tail);
        SnapshotParts {
            head,
            nodes,
            tail: t.to_vec(),
        }
    }

    /// The whole file in one buffer (node bytes must not have been taken).
    pub fn finish(self) -> Vec<u8> {
        let p = self.finish_parts();
        let mut out = Vec::with_capacity(p.head.len() + p.nodes.len() + p.tail.len());
        out.extend_from_slice(&p.head);
        out.extend_from_slice(&p.nodes);
        out.extend_from_slice(&p.tail);
        out
    }
}

/// SnapStream.sealStream for a tail whose file prefix has checksum `prefix`: the Adler32
/// of prefix ‖ the tail so far, then "/".
fn seal_after(tail: &mut BytesMut, prefix: u32) {
    let sum = adler32_combine(prefix, adler2::adler32_slice(tail), tail.len() as u64);
    i64::from(sum).write(tail);
    "/".to_string().write(tail);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::apply::apply;
    use crate::proto::{op, perms, CreateTxn, SetDataTxn, Txn, TxnHeader};
    use crate::storage::recovery::replay;
    use crate::storage::zk::{read_snapshot, read_snapshot_full, write_snapshot};

    fn hdr(zxid: i64, ty: i32) -> TxnHeader {
        TxnHeader {
            client_id: 1,
            cxid: 1,
            zxid,
            time: 1000 + zxid,
            r#type: ty,
        }
    }

    /// Applies a txn as the next zxid (one more than the log holds) and logs it.
    fn run(t: &mut DataTree, log: &mut Vec<(i64, Vec<u8>)>, ty: i32, txn: Txn) {
        let zxid = log.len() as i64 + 1;
        let e = crate::proto::TxnEntry {
            header: hdr(zxid, ty),
            txn,
            digest: None,
        };
        apply(t, &e.header, &e.txn);
        log.push((zxid, e.to_bytes().to_vec()));
    }

    /// A create as prep makes it: the parent's next cversion, absolute, so that replaying
    /// it over a snapshot that already has the child changes nothing.
    fn create_in(t: &DataTree, path: &str) -> Txn {
        let parent = crate::tree::parent_and_name(path).0;
        let pcv = t.get(parent).map_or(0, |n| n.stat().cversion) + 1;
        match create(path) {
            Txn::Create(ty, mut c) => {
                c.parent_cversion = pcv;
                Txn::Create(ty, c)
            }
            other => other,
        }
    }

    fn create(path: &str) -> Txn {
        Txn::Create(
            op::CREATE,
            CreateTxn {
                path: path.into(),
                data: Some(path.as_bytes().to_vec()),
                acl: vec![Acl::world(perms::ALL)],
                ephemeral: false,
                parent_cversion: -1,
            },
        )
    }

    #[test]
    fn in_one_go_it_equals_the_plain_writer() {
        let mut t = DataTree::new(false);
        for (i, p) in ["/a", "/a/b", "/c"].iter().enumerate() {
            apply(&mut t, &hdr(i as i64 + 1, op::CREATE), &create(p));
        }
        let mut f = FuzzySnapshot::new(3, vec![(7, 4000)]);
        assert!(f.step(&t, usize::MAX));
        let mut plain = Vec::new();
        write_snapshot(&t, &[(7, 4000)], 3, &mut plain);
        let fuzzy = f.finish();
        // The same nodes, ACL cache and digest; children may come in another order.
        assert_eq!(fuzzy.len(), plain.len());
        let (a, b) = (
            read_snapshot_full(&fuzzy, false).unwrap(),
            read_snapshot_full(&plain, false).unwrap(),
        );
        assert_eq!(a.sessions, b.sessions);
        assert_eq!(a.digest, b.digest);
        assert_eq!(a.tree.preorder().len(), b.tree.preorder().len());
        for (p, n) in b.tree.preorder() {
            let m = a.tree.get(&p).unwrap();
            assert_eq!(
                (m.data(), &**a.tree.acl(m), m.stat()),
                (n.data(), &**b.tree.acl(n), n.stat()),
                "{p}"
            );
        }
    }

    #[test]
    fn streamed_in_parts_it_equals_the_plain_writer() {
        let mut t = DataTree::new(false);
        for i in 0..300 {
            let c = create_in(&t, &format!("/n{i}"));
            apply(&mut t, &hdr(i + 1, op::CREATE), &c);
        }
        let mut f = FuzzySnapshot::new(300, vec![(7, 4000), (9, 6000)]);
        let mut taken = Vec::new();
        while !f.step(&t, 7) {
            if let Some(c) = f.take_nodes(500) {
                taken.extend_from_slice(&c);
            }
        }
        assert!(!taken.is_empty());
        let p = f.finish_parts();
        let mut file = p.head;
        file.extend_from_slice(&taken);
        file.extend_from_slice(&p.nodes);
        file.extend_from_slice(&p.tail);
        let mut whole = FuzzySnapshot::new(300, vec![(7, 4000), (9, 6000)]);
        assert!(whole.step(&t, usize::MAX));
        assert_eq!(file, whole.finish());
        assert!(read_snapshot(&file, false).is_ok());
    }

    #[test]
    fn a_snapshot_taken_during_writes_plus_the_log_gives_the_tree() {
        let mut t = DataTree::new(false);
        let mut log = Vec::new();
        for i in 0..50 {
            let c = create_in(&t, &format!("/n{i}"));
            run(&mut t, &mut log, op::CREATE, c);
        }
        let start = t.last_processed_zxid;
        let mut f = FuzzySnapshot::new(start, vec![]);
        let mut i = 0;
        while !f.step(&t, 7) {
            // Writes land between steps: new nodes, deletes, changed data.
            let c = create_in(&t, &format!("/n{i}/x"));
            run(&mut t, &mut log, op::CREATE, c);
            run(
                &mut t,
                &mut log,
                op::SET_DATA,
                Txn::SetData(SetDataTxn {
                    path: format!("/n{}", 49 - i),
                    data: Some(vec![i as u8]),
                    version: 1,
                }),
            );
            i += 1;
        }
        let bytes = f.finish();
        let (snap_tree, sessions) = read_snapshot(&bytes, false).unwrap();
        let after: Vec<_> = log.into_iter().filter(|(z, _)| *z > start).collect();
        let rebuilt = replay(snap_tree, sessions.into_iter().collect(), start, after).unwrap();
        for (p, n) in t.preorder() {
            let r = rebuilt
                .tree
                .get(&p)
                .unwrap_or_else(|| panic!("{p} missing"));
            assert_eq!(r.data(), n.data(), "{p}");
            assert_eq!(rebuilt.tree.stat(&p), t.stat(&p), "{p}");
        }
        assert_eq!(rebuilt.tree.node_count(), t.node_count());
    }

    #[test]
    fn slots_freed_and_reused_during_the_walk_are_not_written_under_old_parents() {
        let mut t = DataTree::new(false);
        let mut log = Vec::new();
        for p in ["/a", "/b"] {
            let c = create_in(&t, p);
            run(&mut t, &mut log, op::CREATE, c);
        }
        for i in 0..200 {
            let c = create_in(&t, &format!("/a/n{i}"));
            run(&mut t, &mut log, op::CREATE, c);
        }
        let start = t.last_processed_zxid;
        let mut f = FuzzySnapshot::new(start, vec![]);
        let mut i = 0;
        while !f.step(&t, 5) {
            // A child of /a not visited yet goes, and a node under /b takes its slot.
            if i < 150 {
                let del = crate::proto::DeleteTxn {
                    path: format!("/a/n{}", 199 - i),
                };
                run(&mut t, &mut log, op::DELETE, Txn::Delete(op::DELETE, del));
                let c = create_in(&t, &format!("/b/m{i}"));
                run(&mut t, &mut log, op::CREATE, c);
            }
            i += 1;
        }
        assert!(i > 10, "the walk took {i} steps");
        let bytes = f.finish();
        let (snap_tree, sessions) = read_snapshot(&bytes, false).unwrap();
        // Every node written is itself: its data is the path it was created at.
        for (p, n) in snap_tree.preorder() {
            if p.starts_with("/a/") || p.starts_with("/b/") {
                assert_eq!(n.data(), Some(p.as_bytes()), "{p} holds another node");
                assert!(n.czxid() <= start, "{p} was created after the start");
            }
        }
        let after: Vec<_> = log.into_iter().filter(|(z, _)| *z > start).collect();
        let rebuilt = replay(snap_tree, sessions.into_iter().collect(), start, after).unwrap();
        // ZooKeeper's replay ignores a delete that finds no node, so the parent of a child
        // deleted before the walk reached it keeps the pzxid the snapshot gave it (its
        // DataTree.processTxn does the same): everything else is as it was.
        for (p, n) in t.preorder() {
            let r = rebuilt
                .tree
                .get(&p)
                .unwrap_or_else(|| panic!("{p} missing"));
            assert_eq!(r.data(), n.data(), "{p}");
            let (Some(got), Some(want)) = (rebuilt.tree.stat(&p), t.stat(&p)) else {
                panic!("{p} has no stat");
            };
            assert!(got.pzxid <= want.pzxid, "{p}");
            let pzxid = want.pzxid;
            assert_eq!(crate::proto::Stat { pzxid, ..got }, want, "{p}");
        }
        assert_eq!(rebuilt.tree.node_count(), t.node_count());
    }
}
