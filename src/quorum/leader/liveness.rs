//! The leader's liveness loop (`Leader.lead` once it serves), per-learner deadlines
//! (`LearnerHandler.tickOfNextAckDeadline`, `synced()`), the proposal-ACK timer
//! (`LearnerHandler.SyncLimitCheck`), PINGs (`LearnerHandler.ping`) and the session
//! touches learners report in their PING replies.
//!
//! Every half tick the loop pings each learner; every other half tick it also advances the
//! tick and checks that the leader plus the learners whose deadline has not passed hold a
//! quorum of voters, else the leader shuts down. A learner's deadline starts at
//! `tick + initLimit + syncLimit` when its handler starts, and becomes `tick + syncLimit`
//! at every packet read once it is past NEWLEADER: a learner still syncing counts as synced
//! until its initial deadline, as in Java (the check iterates `learners`, not
//! `forwardingFollowers`).

use std::collections::{BTreeMap, BTreeSet};

use super::{Action, LeaderConfig, LeaderPacket};
use crate::quorum::{QuorumVerifier, Sid, Zxid};

/// LearnerHandler.SyncLimitCheck: the oldest unacknowledged proposal sent to a learner,
/// and the newest one sent after it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct SyncLimitCheck {
    started: bool,
    current: Option<(Zxid, u64)>,
    next: Option<(Zxid, u64)>,
}

impl SyncLimitCheck {
    fn update_proposal(&mut self, zxid: Zxid, now_ms: u64) {
        if !self.started {
            return;
        }
        if self.current.is_none() {
            self.current = Some((zxid, now_ms));
        } else {
            self.next = Some((zxid, now_ms));
        }
    }

    fn update_ack(&mut self, zxid: Zxid) {
        if self.current.is_some_and(|(z, _)| z == zxid) {
            self.current = self.next.take();
        } else if self.next.is_some_and(|(z, _)| z == zxid) {
            tracing::warn!(
                "ACK for 0x{:x} received before ACK for an earlier proposal",
                zxid.0
            );
            self.next = None;
        }
    }

    fn check(&self, now_ms: u64, sync_timeout_ms: u64) -> bool {
        self.current
            .is_none_or(|(_, sent)| now_ms.saturating_sub(sent) < sync_timeout_ms)
    }
}

#[derive(Debug, Clone, Copy)]
struct LearnerLiveness {
    deadline_tick: u64,
    /// The sender has started (NEWLEADER queued): only then is it pinged.
    sending: bool,
    check: SyncLimitCheck,
}

/// The leader's liveness state.
#[derive(Debug, Clone)]
pub struct Liveness<Q> {
    qv: Q,
    cfg: LeaderConfig,
    /// QuorumPeer.tick: 0 when leading starts.
    tick: u64,
    tick_skip: bool,
    next_half_tick_ms: Option<u64>,
    learners: BTreeMap<Sid, LearnerLiveness>,
    shut_down: bool,
}

impl<Q: QuorumVerifier> Liveness<Q> {
    /// The state when leading starts (tick 0; the loop has not begun).
    pub fn new(qv: Q, cfg: LeaderConfig) -> Liveness<Q> {
        Liveness {
            qv,
            cfg,
            tick: 0,
            tick_skip: true,
            next_half_tick_ms: None,
            learners: BTreeMap::new(),
            shut_down: false,
        }
    }

    /// QuorumPeer.tick.
    pub fn tick(&self) -> u64 {
        self.tick
    }

    /// A learner's handler started (Leader.addLearnerHandler; getTickOfInitialAckDeadline).
    pub fn add_learner(&mut self, sid: Sid) {
        let deadline_tick = self.tick + self.cfg.init_limit + self.cfg.sync_limit;
        let check = SyncLimitCheck::default();
        self.learners.insert(
            sid,
            LearnerLiveness {
                deadline_tick,
                sending: false,
                check,
            },
        );
    }

    /// NEWLEADER is queued and the sender runs (LearnerHandler.startSendingPackets).
    pub fn sending_started(&mut self, sid: Sid) {
        if let Some(l) = self.learners.get_mut(&sid) {
            l.sending = true;
        }
    }

    /// The learner's NEWLEADER ACK passed the barrier (`syncLimitCheck.start()`).
    pub fn sync_check_started(&mut self, sid: Sid) {
        if let Some(l) = self.learners.get_mut(&sid) {
            l.check.started = true;
        }
    }

    /// A packet was read in the handler's main loop (getTickOfNextAckDeadline).
    pub fn packet_received(&mut self, sid: Sid) {
        let deadline = self.tick + self.cfg.sync_limit;
        if let Some(l) = self.learners.get_mut(&sid) {
            l.deadline_tick = deadline;
        }
    }

