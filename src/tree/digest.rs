//! ZooKeeper's tree digest: DigestCalculator's per-node CRC32 summed as NodeHashMapImpl's
//! AdHash does, kept up to date on every change, and the digest log DataTree keeps every
//! 128 txns for the `hash` four-letter word and the AdminServer's `hash` command.

use std::collections::VecDeque;

use bytes::BufMut;

use crate::proto::StatPersisted;

/// DigestCalculator.DIGEST_VERSION in 3.8 (what snapshots and txn digests carry).
pub const DIGEST_VERSION: i32 = 2;
/// DataTree.DIGEST_LOG_INTERVAL: a txn whose zxid is a multiple of it is logged.
pub const DIGEST_LOG_INTERVAL: i64 = 128;
/// DataTree.DIGEST_LOG_LIMIT: the oldest entry goes once the log holds more.
pub const DIGEST_LOG_LIMIT: usize = 1024;
/// Paths under this prefix are left out of the digest ("/zookeeper" itself counts): quota
/// nodes are changed locally on each server.
const EXCLUDED: &str = "/zookeeper/";

/// DigestCalculator.calculateDigest: CRC32 of the path ("/" as "", the root's other name),
/// the data and the stored stat fields in the digest's order. Paths under "/zookeeper/"
/// count as 0.
pub fn node_digest(path: &str, data: Option<&[u8]>, s: &StatPersisted) -> u64 {
    if path.starts_with(EXCLUDED) {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let mut h = crc32fast::Hasher::new();
    h.update(path.as_bytes());
    if let Some(d) = data {
        h.update(d);
    }
    let mut b = [0u8; 60];
    let mut w = &mut b[..];
    for v in [s.czxid, s.mzxid, s.pzxid, s.ctime, s.mtime] {
        w.put_i64(v);
    }
    for v in [s.version, s.cversion, s.aversion] {
        w.put_i32(v);
    }
    w.put_i64(s.ephemeral_owner);
    h.update(&b);
    u64::from(h.finalize())
}

/// One entry of the digest log: the tree digest right after the txn `zxid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    /// The txn's zxid (a multiple of [`DIGEST_LOG_INTERVAL`]).
    pub zxid: i64,
    /// The tree digest after it.
    pub digest: i64,
}

/// DataTree.digestLog: the last [`DIGEST_LOG_LIMIT`] digests of txns whose zxid is a
/// multiple of [`DIGEST_LOG_INTERVAL`], oldest first.
#[derive(Debug, Default)]
pub(crate) struct DigestLog {
    entries: VecDeque<ZxidDigest>,
}

impl DigestLog {
    /// DataTree.logZxidDigest, called once per whole txn (a multi once, not per sub-txn),
    /// failed ones included.
    pub(crate) fn txn_applied(&mut self, zxid: i64, digest: i64) {
        if zxid % DIGEST_LOG_INTERVAL != 0 {
            return;
        }
        self.entries.push_back(ZxidDigest { zxid, digest });
        if self.entries.len() > DIGEST_LOG_LIMIT {
            self.entries.pop_front();
        }
    }

