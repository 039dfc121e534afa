//! Zab.tla `Integrity`: if some server delivers a txn, some primary broadcast it (the txn,
//! zxid and bytes alike, is in `proposalMsgsLog`). Also `proposed`'s own rule: no zxid is
//! broadcast twice with different contents (two primaries in one epoch would do that).

use bytes::Bytes;

use super::Record;
use crate::quorum::{Sid, Zxid};

/// A leader broadcast `(zxid, data)`.
pub(crate) fn on_proposed(rec: &mut Record, sid: Sid, zxid: Zxid, data: Bytes) {
    if let Some(old) = rec.proposed.insert(zxid, data.clone()) {
        if old != data {
            rec.violated(
                "Integrity",
                format!(
                    "0x{:x} proposed twice with different txns (by {})",
                    zxid.0, sid.0
                ),
            );
        }
    }
}

/// Server `sid` delivered `(zxid, data)`.
pub(crate) fn on_delivered(rec: &mut Record, sid: Sid, zxid: Zxid, data: &Bytes) {
    match rec.proposed.get(&zxid) {
        Some(p) if p == data => {}
        Some(_) => rec.violated(
            "Integrity",
            format!(
                "server {} delivered 0x{:x} with other bytes than proposed",
                sid.0, zxid.0
            ),
        ),
        None => rec.violated(
            "Integrity",
            format!("server {} delivered 0x{:x}, never proposed", sid.0, zxid.0),
        ),
    }
}