    /// A PROPOSAL went out to the learner at `now_ms`.
    pub fn proposal_sent(&mut self, sid: Sid, zxid: Zxid, now_ms: u64) {
        if let Some(l) = self.learners.get_mut(&sid) {
            l.check.update_proposal(zxid, now_ms);
        }
    }

    /// An ACK from the learner (read in its main loop).
    pub fn ack_received(&mut self, sid: Sid, zxid: Zxid) {
        self.packet_received(sid);
        if let Some(l) = self.learners.get_mut(&sid) {
            l.check.update_ack(zxid);
        }
    }

    /// A PING reply: refreshes the deadline and hands the touched sessions to the session
    /// tracker (LearnerHandler.run → LearnerMaster.touch).
    pub fn on_ping(&mut self, sid: Sid, touches: Vec<(i64, i32)>) -> Vec<Action> {
        self.packet_received(sid);
        if touches.is_empty() {
            return Vec::new();
        }
        vec![Action::Touch { sessions: touches }]
    }

    /// The learner's link closed.
    pub fn remove_learner(&mut self, sid: Sid) {
        self.learners.remove(&sid);
    }

    /// The leader serves: the half-tick loop begins now.
    pub fn start(&mut self, now_ms: u64) {
        self.next_half_tick_ms = Some(now_ms.saturating_add(self.cfg.tick_ms / 2));
    }

    /// When [`Liveness::on_tick`] has work next.
    pub fn next_wakeup_ms(&self) -> Option<u64> {
        self.next_half_tick_ms.filter(|_| !self.shut_down)
    }

