//! Zab.tla `PrefixConsistency` (and with it `Agreement` and `TotalOrder`): the delivered
//! prefixes of any two servers' histories agree, so one is a prefix of the other.
//!
//! Checked incrementally against one reference chain, the longest delivered sequence seen:
//! each server's newly delivered txns must match the chain where it has them and extend
//! it where it does not. Each newly delivered txn is also checked for `Integrity`.

use super::{integrity, Record};
use crate::quorum::sim::disk::Disk;
use crate::quorum::Sid;

/// Checks what `sid` delivered since the last check.
pub(crate) fn check(rec: &mut Record, sid: Sid, disk: &Disk) {
    let delivered = disk.delivered();
    let from = rec
        .checked
        .get(&sid)
        .copied()
        .unwrap_or(0)
        .min(delivered.len());
    for (i, txn) in delivered.iter().enumerate().skip(from) {
        integrity::on_delivered(rec, sid, txn.0, &txn.1);
        match rec.chain.get(i) {
            Some(c) if c == txn => {}
            Some(c) => {
                let c = c.0;
                rec.violated(
                    "PrefixConsistency",
                    format!(
                        "server {} delivered 0x{:x} at index {i} where another delivered 0x{:x}",
                        sid.0, txn.0 .0, c.0
                    ),
                );
                break;
            }
            None => rec.chain.push(txn.clone()),
        }
    }
    rec.checked.insert(sid, delivered.len());
}
