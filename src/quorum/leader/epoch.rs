//! Discovery and synchronization on the leader: the three barriers of `Leader.lead`, each
//! passed when a quorum of voters (the leader among them) has reported, and each waited on
//! for at most initLimit ticks by every thread that calls it.
//!
//! - `getEpochToPropose`: FOLLOWERINFO/OBSERVERINFO carry acceptedEpochs; the new epoch is
//!   one more than the largest seen (observers raise it too, only voters count toward the
//!   quorum). At quorum the leader persists it as acceptedEpoch.
//! - `waitForEpochAck`: ACKEPOCHs; a learner more recent than the leader is refused. At
//!   quorum the leader persists currentEpoch (Leader.lead, right after the wait).
//! - `waitForNewLeaderAck`: ACKs of NEWLEADER; at quorum the leader starts serving
//!   (`startZkServer`) and every learner past the barrier gets UPTODATE.
//!
//! A last-seen view newer than the committed one (a reconfig logged, never activated)
//! only weighs on the NEWLEADER barrier: Leader.lead adds it to `newLeaderProposal`, so
//! NEWLEADER needs a quorum of both views, whereas getEpochToPropose and waitForEpochAck
//! count with the committed view alone (3.8.0 through 3.9.5). Establishing in both views
//! is what keeps the old view's quorum and the new one's from each seating a leader.
//!
//! In Java each LearnerHandler thread blocks in these calls; here a blocked caller is a
//! waiter with a deadline, released by the call that completes the quorum or timed out by
//! [`Discovery::on_tick`]. A learner that arrives after a barrier has passed goes straight
//! through, unchecked, as in Java.

use std::collections::{BTreeMap, BTreeSet};

use super::{hex, LeaderError, StateSummary};
use crate::quorum::{QuorumVerifier, Sid, Zxid};

/// The barrier a caller waits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Barrier {
    /// Leader.getEpochToPropose.
    NewEpoch,
    /// Leader.waitForEpochAck.
    EpochAck,
    /// Leader.waitForNewLeaderAck.
    NewLeaderAck,
}

impl Barrier {
    /// The InterruptedException message Java throws when the wait times out.
    fn timeout_message(self) -> &'static str {
        match self {
            Barrier::NewEpoch => "Timeout while waiting for epoch from quorum",
            Barrier::EpochAck => "Timeout while waiting for epoch to be acked by quorum",
            Barrier::NewLeaderAck => "Timeout while waiting for NEWLEADER to be acked by quorum",
        }
    }
}

/// What passing (or failing) a barrier means for the leader and its learners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// A quorum reported acceptedEpochs: persist `acceptedEpoch` (QuorumPeer.setAcceptedEpoch).
    AcceptedEpoch(i64),
    /// This learner got past getEpochToPropose: send it LEADERINFO(makeZxid(epoch, 0)).
    EpochProposed {
        /// The learner.
        sid: Sid,
        /// The new epoch.
        epoch: i64,
    },
    /// A quorum acknowledged the epoch: persist `currentEpoch` (Leader.lead).
    CurrentEpoch(i64),
    /// This learner got past waitForEpochAck: synchronize it (LearnerHandler.syncFollower).
    EpochAcked {
        /// The learner.
        sid: Sid,
    },
    /// This learner got past waitForNewLeaderAck: it gets UPTODATE once the leader serves.
    NewLeaderAcked {
        /// The learner.
        sid: Sid,
    },
    /// A quorum acknowledged NEWLEADER: start serving at `zxid` (Leader.startZkServer sets
    /// lastCommitted and the database's last processed zxid to it).
    Established {
        /// `makeZxid(epoch, 0)`.
        zxid: Zxid,
    },
    /// A learner's wait timed out: its LearnerHandler ends (close its link).
    LearnerTimedOut {
        /// The learner.
        sid: Sid,
        /// The exception's message.
        reason: String,
    },
    /// The leader's own wait timed out: stop leading (back to LOOKING).
    GiveUp {
        /// Why, as Leader.lead reports it.
        reason: String,
    },
}

