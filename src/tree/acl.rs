//! Interned ACL lists. Nearly every node of a real tree uses one of a handful of lists, so a
//! node holds a 4-byte index, and each list exists once with a count of the nodes using it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::proto::Acl;

/// The tree's ACL lists.
#[derive(Debug, Default)]
pub(super) struct AclTable {
    /// Index -> (list, nodes using it); `None` for a free index.
    lists: Vec<Option<(Arc<[Acl]>, u64)>>,
    index: HashMap<Arc<[Acl]>, u32>,
    free: Vec<u32>,
    /// Answered for an index that names no list (never expected): no permission at all.
    none: Arc<[Acl]>,
}

impl AclTable {
    /// The index of `acl`, adding the list if it is new. The list is not counted as used
    /// until [`AclTable::retain`]; unused lists go at [`AclTable::purge`].
    pub(super) fn intern(&mut self, acl: &[Acl]) -> u32 {
        if let Some(i) = self.index.get(acl) {
            return *i;
        }
        let list: Arc<[Acl]> = acl.into();
        let i = match self.free.pop() {
            Some(i) => {
                self.lists[i as usize] = Some((list.clone(), 0));
                i
            }
            None => {
                self.lists.push(Some((list.clone(), 0)));
                (self.lists.len() - 1) as u32
            }
        };
        self.index.insert(list, i);
        i
    }

    /// The list at an index.
    pub(super) fn get(&self, i: u32) -> &Arc<[Acl]> {
        match self.lists.get(i as usize) {
            Some(Some((l, _))) => l,
            _ => &self.none,
        }
    }

    /// One more node uses the list.
    pub(super) fn retain(&mut self, i: u32) {
        if let Some(Some((_, n))) = self.lists.get_mut(i as usize) {
            *n += 1;
        }
    }

    /// One node fewer uses the list; the last one frees it.
    pub(super) fn release(&mut self, i: u32) {
        let gone = match self.lists.get_mut(i as usize) {
            Some(Some((_, n))) => {
                *n = n.saturating_sub(1);
                *n == 0
            }
            _ => false,
        };
        if gone {
            self.drop_index(i);
        }
    }

    fn drop_index(&mut self, i: u32) {
        if let Some(slot) = self.lists.get_mut(i as usize) {
            if let Some((l, _)) = slot.take() {
                self.index.remove(&l);
                self.free.push(i);
            }
        }
    }

    /// Drops the lists no node uses.
    pub(super) fn purge(&mut self) {
        let unused: Vec<u32> = (0..self.lists.len() as u32)
            .filter(|i| matches!(self.lists[*i as usize], Some((_, 0))))
            .collect();
        for i in unused {
            self.drop_index(i);
        }
    }

    /// Distinct lists held.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::perms;

    #[test]
    fn counts_and_frees() {
        let mut t = AclTable::default();
        let open = vec![Acl::world(perms::ALL)];
        let read = vec![Acl::world(perms::READ)];
        let a = t.intern(&open);
        assert_eq!(t.intern(&open), a);
        t.retain(a);
        t.retain(a);
        let b = t.intern(&read);
        assert_ne!(a, b);
        t.purge();
        assert_eq!(t.len(), 1, "unused list purged");
        t.release(a);
        assert_eq!(&**t.get(a), open.as_slice());
        t.release(a);
        assert_eq!(t.len(), 0);
        assert!(t.get(a).is_empty());
        let c = t.intern(&read);
        assert_eq!(c, a, "index reused");
    }
}
