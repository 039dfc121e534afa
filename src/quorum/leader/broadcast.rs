//! Broadcast: outstanding proposals, ACK counting and in-order commits (`Leader.propose`,
//! `processAck`, `tryToCommit`, `commit`, `inform`, `processSync`, `startForwarding`).
//!
//! Facts from 3.8 this follows:
//! - PROPOSAL and COMMIT go to `forwardingFollowers`: voters past `startForwarding`, which
//!   happens inside syncFollower, before NEWLEADER. A learner still syncing therefore gets
//!   every new proposal and commit queued behind its sync packets.
//! - An ACK counts for any voter (`SyncedLearnerTracker.addAck` checks only voting
//!   membership), whoever sent it; a learner's handler just does not read ACKs until its
//!   NEWLEADER ACK has passed the barrier. Observers' ACKs never count.
//! - `tryToCommit` commits only when the previous zxid is no longer outstanding and a
//!   quorum has ACKed; it does not then look at later proposals (only a reconfig does, see
//!   reconfig.rs), so a later proposal whose quorum formed first commits on its next ACK.
//! - A proposal made while a reconfig is outstanding (the reconfig itself included) needs
//!   a quorum of both the committed view and the reconfig's new one (Proposal's
//!   `qvAcksetPairs`, fixed when it is proposed).
//! - ACKs with a zero counter (NEWLEADER/UPTODATE) are dropped silently; with nothing
//!   outstanding or for a committed zxid at DEBUG; for a zxid never proposed at WARN.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use super::{hex, is_epoch_start, Action, LeaderError, LeaderPacket};
use crate::quorum::{LearnerType, QuorumVerifier, Sid, Zxid};

#[path = "reconfig.rs"]
mod reconfig;

/// What became of one ACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckOutcome {
    /// The counter is 0: the ACK of NEWLEADER or UPTODATE (ignored without a log).
    EpochStart,
    /// Nothing is outstanding ("outstanding is 0", DEBUG).
    NoneOutstanding,
    /// Already committed ("proposal has already been committed", DEBUG).
    AlreadyCommitted,
    /// Never proposed ("Trying to commit future proposal", WARN).
    Unknown,
    /// Recorded; the proposal is not committed yet.
    Counted,
    /// Recorded, and the proposal committed.
    Committed,
    /// The last reconfig designated another leader: this one commits nothing more
    /// (processAck returns at once once `allowedToCommit` is false; no log).
    NotAllowedToCommit,
}

impl AckOutcome {
    /// The level Leader.processAck logs this at (`None`: it does not log).
    pub fn level(&self) -> Option<tracing::Level> {
        match self {
            AckOutcome::NoneOutstanding | AckOutcome::AlreadyCommitted => {
                Some(tracing::Level::DEBUG)
            }
            AckOutcome::Unknown => Some(tracing::Level::WARN),
            _ => None,
        }
    }
}

/// A proposal waiting for its quorum (Leader.Proposal).
#[derive(Debug, Clone)]
struct Proposal<Q> {
    data: Bytes,
    /// Every sid that ACKed. One set serves every view: `contains_quorum` counts only the
    /// view's own voters, as each of Java's per-view acksets holds only those.
    acks: BTreeSet<Sid>,
    /// The views it needs a quorum of (Proposal.addQuorumVerifier): the committed one,
    /// then the outstanding reconfig's new one if there was one when it was proposed.
    qvs: Vec<Arc<Q>>,
    /// A reconfig: its last view is the new config, activated at its commit.
    reconfig: bool,
}

impl<Q: QuorumVerifier> Proposal<Q> {
    /// SyncedLearnerTracker.hasAllQuorums.
    fn has_all_quorums(&self) -> bool {
        self.qvs.iter().all(|qv| qv.contains_quorum(&self.acks))
    }
}

/// What tryToCommit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Committed {
    No,
    Txn,
    Reconfig,
}

/// The leader's broadcast state.
#[derive(Debug, Clone)]
pub struct Broadcast<Q> {
    /// The committed view (QuorumPeer.getQuorumVerifier).
    qv: Arc<Q>,
    /// The outstanding reconfig's new view (the last-seen one while its version is above
    /// the committed one's); `None` when no reconfig is outstanding.
    last_seen: Option<Arc<Q>>,
    /// Leader.allowedToCommit: false once a committed reconfig designated another leader.
    allowed_to_commit: bool,
    my_sid: Sid,
    outstanding: BTreeMap<Zxid, Proposal<Q>>,
    /// Committed but not yet applied locally (Leader.toBeApplied).
    to_be_applied: VecDeque<(Zxid, Bytes)>,
    last_committed: Zxid,
    last_proposed: Zxid,
    /// The highest zxid the leader's own log made durable and ACKed.
    self_acked: Zxid,
    /// SYNCs waiting for the commit of the zxid they key (Leader.pendingSyncs).
    pending_syncs: BTreeMap<Zxid, Vec<Sid>>,
    forwarding: BTreeSet<Sid>,
    observing: BTreeSet<Sid>,
    shut_down: bool,
    /// The planted bug for the invariant test: commit without waiting for earlier zxids.
    #[cfg(test)]
    pub(crate) ignore_order: bool,
    /// The planted bug for quorum::sim: a quorum of the committed view is enough, even
    /// while a reconfig is outstanding.
    #[cfg(test)]
    pub(crate) old_quorum_only: bool,
}