    pub(crate) fn entries(&self) -> Vec<ZxidDigest> {
        self.entries.iter().copied().collect()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{perms, Acl};
    use crate::tree::DataTree;

    /// The digest of every node, recomputed from nothing: what the kept digest must equal.
    fn full(t: &DataTree) -> i64 {
        t.preorder().iter().fold(0u64, |acc, (p, n)| {
            acc.wrapping_add(node_digest(p, n.data(), &n.stat()))
        }) as i64
    }

    fn open() -> Vec<Acl> {
        vec![Acl::world(perms::ALL)]
    }

    #[test]
    fn kept_digest_follows_every_change() {
        let mut t = DataTree::new(true);
        // ZooKeeper logs the empty tree's digest at start-up as 1371985504 ("" and
        // "/zookeeper" with zero stats and empty data; the rest is under /zookeeper/).
        assert_eq!((t.digest(), full(&t)), (1371985504, 1371985504));
        let mut zxid = 0;
        let mut next = || {
            zxid += 1;
            zxid
        };
        for i in 0..40 {
            let p = format!("/n{i}");
            let data = (i % 3 != 0).then(|| vec![i as u8; i]);
            let owner = [0, 0x55, i64::MIN, 0xFF00_0000_0000_0000u64 as i64 | 1000][i % 4];
            let z = next();
            t.create(&p, data, open(), owner, -1, z, 1000 + z).unwrap();
            assert_eq!(t.digest(), full(&t), "create {p}");
            let z = next();
            t.create(&format!("{p}/c"), None, open(), 0, -1, z, 2000 + z)
                .unwrap();
            if i % 2 == 0 {
                let z = next();
                t.set_data(&p, Some(b"new".to_vec()), 1, z, 3000 + z)
                    .unwrap();
            }
            if i % 3 == 0 {
                t.set_acl(&p, vec![Acl::world(perms::READ)], 1).unwrap();
            }
            if i % 5 == 0 {
                let z = next();
                t.delete(&format!("{p}/c"), z).unwrap();
            }
            // A create that finds the node still moves the parent (and its digest).
            let z = next();
            let _ = t.create(&p, None, open(), 0, 1000, z, 0);
            assert_eq!(t.digest(), full(&t), "after the changes of {p}");
        }
        t.set_data("/", Some(b"root".to_vec()), 1, next(), 7)
            .unwrap();
        t.set_data("/zookeeper/quota", Some(b"q".to_vec()), 1, next(), 7)
            .unwrap();
        assert_eq!(t.digest(), full(&t));
        // Deleting a node that still has children (only a damaged log does) takes them out.
        t.delete("/n1", next()).unwrap();
        assert_eq!(t.digest(), full(&t));
        // A node restored in place (the root from a snapshot) and a new one.
        t.restore_node("/", Some(Vec::new()), open(), StatPersisted::default())
            .unwrap();
        t.restore_node("/r", Some(b"r".to_vec()), open(), StatPersisted::default())
            .unwrap();
        assert_eq!(t.digest(), full(&t));
    }

    #[test]
    fn excluded_and_root_paths() {
        let s = StatPersisted::default();
        assert_eq!(node_digest("/zookeeper/quota", Some(b"x"), &s), 0);
        assert_ne!(node_digest("/zookeeper", None, &s), 0);
        // "/" is the root's second name: it digests as "".
        assert_eq!(node_digest("/", None, &s), node_digest("", None, &s));
        // null and empty data are the same to CRC32.
        assert_eq!(
            node_digest("/a", None, &s),
            node_digest("/a", Some(&[]), &s)
        );
    }

    #[test]
    fn log_keeps_every_128th_zxid_up_to_its_limit() {
        let mut log = DigestLog::default();
        for z in 1..=(DIGEST_LOG_INTERVAL * (DIGEST_LOG_LIMIT as i64 + 5)) {
            log.txn_applied(z, z * 3);
        }
        let e = log.entries();
        assert_eq!(e.len(), DIGEST_LOG_LIMIT);
        // The oldest five went; the rest are consecutive multiples of 128, oldest first.
        assert_eq!(e[0].zxid, 6 * DIGEST_LOG_INTERVAL);
        assert!(e.windows(2).all(|w| w[1].zxid == w[0].zxid + 128));
        assert!(e.iter().all(|d| d.digest == d.zxid * 3));
        log.clear();
        assert!(log.entries().is_empty());
    }

    #[test]
    fn applied_txns_log_the_digest_of_the_tree_after_them() {
        use crate::pipeline::apply::apply;
        use crate::proto::{op, CreateTxn, ErrorTxn, SetDataTxn, Txn, TxnHeader};
        let mut t = DataTree::new(true);
        let hdr = |zxid: i64, ty: i32| TxnHeader {
            client_id: 7,
            cxid: zxid as i32,
            zxid,
            time: 1_700_000_000_000 + zxid,
            r#type: ty,
        };
        let create = |p: String| CreateTxn {
            path: p,
            data: Some(b"d".to_vec()),
            acl: open(),
            ephemeral: false,
            parent_cversion: -1,
        };
        let mut want = Vec::new();
        for z in 1..=300i64 {
            let txn = match z % 4 {
                0 => Txn::Error(ErrorTxn { err: -110 }),
                1 if z > 4 => Txn::SetData(SetDataTxn {
                    path: format!("/n{}", z - 3),
                    data: Some(b"set".to_vec()),
                    version: 1,
                }),
                // A multi is one txn: logged once, after all its sub-txns.
                3 => Txn::Multi(vec![
                    Txn::Create(op::CREATE, create(format!("/n{z}"))),
                    Txn::Create(op::CREATE, create(format!("/n{z}/c"))),
                ]),
                _ => Txn::Create(op::CREATE, create(format!("/n{z}"))),
            };
            let ty = match &txn {
                Txn::Multi(_) => op::MULTI,
                Txn::Error(_) => op::ERROR,
                Txn::SetData(_) => op::SET_DATA,
                _ => op::CREATE,
            };
            apply(&mut t, &hdr(z, ty), &txn);
            assert_eq!(t.last_processed_zxid, z);
            if z % 128 == 0 {
                want.push(ZxidDigest {
                    zxid: z,
                    digest: full(&t),
                });
            }
        }
        assert_eq!(t.digest_log(), want);
        assert_eq!(want.len(), 2);
    }
}
