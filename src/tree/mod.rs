//! The DataTree: znodes, their Stat, ephemerals by session, containers and TTL nodes.
//! No IO and no clocks: every change comes from a txn with its zxid and time.

pub mod children;
mod map;
mod node;
mod path;
mod quota;

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

pub use children::Children;
pub use node::Node;
pub use path::{join, parent_and_name, validate_path};

use crate::proto::{Acl, EphemeralType, ErrorCode, Stat, StatPersisted};

/// Paths ZooKeeper creates on its own and never lets a client delete.
pub const ZOOKEEPER_PATH: &str = "/zookeeper";
/// The quota subtree.
pub const QUOTA_PATH: &str = "/zookeeper/quota";
/// The dynamic configuration node.
pub const CONFIG_PATH: &str = "/zookeeper/config";

/// A watch trigger produced by a change: the path and the event type (see `proto::event`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Trigger {
    /// NodeCreated(path), then NodeChildrenChanged(parent).
    Created { path: String, parent: String },
    /// NodeDeleted(path) (data table, then the child table minus those told), then
    /// NodeChildrenChanged(parent).
    Deleted { path: String, parent: String },
    /// NodeDataChanged(path).
    DataChanged { path: String },
}

/// The in-memory tree.
#[derive(Debug)]
pub struct DataTree {
    nodes: map::NodeMap,
    /// Interned ACL lists, so the many nodes sharing one list share one allocation.
    acls: HashSet<Arc<[Acl]>>,
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
}

fn open_acl() -> Vec<Acl> {
    vec![Acl::world(crate::proto::perms::ALL)]
}

impl DataTree {
    /// A fresh tree: `/`, `/zookeeper`, `/zookeeper/quota` and `/zookeeper/config`.
    pub fn new(extended_types: bool) -> DataTree {
        let mut t = DataTree {
            nodes: map::NodeMap::default(),
            acls: HashSet::new(),
            ephemerals: HashMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            last_processed_zxid: 0,
            extended_types,
            data_size: 0,
            quota_paths: BTreeSet::new(),
        };
        let open = t.intern(open_acl());
        // ZooKeeper's built-in nodes hold empty data, not null.
        t.nodes.insert(
            "/",
            Node::new(Some(Vec::new()), open.clone(), StatPersisted::default()),
        );
        for p in [ZOOKEEPER_PATH, QUOTA_PATH] {
            t.insert_raw(p, Some(Vec::new()), open.clone(), StatPersisted::default());
        }
        // /zookeeper/config is world-readable only; ZooKeeper sets its ACL with version -1.
        let read_only = t.intern(vec![Acl::world(crate::proto::perms::READ)]);
        let stat = StatPersisted {
            aversion: -1,
            ..Default::default()
        };
        t.insert_raw(CONFIG_PATH, Some(Vec::new()), read_only, stat);
        t
    }

    fn insert_raw(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: Arc<[Acl]>,
        stat: StatPersisted,
    ) {
        let (parent, name) = parent_and_name(path);
        if let Some(p) = self.nodes.get_mut(parent) {
            p.children.insert(name);
        }
        self.nodes.insert(path, Node::new(data, acl, stat));
    }

    /// Shares one allocation per distinct ACL list.
    pub fn intern(&mut self, acl: Vec<Acl>) -> Arc<[Acl]> {
        if let Some(a) = self.acls.get(acl.as_slice()) {
            return a.clone();
        }
        let a: Arc<[Acl]> = acl.into();
        self.acls.insert(a.clone());
        a
    }

