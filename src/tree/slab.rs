//! The nodes of the tree in a slab: ids are indexes, freed slots are reused, and a path is
//! found by walking from the root, one child-set lookup per component.
//!
//! The slab grows in fixed chunks, so growing never copies the nodes already there (a
//! `Vec` of a million nodes would copy 88 MB at once, on the thread serving requests).

use hashbrown::DefaultHashBuilder;
use std::hash::BuildHasher;

use super::childset::ChildSet;
use super::node::{Node, NodeId};

/// Nodes per chunk: 1.4 MB chunks.
const CHUNK_BITS: u32 = 14;
const CHUNK: usize = 1 << CHUNK_BITS;

/// The root's id.
pub const ROOT: NodeId = 0;

/// The slab.
#[derive(Debug, Default)]
pub(super) struct Nodes {
    chunks: Vec<Vec<Option<Node>>>,
    free: Vec<NodeId>,
    live: usize,
    hasher: DefaultHashBuilder,
}

impl Nodes {
    /// Live nodes.
    pub(super) fn len(&self) -> usize {
        self.live
    }

    pub(super) fn get(&self, id: NodeId) -> Option<&Node> {
        self.chunks
            .get((id >> CHUNK_BITS) as usize)?
            .get(id as usize & (CHUNK - 1))?
            .as_ref()
    }

    pub(super) fn get_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        self.chunks
            .get_mut((id >> CHUNK_BITS) as usize)?
            .get_mut(id as usize & (CHUNK - 1))?
            .as_mut()
    }

    /// Stores a node in a free slot.
    pub(super) fn alloc(&mut self, node: Node) -> NodeId {
        self.live += 1;
        if let Some(id) = self.free.pop() {
            if let Some(slot) = self
                .chunks
                .get_mut((id >> CHUNK_BITS) as usize)
                .and_then(|c| c.get_mut(id as usize & (CHUNK - 1)))
            {
                *slot = Some(node);
                return id;
            }
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let n = self.chunks.len() - 1;
        let chunk = &mut self.chunks[n];
        chunk.push(Some(node));
        ((n << CHUNK_BITS) + chunk.len() - 1) as NodeId
    }

    /// Empties a slot (its children, if any, are not touched).
    pub(super) fn release(&mut self, id: NodeId) -> Option<Node> {
        let slot = self
            .chunks
            .get_mut((id >> CHUNK_BITS) as usize)?
            .get_mut(id as usize & (CHUNK - 1))?;
        let node = slot.take()?;
        self.live -= 1;
        self.free.push(id);
        Some(node)
    }

    fn hash(&self, name: &[u8]) -> u64 {
        self.hasher.hash_one(name)
    }

    /// The child of `parent` called `name`.
    pub(super) fn child(&self, parent: NodeId, name: &[u8]) -> Option<NodeId> {
        let set = self.get(parent)?.children.as_ref()?;
        set.find(self.hash(name), |c| {
            self.get(c).is_some_and(|n| n.name_bytes() == name)
        })
    }

    /// The node at `path` ("" and "/" are the root). A path that is not absolute, or has
    /// an empty component, names no node.
    pub(super) fn lookup(&self, path: &str) -> Option<NodeId> {
        if path.is_empty() || path == "/" {
            return Some(ROOT);
        }
        let rest = path.strip_prefix('/')?;
        let mut id = ROOT;
        for name in rest.split('/') {
            id = self.child(id, name.as_bytes())?;
        }
        Some(id)
    }

    /// Files `child` (already in the slab, named) under `parent`; false if the parent is
    /// gone or has a child of that name.
    pub(super) fn link(&mut self, parent: NodeId, child: NodeId) -> bool {
        let Some(hash) = self.get(child).map(|n| self.hash(n.name_bytes())) else {
            return false;
        };
        // The set leaves its node while it changes, so that the table can read the other
        // children's names from the slab when it grows.
        let Some(mut set) = self
            .get_mut(parent)
            .map(|p| p.children.take().unwrap_or_default())
        else {
            return false;
        };
        let this = &*self;
        let name = this.get(child).map(Node::name_bytes).unwrap_or_default();
        let taken = set
            .find(hash, |c| {
                this.get(c).is_some_and(|n| n.name_bytes() == name)
            })
            .is_some();
        if !taken {
            set.insert(hash, child, |c| {
                this.get(c).map_or(0, |n| this.hash(n.name_bytes()))
            });
        }
        if let Some(p) = self.get_mut(parent) {
            p.children = Some(set);
        }
        !taken
    }

    /// Takes the child called `name` out of `parent`'s set (the slot stays).
    pub(super) fn unlink(&mut self, parent: NodeId, name: &[u8]) -> Option<NodeId> {
        let hash = self.hash(name);
        let mut set = self.get_mut(parent)?.children.take()?;
        let removed = {
            let this = &*self;
            set.remove(hash, |c| {
                this.get(c).is_some_and(|n| n.name_bytes() == name)
            })
        };
        if let Some(p) = self.get_mut(parent) {
            p.children = Some(set);
        }
        removed
    }

    /// The children of a node, in no particular order.
    pub(super) fn children(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.get(id)
            .and_then(|n| n.children.as_deref())
            .into_iter()
            .flat_map(ChildSet::iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::StatPersisted;

    fn node(name: &str, czxid: i64) -> Node {
        let stat = StatPersisted {
            czxid,
            ..Default::default()
        };
        Node::new(name, None, 0, &stat)
    }

    #[test]
    fn link_lookup_unlink_and_reuse() {
        let mut s = Nodes::default();
        assert_eq!(s.alloc(node("", 0)), ROOT);
        let a = s.alloc(node("a", 1));
        assert!(s.link(ROOT, a));
        let mut kids = Vec::new();
        for i in 0..40_000 {
            let id = s.alloc(node(&format!("n{i}"), i + 2));
            assert!(s.link(a, id));
            kids.push(id);
        }
        let dup = s.alloc(node("n7", 99));
        assert!(!s.link(a, dup));
        assert!(s.release(dup).is_some());
        assert_eq!(s.len(), 40_002);
        assert_eq!(s.lookup("/a/n12345"), Some(kids[12345]));
        assert_eq!(s.lookup(""), Some(ROOT));
        assert_eq!(s.lookup("/"), Some(ROOT));
        for bad in ["a", "/a/", "//a", "/a//n1", "/b", "/a/n40000"] {
            assert_eq!(s.lookup(bad), None, "{bad}");
        }
        assert_eq!(s.unlink(a, b"n5"), Some(kids[5]));
        assert!(s.release(kids[5]).is_some());
        assert_eq!(s.lookup("/a/n5"), None);
        assert_eq!(s.children(a).count(), 39_999);
        // The freed slot is used again.
        let again = s.alloc(node("z", 5));
        assert_eq!(again, kids[5]);
        assert_eq!(s.get(a).map(Node::num_children), Some(39_999));
    }
}
