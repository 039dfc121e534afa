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
    /// An outstanding reconfig's new view: the synced learners must hold a quorum of it
    /// too (Leader.lead adds the last-seen view when its version is above the committed).
    last_seen: Option<Q>,
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
            last_seen: None,
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

    /// The views the quorum check uses from now on: the committed one, and an outstanding
    /// reconfig's new one.
    pub fn set_views(&mut self, qv: Q, last_seen: Option<Q>) {
        self.qv = qv;
        self.last_seen = last_seen;
    }

    /// The views the quorum check uses.
    #[cfg(test)]
    pub(crate) fn views(&self) -> (&Q, Option<&Q>) {
        (&self.qv, self.last_seen.as_ref())
    }

    /// LearnerHandler.synced: the learner's handler runs and its ack deadline has not
    /// passed.
    pub fn synced(&self, sid: Sid) -> bool {
        self.learners
            .get(&sid)
            .is_some_and(|l| self.tick <= l.deadline_tick)
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
        let views: Vec<&Q> = std::iter::once(&self.qv)
            .chain(self.last_seen.as_ref())
            .collect();
        if !self.tick_skip && !views.iter().all(|qv| qv.contains_quorum(&synced)) {
            // SyncedLearnerTracker.ackSetsToString: each view's synced voters.
            let sets: Vec<String> = (views.iter())
                .map(|qv| {
                    let voters: Vec<String> = (synced.iter())
                        .filter(|s| qv.is_voter(**s))
                        .map(|s| s.0.to_string())
                        .collect();
                    format!("[{}]", voters.join(", "))
                })
                .collect();
            self.shut_down = true;
            out.push(Action::GiveUp {
                reason: format!(
                    "Not sufficient followers synced, only synced with sids: [ {} ]",
                    sets.join(",")
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
#[path = "liveness_tests.rs"]
mod tests;