/// The leader's discovery state (the fields Leader.java guards with `connectingFollowers`,
/// `electingFollowers` and `newLeaderProposal`).
#[derive(Debug, Clone)]
pub struct Discovery<Q> {
    qv: Q,
    /// The last-seen view while it is newer than `qv`: the NEWLEADER quorum needs it too.
    last_seen: Option<Q>,
    my_sid: Sid,
    init_timeout_ms: u64,
    /// `leaderStateSummary`: (currentEpoch, lastProcessedZxid) when leading began.
    leader_summary: StateSummary,
    /// Leader.epoch: starts at -1.
    epoch: i64,
    waiting_for_new_epoch: bool,
    connecting: BTreeSet<Sid>,
    election_finished: bool,
    electing: BTreeSet<Sid>,
    quorum_formed: bool,
    /// Every sid that ACKed NEWLEADER; each view counts only its own voters (as each of
    /// Proposal's ack sets records only them).
    new_leader_acks: BTreeSet<Sid>,
    /// Callers blocked in a barrier, with the instant their wait ends.
    waiting: BTreeMap<Sid, (Barrier, u64)>,
    gave_up: bool,
    /// The leader's own log is durable up to its last zxid, so it may count itself in the
    /// NEWLEADER quorum.
    own_log_durable: bool,
    /// When the leader passed the epoch ack barrier while its log was not durable yet: its
    /// own NEWLEADER ACK waits for [`Discovery::own_log_durable`].
    own_ack_pending_since_ms: Option<u64>,
    /// currentEpoch is to be persisted once the leader's log is durable.
    current_epoch_pending: bool,
}

impl<Q: QuorumVerifier> Discovery<Q> {
    /// Starts leading: the leader itself calls getEpochToPropose with its acceptedEpoch.
    /// `leader_summary` is (currentEpoch, last processed zxid) after loading the database.
    pub fn start(
        qv: Q,
        my_sid: Sid,
        accepted_epoch: i64,
        leader_summary: StateSummary,
        init_timeout_ms: u64,
        now_ms: u64,
    ) -> (Discovery<Q>, Vec<DiscoveryEvent>) {
        let summary = leader_summary;
        let (timeout, now) = (init_timeout_ms, now_ms);
        Self::start_with_last_seen(qv, None, my_sid, accepted_epoch, summary, timeout, now)
    }

    /// [`Discovery::start`] with the last-seen view, when it is newer than `qv`: NEWLEADER
    /// then needs a quorum of it as well. It must be known from the start, as the leader's
    /// own calls may already pass every barrier (a leader that is a quorum by itself).
    pub fn start_with_last_seen(
        qv: Q,
        last_seen: Option<Q>,
        my_sid: Sid,
        accepted_epoch: i64,
        leader_summary: StateSummary,
        init_timeout_ms: u64,
        now_ms: u64,
    ) -> (Discovery<Q>, Vec<DiscoveryEvent>) {
        let mut d = Discovery {
            qv,
            last_seen,
            my_sid,
            init_timeout_ms,
            leader_summary,
            epoch: -1,
            waiting_for_new_epoch: true,
            connecting: BTreeSet::new(),
            election_finished: false,
            electing: BTreeSet::new(),
            quorum_formed: false,
            new_leader_acks: BTreeSet::new(),
            waiting: BTreeMap::new(),
            gave_up: false,
            own_log_durable: true,
            own_ack_pending_since_ms: None,
            current_epoch_pending: false,
        };
        let mut out = Vec::new();
        d.epoch_to_propose(my_sid, accepted_epoch, now_ms, &mut out);
        (d, out)
    }

    /// The quorum verifier.
    pub fn qv(&self) -> &Q {
        &self.qv
    }

    /// The last-seen view NEWLEADER also needs a quorum of, if any.
    pub fn last_seen(&self) -> Option<&Q> {
        self.last_seen.as_ref()
    }

    /// The sids that ACKed NEWLEADER so far, voters or not (Leader.getDesignatedLeader
    /// picks among the new view's voters in it).
    pub fn new_leader_acks(&self) -> &BTreeSet<Sid> {
        &self.new_leader_acks
    }

    /// The proposed epoch (-1 before any was proposed).
    pub fn epoch(&self) -> i64 {
        self.epoch
    }