    /// The node at `path`. ZooKeeper stores the root under "" as well as "/", so an
    /// empty path reads the root.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(if path.is_empty() { "/" } else { path })
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
        let s = &node.stat;
        let num_children = node.children.len() as i32;
        let owner = match EphemeralType::of(s.ephemeral_owner, self.extended_types) {
            EphemeralType::Normal => s.ephemeral_owner,
            _ => 0,
        };
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: s.aversion,
            ephemeral_owner: owner,
            data_length: node.data.as_ref().map_or(0, |d| d.len() as i32),
            num_children,
            pzxid: s.pzxid,
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
        let acl = self.intern(acl);
        let parent = self.nodes.get_mut(parent_path).ok_or(ErrorCode::NoNode)?;
        let parent_cversion = if parent_cversion == -1 {
            parent.stat.cversion + 1
        } else {
            parent_cversion
        };
        if parent.children.contains(name) {
            if parent_cversion > parent.stat.cversion {
                parent.stat.cversion = parent_cversion;
                parent.stat.pzxid = zxid;
            }
            return Err(ErrorCode::NodeExists);
        }
        parent.children.insert(name);
        if parent_cversion > parent.stat.cversion {
            parent.stat.cversion = parent_cversion;
            parent.stat.pzxid = zxid;
        }
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
        self.nodes.insert(path, Node::new(data, acl, stat));
        self.quota_on_create(parent_path, name, path, len);
        self.index_owner(path, ephemeral_owner);
        Ok(Trigger::Created {
            path: path.to_string(),
            parent: parent_path.to_string(),
        })
    }

    /// Deletes a node as a DeleteTxn does: the parent's pzxid moves forward, its cversion stays.
    pub fn delete(&mut self, path: &str, zxid: i64) -> Result<Trigger, ErrorCode> {
        let (parent_path, name) = parent_and_name(path);
        let node = self.nodes.remove(path).ok_or(ErrorCode::NoNode)?;
        self.data_size = self
            .data_size
            .saturating_sub((path.len() + node.data.as_ref().map_or(0, Vec::len)) as u64);
        match EphemeralType::of(node.stat.ephemeral_owner, self.extended_types) {
            EphemeralType::Void => {}
            EphemeralType::Normal => {
                if let Some(set) = self.ephemerals.get_mut(&node.stat.ephemeral_owner) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&node.stat.ephemeral_owner);
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
        if let Some(parent) = self.nodes.get_mut(parent_path) {
            parent.children.remove(name);
            if zxid > parent.stat.pzxid {
                parent.stat.pzxid = zxid;
            }
        }
        self.quota_on_delete(
            parent_path,
            name,
            path,
            node.data.as_ref().map_or(0, Vec::len),
        );
        Ok(Trigger::Deleted {
            path: path.to_string(),
            parent: parent_path.to_string(),
        })
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
        let node = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        let old = node.data.as_ref().map_or(0, Vec::len) as u64;
        let new = data.as_ref().map_or(0, Vec::len) as u64;
        node.data = data;
        node.stat.version = version;
        node.stat.mzxid = zxid;
        node.stat.mtime = time;
        self.data_size = (self.data_size + new).saturating_sub(old);
        if let Some(prefix) = self.quota_prefix(path) {
            self.update_quota_stat(&prefix, new as i64 - old as i64, 0);
        }
        Ok(Trigger::DataChanged {
            path: path.to_string(),
        })
    }

    /// Sets the ACL as a SetACLTxn does (mzxid and mtime stay).
    pub fn set_acl(&mut self, path: &str, acl: Vec<Acl>, version: i32) -> Result<(), ErrorCode> {
        let acl = self.intern(acl);
        let node = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
        node.acl = acl;
        node.stat.aversion = version;
        Ok(())
    }

    /// Number of descendants of `path` (not counting itself), as getAllChildrenNumber.
    pub fn all_children_number(&self, path: &str) -> usize {
        let mut count = 0;
        let mut stack = vec![path.to_string()];
        while let Some(p) = stack.pop() {
            if let Some(n) = self.nodes.get(p.as_str()) {
                for c in n.children.iter() {
                    count += 1;
                    stack.push(path::join(&p, c));
                }
            }
        }
        count
    }

    /// Every node in pre-order (parents before children), as snapshots list them.
    pub fn preorder(&self) -> Vec<(String, &Node)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut stack = vec!["/".to_string()];
        while let Some(p) = stack.pop() {
            let Some(n) = self.nodes.get(p.as_str()) else {
                continue;
            };
            let mut names: Vec<&str> = n.children.iter().collect();
            // Reverse so the stack pops them in name order: a stable, deterministic layout.
            names.sort_unstable_by(|a, b| b.cmp(a));
            for c in names {
                stack.push(join(&p, c));
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
        let acl = self.intern(acl);
        self.restore_shared(path, data, acl, stat)
    }

    /// [`DataTree::restore_node`] with an ACL list already interned by [`DataTree::intern`].
    pub fn restore_shared(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: Arc<[Acl]>,
        stat: StatPersisted,
    ) -> Result<(), ErrorCode> {
        let path = if path.is_empty() { "/" } else { path };
        if let Some(n) = self.nodes.get_mut(path) {
            let old = n.data.as_ref().map_or(0, Vec::len) as u64;
            self.data_size = self.data_size.saturating_sub(old);
            self.data_size += data.as_ref().map_or(0, Vec::len) as u64;
            n.data = data;
            n.acl = acl;
            n.stat = stat;
            return Ok(());
        }
        let (parent_path, name) = parent_and_name(path);
        let parent = self.nodes.get_mut(parent_path).ok_or(ErrorCode::NoNode)?;
        parent.children.insert(name);
        let owner = stat.ephemeral_owner;
        let len = data.as_ref().map_or(0, Vec::len);
        self.data_size += (path.len() + len) as u64;
        self.nodes.insert(path, Node::new(data, acl, stat));
        self.index_owner(path, owner);
        if parent_path.starts_with(QUOTA_PATH) && name == quota::LIMIT_NODE {
            self.quota_paths
                .insert(parent_path[QUOTA_PATH.len()..].to_string());
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
        self.acls.retain(|a| Arc::strong_count(a) > 1);
    }
}

#[cfg(test)]
mod tests;
