//! No committed txn is lost by a new primary: Zab.tla's `PrimaryIntegrity` in the form
//! the Zab paper proves it from (a new primary's initial history holds every txn
//! committed before it). When a leader establishes epoch `e`, every txn delivered
//! anywhere so far with an epoch below `e`, and every acknowledged write, is in its
//! history.

use bytes::Bytes;

use super::Record;
use crate::quorum::sim::disk::Disk;
use crate::quorum::{Sid, Zxid};

/// Leader `sid` established `epoch` with history `disk.log`.
pub(crate) fn on_established(rec: &mut Record, sid: Sid, epoch: i64, disk: &Disk) {
    let has = |z: Zxid, b: &Bytes| disk.position(z).is_some_and(|i| disk.log[i].1 == *b);
    let delivered = rec.chain.iter().map(|(z, b)| (*z, b));
    let missing = (delivered.chain(rec.acked.iter().map(|(z, b)| (*z, b))))
        .filter(|(z, _)| z.epoch() < epoch)
        .find(|(z, b)| !has(*z, b))
        .map(|(z, _)| z);
    if let Some(z) = missing {
        rec.violated(
            "PrimaryIntegrity",
            format!(
                "leader {} established epoch {epoch} without committed txn 0x{:x}",
                sid.0, z.0
            ),
        );
    }
}
