//! No acknowledged write is lost: a write whose commit a leader reported (what a client
//! was told succeeded) is in the history of every server that later starts serving. The
//! client-facing face of Zab.tla's `PrimaryIntegrity` and `PrefixConsistency`, checked
//! when a learner starts serving epoch `e` (UPTODATE) for every write acknowledged in an
//! epoch below `e` (writes of `e` itself may still be streaming to it).

use super::Record;
use crate::quorum::sim::disk::Disk;
use crate::quorum::Sid;

/// Learner `sid` started serving `epoch` with history `disk.log`.
pub(crate) fn on_serving(rec: &mut Record, sid: Sid, epoch: i64, disk: &Disk) {
    let missing = (rec.acked.iter())
        .filter(|(z, _)| z.epoch() < epoch)
        .find(|(z, b)| disk.position(**z).is_none_or(|i| disk.log[i].1 != **b))
        .map(|(z, _)| *z);
    if let Some(z) = missing {
        rec.violated(
            "NoLostWrite",
            format!(
                "server {} serves epoch {epoch} without acknowledged write 0x{:x}",
                sid.0, z.0
            ),
        );
    }
}
