//! What the leader machine's test files share: a txn log with nothing on disk, the tick,
//! and a zxid shorthand.

use crate::quorum::leader::sync::{TxnLogRead, TxnLogView};
use crate::quorum::Zxid;

pub(super) struct NoDisk;

impl TxnLogView for NoDisk {
    fn read_from(&self, _: Zxid) -> Option<TxnLogRead> {
        None
    }
    fn snapshot_size(&self) -> u64 {
        1 << 20
    }
}

pub(super) const TICK: u64 = 2000;

pub(super) fn z(e: i64, c: i64) -> Zxid {
    Zxid::new(e, c)
}
