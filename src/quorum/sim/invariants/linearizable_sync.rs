//! LinearizableSync (not one of Zab.tla's; Ferrokeeper's `linearizableSync`): when a
//! leader answers a client's sync, the history it serves reads from holds every write
//! acknowledged (by any leader) before the sync was issued. ZooKeeper's own sync does not
//! keep it (ZOOKEEPER-1675): a leader that lost its quorum answers from what it has until
//! it notices.

use super::Record;
use crate::quorum::sim::disk::Txn;
use crate::quorum::Sid;

/// Leader `sid` answered a sync issued at `issued_ms`; `history` is what it applied.
pub(crate) fn on_answered(rec: &mut Record, sid: Sid, issued_ms: u64, history: &[Txn]) {
    rec.count("sync answered");
    let missing = (rec.acked_at.iter())
        .take_while(|(at, _)| *at < issued_ms)
        .find(|(_, z)| history.binary_search_by_key(z, |t| t.0).is_err())
        .copied();
    if let Some((at, zxid)) = missing {
        rec.violated(
            "LinearizableSync",
            format!(
                "leader {} answered a sync issued at {issued_ms} ms without 0x{:x}, acknowledged at {at} ms",
                sid.0, zxid.0
            ),
        );
    }
}
