//! A node's children: a hash set of node ids, hashed by the child's name.
//!
//! The names live in the child nodes, so a child costs its parent one 4-byte slot (plus
//! the table's spare room), not a copy of its name. The set also follows the table size
//! a Java `HashSet` would have, because getChildren lists children in that set's order
//! (see `children.rs`).

use hashbrown::HashTable;

use super::node::NodeId;

/// The child ids of one node.
#[derive(Debug, Default)]
pub(super) struct ChildSet {
    ids: HashTable<NodeId>,
    /// The table capacity of ZooKeeper's `HashSet` (created with 8, doubled past 3/4).
    java_capacity: u32,
}

impl ChildSet {
    pub(super) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(super) fn java_capacity(&self) -> u32 {
        self.java_capacity.max(8)
    }

    /// The child whose name hashes to `hash` and satisfies `is`.
    pub(super) fn find(&self, hash: u64, is: impl Fn(NodeId) -> bool) -> Option<NodeId> {
        self.ids.find(hash, |&c| is(c)).copied()
    }

    /// Adds a child known to be absent; `rehash` gives the hash of a child already there
    /// (the table calls it when it grows).
    pub(super) fn insert(&mut self, hash: u64, id: NodeId, rehash: impl Fn(NodeId) -> u64) {
        self.ids.insert_unique(hash, id, |&c| rehash(c));
        if self.java_capacity == 0 {
            self.java_capacity = 8;
        }
        // Java's HashMap resizes after the insert that takes it past capacity * 0.75.
        if self.ids.len() as u64 > u64::from(self.java_capacity) * 3 / 4 {
            self.java_capacity *= 2;
        }
    }

    /// Removes the child whose name hashes to `hash` and satisfies `is`. The Java capacity
    /// stays: that set never shrinks.
    pub(super) fn remove(&mut self, hash: u64, is: impl Fn(NodeId) -> bool) -> Option<NodeId> {
        match self.ids.find_entry(hash, |&c| is(c)) {
            Ok(e) => Some(e.remove().0),
            Err(_) => None,
        }
    }

    /// The child ids in table order.
    pub(super) fn iter(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.ids.iter().copied()
    }
}
