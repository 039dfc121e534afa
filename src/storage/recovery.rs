//! Recovery: the newest intact snapshot plus the log after it rebuild the tree, the last
//! zxid and the live sessions. A gap or a damaged entry stops start-up with what is wrong,
//! never a silently partial tree.

use std::collections::BTreeMap;

use crate::pipeline::apply::apply;
use crate::proto::TxnEntry;
use crate::storage::StorageError;
use crate::tree::DataTree;

/// What recovery rebuilt.
pub struct Recovered {
    /// The tree as of `last_zxid`.
    pub tree: DataTree,
    /// Live sessions: id -> timeout ms.
    pub sessions: BTreeMap<i64, i32>,
    /// The zxid of the last txn applied.
    pub last_zxid: i64,
    /// The zxid of the snapshot recovery started from (0: none).
    pub snapshot_zxid: i64,
    /// Txns replayed from the log.
    pub replayed: usize,
}

/// Whether `next` may follow `prev` in the log: the next counter in the same epoch, or the
/// first txn of a later epoch.
pub fn follows(prev: i64, next: i64) -> bool {
    let (pe, ne) = (prev >> 32, next >> 32);
    if ne == pe {
        next == prev + 1
    } else {
        ne > pe && (next & 0xffff_ffff) == 1
    }
}

/// Replays `txns` (zxid order) on top of a snapshot state.
pub fn replay(
    mut tree: DataTree,
    mut sessions: BTreeMap<i64, i32>,
    snapshot_zxid: i64,
    txns: Vec<(i64, Vec<u8>)>,
) -> Result<Recovered, StorageError> {
    let mut last = snapshot_zxid;
    let replayed = txns.len();
    for (zxid, bytes) in txns {
        if !follows(last, zxid) {
            return Err(StorageError::Gap(format!(
                "after zxid 0x{last:x} the log continues at 0x{zxid:x}"
            )));
        }
        let entry = TxnEntry::from_bytes(&bytes)
            .map_err(|e| StorageError::Corrupt(format!("txn 0x{zxid:x} does not decode: {e}")))?;
        if entry.header.zxid != zxid {
            return Err(StorageError::Corrupt(format!(
                "txn stored under 0x{zxid:x} carries zxid 0x{:x}",
                entry.header.zxid
            )));
        }
        let applied = apply(&mut tree, &entry.header, &entry.txn);
        if let Some((id, timeout)) = applied.session_created {
            sessions.insert(id, timeout);
        }
        if let Some(id) = applied.session_closed {
            sessions.remove(&id);
        }
        last = zxid;
    }
    tree.last_processed_zxid = tree.last_processed_zxid.max(last);
    // The log replayed on a fuzzy snapshot passes through trees that never were, so the
    // digest log starts with the txns this run applies.
    tree.clear_digest_log();
    Ok(Recovered {
        tree,
        sessions,
        last_zxid: last,
        snapshot_zxid,
        replayed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{op, CreateSessionTxn, CreateTxn, Txn, TxnHeader};

    fn entry(zxid: i64, ty: i32, txn: Txn) -> (i64, Vec<u8>) {
        let e = TxnEntry {
            header: TxnHeader {
                client_id: 5,
                cxid: 1,
                zxid,
                time: 100,
                r#type: ty,
            },
            txn,
            digest: None,
        };
        (zxid, e.to_bytes().to_vec())
    }

    #[test]
    fn replays_and_refuses_gaps() {
        let create = |p: &str| {
            Txn::Create(
                op::CREATE,
                CreateTxn {
                    path: p.into(),
                    data: None,
                    acl: vec![crate::proto::Acl::world(31)],
                    ephemeral: false,
                    parent_cversion: -1,
                },
            )
        };
        let log = vec![
            entry(
                1,
                op::CREATE_SESSION,
                Txn::CreateSession(CreateSessionTxn { time_out: 4000 }),
            ),
            entry(2, op::CREATE, create("/a")),
        ];
        let r = replay(DataTree::new(false), BTreeMap::new(), 0, log.clone()).unwrap();
        assert_eq!(r.last_zxid, 2);
        assert!(r.tree.get("/a").is_some());
        assert_eq!(r.sessions.get(&5), Some(&4000));
        let gap = vec![log[0].clone(), entry(3, op::CREATE, create("/b"))];
        assert!(matches!(
            replay(DataTree::new(false), BTreeMap::new(), 0, gap),
            Err(StorageError::Gap(_))
        ));
        assert!(follows(0x1_0000_0005, 0x2_0000_0001));
        assert!(!follows(0x1_0000_0005, 0x2_0000_0002));
    }
}
