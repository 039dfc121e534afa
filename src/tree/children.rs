//! A Java `HashSet<String>`'s iteration order, for the lists ZooKeeper hands out in that
//! order: a session's ephemerals here, and a node's children (see `childset.rs`).
//!
//! ZooKeeper keeps children in a `java.util.HashSet` (created with capacity 8), so
//! getChildren returns them in HashMap bucket order, and within a bucket in insertion
//! order. Clients must not depend on it, but scripts and tests written against ZooKeeper
//! do (zkCli's `ls` prints the raw order), so we reproduce it: a bucket is
//! `spread(String.hashCode) & (capacity - 1)`, the capacity only grows (doubling when the
//! size passes 3/4 of it), and resizes keep the relative order inside a bucket.

use hashbrown::HashMap;

/// A set of names kept in Java `HashSet` order (a session's ephemeral paths).
#[derive(Debug, Clone, Default)]
pub struct Children(Option<Box<Set>>);

/// A Java HashSet's contents and its table size history.
#[derive(Debug, Clone, Default)]
struct Set {
    /// name -> insertion sequence number.
    names: HashMap<Box<str>, u64>,
    next_seq: u64,
    /// The Java table capacity (0 until the first child, as ZooKeeper creates the set lazily).
    capacity: u32,
    /// The capacity the Java set is created with (0 = DataNode's 8).
    initial: u32,
}

/// Java's `String.hashCode` over UTF-16 code units.
pub fn java_string_hash(s: &str) -> i32 {
    let mut h: i32 = 0;
    for u in s.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(i32::from(u));
    }
    h
}

pub(super) fn bucket(name: &str, capacity: u32) -> u32 {
    let h = java_string_hash(name) as u32;
    (h ^ (h >> 16)) & (capacity - 1)
}

impl Children {
    /// A set that Java creates with `new HashSet<>(capacity)` (a power of two).
    pub fn with_capacity(capacity: u32) -> Children {
        Children(Some(Box::new(Set {
            initial: capacity,
            ..Set::default()
        })))
    }

    /// The order of a `clone()` of this set, which Java rebuilds in a table sized for
    /// its current size (ZooKeeper's getEphemerals hands out such a clone).
    pub fn ordered_clone(&self) -> Vec<String> {
        let n = self.len();
        if n == 0 {
            return Vec::new();
        }
        let wanted = (n as f32 / 0.75 + 1.0) as u32;
        let capacity = wanted.max(1).next_power_of_two();
        let mut v: Vec<(u32, usize, String)> = self
            .ordered()
            .into_iter()
            .enumerate()
            .map(|(i, name)| (bucket(&name, capacity), i, name))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, _, n)| n).collect()
    }

    /// Number of children.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |s| s.names.len())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `name` is a child.
    pub fn contains(&self, name: &str) -> bool {
        self.0.as_ref().is_some_and(|s| s.names.contains_key(name))
    }

    /// Adds a child; false if it was there.
    pub fn insert(&mut self, name: &str) -> bool {
        let set = self.0.get_or_insert_with(Box::default);
        if set.names.contains_key(name) {
            return false;
        }
        if set.capacity == 0 {
            set.capacity = if set.initial == 0 { 8 } else { set.initial };
        }
        set.names.insert(name.into(), set.next_seq);
        set.next_seq += 1;
        // HashMap resizes after the insert that takes size above capacity * 0.75.
        if set.names.len() as u64 > u64::from(set.capacity) * 3 / 4 {
            set.capacity *= 2;
        }
        true
    }

    /// Removes a child; false if it was not there. The set stays (Java never shrinks it,
    /// and its size history decides the order).
    pub fn remove(&mut self, name: &str) -> bool {
        self.0
            .as_mut()
            .is_some_and(|s| s.names.remove(name).is_some())
    }

    /// The names in ZooKeeper's order.
    pub fn ordered(&self) -> Vec<String> {
        let Some(set) = self.0.as_ref() else {
            return Vec::new();
        };
        let mut v: Vec<(u32, u64, &str)> = set
            .names
            .iter()
            .map(|(n, seq)| (bucket(n, set.capacity), *seq, &**n))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, _, n)| n.to_string()).collect()
    }

    /// The names with their insertion sequence numbers, in no particular order.
    pub fn iter_with_seq(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0
            .iter()
            .flat_map(|s| s.names.iter().map(|(k, seq)| (&**k, *seq)))
    }

    /// The names in no particular order (cheap).
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().flat_map(|s| s.names.keys().map(|k| &**k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_known_values() {
        // Values of "abc".hashCode() and "zookeeper".hashCode() in Java.
        assert_eq!(java_string_hash("abc"), 96354);
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("zookeeper"), 1_600_681_804);
        assert_eq!(java_string_hash("\u{e9}t\u{e9}\u{1F600}"), 220_632_961);
    }

    #[test]
    fn order_matches_java_hashset_through_resizes() {
        // Printed by Java 17: a HashSet<String>(8) after adding "n0", "n7", ..., "n133".
        let mut c = Children::default();
        for i in 0..20 {
            c.insert(&format!("n{}", i * 7));
        }
        let java = "n0, n70, n91, n7, n63, n84, n21, n98, n42, n56, n77, n14, n35, n133, n49, n28, n126, n112, n119, n105";
        assert_eq!(c.ordered().join(", "), java);
    }

    #[test]
    fn clone_order_matches_java() {
        // Printed by Java 17: new HashSet<String>() filled, then clone().
        let mut c = Children::with_capacity(16);
        c.insert("/zkcli/eph");
        c.insert("/zkcli/eseq-0000000006");
        assert_eq!(c.ordered_clone(), ["/zkcli/eseq-0000000006", "/zkcli/eph"]);
        let mut c = Children::with_capacity(16);
        for i in 0..20 {
            c.insert(&format!("/e/n{}", i * 13));
        }
        let java = "/e/n39, /e/n208, /e/n26, /e/n117, /e/n104, /e/n247, /e/n52, /e/n78, /e/n13, /e/n65, /e/n182, /e/n91, /e/n169, /e/n234, /e/n156, /e/n221, /e/n143, /e/n130, /e/n0, /e/n195";
        assert_eq!(c.ordered_clone().join(", "), java);
    }

    #[test]
    fn order_is_bucket_then_insertion() {
        let mut c = Children::default();
        for n in ["b", "a", "c"] {
            c.insert(n);
        }
        // With capacity 8: "a"=97 -> 1, "b"=98 -> 2, "c"=99 -> 3.
        assert_eq!(c.ordered(), vec!["a", "b", "c"]);
    }
}