impl<Q: QuorumVerifier> Broadcast<Q> {
    /// The state once the epoch is settled: lastProposed is `makeZxid(epoch, 0)`
    /// (Leader.lead); lastCommitted stays -1 until [`Broadcast::establish`].
    pub fn new(qv: Q, my_sid: Sid, epoch: i64) -> Broadcast<Q> {
        let start = Zxid::new(epoch, 0);
        Broadcast {
            qv: Arc::new(qv),
            last_seen: None,
            allowed_to_commit: true,
            my_sid,
            outstanding: BTreeMap::new(),
            to_be_applied: VecDeque::new(),
            last_committed: Zxid(-1),
            last_proposed: start,
            self_acked: start,
            pending_syncs: BTreeMap::new(),
            forwarding: BTreeSet::new(),
            observing: BTreeSet::new(),
            shut_down: false,
            #[cfg(test)]
            ignore_order: false,
            #[cfg(test)]
            old_quorum_only: false,
        }
    }

    /// Leader.startZkServer: lastCommitted becomes the epoch's first zxid.
    pub fn establish(&mut self) {
        self.last_committed = Zxid::new(self.last_proposed.epoch(), 0);
    }

    /// The committed view (the reconfig's new one once it committed).
    pub fn qv(&self) -> &Q {
        &self.qv
    }

    /// The outstanding reconfig's new view, if one is outstanding.
    pub fn last_seen(&self) -> Option<&Q> {
        self.last_seen.as_deref()
    }

    /// Leader.allowedToCommit.
    pub fn allowed_to_commit(&self) -> bool {
        self.allowed_to_commit
    }

    /// Leader.getLastProposed (the zxid PINGs carry).
    pub fn last_proposed(&self) -> Zxid {
        self.last_proposed
    }

    /// Leader.lastCommitted.
    pub fn last_committed(&self) -> Zxid {
        self.last_committed
    }