    /// `makeZxid(epoch, 0)`: the NEWLEADER zxid.
    pub fn new_leader_zxid(&self) -> Zxid {
        Zxid::new(self.epoch, 0)
    }

    /// Whether the epoch is settled (getEpochToPropose no longer waits).
    pub fn epoch_settled(&self) -> bool {
        !self.waiting_for_new_epoch
    }

    /// Whether NEWLEADER has its quorum (the leader serves).
    pub fn established(&self) -> bool {
        self.quorum_formed
    }

    /// A learner's FOLLOWERINFO/OBSERVERINFO: getEpochToPropose(sid, lastAcceptedEpoch).
    pub fn on_learner_info(
        &mut self,
        sid: Sid,
        last_accepted_epoch: i64,
        now_ms: u64,
    ) -> Vec<DiscoveryEvent> {
        let mut out = Vec::new();
        if !self.gave_up {
            self.epoch_to_propose(sid, last_accepted_epoch, now_ms, &mut out);
        }
        out
    }

    /// A learner's ACKEPOCH: waitForEpochAck(sid, summary). An error (the learner is more
    /// recent than the leader) ends that learner's handler, not the leader.
    pub fn on_ack_epoch(
        &mut self,
        sid: Sid,
        summary: StateSummary,
        now_ms: u64,
    ) -> Result<Vec<DiscoveryEvent>, LeaderError> {
        let mut out = Vec::new();
        if !self.gave_up {
            self.epoch_ack(sid, summary, now_ms, &mut out)?;
        }
        Ok(out)
    }

    /// A learner's first ACK after NEWLEADER: waitForNewLeaderAck(sid, zxid).
    pub fn on_new_leader_ack(&mut self, sid: Sid, zxid: Zxid, now_ms: u64) -> Vec<DiscoveryEvent> {
        let mut out = Vec::new();
        if !self.gave_up {
            self.new_leader_ack(sid, zxid, now_ms, &mut out);
        }
        out
    }

    /// The learner's link closed: it no longer waits (what it reported still counts, as
    /// Java never removes a sid from these sets).
    pub fn remove_learner(&mut self, sid: Sid) {
        if sid != self.my_sid {
            self.waiting.remove(&sid);
        }
    }

    /// Ends the waits whose time is up: learners' handlers end, the leader gives up.
    pub fn on_tick(&mut self, now_ms: u64) -> Vec<DiscoveryEvent> {
        let mut out = Vec::new();
        if self.gave_up {
            return out;
        }
        let expired: Vec<(Sid, Barrier)> = (self.waiting.iter())
            .filter(|(_, (_, deadline))| now_ms >= *deadline)
            .map(|(sid, (barrier, _))| (*sid, *barrier))
            .collect();
        for (sid, barrier) in expired {
            self.waiting.remove(&sid);
            if sid == self.my_sid {
                // Leader.lead lets the first two exceptions escape (QuorumPeer logs and
                // shuts the leader down); the NEWLEADER wait is caught and reported.
                let reason = match barrier {
                    Barrier::NewLeaderAck => format!(
                        "Waiting for a quorum of followers, only synced with sids: [ {} ]",
                        self.ack_sets_string()
                    ),
                    b => b.timeout_message().to_owned(),
                };
                self.gave_up = true;
                self.waiting.clear();
                out.push(DiscoveryEvent::GiveUp { reason });
                return out;
            }
            out.push(DiscoveryEvent::LearnerTimedOut {
                sid,
                reason: barrier.timeout_message().to_owned(),
            });
        }
        out
    }

