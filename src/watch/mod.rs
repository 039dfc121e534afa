//! The watch manager: one-shot data/exist/child watches and persistent (recursive) watches,
//! kept per connection in two tables, as ZooKeeper's WatchManager keeps them.
//!
//! A standard watch fires once at its exact path. A persistent watch fires at its exact path
//! and stays. A persistent-recursive watch fires for its path and every descendant, for
//! every event type except NodeChildrenChanged, and stays. Each trigger tells a connection
//! at most once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::proto::{event, Acl};
use crate::tree::{parent_and_name, Trigger};

/// Identifies a client connection (watches belong to connections, not sessions).
pub type ConnId = u64;

/// The kinds of watch a connection can hold on one path in one table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Modes {
    /// One-shot (exists/getData in the data table, getChildren in the child table).
    pub standard: bool,
    /// addWatch PERSISTENT.
    pub persistent: bool,
    /// addWatch PERSISTENT_RECURSIVE.
    pub recursive: bool,
}

impl Modes {
    fn is_empty(&self) -> bool {
        !(self.standard || self.persistent || self.recursive)
    }
}

/// One table (data or child): path -> connection -> modes.
#[derive(Debug, Default)]
pub struct WatchTable {
    by_path: HashMap<String, HashMap<ConnId, Modes>>,
    by_conn: HashMap<ConnId, HashSet<String>>,
    recursive_count: usize,
}

impl WatchTable {
    fn update(&mut self, path: &str, conn: ConnId, f: impl FnOnce(&mut Modes)) {
        let entry = self.by_path.entry(path.to_string()).or_default();
        let m = entry.entry(conn).or_default();
        let was_recursive = m.recursive;
        f(m);
        match (was_recursive, m.recursive) {
            (false, true) => self.recursive_count += 1,
            (true, false) => self.recursive_count -= 1,
            _ => {}
        }
        if m.is_empty() {
            entry.remove(&conn);
            if entry.is_empty() {
                self.by_path.remove(path);
            }
            if let Some(paths) = self.by_conn.get_mut(&conn) {
                paths.remove(path);
                if paths.is_empty() {
                    self.by_conn.remove(&conn);
                }
            }
        } else {
            self.by_conn
                .entry(conn)
                .or_default()
                .insert(path.to_string());
        }
    }

    /// Adds a watch of the given kind.
    pub fn add(&mut self, path: &str, conn: ConnId, kind: Kind) {
        self.update(path, conn, |m| match kind {
            Kind::Standard => m.standard = true,
            Kind::Persistent => m.persistent = true,
            Kind::Recursive => m.recursive = true,
        });
    }

    /// The modes a connection holds on a path.
    pub fn modes(&self, path: &str, conn: ConnId) -> Modes {
        self.by_path
            .get(path)
            .and_then(|m| m.get(&conn))
            .copied()
            .unwrap_or_default()
    }

    /// Removes the kinds selected by `which`; true if anything was removed.
    pub fn remove(&mut self, path: &str, conn: ConnId, which: Modes) -> bool {
        let have = self.modes(path, conn);
        let hit = (have.standard && which.standard)
            || (have.persistent && which.persistent)
            || (have.recursive && which.recursive);
        if hit {
            self.update(path, conn, |m| {
                m.standard &= !which.standard;
                m.persistent &= !which.persistent;
                m.recursive &= !which.recursive;
            });
        }
        hit
    }

    /// Fires the watches an event at `path` reaches; returns the connections told,
    /// leaving out those in `suppress`.
    fn trigger(&mut self, path: &str, ty: i32, suppress: &HashSet<ConnId>) -> Vec<ConnId> {
        let mut told = Vec::new();
        let mut seen = HashSet::new();
        if let Some(watchers) = self.by_path.get(path) {
            let watchers: Vec<(ConnId, Modes)> = watchers.iter().map(|(c, m)| (*c, *m)).collect();
            for (conn, m) in watchers {
                let fires = m.standard
                    || m.persistent
                    || (m.recursive && ty != event::NODE_CHILDREN_CHANGED);
                if !fires {
                    continue;
                }
                if m.standard {
                    self.update(path, conn, |m| m.standard = false);
                }
                if seen.insert(conn) && !suppress.contains(&conn) {
                    told.push(conn);
                }
            }
        }
        if self.recursive_count > 0 && ty != event::NODE_CHILDREN_CHANGED {
            let mut p = path;
            while p != "/" {
                p = parent_and_name(p).0;
                if let Some(watchers) = self.by_path.get(p) {
                    for (conn, m) in watchers {
                        if m.recursive && seen.insert(*conn) && !suppress.contains(conn) {
                            told.push(*conn);
                        }
                    }
                }
            }
        }
        told
    }

