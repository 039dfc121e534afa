//! The DataTree: znodes, their Stat, ephemerals by session, containers and TTL nodes.
//! No IO and no clocks: every change comes from a txn with its zxid and time.

mod acl;
mod buf;
pub mod children;
mod childset;
pub mod digest;
mod node;
mod path;
mod quota;
mod slab;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

pub use children::Children;
pub use digest::{node_digest, ZxidDigest};
pub use node::{Node, NodeId};
pub use path::{join, parent_and_name, validate_path};
pub use slab::ROOT;

use crate::proto::{Acl, EphemeralType, ErrorCode, Stat, StatPersisted};

/// Paths ZooKeeper creates on its own and never lets a client delete.
pub const ZOOKEEPER_PATH: &str = "/zookeeper";
/// The quota subtree.
pub const QUOTA_PATH: &str = "/zookeeper/quota";
/// The dynamic configuration node.
pub const CONFIG_PATH: &str = "/zookeeper/config";

/// A watch trigger produced by a change: the path and the event type (see `proto::event`).
///
/// Each carries the ACL lists its events are filtered by (CVE-2024-23944, ZOOKEEPER-4799):
/// a watcher without READ on the node (on the parent for NodeChildrenChanged) is not told.
/// They are taken when the change is made: a multi may delete the node before its
/// watches fire, and a deleted node's list may be freed with it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Trigger {
    /// NodeCreated(path), then NodeChildrenChanged(parent).
    Created {
        path: String,
        parent: String,
        acl: Arc<[Acl]>,
        parent_acl: Arc<[Acl]>,
    },
    /// NodeDeleted(path) (data table, then the child table minus those told), then
    /// NodeChildrenChanged(parent).
    Deleted {
        path: String,
        parent: String,
        acl: Arc<[Acl]>,
        parent_acl: Arc<[Acl]>,
    },
    /// NodeDataChanged(path).
    DataChanged { path: String, acl: Arc<[Acl]> },
}

/// An interned ACL list (see [`DataTree::intern`]).
pub type AclId = u32;

/// The in-memory tree.
#[derive(Debug)]
pub struct DataTree {
    nodes: slab::Nodes,
    /// Interned ACL lists, so the many nodes sharing one list share one allocation.
    acls: acl::AclTable,
    /// Per session, its ephemeral paths in a Java-ordered set (ZooKeeper lists them in
    /// HashSet order).
    ephemerals: HashMap<i64, Children>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    /// The zxid of the last txn applied.
    pub last_processed_zxid: i64,
    /// Whether 0xFF.. owners mean TTL nodes (zookeeper.extendedTypesEnabled).
    pub extended_types: bool,
    data_size: u64,
    /// Paths with a quota (ZooKeeper's pTrie).
    quota_paths: BTreeSet<String>,
    /// The parent of the node restored last (path, id, czxid): a snapshot lists siblings
    /// one after another, so restoring does not walk from the root for each of them.
    restore_parent: Option<(String, NodeId, i64)>,
    /// ZooKeeper's tree digest (the wrapping sum of every node's digest), kept up to date
    /// by every change: `hash` logs it every 128 txns.
    digest: u64,
    digest_log: digest::DigestLog,
}

