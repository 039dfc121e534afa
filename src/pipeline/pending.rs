//! The view prep checks against: the DataTree, under the changes of txns that were prepared
//! but are not applied yet ([`Uncommitted`]), under the changes of the request being
//! prepared (inside a multi, later ops see what earlier ops did). Only a request that
//! prepares without error hands its changes on to [`Uncommitted`] (a failed multi leaves
//! nothing behind, as ZooKeeper's `rollbackPendingChanges`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::pipeline::uncommitted::Uncommitted;
use crate::proto::{Acl, StatPersisted};
use crate::tree::DataTree;

/// What prep needs to know of a node.
#[derive(Debug, Clone)]
pub struct PendingNode {
    /// Persisted stat (stored cversion counts creates).
    pub stat: StatPersisted,
    /// The node's ACL.
    pub acl: Arc<[Acl]>,
    /// Number of children.
    pub num_children: usize,
}

/// The tree seen through pending changes.
pub struct Pending<'a> {
    tree: &'a DataTree,
    uncommitted: Option<&'a Uncommitted>,
    changes: HashMap<String, Option<PendingNode>>,
}

impl<'a> Pending<'a> {
    /// A view with no pending changes.
    pub fn new(tree: &'a DataTree) -> Pending<'a> {
        Pending {
            tree,
            uncommitted: None,
            changes: HashMap::new(),
        }
    }

    /// A view of the tree under the txns prepared before this request.
    pub fn over(tree: &'a DataTree, uncommitted: &'a Uncommitted) -> Pending<'a> {
        Pending {
            tree,
            uncommitted: Some(uncommitted),
            changes: HashMap::new(),
        }
    }

    /// This request's changes, for [`Uncommitted::add`].
    pub fn into_changes(self) -> HashMap<String, Option<PendingNode>> {
        self.changes
    }

    /// The node at `path` as it will be once pending txns apply.
    pub fn get(&self, path: &str) -> Option<PendingNode> {
        if let Some(c) = self.changes.get(path) {
            return c.clone();
        }
        match self.uncommitted.and_then(|u| u.get(path)) {
            Some(c) => c.clone(),
            None => self.tree.get(path).map(|n| PendingNode {
                stat: n.stat(),
                acl: self.tree.acl(n).clone(),
                num_children: n.num_children(),
            }),
        }
    }

    /// Records a pending change (`None`: deleted).
    pub fn put(&mut self, path: &str, node: Option<PendingNode>) {
        self.changes.insert(path.to_string(), node);
    }

    /// Whether extended types are on in the underlying tree.
    pub fn extended_types(&self) -> bool {
        self.tree.extended_types
    }
}
