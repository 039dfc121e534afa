//! Reconfig safety (issue 15: "no two quorums of different configs commit conflicting
//! txns; an activated config is in every later leader's history"), three checks:
//! - ConfigAgreement: no zxid is committed by two leaders as different txns, whatever
//!   config each counted its quorum in (PrefixConsistency then checks every server's
//!   delivered sequence against one chain, across configs too);
//! - ActivatedConfigKept: a config a server activated from a reconfig txn is in the
//!   history of every leader of a later epoch when it establishes (before the txn need be
//!   delivered anywhere: a follower activates at COMMITANDACTIVATE, ahead of its commit);
//! - ReconfigQuorums: a server activates a reconfig's config only once a quorum of the
//!   config it was proposed under AND one of the new config had ACKed it (ACKs as the
//!   leaders' drivers saw them arrive, and the leader's own once its log made it durable).

use std::collections::BTreeSet;

use bytes::Bytes;

use super::Record;
use crate::quorum::sim::config::View;
use crate::quorum::sim::disk::Disk;
use crate::quorum::{QuorumVerifier, Sid, Zxid};

/// A leader proposed the reconfig `zxid` from config `old` to `new`.
pub(crate) fn on_proposed(rec: &mut Record, zxid: Zxid, old: &View, new: &View) {
    rec.reconfigs.insert(zxid, (old.clone(), new.clone()));
}

/// `sid` ACKed `zxid` (only reconfigs are kept).
pub(crate) fn on_ack(rec: &mut Record, sid: Sid, zxid: Zxid) {
    if rec.reconfigs.contains_key(&zxid) {
        rec.reconfig_acks.entry(zxid).or_default().insert(sid);
    }
}

/// Leader `sid`, in config `version`, committed `(zxid, data)`.
pub(crate) fn on_committed(rec: &mut Record, sid: Sid, zxid: Zxid, data: &Bytes, version: i64) {
    match rec.commits.get(&zxid) {
        Some((b, v, s)) if b != data => {
            let detail = format!(
                "0x{:x} committed by leader {} in config {v:x} and, as another txn, by leader {} in config {version:x}",
                zxid.0, s.0, sid.0
            );
            rec.violated("ConfigAgreement", detail);
        }
        Some(_) => {}
        None => {
            rec.commits.insert(zxid, (data.clone(), version, sid));
        }
    }
}

/// `sid` activated `v`. A version with a zero counter is an epoch's stamp on the config
/// NEWLEADER carried, not a reconfig txn's.
pub(crate) fn on_activated(rec: &mut Record, sid: Sid, v: &View) {
    let zxid = Zxid(v.version);
    if zxid.counter() == 0 {
        return;
    }
    let Some((old, new)) = rec.reconfigs.get(&zxid) else {
        return rec.violated(
            "ReconfigQuorums",
            format!(
                "server {} activated config {:x}, never proposed",
                sid.0, v.version
            ),
        );
    };
    let acks: BTreeSet<Sid> = rec.reconfig_acks.get(&zxid).cloned().unwrap_or_default();
    let (old_ok, new_ok) = (
        old.qv().contains_quorum(&acks),
        new.qv().contains_quorum(&acks),
    );
    if !(old_ok && new_ok) {
        let ids = |s: &BTreeSet<Sid>| s.iter().map(|s| s.0).collect::<Vec<_>>();
        let detail = format!(
            "server {} activated {:x} ACKed by {:?}: old voters {:?} quorum {old_ok}, new voters {:?} quorum {new_ok}",
            sid.0,
            v.version,
            ids(&acks),
            ids(&old.voters),
            ids(&new.voters)
        );
        rec.violated("ReconfigQuorums", detail);
    }
    if let Some(b) = rec.proposed.get(&zxid).cloned() {
        rec.activated.insert(zxid, b);
    }
}

/// Leader `sid` established `epoch` with history `disk.log`.
pub(crate) fn on_established(rec: &mut Record, sid: Sid, epoch: i64, disk: &Disk) {
    let has = |z: Zxid, b: &Bytes| disk.position(z).is_some_and(|i| disk.log[i].1 == *b);
    let missing = (rec.activated.iter())
        .find(|(z, b)| z.epoch() < epoch && !has(**z, b))
        .map(|(z, _)| *z);
    if let Some(z) = missing {
        rec.violated(
            "ActivatedConfigKept",
            format!(
                "leader {} established epoch {epoch} without the activated reconfig 0x{:x}",
                sid.0, z.0
            ),
        );
    }
}