    /// Drops every watch of a connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        if let Some(paths) = self.by_conn.remove(&conn) {
            for p in paths {
                if let Some(m) = self.by_path.get_mut(&p) {
                    if let Some(modes) = m.remove(&conn) {
                        if modes.recursive {
                            self.recursive_count -= 1;
                        }
                    }
                    if m.is_empty() {
                        self.by_path.remove(&p);
                    }
                }
            }
        }
    }

    /// Whether any connection holds a persistent-recursive watch in this table.
    pub fn has_recursive(&self) -> bool {
        self.recursive_count > 0
    }

    /// Number of (path, connection) watches.
    pub fn len(&self) -> usize {
        self.by_path.values().map(HashMap::len).sum()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    /// Paths watched by a connection.
    pub fn paths_of(&self, conn: ConnId) -> Vec<String> {
        self.by_conn
            .get(&conn)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Connections watching a path.
    pub fn conns_of(&self, path: &str) -> Vec<ConnId> {
        self.by_path
            .get(path)
            .map(|m| m.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Every watched path.
    pub fn paths(&self) -> Vec<String> {
        self.by_path.keys().cloned().collect()
    }
}

/// A kind of watch to add.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// One-shot.
    Standard,
    /// Persistent at the path.
    Persistent,
    /// Persistent for the path and its descendants.
    Recursive,
}

/// A notification to send: connection, event type, path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Who to tell.
    pub conn: ConnId,
    /// Event type (see `proto::event`).
    pub event_type: i32,
    /// The znode path.
    pub path: String,
    /// The ACL the connection needs READ on for the event to be delivered (the node's, or
    /// the parent's for NodeChildrenChanged); `None` for events that are never filtered,
    /// as ZooKeeper passes no ACL for those fired by setWatches.
    pub acl: Option<Arc<[Acl]>>,
}

/// The data and child tables.
#[derive(Debug, Default)]
pub struct WatchManager {
    /// exists/getData watches, persistent and recursive ones.
    pub data: WatchTable,
    /// getChildren watches, persistent and recursive ones.
    pub child: WatchTable,
    /// Upper bound on watches per connection (0 = none).
    pub max_per_conn: usize,
}

impl WatchManager {
    /// The notifications a tree change produces, in ZooKeeper's order. One-shot watches are
    /// used up here whether or not the ACL later lets the event through, as in ZooKeeper,
    /// which removes them before `ServerCnxn.process` checks READ.
    pub fn trigger(&mut self, t: &Trigger) -> Vec<Notification> {
        let mut out = Vec::new();
        let none = HashSet::new();
        let mut push = |conns: Vec<ConnId>, ty: i32, path: &str, acl: &Arc<[Acl]>| {
            for conn in conns {
                out.push(Notification {
                    conn,
                    event_type: ty,
                    path: path.to_string(),
                    acl: Some(acl.clone()),
                });
            }
        };
        match t {
            Trigger::Created {
                path,
                parent,
                acl,
                parent_acl,
            } => {
                let c = self.data.trigger(path, event::NODE_CREATED, &none);
                push(c, event::NODE_CREATED, path, acl);
                let c = self
                    .child
                    .trigger(parent, event::NODE_CHILDREN_CHANGED, &none);
                push(c, event::NODE_CHILDREN_CHANGED, parent, parent_acl);
            }
            Trigger::Deleted {
                path,
                parent,
                acl,
                parent_acl,
            } => {
                let told = self.data.trigger(path, event::NODE_DELETED, &none);
                let suppress: HashSet<ConnId> = told.iter().copied().collect();
                push(told, event::NODE_DELETED, path, acl);
                let c = self.child.trigger(path, event::NODE_DELETED, &suppress);
                push(c, event::NODE_DELETED, path, acl);
                let c = self
                    .child
                    .trigger(parent, event::NODE_CHILDREN_CHANGED, &none);
                push(c, event::NODE_CHILDREN_CHANGED, parent, parent_acl);
            }
            Trigger::DataChanged { path, acl } => {
                let c = self.data.trigger(path, event::NODE_DATA_CHANGED, &none);
                push(c, event::NODE_DATA_CHANGED, path, acl);
            }
        }
        out
    }

    /// Drops every watch of a connection.
    pub fn remove_conn(&mut self, conn: ConnId) {
        self.data.remove_conn(conn);
        self.child.remove_conn(conn);
    }

    /// Total watches held, for wchs and the watch_count metric.
    pub fn count(&self) -> usize {
        self.data.len() + self.child.len()
    }
}

#[cfg(test)]
mod tests;
