//! The safety properties a run must keep, one file each, named after Zab.tla's
//! (apache/zookeeper `zookeeper-specifications/protocol-spec/Zab.tla`, "Define safety
//! properties of Zab"). [`Record`] is what the simulator observes for them; a violation
//! is a message naming the property, collected rather than panicking so the run can print
//! its seed and replay command.

pub(crate) mod integrity;
pub(crate) mod leader_completeness;
pub(crate) mod leadership;
pub(crate) mod linearizable_sync;
pub(crate) mod no_lost_writes;
pub(crate) mod prefix_consistency;
pub(crate) mod primary_order;
pub(crate) mod reconfig;

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::config::View;
use super::disk::Disk;
use crate::quorum::{Sid, Zxid};

/// Everything the invariants read besides the servers' disks.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// Zab.tla `proposalMsgsLog`: every txn a leader broadcast.
    pub(crate) proposed: BTreeMap<Zxid, Bytes>,
    /// Zab.tla `epochLeader`: who established each epoch.
    pub(crate) established: BTreeMap<i64, Sid>,
    /// Writes whose commit a leader reported to its client (an acknowledged write).
    pub(crate) acked: BTreeMap<Zxid, Bytes>,
    /// When each acknowledged write was acknowledged (ms), in order.
    pub(crate) acked_at: Vec<(u64, Zxid)>,
    /// The longest delivered sequence seen so far (PrefixConsistency's reference).
    pub(crate) chain: Vec<(Zxid, Bytes)>,
    /// Per server, how much of its delivered sequence has been checked against `chain`.
    pub(crate) checked: BTreeMap<Sid, usize>,
    /// Every reconfig proposed: the config it was proposed under, and the new one.
    pub(crate) reconfigs: BTreeMap<Zxid, (View, View)>,
    /// Who ACKed each reconfig.
    pub(crate) reconfig_acks: BTreeMap<Zxid, BTreeSet<Sid>>,
    /// The reconfig txns some server activated.
    pub(crate) activated: BTreeMap<Zxid, Bytes>,
    /// What leaders committed: the txn, the leader's config version, the leader.
    pub(crate) commits: BTreeMap<Zxid, (Bytes, i64, Sid)>,
    /// What was violated, in order.
    pub(crate) violations: Vec<String>,
    /// How often each notable event happened (sync kinds, refusals), to show what a run
    /// covered.
    pub(crate) counts: BTreeMap<String, u64>,
}

impl Record {
    /// Notes a violation of `property`.
    pub(crate) fn violated(&mut self, property: &str, detail: String) {
        self.violations.push(format!("{property}: {detail}"));
    }

    /// Counts one `event`.
    pub(crate) fn count(&mut self, event: impl Into<String>) {
        *self.counts.entry(event.into()).or_default() += 1;
    }

    /// A server lost its memory (crash) or the driver rewrote its history: recheck it whole.
    pub(crate) fn forget(&mut self, sid: Sid) {
        self.checked.remove(&sid);
    }
}

/// The checks on every server's state, run often during a run and at its end.
pub(crate) fn check_all(rec: &mut Record, disks: &[(Sid, &Disk)]) {
    for &(sid, disk) in disks {
        primary_order::check(rec, sid, disk);
        prefix_consistency::check(rec, sid, disk);
    }
}