    /// The earliest deadline among the waits, for the driver's timer.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.waiting.values().map(|(_, d)| *d).min()
    }

    fn wait(&mut self, sid: Sid, barrier: Barrier, now_ms: u64) {
        let deadline = now_ms.saturating_add(self.init_timeout_ms);
        self.waiting.insert(sid, (barrier, deadline));
    }

    /// Everyone waiting in `barrier`, leaving them out of `waiting`; the leader last, as
    /// its own continuation comes after the learners are released.
    fn release(&mut self, barrier: Barrier) -> Vec<Sid> {
        let sids: Vec<Sid> = (self.waiting.iter())
            .filter(|(_, (b, _))| *b == barrier)
            .map(|(sid, _)| *sid)
            .collect();
        sids.iter().for_each(|s| {
            self.waiting.remove(s);
        });
        let (mut learners, me): (Vec<Sid>, Vec<Sid>) =
            sids.into_iter().partition(|s| *s != self.my_sid);
        learners.extend(me);
        learners
    }

    /// Leader.getEpochToPropose.
    fn epoch_to_propose(
        &mut self,
        sid: Sid,
        last_accepted: i64,
        now: u64,
        out: &mut Vec<DiscoveryEvent>,
    ) {
        if !self.waiting_for_new_epoch {
            self.passed_new_epoch(sid, now, out);
            return;
        }
        if last_accepted >= self.epoch {
            self.epoch = last_accepted + 1;
        }
        if self.qv.is_voter(sid) {
            self.connecting.insert(sid);
        }
        if self.connecting.contains(&self.my_sid) && self.qv.contains_quorum(&self.connecting) {
            self.waiting_for_new_epoch = false;
            out.push(DiscoveryEvent::AcceptedEpoch(self.epoch));
            let mut released = vec![sid];
            released.extend(self.release(Barrier::NewEpoch));
            // The leader continues last whether it was the caller or a waiter.
            released.sort_by_key(|s| *s == self.my_sid);
            for s in released {
                self.passed_new_epoch(s, now, out);
            }
        } else {
            self.wait(sid, Barrier::NewEpoch, now);
        }
    }

    fn passed_new_epoch(&mut self, sid: Sid, now: u64, out: &mut Vec<DiscoveryEvent>) {
        if sid == self.my_sid {
            // Leader.lead: waitForEpochAck(myid, leaderStateSummary); it cannot fail.
            let summary = self.leader_summary;
            let _ = self.epoch_ack(sid, summary, now, out);
        } else {
            out.push(DiscoveryEvent::EpochProposed {
                sid,
                epoch: self.epoch,
            });
        }
    }

    /// Leader.waitForEpochAck.
    fn epoch_ack(
        &mut self,
        sid: Sid,
        ss: StateSummary,
        now: u64,
        out: &mut Vec<DiscoveryEvent>,
    ) -> Result<(), LeaderError> {
        if self.election_finished {
            self.passed_epoch_ack(sid, now, out);
            return Ok(());
        }
        // -1: the learner had already accepted this epoch; it waits but is not counted.
        if ss.current_epoch != -1 {
            if ss.is_more_recent_than(&self.leader_summary) {
                return Err(LeaderError::FollowerAhead {
                    leader_epoch: self.leader_summary.current_epoch,
                    leader_zxid: self.leader_summary.last_zxid.0,
                });
            }
            if ss.last_zxid != Zxid(-1) && self.qv.is_voter(sid) {
                self.electing.insert(sid);
            }
        }
        if self.electing.contains(&self.my_sid) && self.qv.contains_quorum(&self.electing) {
            self.election_finished = true;
            // Leader.lead persists currentEpoch as soon as its own wait returns; but not
            // before its log is durable, or after a crash it would rank as the newest
            // history in the next election while missing txns others have committed
            // (found by quorum::sim, seed 31431 without the flush at a role's end).
            if self.own_log_durable {
                out.push(DiscoveryEvent::CurrentEpoch(self.epoch));
            } else {
                self.current_epoch_pending = true;
            }
            let mut released = vec![sid];
            released.extend(self.release(Barrier::EpochAck));
            released.sort_by_key(|s| *s == self.my_sid);
            for s in released {
                self.passed_epoch_ack(s, now, out);
            }
        } else {
            self.wait(sid, Barrier::EpochAck, now);
        }
        Ok(())
    }

    /// The leader's log has a tail not yet durable (logged by its previous role): it
    /// must not count itself in the NEWLEADER quorum until
    /// [`Discovery::own_log_durable`], or the epoch could commit txns a crash then loses.
    pub fn await_own_log(&mut self) {
        self.own_log_durable = false;
    }

    /// The leader's log is durable up to its last zxid: its own NEWLEADER ACK, if waiting.
    pub fn own_log_durable(&mut self) -> Vec<DiscoveryEvent> {
        let mut out = Vec::new();
        self.own_log_durable = true;
        if std::mem::take(&mut self.current_epoch_pending) && !self.gave_up {
            out.push(DiscoveryEvent::CurrentEpoch(self.epoch));
        }
        if let Some(since) = self.own_ack_pending_since_ms.take() {
            if !self.gave_up {
                self.waiting.remove(&self.my_sid);
                let zxid = self.new_leader_zxid();
                self.new_leader_ack(self.my_sid, zxid, since, &mut out);
            }
        }
        out
    }

    fn passed_epoch_ack(&mut self, sid: Sid, now: u64, out: &mut Vec<DiscoveryEvent>) {
        if sid == self.my_sid && !self.own_log_durable {
            // Still bounded by initLimit, as the NEWLEADER wait would be.
            self.own_ack_pending_since_ms = Some(now);
            self.wait(sid, Barrier::NewLeaderAck, now);
        } else if sid == self.my_sid {
            // Leader.lead: waitForNewLeaderAck(myid, zk.getZxid()).
            let zxid = self.new_leader_zxid();
            self.new_leader_ack(sid, zxid, now, out);
        } else {
            out.push(DiscoveryEvent::EpochAcked { sid });
        }
    }

    /// Leader.waitForNewLeaderAck.
    fn new_leader_ack(&mut self, sid: Sid, zxid: Zxid, now: u64, out: &mut Vec<DiscoveryEvent>) {
        if self.quorum_formed {
            self.passed_new_leader(sid, out);
            return;
        }
        if zxid != self.new_leader_zxid() {
            // Java logs an error and returns at once: the handler goes on uncounted.
            tracing::error!(
                "NEWLEADER ACK from sid: {} is from a different epoch - current 0x{} received 0x{}",
                sid.0,
                hex(self.new_leader_zxid()),
                hex(zxid)
            );
            self.passed_new_leader(sid, out);
            return;
        }
        // Proposal.addAck records the sid in each view it votes in; contains_quorum counts
        // only a view's voters, so one set serves both views.
        self.new_leader_acks.insert(sid);
        if self.new_leader_quorum() {
            self.quorum_formed = true;
            let mut released = vec![sid];
            released.extend(self.release(Barrier::NewLeaderAck));
            released.sort_by_key(|s| *s == self.my_sid);
            for s in released {
                self.passed_new_leader(s, out);
            }
        } else {
            self.wait(sid, Barrier::NewLeaderAck, now);
        }
    }

    /// Proposal.hasAllQuorums for newLeaderProposal: the committed view and, when newer,
    /// the last-seen one.
    fn new_leader_quorum(&self) -> bool {
        let acks = &self.new_leader_acks;
        self.qv.contains_quorum(acks)
            && self
                .last_seen
                .as_ref()
                .is_none_or(|v| v.contains_quorum(acks))
    }

    /// SyncedLearnerTracker.ackSetsToString: each view's ack set, comma separated.
    fn ack_sets_string(&self) -> String {
        let views = std::iter::once(&self.qv).chain(self.last_seen.as_ref());
        let sets: Vec<String> = views
            .map(|v| {
                let voters = self.new_leader_acks.iter().filter(|s| v.is_voter(**s));
                sid_set(&voters.copied().collect())
            })
            .collect();
        sets.join(",")
    }

    fn passed_new_leader(&mut self, sid: Sid, out: &mut Vec<DiscoveryEvent>) {
        if sid == self.my_sid {
            out.push(DiscoveryEvent::Established {
                zxid: self.new_leader_zxid(),
            });
        } else {
            out.push(DiscoveryEvent::NewLeaderAcked { sid });
        }
    }
}

/// Java's HashSet<Long>.toString, sids in order: `[1, 2]`.
fn sid_set(sids: &BTreeSet<Sid>) -> String {
    let list: Vec<String> = sids.iter().map(|s| s.0.to_string()).collect();
    format!("[{}]", list.join(", "))
}

#[cfg(test)]
#[path = "epoch_tests.rs"]
mod tests;
