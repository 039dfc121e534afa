//! Zab.tla `GlobalPrimaryOrder` and `LocalPrimaryOrder`: a server delivers an epoch's txns
//! after every earlier epoch's (zxids ascend along the delivered sequence), and a primary's
//! txns in the order it broadcast them with none skipped. The simulated leaders propose
//! counters 1, 2, 3... in each epoch, so within an epoch the delivered counters must run
//! 1, 2, 3... too.

use super::Record;
use crate::quorum::sim::disk::Disk;
use crate::quorum::Sid;

/// Checks `sid`'s whole delivered sequence.
pub(crate) fn check(rec: &mut Record, sid: Sid, disk: &Disk) {
    let d = disk.delivered();
    for (i, w) in d.windows(2).enumerate() {
        let (a, b) = (w[0].0, w[1].0);
        if a >= b {
            rec.violated(
                "GlobalPrimaryOrder",
                format!(
                    "server {} delivered 0x{:x} after 0x{:x} (index {i})",
                    sid.0, b.0, a.0
                ),
            );
            return;
        }
        let next_in_epoch = b.epoch() == a.epoch() && b.counter() == a.counter() + 1;
        let first_of_epoch = b.epoch() > a.epoch() && b.counter() == 1;
        if !next_in_epoch && !first_of_epoch {
            rec.violated(
                "LocalPrimaryOrder",
                format!(
                    "server {} delivered 0x{:x} right after 0x{:x}",
                    sid.0, b.0, a.0
                ),
            );
            return;
        }
    }
}