fn open_acl() -> Vec<Acl> {
    vec![Acl::world(crate::proto::perms::ALL)]
}

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config`.
    pub fn new(extended_types: bool) -> DataTree {
        let mut t = DataTree {
            nodes: slab::Nodes::default(),
            acls: acl::AclTable::default(),
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_processed_zxid: 0,
            extended_types,
            data_size: 0,
            quota_paths: BTreeSet::new(),
            restore_parent: None,
            digest: 0,
            digest_log: digest::DigestLog::default(),
        };
        let open = t.intern(&open_acl());
        t.acls.retain(open);
        // ZooKeeper's built-in nodes hold empty data, not null.
        let root = t
            .nodes
            .alloc(Node::new("", Some(&[]), open, &StatPersisted::default()));
        debug_assert_eq!(root, ROOT);
        t.digest = t.digest_at("/", ROOT);
        for p in [ZOOKEEPER_PATH, QUOTA_PATH] {
            t.insert_raw(p, open, StatPersisted::default());
        }
        // /zookeeper/config is world-readable only; ZooKeeper sets its ACL with version -1.
        let read_only = t.intern(&[Acl::world(crate::proto::perms::READ)]);
        let stat = StatPersisted {
            aversion: -1,
            ..Default::default()
        };
        t.insert_raw(CONFIG_PATH, read_only, stat);
        t
    }

    /// A built-in node, empty, under a parent that exists.
    fn insert_raw(&mut self, path: &str, acl: AclId, stat: StatPersisted) {
        let (parent, name) = parent_and_name(path);
        if let Some(p) = self.nodes.lookup(parent) {
            self.acls.retain(acl);
            let id = self.nodes.alloc(Node::new(name, Some(&[]), acl, &stat));
            self.nodes.link(p, id);
            self.digest = self.digest.wrapping_add(self.digest_at(path, id));
        }
    }

    /// The digest of the node `id`, at `path` (0 if there is none).
    fn digest_at(&self, path: &str, id: NodeId) -> u64 {
        self.nodes
            .get(id)
            .map_or(0, |n| node_digest(path, n.data(), &n.stat()))
    }

    /// Replaces a node's old digest by its current one in the tree digest.
    fn redigest(&mut self, path: &str, id: NodeId, old: u64) {
        self.digest = self
            .digest
            .wrapping_sub(old)
            .wrapping_add(self.digest_at(path, id));
    }

    /// ZooKeeper's digest of the whole tree (NodeHashMapImpl.getDigest).
    pub fn digest(&self) -> i64 {
        self.digest as i64
    }

    /// Marks a whole txn (a multi once) as applied: the last processed zxid moves forward,
    /// and the digest log takes the tree digest if the zxid is a multiple of 128.
    pub fn txn_applied(&mut self, zxid: i64) {
        if zxid > self.last_processed_zxid {
            self.last_processed_zxid = zxid;
        }
        self.digest_log.txn_applied(zxid, self.digest as i64);
    }

    /// The digest log, oldest first (the `hash` four-letter word).
    pub fn digest_log(&self) -> Vec<ZxidDigest> {
        self.digest_log.entries()
    }

    /// Forgets the digest log: digests taken while replaying a fuzzy snapshot's log may be
    /// of a tree that never was (ZooKeeper does not log them until its snapshot's digest
    /// zxid; Ferrokeeper's snapshots do not say where that is).
    pub fn clear_digest_log(&mut self) {
        self.digest_log.clear();
    }

    /// The index of an ACL list, shared by every node that uses the same list.
    pub fn intern(&mut self, acl: &[Acl]) -> AclId {
        self.acls.intern(acl)
    }

    /// The node at `path`. ZooKeeper stores the root under "" as well as "/", so an
    /// empty path reads the root.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(self.nodes.lookup(path)?)
    }

    /// The id of the node at `path`.
    pub fn lookup(&self, path: &str) -> Option<NodeId> {
        self.nodes.lookup(path)
    }

    /// The node with an id (ids of deleted nodes are reused: check its czxid).
    pub fn node(&self, id: NodeId) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// A node's ACL list.
    pub fn acl(&self, node: &Node) -> &Arc<[Acl]> {
        self.acls.get(node.acl)
    }

    /// A node's children in no particular order.
    pub fn child_ids<'a>(&'a self, node: &'a Node) -> impl Iterator<Item = NodeId> + 'a {
        node.children.as_deref().into_iter().flat_map(|c| c.iter())
    }

    /// A node's child names in the order ZooKeeper lists them: Java `HashSet` order, a
    /// bucket of the set's table at a time, each bucket in insertion order. Insertion
    /// order is creation order, the czxid; siblings created by one multi share a czxid and
    /// go by slot, which may differ from ZooKeeper's order for them.
    pub fn child_names(&self, node: &Node) -> Vec<String> {
        self.children_in_order(node)
            .into_iter()
            .map(|c| c.name().into_owned())
            .collect()
    }

    /// The children themselves, in [`DataTree::child_names`]'s order: getChildren writes
    /// their names straight into its reply.
    pub fn children_in_order(&self, node: &Node) -> Vec<&Node> {
        self.ordered_child_ids(node)
            .into_iter()
            .filter_map(|id| self.nodes.get(id))
            .collect()
    }

    /// The child ids in Java `HashSet` order. Buckets are counting-sorted: a wide node's
    /// getChildren spent most of its time in a comparison sort of (bucket, czxid, name).
    fn ordered_child_ids(&self, node: &Node) -> Vec<NodeId> {
        let Some(set) = node.children.as_deref() else {
            return Vec::new();
        };
        let cap = set.java_capacity();
        // (bucket, czxid, id): the czxid orders a bucket's chain by insertion.
        let keyed: Vec<(u32, i64, NodeId)> = set
            .iter()
            .filter_map(|id| {
                let c = self.nodes.get(id)?;
                Some((children::bucket(&c.name(), cap), c.czxid, id))
            })
            .collect();
        if keyed.len() <= 32 {
            let mut keyed = keyed;
            keyed.sort_unstable();
            return keyed.into_iter().map(|(_, _, id)| id).collect();
        }
        // Where each bucket starts in the output, then the ids dealt into place.
        let mut start = vec![0u32; cap as usize + 1];
        for &(b, _, _) in &keyed {
            start[b as usize + 1] += 1;
        }
        for i in 1..start.len() {
            start[i] += start[i - 1];
        }
        let mut next = start.clone();
        let mut sorted = vec![(0i64, NodeId::default()); keyed.len()];
        for (b, czxid, id) in keyed {
            let slot = &mut next[b as usize];
            sorted[*slot as usize] = (czxid, id);
            *slot += 1;
        }
        // A bucket holds one or two children at Java's load factor: sort the few longer.
        for w in start.windows(2) {
            let (lo, hi) = (w[0] as usize, w[1] as usize);
            if hi - lo > 1 {
                sorted[lo..hi].sort_unstable();
            }
        }
        sorted.into_iter().map(|(_, id)| id).collect()
    }

    /// Number of znodes, the root included.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Sum of path and data lengths, as ZooKeeper's approximate_data_size.
    pub fn approximate_data_size(&self) -> u64 {
        self.data_size
    }

    /// The client-visible Stat of a node.
    pub fn stat_of(&self, node: &Node) -> Stat {
        let num_children = node.num_children() as i32;
        let owner = node.ephemeral_owner();
        let owner = match EphemeralType::of(owner, self.extended_types) {
            EphemeralType::Normal => owner,
            _ => 0,
        };
        Stat {
            czxid: node.czxid,
            mzxid: node.mzxid,
            ctime: node.ctime,
            mtime: node.mtime,
            version: node.version,
            cversion: node.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: node.aversion,
            ephemeral_owner: owner,
            data_length: node.data_len() as i32,
            num_children,
            pzxid: node.pzxid,
        }
    }

    /// Stat of the node at `path`.
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.get(path).map(|n| self.stat_of(n))
    }

    /// The ephemerals a session owns, in the order ZooKeeper lists them.
    pub fn ephemerals_of(&self, session_id: i64) -> Vec<String> {
        self.ephemerals
            .get(&session_id)
            .map(Children::ordered_clone)
            .unwrap_or_default()
    }

    /// Every session that owns ephemerals, with their count.
    pub fn ephemeral_counts(&self) -> impl Iterator<Item = (i64, usize)> + '_ {
        self.ephemerals.iter().map(|(s, p)| (*s, p.len()))
    }

    /// Container nodes (candidates for the container reaper).
    pub fn containers(&self) -> &BTreeSet<String> {
        &self.containers
    }

    /// TTL nodes (candidates for the reaper).
    pub fn ttls(&self) -> &BTreeSet<String> {
        &self.ttls
    }

    /// Creates a node as a CreateTxn does. The parent's stored cversion and pzxid move
    /// only forwards, and are moved even when the node exists (ZooKeeper's replay quirk).
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        ephemeral_owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
    ) -> Result<Trigger, ErrorCode> {
        let (parent_path, name) = parent_and_name(path);
        let pid = self.nodes.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
        let exists = self.nodes.child(pid, name.as_bytes()).is_some();
        let parent_digest = self.digest_at(parent_path, pid);
        let parent = self.nodes.get_mut(pid).ok_or(ErrorCode::NoNode)?;
        let parent_acl = self.acls.get(parent.acl).clone();
        let parent_cversion = if parent_cversion == -1 {
            parent.cversion + 1
        } else {
            parent_cversion
        };
        if parent_cversion > parent.cversion {
            parent.cversion = parent_cversion;
            parent.pzxid = zxid;
            self.redigest(parent_path, pid, parent_digest);
        }
        if exists {
            return Err(ErrorCode::NodeExists);
        }
        let acl = self.acls.intern(&acl);
        self.acls.retain(acl);
        let node_acl = self.acls.get(acl).clone();
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner,
            pzxid: zxid,
        };
        let len = data.as_ref().map_or(0, Vec::len);
        self.data_size += (path.len() + len) as u64;
        self.digest = self
            .digest
            .wrapping_add(node_digest(path, data.as_deref(), &stat));
        let id = self
            .nodes
            .alloc(Node::new(name, data.as_deref(), acl, &stat));
        self.nodes.link(pid, id);
        self.quota_on_create(parent_path, name, path, len);
        self.index_owner(path, ephemeral_owner);
        Ok(Trigger::Created {
            path: path.to_string(),
            parent: parent_path.to_string(),
            acl: node_acl,
            parent_acl,
        })
    }

    /// Deletes a node as a DeleteTxn does: the parent's pzxid moves forward, its cversion stays.
    pub fn delete(&mut self, path: &str, zxid: i64) -> Result<Trigger, ErrorCode> {
        let (parent_path, name) = parent_and_name(path);
        if path.is_empty() || path == "/" {
            return Err(ErrorCode::NoNode);
        }
        let pid = self.nodes.lookup(parent_path).ok_or(ErrorCode::NoNode)?;
        let id = self
            .nodes
            .unlink(pid, name.as_bytes())
            .ok_or(ErrorCode::NoNode)?;
        // Taken before the node's ACL reference goes with it.
        let acl = self.nodes.get(id).map_or_else(
            || self.acls.get(u32::MAX).clone(),
            |n| self.acls.get(n.acl).clone(),
        );
        let parent_acl = self.nodes.get(pid).map_or_else(
            || self.acls.get(u32::MAX).clone(),
            |n| self.acls.get(n.acl).clone(),
        );
        let node = self.free_subtree(path, id).ok_or(ErrorCode::NoNode)?;
        let len = node.data_len();
        self.data_size = self.data_size.saturating_sub((path.len() + len) as u64);
        let owner = node.ephemeral_owner();
        match EphemeralType::of(owner, self.extended_types) {
            EphemeralType::Void => {}
            EphemeralType::Normal => {
                if let Some(set) = self.ephemerals.get_mut(&owner) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&owner);
                    }
                }
            }
            EphemeralType::Container => {
                self.containers.remove(path);
            }
            EphemeralType::Ttl(_) => {
                self.ttls.remove(path);
            }
        }
        let parent_digest = self.digest_at(parent_path, pid);
        if let Some(parent) = self.nodes.get_mut(pid) {
            if zxid > parent.pzxid {
                parent.pzxid = zxid;
                self.redigest(parent_path, pid, parent_digest);
            }
        }
        self.quota_on_delete(parent_path, name, path, len);
        Ok(Trigger::Deleted {
            path: path.to_string(),
            parent: parent_path.to_string(),
            acl,
            parent_acl,
        })
    }

    /// Frees a node's slot and ACL reference, and those of anything still under it (a
    /// delete txn never names a node with children, but a damaged log must not leak), and
    /// takes their digests out of the tree's.
    fn free_subtree(&mut self, path: &str, id: NodeId) -> Option<Node> {
        let node = self.nodes.release(id)?;
        self.acls.release(node.acl);
        self.digest = self
            .digest
            .wrapping_sub(node_digest(path, node.data(), &node.stat()));
        let mut stack: Vec<(String, NodeId)> = self
            .child_ids(&node)
            .map(|c| (path.to_string(), c))
            .collect();
        while let Some((parent, c)) = stack.pop() {
            if let Some(n) = self.nodes.release(c) {
                self.acls.release(n.acl);
                let p = join(&parent, &n.name());
                self.digest = self
                    .digest
                    .wrapping_sub(node_digest(&p, n.data(), &n.stat()));
                stack.extend(
                    n.children
                        .as_deref()
                        .into_iter()
                        .flat_map(|s| s.iter())
                        .map(|k| (p.clone(), k)),
                );
            }
        }
        Some(node)
    }

    /// Sets data as a SetDataTxn does.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        version: i32,
        zxid: i64,
        time: i64,
    ) -> Result<Trigger, ErrorCode> {
        let id = self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        let old_digest = self.digest_at(path, id);
        let node = self.nodes.get_mut(id).ok_or(ErrorCode::NoNode)?;
        let old = node.data_len() as u64;
        let new = data.as_ref().map_or(0, Vec::len) as u64;
        node.set_data(data.as_deref());
        node.version = version;
        node.mzxid = zxid;
        node.mtime = time;
        let acl = self.acls.get(node.acl).clone();
        self.redigest(path, id, old_digest);
        self.data_size = (self.data_size + new).saturating_sub(old);
        if let Some(prefix) = self.quota_prefix(path) {
            self.update_quota_stat(&prefix, new as i64 - old as i64, 0);
        }
        Ok(Trigger::DataChanged {
            path: path.to_string(),
            acl,
        })
    }

    /// Sets the ACL as a SetACLTxn does (mzxid and mtime stay).
    pub fn set_acl(&mut self, path: &str, acl: Vec<Acl>, version: i32) -> Result<(), ErrorCode> {
        let id = self.nodes.lookup(path).ok_or(ErrorCode::NoNode)?;
        let old_digest = self.digest_at(path, id);
        let new = self.acls.intern(&acl);
        self.acls.retain(new);
        let Some(node) = self.nodes.get_mut(id) else {
            self.acls.release(new);
            return Err(ErrorCode::NoNode);
        };
        let old = std::mem::replace(&mut node.acl, new);
        node.aversion = version;
        self.acls.release(old);
        self.redigest(path, id, old_digest);
        Ok(())
    }

    /// Number of descendants of `path` (not counting itself), as getAllChildrenNumber.
    pub fn all_children_number(&self, path: &str) -> usize {
        let Some(id) = self.nodes.lookup(path) else {
            return 0;
        };
        let mut count = 0;
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            for c in self.nodes.children(id) {
                count += 1;
                stack.push(c);
            }
        }
        count
    }

    /// Every node in pre-order (parents before children, siblings by name), as snapshots
    /// list them.
    pub fn preorder(&self) -> Vec<(String, &Node)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![("/".to_string(), ROOT)];
        while let Some((p, id)) = stack.pop() {
            let Some(n) = self.nodes.get(id) else {
                continue;
            };
            let mut kids: Vec<(String, NodeId)> = self
                .child_ids(n)
                .filter_map(|c| Some((self.nodes.get(c)?.name().into_owned(), c)))
                .collect();
            // Reverse so the stack pops them in name order: a stable, deterministic layout.
            kids.sort_unstable_by(|a, b| b.0.cmp(&a.0));
            for (name, c) in kids {
                stack.push((join(&p, &name), c));
            }
            out.push((p, n));
        }
        out
    }

    /// Puts back a node read from a snapshot; its parent must be restored already. The root
    /// ("" or "/") and the built-in nodes are overwritten in place.
    pub fn restore_node(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        stat: StatPersisted,
    ) -> Result<(), ErrorCode> {
        let acl = self.intern(&acl);
        self.restore_shared(path, data, acl, stat)
    }

    /// The parent of a node being restored, from the hint when it is the same as last time.
    fn restore_parent_id(&mut self, parent_path: &str) -> Option<NodeId> {
        if let Some((p, id, czxid)) = &self.restore_parent {
            if p == parent_path && self.nodes.get(*id).is_some_and(|n| n.czxid == *czxid) {
                return Some(*id);
            }
        }
        let id = self.nodes.lookup(parent_path)?;
        let czxid = self.nodes.get(id)?.czxid;
        self.restore_parent = Some((parent_path.to_string(), id, czxid));
        Some(id)
    }

    /// [`DataTree::restore_node`] with an ACL list already interned by [`DataTree::intern`].
    pub fn restore_shared(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: AclId,
        stat: StatPersisted,
    ) -> Result<(), ErrorCode> {
        let path = if path.is_empty() { "/" } else { path };
        let (parent_path, name) = parent_and_name(path);
        let existing = if path == "/" {
            Some(ROOT)
        } else {
            let pid = self
                .restore_parent_id(parent_path)
                .ok_or(ErrorCode::NoNode)?;
            match self.nodes.child(pid, name.as_bytes()) {
                Some(id) => Some(id),
                None => {
                    let owner = stat.ephemeral_owner;
                    let len = data.as_ref().map_or(0, Vec::len);
                    self.data_size += (path.len() + len) as u64;
                    self.acls.retain(acl);
                    self.digest =
                        self.digest
                            .wrapping_add(node_digest(path, data.as_deref(), &stat));
                    let id = self
                        .nodes
                        .alloc(Node::new(name, data.as_deref(), acl, &stat));
                    self.nodes.link(pid, id);
                    self.index_owner(path, owner);
                    if parent_path.starts_with(QUOTA_PATH) && name == quota::LIMIT_NODE {
                        self.quota_paths
                            .insert(parent_path[QUOTA_PATH.len()..].to_string());
                    }
                    None
                }
            }
        };
        if let Some(id) = existing {
            self.acls.retain(acl);
            let old_digest = self.digest_at(path, id);
            let Some(n) = self.nodes.get_mut(id) else {
                return Err(ErrorCode::NoNode);
            };
            let old = n.data_len() as u64;
            let old_acl = std::mem::replace(&mut n.acl, acl);
            n.set_data(data.as_deref());
            n.set_stat(&stat);
            self.acls.release(old_acl);
            self.data_size = self.data_size.saturating_sub(old);
            self.data_size += data.as_ref().map_or(0, Vec::len) as u64;
            self.redigest(path, id, old_digest);
        }
        Ok(())
    }

    /// Files a new node under its session, or as a container or TTL node.
    fn index_owner(&mut self, path: &str, owner: i64) {
        match EphemeralType::of(owner, self.extended_types) {
            EphemeralType::Void => {}
            EphemeralType::Normal => {
                self.ephemerals
                    .entry(owner)
                    .or_insert_with(|| Children::with_capacity(16))
                    .insert(path);
            }
            EphemeralType::Container => {
                self.containers.insert(path.to_string());
            }
            EphemeralType::Ttl(_) => {
                self.ttls.insert(path.to_string());
            }
        }
    }

    /// Drops interned ACL lists no node uses any more.
    pub fn purge_unused_acls(&mut self) {
        self.acls.purge();
    }
}

#[cfg(test)]
mod tests;
