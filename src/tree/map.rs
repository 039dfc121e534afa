//! The path index of the DataTree: path -> node, sized for millions of znodes.
//!
//! A `HashMap<Box<str>, Node>` keeps key and node inline in its buckets, and a hash table
//! has up to twice as many buckets as entries, so at a million znodes most of the table
//! was empty node-sized slots. Here each znode is one allocation holding its path and its
//! node, and a bucket is a pointer: the empty slots cost 8 bytes, not 128.

use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::BuildHasher;

use super::Node;

/// A znode with the path it lives at.
#[derive(Debug)]
struct Entry {
    path: Box<str>,
    node: Node,
}

/// Path -> node.
#[derive(Debug, Default)]
pub(super) struct NodeMap {
    table: HashTable<Box<Entry>>,
    hasher: DefaultHashBuilder,
}

impl NodeMap {
    fn hash(&self, path: &str) -> u64 {
        self.hasher.hash_one(path)
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn get(&self, path: &str) -> Option<&Node> {
        self.table
            .find(self.hash(path), |e| &*e.path == path)
            .map(|e| &e.node)
    }

    pub(super) fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        let hash = self.hash(path);
        self.table
            .find_mut(hash, |e| &*e.path == path)
            .map(|e| &mut e.node)
    }

    /// Inserts or replaces the node at `path`.
    pub(super) fn insert(&mut self, path: &str, node: Node) {
        let hash = self.hash(path);
        match self.table.find_entry(hash, |e| &*e.path == path) {
            Ok(mut found) => found.get_mut().node = node,
            Err(absent) => {
                let hasher = &self.hasher;
                let entry = Box::new(Entry {
                    path: path.into(),
                    node,
                });
                absent
                    .into_table()
                    .insert_unique(hash, entry, |e| hasher.hash_one(&*e.path));
            }
        }
    }

    pub(super) fn remove(&mut self, path: &str) -> Option<Node> {
        let hash = self.hash(path);
        match self.table.find_entry(hash, |e| &*e.path == path) {
            Ok(found) => Some(found.remove().0.node),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::StatPersisted;

    fn node(version: i32) -> Node {
        Node::new(
            None,
            std::sync::Arc::from(Vec::new()),
            StatPersisted {
                version,
                ..Default::default()
            },
        )
    }

    #[test]
    fn insert_get_replace_remove() {
        let mut m = NodeMap::default();
        for i in 0..10_000 {
            m.insert(&format!("/n{i}"), node(i));
        }
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.get("/n1234").map(|n| n.stat.version), Some(1234));
        m.insert("/n1234", node(-5));
        assert_eq!(m.len(), 10_000);
        assert_eq!(m.get("/n1234").map(|n| n.stat.version), Some(-5));
        if let Some(n) = m.get_mut("/n7") {
            n.stat.version = 70;
        }
        assert_eq!(m.remove("/n7").map(|n| n.stat.version), Some(70));
        assert!(m.remove("/n7").is_none());
        assert!(m.get("/n7").is_none());
        assert!(m.get("/n").is_none());
        assert_eq!(m.len(), 9_999);
    }
}