    /// The zxids still waiting for a quorum, ascending.
    pub fn outstanding(&self) -> impl Iterator<Item = Zxid> + '_ {
        self.outstanding.keys().copied()
    }

    /// Learners that receive PROPOSAL/COMMIT (Leader.forwardingFollowers).
    pub fn forwarding_followers(&self) -> &BTreeSet<Sid> {
        &self.forwarding
    }

    /// Observers synced and forwarded INFORMs (Leader.getObservingLearners).
    pub fn observing(&self) -> &BTreeSet<Sid> {
        &self.observing
    }

    /// Leader.getNumPendingSyncs.
    pub fn pending_syncs(&self) -> usize {
        self.pending_syncs.values().map(Vec::len).sum()
    }

    /// Leader.propose: the pipeline assigned `zxid` and encoded the txn as `data`. Queues
    /// PROPOSAL to every forwarding follower. A counter of 0xffffffff ends the leadership
    /// instead (ZOOKEEPER-1277): the next epoch restarts the counter.
    pub fn propose(&mut self, zxid: Zxid, data: Bytes) -> Result<Vec<Action>, LeaderError> {
        self.propose_with(zxid, data, None)
    }

    /// Leader.propose of a reconfig txn whose new config is `new_qv`: it becomes the
    /// last-seen view (QuorumPeer.setLastSeenQuorumVerifier), and this proposal and every
    /// later one need a quorum of it too until it commits. One reconfig at a time: the
    /// prep stage answers RECONFIGINPROGRESS before proposing a second.
    pub fn propose_reconfig(
        &mut self,
        zxid: Zxid,
        data: Bytes,
        new_qv: Q,
    ) -> Result<Vec<Action>, LeaderError> {
        if self.last_seen.is_some() && !self.shut_down {
            return Err(LeaderError::ReconfigInProgress);
        }
        self.propose_with(zxid, data, Some(new_qv))
    }

    fn propose_with(
        &mut self,
        zxid: Zxid,
        data: Bytes,
        new_qv: Option<Q>,
    ) -> Result<Vec<Action>, LeaderError> {
        if self.shut_down {
            return Ok(Vec::new());
        }
        if zxid.counter() == 0xffff_ffff {
            self.shut_down = true;
            return Ok(vec![Action::GiveUp {
                reason: LeaderError::XidRollover.to_string(),
            }]);
        }
        if zxid <= self.last_proposed {
            return Err(LeaderError::ProposalOutOfOrder {
                zxid: zxid.0,
                last: self.last_proposed.0,
            });
        }
        self.last_proposed = zxid;
        let reconfig = new_qv.is_some();
        if let Some(qv) = new_qv {
            self.last_seen = Some(Arc::new(qv));
        }
        let mut qvs = vec![Arc::clone(&self.qv)];
        qvs.extend(self.last_seen.clone());
        self.outstanding.insert(
            zxid,
            Proposal {
                data: data.clone(),
                acks: BTreeSet::new(),
                qvs,
                reconfig,
            },
        );
        Ok(self.to_forwarding(|| LeaderPacket::Proposal {
            zxid,
            data: data.clone(),
        }))
    }

    /// The local log made every proposal up to `upto` durable: the leader ACKs each
    /// (AckRequestProcessor → processAck(myid, zxid)).
    pub fn on_durable(&mut self, upto: Zxid) -> Vec<Action> {
        let zxids: Vec<Zxid> = (self.outstanding.keys())
            .copied()
            .filter(|z| *z > self.self_acked && *z <= upto)
            .collect();
        self.self_acked = self.self_acked.max(upto.min(self.last_proposed));
        let mut out = Vec::new();
        for z in zxids {
            out.extend(self.process_ack(self.my_sid, z).1);
        }
        out
    }

    /// Leader.processAck(sid, zxid).
    pub fn process_ack(&mut self, sid: Sid, zxid: Zxid) -> (AckOutcome, Vec<Action>) {
        let outcome = self.count_ack(sid, zxid);
        match outcome {
            AckOutcome::NoneOutstanding => tracing::debug!("outstanding is 0"),
            AckOutcome::AlreadyCommitted => tracing::debug!(
                "proposal has already been committed, pzxid: 0x{} zxid: 0x{}",
                hex(self.last_committed),
                hex(zxid)
            ),
            AckOutcome::Unknown => tracing::warn!(
                "Trying to commit future proposal: zxid 0x{} from {}",
                hex(zxid),
                sid.0
            ),
            _ => {}
        }
        if outcome != AckOutcome::Counted {
            return (outcome, Vec::new());
        }
        let mut out = Vec::new();
        match self.try_to_commit(zxid, &mut out) {
            Committed::No => (AckOutcome::Counted, out),
            Committed::Txn => (AckOutcome::Committed, out),
            Committed::Reconfig => {
                // Proposals after a reconfig waited for more ACKs than it did, so some may
                // have their quorums already: commit them in order, while still allowed.
                let mut next = Zxid(zxid.0 + 1);
                while self.allowed_to_commit
                    && self.outstanding.contains_key(&next)
                    && self.try_to_commit(next, &mut out) != Committed::No
                {
                    next = Zxid(next.0 + 1);
                }
                (AckOutcome::Committed, out)
            }
        }
    }

    fn count_ack(&mut self, sid: Sid, zxid: Zxid) -> AckOutcome {
        if !self.allowed_to_commit {
            return AckOutcome::NotAllowedToCommit;
        }
        if self.shut_down || is_epoch_start(zxid) {
            return AckOutcome::EpochStart;
        }
        if self.outstanding.is_empty() {
            return AckOutcome::NoneOutstanding;
        }
        if self.last_committed >= zxid {
            return AckOutcome::AlreadyCommitted;
        }
        let Some(p) = self.outstanding.get_mut(&zxid) else {
            return AckOutcome::Unknown;
        };
        // Recorded whoever sent it: a joiner votes only in the reconfig's new view.
        p.acks.insert(sid);
        AckOutcome::Counted
    }

    /// Leader.tryToCommit.
    fn try_to_commit(&mut self, zxid: Zxid, out: &mut Vec<Action>) -> Committed {
        if !self.ignores_order() && self.outstanding.contains_key(&Zxid(zxid.0 - 1)) {
            return Committed::No;
        }
        let Some(p) = self.outstanding.get(&zxid) else {
            return Committed::No;
        };
        if !self.quorums_met(p) {
            return Committed::No;
        }
        if zxid.0 != self.last_committed.0 + 1 {
            tracing::warn!(
                "Commiting zxid 0x{} not first! First is 0x{}",
                hex(zxid),
                hex(Zxid(self.last_committed.0 + 1))
            );
        }
        let Some(p) = self.outstanding.remove(&zxid) else {
            return Committed::No;
        };
        self.to_be_applied.push_back((zxid, p.data.clone()));
        // Leader.commit: COMMIT to the forwarding followers; Leader.inform: INFORM to the
        // observers (a reconfig: their ...AndActivate forms, then the activation); then
        // the local CommitProcessor; then the syncs this commit releases.
        self.last_committed = zxid;
        let committed = if p.reconfig {
            self.commit_and_activate(zxid, &p, out);
            Committed::Reconfig
        } else {
            out.extend(self.to_forwarding(|| LeaderPacket::Commit { zxid }));
            for &to in &self.observing {
                out.push(Action::Send {
                    to,
                    packet: LeaderPacket::Inform {
                        zxid,
                        data: p.data.clone(),
                    },
                });
            }
            Committed::Txn
        };
        out.push(Action::Commit { zxid });
        for to in self.pending_syncs.remove(&zxid).unwrap_or_default() {
            out.push(Action::Send {
                to,
                packet: LeaderPacket::Sync,
            });
        }
        committed
    }

    #[cfg(test)]
    fn quorums_met(&self, p: &Proposal<Q>) -> bool {
        match p.qvs.first() {
            Some(qv) if self.old_quorum_only => qv.contains_quorum(&p.acks),
            _ => p.has_all_quorums(),
        }
    }

    #[cfg(not(test))]
    fn quorums_met(&self, p: &Proposal<Q>) -> bool {
        p.has_all_quorums()
    }

    #[cfg(test)]
    fn ignores_order(&self) -> bool {
        self.ignore_order
    }

    #[cfg(not(test))]
    fn ignores_order(&self) -> bool {
        false
    }

    /// Leader.processSync: a learner's forwarded sync is answered at once when nothing is
    /// outstanding, else when the last proposal so far commits.
    pub fn process_sync(&mut self, from: Sid) -> Vec<Action> {
        if self.outstanding.is_empty() {
            return vec![Action::Send {
                to: from,
                packet: LeaderPacket::Sync,
            }];
        }
        self.pending_syncs
            .entry(self.last_proposed)
            .or_default()
            .push(from);
        Vec::new()
    }

    /// The local pipeline applied the committed txn `zxid`
    /// (Leader.ToBeAppliedRequestProcessor drops it from toBeApplied).
    pub fn applied(&mut self, zxid: Zxid) {
        if self.to_be_applied.front().is_some_and(|(z, _)| *z == zxid) {
            self.to_be_applied.pop_front();
        } else {
            tracing::error!(
                "Committed request not found on toBeApplied: 0x{}",
                hex(zxid)
            );
        }
    }

    /// Leader.startForwarding: queues what the learner lacks beyond its sync point
    /// (committed-but-unapplied proposals with their COMMIT, then, for voters, every
    /// outstanding proposal), and from now on sends it every proposal and commit.
    pub fn start_forwarding(
        &mut self,
        sid: Sid,
        learner_type: LearnerType,
        last_seen: Zxid,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        // The learner's history now ends at `last_seen` (a TRUNC may just have dropped
        // what it logged after): ACKs it sent before for later proposals no longer stand,
        // and it ACKs their re-sent copies once durable. Java keeps them in the ackSet,
        // which lets a proposal commit on a copy the learner no longer has (found by
        // quorum::sim: TRUNC after a follower's restart, then a commit on its stale ACK).
        let after = Zxid(last_seen.0.saturating_add(1));
        for p in self.outstanding.range_mut(after..).map(|(_, p)| p) {
            p.acks.remove(&sid);
        }
        if self.last_proposed > last_seen {
            for (zxid, data) in &self.to_be_applied {
                if *zxid <= last_seen {
                    continue;
                }
                out.push(Action::Send {
                    to: sid,
                    packet: LeaderPacket::Proposal {
                        zxid: *zxid,
                        data: data.clone(),
                    },
                });
                out.push(Action::Send {
                    to: sid,
                    packet: LeaderPacket::Commit { zxid: *zxid },
                });
            }
            if learner_type == LearnerType::Participant {
                for (zxid, p) in self
                    .outstanding
                    .range(Zxid(last_seen.0.saturating_add(1))..)
                {
                    out.push(Action::Send {
                        to: sid,
                        packet: LeaderPacket::Proposal {
                            zxid: *zxid,
                            data: p.data.clone(),
                        },
                    });
                }
            }
        }
        match learner_type {
            LearnerType::Participant => self.forwarding.insert(sid),
            LearnerType::Observer => self.observing.insert(sid),
        };
        out
    }

    /// The learner's link closed (Leader.removeLearnerHandler).
    pub fn remove_learner(&mut self, sid: Sid) {
        self.forwarding.remove(&sid);
        self.observing.remove(&sid);
        for waiting in self.pending_syncs.values_mut() {
            waiting.retain(|s| *s != sid);
        }
    }

    fn to_forwarding(&self, packet: impl Fn() -> LeaderPacket) -> Vec<Action> {
        (self.forwarding.iter())
            .map(|&to| Action::Send {
                to,
                packet: packet(),
            })
            .collect()
    }
}
