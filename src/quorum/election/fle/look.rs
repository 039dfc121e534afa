//! The body of `FastLeaderElection.lookForLeader`: what one notification taken off the
//! recvqueue does to the round (3.8, with receivedFollowingNotification).

use std::collections::{BTreeMap, BTreeSet};

use super::Election;
use crate::quorum::election::action::Action;
use crate::quorum::election::notification::Notification;
use crate::quorum::election::vote::{Proposal, Vote};
use crate::quorum::{LearnerType, QuorumVerifier, ServerState, Sid, Zxid};

/// The locals of one `lookForLeader` call.
#[derive(Debug)]
pub(super) struct Round {
    /// Votes of this election round (electionEpoch == logicalclock).
    pub(super) recvset: BTreeMap<Sid, Vote>,
    /// FOLLOWING/LEADING votes of any round (ZOOKEEPER-1732).
    pub(super) outofelection: BTreeMap<Sid, Vote>,
    /// getInitId / getInitLastLoggedZxid / getPeerEpoch for this round.
    pub(super) init: Proposal,
    /// `notTimeout`: doubles on each timeout and is never reset within the round.
    pub(super) not_timeout_ms: u64,
    /// When the current `recvqueue.poll(notTimeout)` gives up.
    pub(super) poll_deadline_ms: u64,
    /// Set while a quorum agrees and we wait `finalizeWait` for a better vote.
    pub(super) finalize_deadline_ms: Option<u64>,
}

impl<Q: QuorumVerifier> Election<Q> {
    /// One pass of lookForLeader's loop for a notification taken off the recvqueue.
    pub(super) fn look_for_leader(
        &mut self,
        n: Notification,
        now_ms: u64,
        actions: &mut Vec<Action>,
    ) {
        let finalize_wait_ms = self.timing.finalize_wait_ms;
        let better = (self.order)(&n.proposal(), &self.proposal, self.qv.weight(n.leader));
        let Some(round) = self.round.as_mut() else {
            return;
        };
        if round.finalize_deadline_ms.is_some() {
            if !better {
                // The finalizeWait loop takes any notification that does not beat the
                // proposal and drops it unread (FOLLOWING/LEADING ones too); the 200 ms
                // start over, since it is a fresh poll.
                round.finalize_deadline_ms = Some(now_ms + finalize_wait_ms);
                return;
            }
            // A better vote: it goes back on the queue and the main loop handles it.
            round.finalize_deadline_ms = None;
        }
        // Every notification taken off the queue ends one poll(notTimeout).
        round.poll_deadline_ms = now_ms + round.not_timeout_ms;
        // Only votes from a voter for a voter count (validVoter on both: a voter of the
        // current or the last-seen config).
        if !(self.is_valid_voter(n.sid) && self.is_valid_voter(n.leader)) {
            return;
        }
        match n.state {
            ServerState::Looking => self.on_looking(n, now_ms, actions),
            ServerState::Observing => {}
            ServerState::Following | ServerState::Leading => self.on_out_of_election(n, actions),
        }
    }

    /// lookForLeader, `case LOOKING`.
    fn on_looking(&mut self, n: Notification, now_ms: u64, actions: &mut Vec<Action>) {
        let Some(init) = self.round.as_ref().map(|r| r.init) else {
            return;
        };
        // Nothing logged at all (-1) on either side: such votes are not compared.
        if init.zxid == Zxid(-1) || n.zxid == Zxid(-1) {
            return;
        }
        let weight = self.qv.weight(n.leader);
        if n.election_epoch > self.logicalclock {
            // A newer round: join it, forget this round's votes, and propose the better of
            // the sender's vote and our *initial* vote (not our current proposal).
            self.logicalclock = n.election_epoch;
            if let Some(round) = self.round.as_mut() {
                round.recvset.clear();
            }
            self.proposal = if (self.order)(&n.proposal(), &init, weight) {
                n.proposal()
            } else {
                init
            };
            self.send_notifications(actions);
        } else if n.election_epoch < self.logicalclock {
            return;
        } else if (self.order)(&n.proposal(), &self.proposal, weight) {
            self.proposal = n.proposal();
            self.send_notifications(actions);
        }
        let probe = Vote::looking(self.proposal, self.logicalclock);
        let finalize_wait_ms = self.timing.finalize_wait_ms;
        let Some(round) = self.round.as_mut() else {
            return;
        };
        round
            .recvset
            .insert(n.sid, Vote::looking(n.proposal(), n.election_epoch));
        // termPredicate: a quorum of this round agrees with our proposal. Wait finalizeWait
        // for a better one before deciding.
        if all_quorums(&self.qv, self.last_seen_qv.as_ref(), &round.recvset, &probe) {
            round.finalize_deadline_ms = Some(now_ms + finalize_wait_ms);
        }
    }

