//! `FastLeaderElection.lookForLeader` and the WorkerReceiver replies, as a state machine.
//!
//! Inputs: [`Election::start`] (the peer turns LOOKING), [`Election::on_notification`] (a
//! decoded notification from a peer, or from ourselves), [`Election::tick`] (time passes).
//! Outputs: [`Output`], the [`Action`]s to perform and when to tick next. Time only arrives
//! as `now_ms`; nothing here reads a clock, draws a random number or touches a socket.

use std::collections::BTreeMap;

use super::action::{Action, Output, Timing};
use super::notification::{Notification, ToSend};
use super::vote::{total_order_predicate, OrderPredicate, Proposal, Vote};
use crate::quorum::{LearnerType, Majority, QuorumVerifier, ServerState, Sid, Zxid};

/// How many notifications are kept while LOOKING before the round has started (Java's
/// recvqueue is unbounded; ours is not).
const MAX_QUEUED: usize = 1024;

mod look;

use look::Round;

/// One server's FastLeaderElection. It lives as long as the peer: `logicalclock` carries
/// over from one election to the next, as the Java field does.
#[derive(Debug)]
pub struct Election<Q: QuorumVerifier = Majority> {
    me: Sid,
    learner_type: LearnerType,
    qv: Q,
    /// The last-seen config's voters when it is newer than `qv` (a reconfig logged but not
    /// activated here): votes must form a quorum of it too, and its voters count as
    /// valid voters (getCurrentAndNextConfigVoters).
    last_seen_qv: Option<Q>,
    /// `qv.toString().getBytes()`, carried by every notification we send.
    config: Vec<u8>,
    timing: Timing,
    order: OrderPredicate,
    logicalclock: i64,
    /// proposedLeader / proposedZxid / proposedEpoch.
    proposal: Proposal,
    /// QuorumPeer's state, as far as the election sees it.
    state: ServerState,
    /// QuorumPeer.currentVote: what we answer with when not LOOKING.
    current_vote: Vote,
    round: Option<Round>,
    /// Received while LOOKING but before `start` (Java's recvqueue fills from construction).
    queued: Vec<Notification>,
}

impl<Q: QuorumVerifier> Election<Q> {
    /// A peer that is LOOKING but has not started its first round. The current vote is the
    /// one QuorumPeer.startLeaderElection makes: myid, the last logged zxid, the current
    /// epoch, even for an observer.
    pub fn new(
        me: Sid,
        learner_type: LearnerType,
        qv: Q,
        config: Vec<u8>,
        last_logged_zxid: Zxid,
        current_epoch: i64,
    ) -> Election<Q> {
        let mine = Proposal {
            leader: me,
            zxid: last_logged_zxid,
            peer_epoch: current_epoch,
        };
        Election {
            me,
            learner_type,
            qv,
            last_seen_qv: None,
            config,
            timing: Timing::default(),
            order: total_order_predicate,
            logicalclock: 0,
            // FastLeaderElection.starter: proposedLeader = proposedZxid = -1.
            proposal: Proposal {
                leader: Sid(u64::MAX),
                zxid: Zxid(-1),
                peer_epoch: 0,
            },
            state: ServerState::Looking,
            current_vote: Vote::looking(mine, -1),
            round: None,
            queued: Vec::new(),
        }
    }

    /// Other timeouts than ZooKeeper's defaults.
    pub fn with_timing(mut self, timing: Timing) -> Election<Q> {
        self.timing = timing;
        self
    }

    /// A different order than totalOrderPredicate: for tests that plant a bug.
    #[cfg(test)]
    pub(crate) fn with_order(mut self, order: OrderPredicate) -> Election<Q> {
        self.order = order;
        self
    }

    /// The election round (`logicalclock`).
    pub fn logicalclock(&self) -> i64 {
        self.logicalclock
    }

    /// The current proposal (FastLeaderElection.getVote).
    pub fn proposal(&self) -> Proposal {
        self.proposal
    }

    /// This server's state as the election sees it.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// QuorumPeer.currentVote.
    pub fn current_vote(&self) -> Vote {
        self.current_vote
    }

