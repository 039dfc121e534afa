//! One znode.

use std::sync::Arc;

use crate::proto::{Acl, StatPersisted};
use crate::tree::Children;

/// A znode: its data, ACL, persisted stat and child names.
#[derive(Debug, Clone)]
pub struct Node {
    /// The data; `None` when created with null data (getData then answers null too).
    pub data: Option<Vec<u8>>,
    /// The ACL list (shared with other nodes that have the same list).
    pub acl: Arc<[Acl]>,
    /// The stat as ZooKeeper persists it (cversion counts creates only).
    pub stat: StatPersisted,
    /// Child names.
    pub children: Children,
}

impl Node {
    /// A node without children.
    pub fn new(data: Option<Vec<u8>>, acl: Arc<[Acl]>, stat: StatPersisted) -> Node {
        Node {
            data,
            acl,
            stat,
            children: Children::default(),
        }
    }
}