    /// lookForLeader, `case FOLLOWING`/`case LEADING` (receivedFollowingNotification; 3.8's
    /// receivedLeadingNotification adds only the QuorumOracleMaj tie-break, which a majority
    /// verifier never asks for).
    fn on_out_of_election(&mut self, n: Notification, actions: &mut Vec<Action>) {
        let probe = Vote {
            version: n.version,
            leader: n.leader,
            zxid: n.zxid,
            election_epoch: n.election_epoch,
            peer_epoch: n.peer_epoch,
            state: n.state,
        };
        let end = Vote::looking(n.proposal(), n.election_epoch);
        let Some(round) = self.round.as_mut() else {
            return;
        };
        if n.election_epoch == self.logicalclock {
            // Same round: count it with the LOOKING votes. Java stores it with version 0,
            // so against the probe (version n.version > 0) only the leader id is compared.
            round.recvset.insert(
                n.sid,
                Vote {
                    version: 0,
                    ..probe
                },
            );
            if all_quorums(&self.qv, self.last_seen_qv.as_ref(), &round.recvset, &probe)
                && check_leader(
                    self.me,
                    self.logicalclock,
                    &round.recvset,
                    n.leader,
                    n.election_epoch,
                )
            {
                self.decide(n.leader, end, actions);
                return;
            }
        }
        // Any round: join an established ensemble once a quorum follows the same leader and
        // that leader itself says LEADING (ZOOKEEPER-1732).
        round.outofelection.insert(n.sid, probe);
        if all_quorums(
            &self.qv,
            self.last_seen_qv.as_ref(),
            &round.outofelection,
            &probe,
        ) && check_leader(
            self.me,
            self.logicalclock,
            &round.outofelection,
            n.leader,
            n.election_epoch,
        ) {
            self.logicalclock = n.election_epoch;
            self.decide(n.leader, end, actions);
        }
    }

    /// setPeerState + leaveInstance: LEADING if it is us, else FOLLOWING (participant) or
    /// OBSERVING (observer, learningState).
    pub(super) fn decide(&mut self, leader: Sid, vote: Vote, actions: &mut Vec<Action>) {
        let state = if leader == self.me {
            ServerState::Leading
        } else if self.learner_type == LearnerType::Participant {
            ServerState::Following
        } else {
            ServerState::Observing
        };
        self.state = state;
        self.current_vote = vote;
        self.round = None;
        self.queued.clear();
        actions.push(Action::Decided {
            leader,
            state,
            vote,
        });
    }
}

/// getVoteTracker(votes, probe).hasAllQuorums(): a quorum of the current config and,
/// while a newer config was seen (a reconfig logged, maybe committed, not activated here),
/// of that one too: two quorums of different configs cannot both elect.
fn all_quorums<Q: QuorumVerifier>(
    qv: &Q,
    last_seen: Option<&Q>,
    votes: &BTreeMap<Sid, Vote>,
    probe: &Vote,
) -> bool {
    has_quorum(qv, votes, probe) && last_seen.is_none_or(|next| has_quorum(next, votes, probe))
}

/// The voters whose vote matches the probe (Vote.equals) form a quorum of `qv`.
fn has_quorum<Q: QuorumVerifier>(qv: &Q, votes: &BTreeMap<Sid, Vote>, probe: &Vote) -> bool {
    let acks: BTreeSet<Sid> = votes
        .iter()
        .filter(|(sid, vote)| qv.is_voter(**sid) && probe.matches(vote))
        .map(|(sid, _)| *sid)
        .collect();
    qv.contains_quorum(&acks)
}

/// checkLeader: another leader must itself have said LEADING; if the leader is us, the
/// round must be our current one.
fn check_leader(
    me: Sid,
    logicalclock: i64,
    votes: &BTreeMap<Sid, Vote>,
    leader: Sid,
    election_epoch: i64,
) -> bool {
    if leader != me {
        votes
            .get(&leader)
            .is_some_and(|v| v.state == ServerState::Leading)
    } else {
        logicalclock == election_epoch
    }
}