    /// One turn of Leader.lead's loop, if half a tick has passed: the quorum check (every
    /// other turn), then a PING to each learner whose sender runs, carrying
    /// `last_proposed`; a learner whose oldest proposal has waited syncLimit is closed.
    pub fn on_tick(&mut self, now_ms: u64, last_proposed: Zxid) -> Vec<Action> {
        let mut out = Vec::new();
        match self.next_half_tick_ms {
            Some(due) if !self.shut_down && now_ms >= due => {}
            _ => return out,
        }
        if !self.tick_skip {
            self.tick += 1;
        }
        let mut synced = BTreeSet::from([self.cfg.my_sid]);
        synced.extend(
            (self.learners.iter())
                .filter(|(_, l)| self.tick <= l.deadline_tick)
                .map(|(s, _)| *s),
        );
        if !self.tick_skip && !self.qv.contains_quorum(&synced) {
            let voters: Vec<String> = (synced.iter())
                .filter(|s| self.qv.is_voter(**s))
                .map(|s| s.0.to_string())
                .collect();
            self.shut_down = true;
            out.push(Action::GiveUp {
                reason: format!(
                    "Not sufficient followers synced, only synced with sids: [ [{}] ]",
                    voters.join(", ")
                ),
            });
            return out;
        }
        self.tick_skip = !self.tick_skip;
        let sync_timeout = self.cfg.sync_timeout_ms();
        let mut closed = Vec::new();
        for (&sid, l) in &self.learners {
            if !l.sending {
                // "If learner hasn't sync properly yet, don't send ping packet".
                continue;
            }
            if l.check.check(now_ms, sync_timeout) {
                out.push(Action::Send {
                    to: sid,
                    packet: LeaderPacket::Ping {
                        zxid: last_proposed,
                    },
                });
            } else {
                closed.push(sid);
                out.push(Action::CloseLearner {
                    sid,
                    reason: "Closing connection to peer due to transaction timeout.".into(),
                });
            }
        }
        closed.iter().for_each(|s| self.remove_learner(*s));
        self.next_half_tick_ms = Some(now_ms.saturating_add(self.cfg.tick_ms / 2));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quorum::Majority;

    const TICK: u64 = 2000;

    fn cfg() -> LeaderConfig {
        LeaderConfig {
            my_sid: Sid(1),
            tick_ms: TICK,
            init_limit: 10,
            sync_limit: 5,
        }
    }

    fn ping(to: u64, c: i64) -> Action {
        Action::Send {
            to: Sid(to),
            packet: LeaderPacket::Ping {
                zxid: Zxid::new(2, c),
            },
        }
    }

    /// Voters {1,2,3}; learners 2 and 3 past NEWLEADER; the loop started at 0.
    fn live() -> Liveness<Majority> {
        let mut l = Liveness::new(Majority::new([1, 2, 3].map(Sid), []), cfg());
        for s in [2, 3] {
            l.add_learner(Sid(s));
            l.sending_started(Sid(s));
            l.sync_check_started(Sid(s));
        }
        l.start(0);
        l
    }

    #[test]
    fn pings_every_half_tick_with_the_last_proposed_zxid() {
        let mut l = live();
        assert_eq!(l.on_tick(TICK / 2 - 1, Zxid::new(2, 4)), vec![]);
        assert_eq!(
            l.on_tick(TICK / 2, Zxid::new(2, 4)),
            vec![ping(2, 4), ping(3, 4)]
        );
        assert_eq!(l.tick(), 0, "the first turn skips the tick");
        assert_eq!(
            l.on_tick(TICK, Zxid::new(2, 5)),
            vec![ping(2, 5), ping(3, 5)]
        );
        assert_eq!(l.tick(), 1);
        // A learner whose sender has not started is not pinged.
        l.add_learner(Sid(4));
        assert_eq!(
            l.on_tick(3 * TICK / 2, Zxid::new(2, 5)),
            vec![ping(2, 5), ping(3, 5)]
        );
    }

    #[test]
    fn the_quorum_check_gives_up_when_synced_voters_fall_below_a_quorum() {
        let mut l = live();
        // Initial deadlines are tick 0 + 10 + 5 = 15; nobody answers.
        let mut now = 0;
        let mut gave_up = None;
        for _ in 0..40 {
            now += TICK / 2;
            let out = l.on_tick(now, Zxid::new(2, 0));
            if let Some(Action::GiveUp { reason }) = out.last() {
                gave_up = Some((l.tick(), reason.clone()));
                break;
            }
        }
        assert_eq!(
            gave_up,
            Some((
                16,
                "Not sufficient followers synced, only synced with sids: [ [1] ]".into()
            ))
        );
        assert_eq!(
            l.on_tick(now + TICK, Zxid(0)),
            vec![],
            "inert after giving up"
        );
    }

    #[test]
    fn one_live_follower_keeps_a_three_voter_quorum() {
        let mut l = live();
        let mut now = 0;
        for _ in 0..60 {
            now += TICK / 2;
            l.packet_received(Sid(2)); // 2 keeps answering; 3 is silent
            let out = l.on_tick(now, Zxid::new(2, 0));
            assert!(
                !out.iter().any(|a| matches!(a, Action::GiveUp { .. })),
                "{out:?}"
            );
        }
    }

    #[test]
    fn a_learner_that_leaves_a_proposal_unacked_for_sync_limit_is_closed() {
        let mut l = live();
        l.proposal_sent(Sid(2), Zxid::new(2, 1), 100);
        l.proposal_sent(Sid(2), Zxid::new(2, 2), 200);
        l.proposal_sent(Sid(3), Zxid::new(2, 1), 100);
        l.ack_received(Sid(3), Zxid::new(2, 1));
        // syncLimit 5 x 2000 ms: at 10100 the oldest has waited exactly the limit.
        l.next_half_tick_ms = Some(10_099);
        assert_eq!(
            l.on_tick(10_099, Zxid::new(2, 2)),
            vec![ping(2, 2), ping(3, 2)]
        );
        l.next_half_tick_ms = Some(10_100);
        assert_eq!(
            l.on_tick(10_100, Zxid::new(2, 2)),
            vec![
                Action::CloseLearner {
                    sid: Sid(2),
                    reason: "Closing connection to peer due to transaction timeout.".into()
                },
                ping(3, 2),
            ]
        );
    }

    #[test]
    fn the_ack_timer_moves_to_the_newest_proposal_and_starts_after_newleader() {
        let mut c = SyncLimitCheck::default();
        c.update_proposal(Zxid(1), 10);
        assert_eq!(
            c.current, None,
            "not started: proposals during sync are not timed"
        );
        c.started = true;
        c.update_proposal(Zxid(1), 10);
        c.update_proposal(Zxid(2), 20);
        c.update_proposal(Zxid(3), 30);
        c.update_ack(Zxid(1));
        assert_eq!(c.current, Some((Zxid(3), 30)), "next holds only the newest");
        c.update_ack(Zxid(3));
        assert!(c.check(u64::MAX, 1));
    }

    #[test]
    fn ping_replies_hand_touches_to_the_session_tracker() {
        let mut l = live();
        assert_eq!(l.on_ping(Sid(2), vec![]), vec![]);
        assert_eq!(
            l.on_ping(Sid(2), vec![(0x100, 4000), (0x101, 6000)]),
            vec![Action::Touch {
                sessions: vec![(0x100, 4000), (0x101, 6000)]
            }]
        );
    }
}