    /// Replace the current vote (QuorumPeer.setCurrentVote).
    pub fn set_current_vote(&mut self, vote: Vote) {
        self.current_vote = vote;
    }

    /// A reconfig was activated (QuorumPeer.restartLeaderElection): count votes and
    /// answer non-voters by the new membership, and carry the new config. The round in
    /// progress, if any, goes on under the new view.
    pub fn reconfigure(&mut self, learner_type: LearnerType, qv: Q, config: Vec<u8>) {
        self.learner_type = learner_type;
        self.qv = qv;
        self.config = config;
    }

    /// A config newer than the current one was seen (QuorumPeer's lastSeenQuorumVerifier),
    /// or none (`None`): from now on elections need a quorum of it too.
    pub fn set_last_seen(&mut self, last_seen: Option<Q>) {
        self.last_seen_qv = last_seen;
    }

    /// validVoter: a voter of the current or of the last-seen config.
    pub(super) fn is_valid_voter(&self, sid: Sid) -> bool {
        self.qv.is_voter(sid) || self.last_seen_qv.as_ref().is_some_and(|q| q.is_voter(sid))
    }

    /// The reconfig designated a leader (QuorumPeer.updateVote, then updateServerState):
    /// we take that role without an election and answer with this vote, whose election
    /// and peer epochs are -1 as Java's `new Vote(designatedLeader, zxid)` has them.
    pub fn adopt_designated(&mut self, leader: Sid, zxid: Zxid) -> ServerState {
        let state = if leader == self.me {
            ServerState::Leading
        } else if self.learner_type == LearnerType::Participant {
            ServerState::Following
        } else {
            ServerState::Observing
        };
        self.state = state;
        self.current_vote = Vote {
            version: 0,
            leader,
            zxid,
            election_epoch: -1,
            peer_epoch: -1,
            state: ServerState::Looking,
        };
        self.round = None;
        self.queued.clear();
        state
    }

    /// QuorumPeer.updateElectionVote: once the new epoch is settled, the vote we answer
    /// with carries it, so that late joiners count us with the others (ZOOKEEPER-1732).
    pub fn update_election_vote(&mut self, new_epoch: i64) {
        self.current_vote.peer_epoch = new_epoch;
    }

    /// The sids in this round's recvset, for tests.
    #[cfg(test)]
    pub(crate) fn recvset_sids(&self) -> Vec<Sid> {
        self.round
            .as_ref()
            .map(|r| r.recvset.keys().copied().collect())
            .unwrap_or_default()
    }

    /// When to tick next, if LOOKING.
    pub fn next_wakeup_ms(&self) -> Option<u64> {
        self.round
            .as_ref()
            .map(|r| r.finalize_deadline_ms.unwrap_or(r.poll_deadline_ms))
    }

    /// `lookForLeader`'s start: a new round (logicalclock + 1), our own proposal, and a
    /// notification to every voter, ourselves included.
    pub fn start(&mut self, now_ms: u64, last_logged_zxid: Zxid, current_epoch: i64) -> Output {
        self.logicalclock += 1;
        let init = self.init_proposal(last_logged_zxid, current_epoch);
        self.proposal = init;
        self.state = ServerState::Looking;
        let not_timeout_ms = self.timing.min_notification_interval_ms;
        self.round = Some(Round {
            recvset: BTreeMap::new(),
            outofelection: BTreeMap::new(),
            init,
            not_timeout_ms,
            poll_deadline_ms: now_ms + not_timeout_ms,
            finalize_deadline_ms: None,
        });
        let mut actions = Vec::new();
        self.send_notifications(&mut actions);
        for n in std::mem::take(&mut self.queued) {
            if self.round.is_none() {
                break;
            }
            self.look_for_leader(n, now_ms, &mut actions);
        }
        self.output(actions)
    }

