//! The reconfig half of [`Leader`]: proposing one (Leader.propose with OpCode.reconfig),
//! what its commit changes for the leader's other checks, and Leader.isQuorumSynced. The
//! ACK counting and the commit itself are the broadcast's (`broadcast` and its
//! `reconfig` part).

use std::collections::BTreeSet;

use bytes::Bytes;

use super::Leader;
use crate::quorum::leader::{Action, LeaderError};
use crate::quorum::{QuorumVerifier, Sid, Zxid};

impl<Q: QuorumVerifier + Clone> Leader<Q> {
    /// The local pipeline proposes the reconfig txn `zxid` whose new config is `new_qv`
    /// (Leader.propose with OpCode.reconfig). Until it commits, it and every later
    /// proposal need a quorum of both the committed and the new config, and so does the
    /// liveness check (and linearizable sync's rounds). The prep stage checks
    /// [`Leader::is_quorum_synced`] of `new_qv` first, and refuses a second reconfig while
    /// one is outstanding ([`LeaderError::ReconfigInProgress`] here). See also
    /// [`Leader::set_last_seen_config`].
    pub fn propose_reconfig(
        &mut self,
        zxid: Zxid,
        data: Bytes,
        new_qv: Q,
        now_ms: u64,
    ) -> Result<Vec<Action>, LeaderError> {
        if self.gave_up {
            return Ok(Vec::new());
        }
        let Some(b) = self.broadcast.as_mut().filter(|_| self.serving) else {
            return Err(LeaderError::NotServing);
        };
        let out = b.propose_reconfig(zxid, data, new_qv)?;
        let views = (b.qv().clone(), b.last_seen().cloned());
        self.set_views(views.0, views.1);
        self.after_propose(&out, now_ms);
        Ok(out)
    }

    /// NEWLEADER offers the last-seen config (LearnerMaster.getQuorumVerifierBytes): after
    /// [`Leader::propose_reconfig`], pass the new config's member lines (as
    /// [`super::LeaderStart::config_members`] has them) and its version (the reconfig's
    /// zxid), so that a learner that syncs from now on learns it. Without this call
    /// NEWLEADER keeps offering the config the leader started with.
    pub fn set_last_seen_config(&mut self, version: i64, members: String) {
        self.start.last_seen_config_version = version;
        self.start.config_members = members;
    }

    /// The driver activated a config outside a reconfig's commit (the one NEWLEADER
    /// carried, stamped with the epoch): learners are held to its version from now on
    /// (LearnerHandler compares with getQuorumVerifierVersion).
    pub fn set_committed_config_version(&mut self, version: i64) {
        self.start.config_version = self.start.config_version.max(version);
    }

    /// Leader.isQuorumSynced: whether this leader (if it votes in `qv`) and the forwarding
    /// followers that are synced and vote in `qv` hold a quorum of it. The prep stage asks
    /// it of a reconfig's new config (NEWCONFIGNOQUORUM otherwise).
    pub fn is_quorum_synced(&self, qv: &Q) -> bool {
        let mut ids = BTreeSet::new();
        if qv.is_voter(self.cfg.my_sid) {
            ids.insert(self.cfg.my_sid);
        }
        if let Some(b) = self.broadcast.as_ref() {
            ids.extend(
                (b.forwarding_followers().iter())
                    .filter(|s| self.liveness.synced(**s) && qv.is_voter(**s)),
            );
        }
        qv.contains_quorum(&ids)
    }

    /// Leader.startZkServer, once NEWLEADER has its quorum of both views: the last-seen
    /// config becomes the committed one (QuorumPeer.processReconfig), for every check and
    /// for the config version learners are held to. If the designated leader is another
    /// server this leader commits nothing (allowedToCommit=false): its followers leave for
    /// the designated one when they activate, as after a reconfig's commit.
    pub(super) fn activate_last_seen(&mut self, zxid: Zxid, out: &mut Vec<Action>) {
        let Some(new_qv) = self.discovery.last_seen().cloned() else {
            return;
        };
        let designated = self.designated_at_establishment(&new_qv);
        if let Some(b) = self.broadcast.as_mut() {
            b.activate_last_seen(new_qv.clone(), designated);
        }
        self.set_views(new_qv, None);
        self.start.config_version = self.start.last_seen_config_version;
        out.push(Action::Activate { zxid, designated });
    }

    /// Leader.getDesignatedLeader(newLeaderProposal, zxid): this leader if it votes in the
    /// new view (Java also compares quorum addresses; that is the driver's business);
    /// otherwise a new-view voter that ACKed NEWLEADER, the lowest sid (Java's HashSet
    /// iterates small sids in ascending order). Java then narrows by the ACKs of later
    /// outstanding proposals, but none exist before the leader serves.
    fn designated_at_establishment(&self, new_qv: &Q) -> Sid {
        let me = self.cfg.my_sid;
        if new_qv.is_voter(me) {
            return me;
        }
        let acks = self.discovery.new_leader_acks().iter();
        // NEWLEADER has a quorum of the new view, so a voter other than us ACKed it.
        acks.copied()
            .find(|s| *s != me && new_qv.is_voter(*s))
            .unwrap_or(me)
    }

    /// The views every quorum check uses from now on (broadcast keeps its own).
    pub(super) fn set_views(&mut self, qv: Q, last_seen: Option<Q>) {
        self.liveness.set_views(qv.clone(), last_seen.clone());
        if let Some(c) = self.confirm.as_mut() {
            c.set_views(qv, last_seen);
        }
    }

    /// A committed reconfig's config is the committed one from now on: every check uses
    /// it, and a learner announcing its version is no longer ahead of the leader
    /// (LearnerHandler compares with getQuorumVerifierVersion).
    pub(super) fn after_commits(&mut self, actions: &[Action]) {
        for a in actions {
            if let Action::Activate { zxid, .. } = a {
                self.start.config_version = zxid.0;
                if let Some(qv) = self.broadcast.as_ref().map(|b| b.qv().clone()) {
                    self.set_views(qv, None);
                }
            }
        }
    }
}
