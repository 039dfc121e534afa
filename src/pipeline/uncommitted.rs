//! The changes of txns that were prepared but are not applied yet, owned by the server and
//! tagged by zxid (ZooKeeper's `outstandingChanges`, ClickHouse Keeper's `UncommittedState`).
//!
//! Prep of a write sees the writes prepared before it (a sequential create after another
//! gets the next number, a delete after a create finds the node) although the tree only
//! changes when a txn commits: durable on a standalone server, acknowledged by a quorum on a
//! leader. When txn `z` is applied, the changes recorded for `z` are dropped unless a later
//! txn changed the same path again.

use std::collections::{HashMap, VecDeque};

use crate::pipeline::pending::PendingNode;

/// Paths changed by prepared, unapplied txns: the last change of each path wins.
#[derive(Debug, Default)]
pub struct Uncommitted {
    /// path -> (zxid of the txn that changed it last, the node then; `None`: deleted).
    changes: HashMap<String, (i64, Option<PendingNode>)>,
    /// The paths each txn changed, oldest txn first, to settle them in O(paths).
    by_zxid: VecDeque<(i64, Vec<String>)>,
}

impl Uncommitted {
    /// The pending state of `path`, if an unapplied txn changed it.
    pub fn get(&self, path: &str) -> Option<&Option<PendingNode>> {
        self.changes.get(path).map(|(_, n)| n)
    }

    /// Records what txn `zxid` changes (zxids only grow).
    pub fn add(&mut self, zxid: i64, changes: HashMap<String, Option<PendingNode>>) {
        if changes.is_empty() {
            return;
        }
        debug_assert!(self.by_zxid.back().is_none_or(|(z, _)| *z < zxid));
        let mut paths = Vec::with_capacity(changes.len());
        for (path, node) in changes {
            paths.push(path.clone());
            self.changes.insert(path, (zxid, node));
        }
        self.by_zxid.push_back((zxid, paths));
    }

    /// Txn `zxid` (and every txn before it) is applied: what only they changed is now in
    /// the tree.
    pub fn committed(&mut self, zxid: i64) {
        while self.by_zxid.front().is_some_and(|(z, _)| *z <= zxid) {
            let Some((z, paths)) = self.by_zxid.pop_front() else {
                break;
            };
            for p in paths {
                if self.changes.get(&p).is_some_and(|(at, _)| *at == z) {
                    self.changes.remove(&p);
                }
            }
        }
    }

    /// Drops every pending change (a role change: txns not committed by a quorum are gone).
    pub fn clear(&mut self) {
        self.changes.clear();
        self.by_zxid.clear();
    }

    /// Whether no change is pending.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Every pending change: (path, node or `None` for deleted).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Option<PendingNode>)> {
        self.changes.iter().map(|(p, (_, n))| (p.as_str(), n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::StatPersisted;

    fn node(version: i32) -> Option<PendingNode> {
        Some(PendingNode {
            stat: StatPersisted {
                version,
                ..Default::default()
            },
            acl: Vec::new().into(),
            num_children: 0,
        })
    }

    fn changes(list: &[(&str, Option<PendingNode>)]) -> HashMap<String, Option<PendingNode>> {
        list.iter()
            .map(|(p, n)| (p.to_string(), n.clone()))
            .collect()
    }

    #[test]
    fn a_later_change_of_a_path_outlives_the_commit_of_an_earlier_one() {
        let mut u = Uncommitted::default();
        u.add(1, changes(&[("/a", node(0)), ("/b", node(0))]));
        u.add(2, changes(&[("/a", node(1))]));
        u.committed(1);
        assert!(u.get("/b").is_none(), "only txn 1 changed /b");
        let a = u.get("/a").and_then(|n| n.as_ref()).map(|n| n.stat.version);
        assert_eq!(a, Some(1), "txn 2's change of /a is still pending");
        u.committed(2);
        assert!(u.is_empty());
    }

    #[test]
    fn a_delete_is_pending_as_none() {
        let mut u = Uncommitted::default();
        u.add(5, changes(&[("/gone", None)]));
        assert!(matches!(u.get("/gone"), Some(None)));
        u.clear();
        assert!(u.get("/gone").is_none());
    }
}