    /// A notification from `from` (the connection's sid, which overrides `n.sid`, as in
    /// WorkerReceiver).
    pub fn on_notification(&mut self, from: Sid, mut n: Notification, now_ms: u64) -> Output {
        n.sid = from;
        let mut actions = Vec::new();
        if !self.is_valid_voter(from) {
            // WorkerReceiver: a non-voter (an observer) gets our current vote at once and its
            // notification goes no further, so observers never vote. Note the round is our
            // logicalclock, not the vote's.
            let msg = self.to_send(self.current_vote.proposal(), self.logicalclock, self.state);
            actions.push(Action::Send { to: from, msg });
        } else if self.state == ServerState::Looking {
            // WorkerReceiver: a LOOKING peer in an older round is told our proposal at once.
            if n.state == ServerState::Looking && n.election_epoch < self.logicalclock {
                let msg = self.to_send(self.proposal, self.logicalclock, ServerState::Looking);
                actions.push(Action::Send { to: from, msg });
            }
            if self.round.is_some() {
                self.look_for_leader(n, now_ms, &mut actions);
            } else if self.queued.len() < MAX_QUEUED {
                self.queued.push(n);
            }
        } else if let Some(msg) = self.answer_when_not_looking(&n) {
            actions.push(Action::Send { to: from, msg });
        }
        self.output(actions)
    }

    /// WorkerReceiver when this server is not LOOKING: a LOOKING voter is told our current
    /// vote, with the vote's own election epoch (not logicalclock) and our state; anything
    /// else gets no answer.
    pub fn answer_when_not_looking(&self, n: &Notification) -> Option<ToSend> {
        if self.state == ServerState::Looking || n.state != ServerState::Looking {
            return None;
        }
        let v = self.current_vote;
        Some(self.to_send(v.proposal(), v.election_epoch, self.state))
    }

    /// Time passes: the finalizeWait expiring decides; the notification timeout re-sends
    /// our proposal if the transport has delivered something (`manager.haveDelivered()`,
    /// which in Java is true as soon as *any* peer's send queue is empty), else asks for
    /// connections, and doubles the timeout up to the maximum.
    pub fn tick(&mut self, now_ms: u64, have_delivered: bool) -> Output {
        let mut actions = Vec::new();
        if let Some(round) = self.round.as_mut() {
            if let Some(deadline) = round.finalize_deadline_ms {
                if now_ms >= deadline {
                    let end = Vote::looking(self.proposal, self.logicalclock);
                    self.decide(self.proposal.leader, end, &mut actions);
                }
            } else if now_ms >= round.poll_deadline_ms {
                round.not_timeout_ms =
                    (round.not_timeout_ms * 2).min(self.timing.max_notification_interval_ms);
                round.poll_deadline_ms = now_ms + round.not_timeout_ms;
                if have_delivered {
                    self.send_notifications(&mut actions);
                } else {
                    actions.push(Action::ConnectAll);
                }
            }
        }
        self.output(actions)
    }

    /// getInitId, getInitLastLoggedZxid, getPeerEpoch.
    fn init_proposal(&self, last_logged_zxid: Zxid, current_epoch: i64) -> Proposal {
        let participant = self.learner_type == LearnerType::Participant;
        Proposal {
            leader: if self.qv.is_voter(self.me) {
                self.me
            } else {
                Sid::NOT_A_VOTER
            },
            zxid: if participant {
                last_logged_zxid
            } else {
                Zxid(i64::MIN)
            },
            peer_epoch: if participant { current_epoch } else { i64::MIN },
        }
    }

    /// sendNotifications: our proposal, as LOOKING, to every voter (ourselves included).
    fn send_notifications(&self, actions: &mut Vec<Action>) {
        // getCurrentAndNextConfigVoters.
        let mut voters: std::collections::BTreeSet<Sid> = self.qv.voting_members().clone();
        if let Some(next) = &self.last_seen_qv {
            voters.extend(next.voting_members().iter().copied());
        }
        for to in voters {
            let msg = self.to_send(self.proposal, self.logicalclock, ServerState::Looking);
            actions.push(Action::Send { to, msg });
        }
    }

    fn to_send(&self, p: Proposal, election_epoch: i64, state: ServerState) -> ToSend {
        ToSend {
            leader: p.leader,
            zxid: p.zxid,
            election_epoch,
            state,
            peer_epoch: p.peer_epoch,
            config: self.config.clone(),
        }
    }

    fn output(&self, actions: Vec<Action>) -> Output {
        Output {
            actions,
            wake_at_ms: self.next_wakeup_ms(),
        }
    }
}
