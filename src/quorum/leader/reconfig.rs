//! The commit of a reconfig (Leader.tryToCommit's `OpCode.reconfig` branch,
//! `getDesignatedLeader`, `commitAndActivate`, `informAndActivate`).
//!
//! Facts from 3.8 this follows:
//! - The designated leader is the leader itself if it votes in the new config (Java also
//!   asks for the same quorum address; comparing addresses is the driver's business).
//!   Otherwise it is chosen among the new config's voters that ACKed the reconfig: the
//!   candidates are narrowed, view by view, to those that also ACKed each following
//!   outstanding proposal, and the last non-empty narrowing's first sid wins. Java walks a
//!   `HashSet<Long>`, which yields small sids in ascending order; ascending is used here.
//!   Each view's ackset holds only that view's voters, so narrowing by the old view's
//!   ackset drops joiners.
//! - Followers get COMMITANDACTIVATE and observers INFORMANDACTIVATE, both naming the
//!   designated leader; if that is another server, the leader stops committing
//!   (`allowedToCommit = false`): the followers leave for the designated leader, and the
//!   liveness loop ends this leadership once too few remain.
//! - From then on the new config is the committed one and no reconfig is outstanding.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Action, Broadcast, LeaderPacket, Proposal};
use crate::quorum::{QuorumVerifier, Sid, Zxid};

impl<Q: QuorumVerifier> Broadcast<Q> {
    /// The reconfig `p` (already out of `outstanding`) commits: its activate packets, then
    /// [`Action::Activate`]. The caller adds the local commit and the released syncs.
    pub(super) fn commit_and_activate(
        &mut self,
        zxid: Zxid,
        p: &Proposal<Q>,
        out: &mut Vec<Action>,
    ) {
        let designated = self.designated_leader(p, zxid);
        if let Some(new_qv) = p.qvs.last() {
            self.qv = Arc::clone(new_qv);
        }
        self.last_seen = None;
        if designated != self.my_sid {
            tracing::info!(
                "Committing a reconfiguration (reconfigEnabled=true); this leader is not the \
                 designated leader anymore, setting allowedToCommit=false"
            );
            self.allowed_to_commit = false;
        }
        let designated_id = designated.0 as i64;
        out.extend(self.to_forwarding(|| LeaderPacket::CommitAndActivate {
            zxid,
            designated: designated_id,
        }));
        for &to in &self.observing {
            out.push(Action::Send {
                to,
                packet: LeaderPacket::InformAndActivate {
                    zxid,
                    designated: designated_id,
                    data: p.data.clone(),
                },
            });
        }
        out.push(Action::Activate { zxid, designated });
    }

    /// Leader.startZkServer activates the last-seen config the NEWLEADER quorum covered:
    /// `new_qv` is the committed view from now on, and a leader that is not `designated`
    /// stops committing (allowedToCommit=false).
    pub(crate) fn activate_last_seen(&mut self, new_qv: Q, designated: Sid) {
        self.qv = Arc::new(new_qv);
        self.last_seen = None;
        if designated != self.my_sid {
            tracing::warn!(
                "This leader is not the designated leader, it will be initialized with \
                 allowedToCommit = false"
            );
            self.allowed_to_commit = false;
        }
    }

    /// Leader.getDesignatedLeader for the reconfig `p` at `zxid`.
    fn designated_leader(&self, p: &Proposal<Q>, zxid: Zxid) -> Sid {
        let Some(new_qv) = p.qvs.last() else {
            return self.my_sid;
        };
        if new_qv.is_voter(self.my_sid) {
            return self.my_sid;
        }
        let mut candidates: BTreeSet<Sid> = (p.acks.iter())
            .filter(|s| new_qv.is_voter(**s) && **s != self.my_sid)
            .copied()
            .collect();
        // A committed reconfig has a quorum of the new view's voters, which this leader is
        // not one of: Java's `iterator().next()` cannot fail there, nor can this.
        let Some(mut best) = candidates.first().copied() else {
            return self.my_sid;
        };
        let mut next = Zxid(zxid.0 + 1);
        while let Some(q) = self.outstanding.get(&next) {
            for qv in &q.qvs {
                candidates.retain(|s| qv.is_voter(*s) && q.acks.contains(s));
                match candidates.first() {
                    // Nobody left acked this one: the best so far is the most up to date.
                    None => return best,
                    Some(&c) => best = c,
                }
                if candidates.len() == 1 {
                    return best;
                }
            }
            next = Zxid(next.0 + 1);
        }
        best
    }
}
