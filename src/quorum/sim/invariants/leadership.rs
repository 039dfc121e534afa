//! Zab.tla `Leadership1` / `Leadership2`: there is at most one established leader for an
//! epoch. Checked when a leader establishes (a quorum acked its NEWLEADER,
//! `Action::Established`): `epochLeader[epoch]` must hold no other server.

use super::Record;
use crate::quorum::Sid;

/// `sid` established `epoch`.
pub(crate) fn on_established(rec: &mut Record, epoch: i64, sid: Sid) {
    match rec.established.insert(epoch, sid) {
        Some(other) if other != sid => rec.violated(
            "Leadership2",
            format!(
                "epoch {epoch} established by both {} and {}",
                other.0, sid.0
            ),
        ),
        _ => {}
    }
}
