//! Quota accounting (DataTree's pTrie and StatsTrack). A path has a quota while
//! `/zookeeper/quota<path>/zookeeper_limits` exists; the tree then keeps the subtree's node
//! count and data bytes in `/zookeeper/quota<path>/zookeeper_stats` as `count=N,bytes=M`,
//! changing that node's data in place (no version bump), exactly as ZooKeeper does.
//! Limits are only logged: ZooKeeper enforces them only with zookeeper.enforceQuota.

use crate::tree::{DataTree, QUOTA_PATH};

/// The child holding a quota's limits.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// The child holding a quota's usage.
pub const STAT_NODE: &str = "zookeeper_stats";

/// The quota'd path a `/zookeeper/quota/...` node stands for.
fn trim_quota_path(p: &str) -> &str {
    &p[QUOTA_PATH.len()..]
}

fn stat_path(quota_path: &str) -> String {
    format!("{QUOTA_PATH}{quota_path}/{STAT_NODE}")
}

/// StatsTrack: `key=value` pairs, count and bytes first, the rest sorted by key.
fn update_stats(data: &[u8], count_diff: i64, bytes_diff: i64) -> Vec<u8> {
    let text = String::from_utf8_lossy(data);
    let mut count = -1i64;
    let mut bytes = -1i64;
    let mut rest: Vec<(String, String)> = Vec::new();
    for pair in text.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "count" => count = v.trim().parse().unwrap_or(-1),
            "bytes" => bytes = v.trim().parse().unwrap_or(-1),
            _ => rest.push((k.to_string(), v.to_string())),
        }
    }
    rest.sort();
    let mut out = format!("count={},bytes={}", count + count_diff, bytes + bytes_diff);
    for (k, v) in rest {
        out.push_str(&format!(",{k}={v}"));
    }
    out.into_bytes()
}

impl DataTree {
    /// The longest quota'd path that is `path` or one of its ancestors ("/" never counts).
    pub(crate) fn quota_prefix(&self, path: &str) -> Option<String> {
        if self.quota_paths.is_empty() {
            return None;
        }
        let mut p = path;
        loop {
            if p == "/" || p.is_empty() {
                return None;
            }
            if self.quota_paths.contains(p) {
                return Some(p.to_string());
            }
            p = crate::tree::parent_and_name(p).0;
        }
    }

    /// Adds to the usage recorded for a quota'd path.
    pub(crate) fn update_quota_stat(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
        let sp = stat_path(prefix);
        match self.nodes.lookup(&sp).and_then(|id| self.nodes.get_mut(id)) {
            Some(n) => {
                let new = update_stats(n.data().unwrap_or_default(), count_diff, bytes_diff);
                n.set_data(Some(&new));
            }
            None => tracing::error!("missing quota stat node {sp}"),
        }
    }

    /// Recomputes a quota'd path's usage from its subtree (the node itself included).
    fn update_quota_for_path(&mut self, path: &str) {
        let (mut count, mut bytes) = (0i64, 0i64);
        let mut stack: Vec<_> = self.nodes.lookup(path).into_iter().collect();
        while let Some(id) = stack.pop() {
            if let Some(n) = self.nodes.get(id) {
                count += 1;
                bytes += n.data_len() as i64;
                stack.extend(self.nodes.children(id));
            }
        }
        let sp = stat_path(path);
        if let Some(n) = self.nodes.lookup(&sp).and_then(|id| self.nodes.get_mut(id)) {
            n.set_data(Some(format!("count={count},bytes={bytes}").as_bytes()));
        }
    }

    /// Quota bookkeeping after a node was created.
    pub(crate) fn quota_on_create(&mut self, parent: &str, name: &str, path: &str, len: usize) {
        if parent.starts_with(QUOTA_PATH) {
            let quota_path = trim_quota_path(parent).to_string();
            if name == LIMIT_NODE {
                self.quota_paths.insert(quota_path.clone());
            }
            if name == STAT_NODE {
                self.update_quota_for_path(&quota_path);
            }
        }
        if let Some(prefix) = self.quota_prefix(path) {
            self.update_quota_stat(&prefix, len as i64, 1);
        }
    }

    /// Quota bookkeeping after a node was deleted.
    pub(crate) fn quota_on_delete(&mut self, parent: &str, name: &str, path: &str, len: usize) {
        if parent.starts_with(QUOTA_PATH) && name == LIMIT_NODE {
            self.quota_paths.remove(trim_quota_path(parent));
        }
        if let Some(prefix) = self.quota_prefix(path) {
            self.update_quota_stat(&prefix, -(len as i64), -1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{perms, Acl};

    #[test]
    fn stats_follow_the_subtree() {
        let mut t = DataTree::new(false);
        let acl = || vec![Acl::world(perms::ALL)];
        let mut z = 1;
        let mut mk = |t: &mut DataTree, p: &str, d: &[u8]| {
            z += 1;
            t.create(p, Some(d.to_vec()), acl(), 0, -1, z, 0).unwrap();
        };
        mk(&mut t, "/a", b"12");
        mk(&mut t, "/a/b", b"345");
        mk(&mut t, "/zookeeper/quota/a", b"");
        mk(
            &mut t,
            "/zookeeper/quota/a/zookeeper_limits",
            b"count=10,bytes=-1",
        );
        mk(
            &mut t,
            "/zookeeper/quota/a/zookeeper_stats",
            b"count=0,bytes=0",
        );
        let stats = |t: &DataTree| {
            String::from_utf8(
                t.get("/zookeeper/quota/a/zookeeper_stats")
                    .unwrap()
                    .data()
                    .unwrap()
                    .to_vec(),
            )
            .unwrap()
        };
        assert_eq!(stats(&t), "count=2,bytes=5");
        mk(&mut t, "/a/c", b"6789");
        assert_eq!(stats(&t), "count=3,bytes=9");
        t.set_data("/a/c", Some(b"6".to_vec()), 1, 100, 0).unwrap();
        assert_eq!(stats(&t), "count=3,bytes=6");
        t.delete("/a/b", 101).unwrap();
        assert_eq!(stats(&t), "count=2,bytes=3");
        assert_eq!(
            update_stats(b"count=1,bytes=2,z=1,a=2", 1, 1),
            b"count=2,bytes=3,a=2,z=1"
        );
    }
}
