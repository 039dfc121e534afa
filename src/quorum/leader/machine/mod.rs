//! [`Leader`]: the leader's machines run together, with one LearnerHandler state per
//! learner. Inputs: learner packets, the local pipeline's proposals and durability,
//! ticks. Outputs: [`Action`]s, performed in order.

use std::collections::BTreeMap;

use bytes::Bytes;

mod handshake;
mod reconfig;

use super::broadcast::Broadcast;
use super::confirm::{Confirm, Step, SyncWaiter};
use super::epoch::Discovery;
use super::liveness::Liveness;
use super::sync::LogState;
use super::{Action, LeaderConfig, LeaderError, LeaderPacket, LearnerPacket, StateSummary};
use crate::quorum::{LearnerType, QuorumVerifier, Sid, Zxid};

/// Where a learner's handler is in LearnerHandler.run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    /// Blocked in getEpochToPropose.
    NewEpoch,
    /// LEADERINFO sent; the next packet must be ACKEPOCH.
    AckEpoch,
    /// Blocked in waitForEpochAck, with the learner's last zxid.
    EpochAckBarrier(Zxid),
    /// NEWLEADER queued; the next packet must be the ACK of it.
    NewLeaderAck,
    /// Blocked in waitForNewLeaderAck, then waitForStartup: packets wait unread.
    Startup(Vec<LearnerPacket>),
    /// The main loop.
    Serving,
}

#[derive(Debug, Clone)]
struct Handler {
    phase: Phase,
    learner_type: LearnerType,
    /// The learner's protocol version (below 0x10000: no LEADERINFO/ACKEPOCH).
    version: i32,
    /// The FOLLOWERINFO/OBSERVERINFO zxid.
    info_zxid: Zxid,
}

/// What the leader starts from (QuorumPeer's persisted state and config).
#[derive(Debug, Clone)]
pub struct LeaderStart {
    /// QuorumPeer.getAcceptedEpoch.
    pub accepted_epoch: i64,
    /// QuorumPeer.getCurrentEpoch.
    pub current_epoch: i64,
    /// The database's last processed zxid after loading.
    pub last_processed_zxid: Zxid,
    /// The last zxid the log writer reported durable. Below `last_processed_zxid` when the
    /// previous role left a tail unsynced: the leader then counts itself in the NEWLEADER
    /// quorum only once [`Leader::on_durable`] covers it.
    pub durable_zxid: Zxid,
    /// The version of the committed config (a learner with a newer one is refused).
    pub config_version: i64,
    /// The version of the last-seen config (above `config_version` while a reconfig is
    /// pending).
    pub last_seen_config_version: i64,
    /// The last-seen config's member lines as QuorumMaj.toString writes them, each
    /// `server.N=...` ending in a newline, without the `version=` line.
    pub config_members: String,
    /// `reconfigEnabled`: without it ZooKeeper never moves the last-seen config
    /// (QuorumPeer.setLastSeenQuorumVerifier returns at once), so NEWLEADER carries the
    /// committed config's own version, 0 for a static config.
    pub reconfig_enabled: bool,
}

impl LeaderStart {
    /// NEWLEADER's data for `epoch`: the last-seen config and its version. With reconfig
    /// enabled, a config still at version 0 (never established) takes `makeZxid(epoch, 0)`
    /// as its version, which Leader.lead sets before the epoch is acknowledged
    /// (ZOOKEEPER-1783); without it the version stays (captured from 3.8.0: `version=0`).
    pub fn new_leader_config(&self, epoch: i64) -> Bytes {
        let stamp =
            self.reconfig_enabled && self.config_version == 0 && self.last_seen_config_version == 0;
        let version = if stamp {
            Zxid::new(epoch, 0).0
        } else {
            self.last_seen_config_version
        };
        Bytes::from(format!("{}version={version:x}", self.config_members))
    }
}

/// The Zab leader.
#[derive(Debug)]
pub struct Leader<Q> {
    cfg: LeaderConfig,
    start: LeaderStart,
    discovery: Discovery<Q>,
    broadcast: Option<Broadcast<Q>>,
    liveness: Liveness<Q>,
    /// Linearizable sync's leadership rounds; `None` answers syncs as ZooKeeper does.
    confirm: Option<Confirm<Q>>,
    learners: BTreeMap<Sid, Handler>,
    /// Leader.followerCounter: sids for learners that sent no LearnerInfo data.
    follower_counter: i64,
    /// startZkServer ran (waitForStartup returns from now on).
    serving: bool,
    gave_up: bool,
}

impl<Q: QuorumVerifier + Clone> Leader<Q> {
    /// Leader.lead: starts discovery with the leader's own acceptedEpoch.
    pub fn new(
        cfg: LeaderConfig,
        qv: Q,
        start: LeaderStart,
        now_ms: u64,
    ) -> (Leader<Q>, Vec<Action>) {
        Self::with_last_seen(cfg, qv, None, start, now_ms)
    }

    /// [`Leader::new`] for a peer whose last-seen config (`last_seen`, of version
    /// [`LeaderStart::last_seen_config_version`], member lines
    /// [`LeaderStart::config_members`]) may be newer than its committed one `qv`: a
    /// reconfig it logged whose COMMITANDACTIVATE never came. While that version is above
    /// [`LeaderStart::config_version`] (and reconfig is enabled), NEWLEADER needs a quorum
    /// of both views, and at establishment the leader activates the last-seen config
    /// ([`Action::Activate`] before [`Action::Established`]), as Leader.startZkServer's
    /// processReconfig does. Otherwise `last_seen` is ignored and this is [`Leader::new`].
    pub fn with_last_seen(
        cfg: LeaderConfig,
        qv: Q,
        last_seen: Option<Q>,
        start: LeaderStart,
        now_ms: u64,
    ) -> (Leader<Q>, Vec<Action>) {
        // Without reconfigEnabled ZooKeeper never moves the last-seen config, so it cannot
        // be newer.
        let newer = start.reconfig_enabled && start.last_seen_config_version > start.config_version;
        let last_seen = last_seen.filter(|_| newer);
        let summary = StateSummary {
            current_epoch: start.current_epoch,
            last_zxid: start.last_processed_zxid,
        };
        let (discovery, events) = Discovery::start_with_last_seen(
            qv.clone(),
            last_seen,
            cfg.my_sid,
            start.accepted_epoch,
            summary,
            cfg.init_timeout_ms(),
            now_ms,
        );
        let mut discovery = discovery;
        if start.durable_zxid < start.last_processed_zxid {
            discovery.await_own_log();
        }
        let mut leader = Leader {
            cfg,
            start,
            discovery,
            broadcast: None,
            liveness: Liveness::new(qv, cfg),
            confirm: None,
            learners: BTreeMap::new(),
            follower_counter: -1,
            serving: false,
            gave_up: false,
        };
        let mut out = Vec::new();
        leader.apply(events, None, now_ms, &mut out);
        (leader, out)
    }

    /// `linearizableSync`: answer a sync only after a quorum round that started after it
    /// arrived (see the `confirm` module). Set it before the leader serves.
    pub fn set_linearizable_sync(&mut self, on: bool, qv: Q) {
        self.confirm = on.then(|| Confirm::new(qv, self.cfg.my_sid));
    }

    /// The leader's liveness state.
    #[cfg(test)]
    pub(crate) fn liveness(&self) -> &Liveness<Q> {
        &self.liveness
    }

    /// The broadcast state, once the epoch is settled.
    pub fn broadcast(&self) -> Option<&Broadcast<Q>> {
        self.broadcast.as_ref()
    }

    /// The broadcast state, mutable, for the planted-bug test.
    #[cfg(test)]
    pub(crate) fn broadcast_mut(&mut self) -> Option<&mut Broadcast<Q>> {
        self.broadcast.as_mut()
    }

    /// Learners with a handler (Leader.getLearners).
    pub fn learner_count(&self) -> usize {
        self.learners.len()
    }

    /// Whether a quorum acknowledged NEWLEADER and the leader serves.
    pub fn serving(&self) -> bool {
        self.serving
    }

    /// Whether the leader has given up (the peer must go LOOKING).
    pub fn gave_up(&self) -> bool {
        self.gave_up
    }

    /// A learner's first packet (FOLLOWERINFO/OBSERVERINFO). Returns the sid the link is
    /// known by from now on, and the actions. `log` is the leader's history, for a learner
    /// that goes straight on to synchronize.
    pub fn on_learner_info(
        &mut self,
        info: LearnerPacket,
        log: &LogState<'_>,
        now_ms: u64,
    ) -> Result<(Sid, Vec<Action>), LeaderError> {
        let LearnerPacket::Info {
            learner_type,
            zxid,
            sid,
            protocol_version,
            config_version,
        } = info
        else {
            return Err(LeaderError::OutOfOrder {
                sid: Sid(0),
                got: info.name(),
                expected: "FOLLOWERINFO or OBSERVERINFO",
            });
        };
        if config_version.is_some_and(|v| v > self.start.config_version) {
            return Err(LeaderError::ConfigAhead);
        }
        let sid = Sid(sid.unwrap_or_else(|| {
            let s = self.follower_counter;
            self.follower_counter -= 1;
            s
        }) as u64);
        let mut out = Vec::new();
        if self.gave_up {
            return Ok((sid, out));
        }
        if self.learners.contains_key(&sid) {
            self.remove_learner(sid);
        }
        let handler = Handler {
            phase: Phase::NewEpoch,
            learner_type,
            version: protocol_version,
            info_zxid: zxid,
        };
        self.learners.insert(sid, handler);
        self.liveness.add_learner(sid);
        let events = self.discovery.on_learner_info(sid, zxid.epoch(), now_ms);
        self.apply(events, Some(log), now_ms, &mut out);
        Ok((sid, out))
    }

    /// Any later packet from learner `sid`. `log` is the leader's history, needed when this
    /// packet lets learners go on to synchronize. An error means: close this learner's link
    /// (the machine has already forgotten it).
    pub fn on_packet(
        &mut self,
        sid: Sid,
        packet: LearnerPacket,
        log: &LogState<'_>,
        now_ms: u64,
    ) -> Result<Vec<Action>, LeaderError> {
        let got = self.handle(sid, packet, log, now_ms);
        if got.is_err() {
            self.forget(sid);
        }
        got
    }

    fn handle(
        &mut self,
        sid: Sid,
        packet: LearnerPacket,
        log: &LogState<'_>,
        now_ms: u64,
    ) -> Result<Vec<Action>, LeaderError> {
        let mut out = Vec::new();
        if self.gave_up {
            return Ok(out);
        }
        let handler = self
            .learners
            .get_mut(&sid)
            .ok_or(LeaderError::UnknownLearner(sid))?;
        let out_of_order = |expected| LeaderError::OutOfOrder {
            sid,
            got: packet.name(),
            expected,
        };
        match &mut handler.phase {
            Phase::AckEpoch => {
                let LearnerPacket::AckEpoch {
                    current_epoch,
                    last_zxid,
                } = packet
                else {
                    return Err(out_of_order("waiting for ACKEPOCH"));
                };
                handler.phase = Phase::EpochAckBarrier(last_zxid);
                let summary = StateSummary {
                    current_epoch,
                    last_zxid,
                };
                let events = self.discovery.on_ack_epoch(sid, summary, now_ms)?;
                self.apply(events, Some(log), now_ms, &mut out);
            }
            Phase::NewLeaderAck => {
                let LearnerPacket::Ack { zxid } = packet else {
                    return Err(out_of_order("waiting for the ACK of NEWLEADER"));
                };
                handler.phase = Phase::Startup(Vec::new());
                let events = self.discovery.on_new_leader_ack(sid, zxid, now_ms);
                self.apply(events, Some(log), now_ms, &mut out);
            }
            Phase::Startup(deferred) => deferred.push(packet),
            Phase::Serving => self.serve(sid, packet, &mut out),
            Phase::NewEpoch | Phase::EpochAckBarrier(_) => {
                return Err(out_of_order(
                    "blocked in discovery (a learner sends nothing here)",
                ));
            }
        }
        Ok(out)
    }

    /// LearnerHandler.run's main loop, for one packet.
    fn serve(&mut self, sid: Sid, packet: LearnerPacket, out: &mut Vec<Action>) {
        self.liveness.packet_received(sid);
        match packet {
            LearnerPacket::Ack { zxid } => {
                self.liveness.ack_received(sid, zxid);
                if let Some(b) = self.broadcast.as_mut() {
                    let (_, actions) = b.process_ack(sid, zxid);
                    self.after_commits(&actions);
                    out.extend(actions);
                }
            }
            LearnerPacket::Ping { touches } => {
                out.extend(self.liveness.on_ping(sid, touches));
                if let Some(c) = self.confirm.as_mut() {
                    let steps = c.ping_answered(sid);
                    self.run_steps(steps, out);
                }
            }
            LearnerPacket::Revalidate {
                session_id,
                timeout_ms,
            } => out.push(Action::Revalidate {
                from: sid,
                session_id,
                timeout_ms,
            }),
            request @ LearnerPacket::Request { .. } => out.push(Action::Forwarded {
                from: sid,
                request: Box::new(request),
            }),
            other => tracing::warn!("unexpected quorum packet, type: {}", other.name()),
        }
    }

    /// The local pipeline proposes txn `zxid` (Leader.propose). Refused before the leader
    /// serves; a rollover zxid gives up leadership.
    pub fn propose(
        &mut self,
        zxid: Zxid,
        data: Bytes,
        now_ms: u64,
    ) -> Result<Vec<Action>, LeaderError> {
        if self.gave_up {
            return Ok(Vec::new());
        }
        // Java's pipeline only runs once startZkServer has: nothing is proposed before.
        let Some(b) = self.broadcast.as_mut().filter(|_| self.serving) else {
            return Err(LeaderError::NotServing);
        };
        let out = b.propose(zxid, data)?;
        self.after_propose(&out, now_ms);
        Ok(out)
    }

    /// What a proposal's actions mean for liveness and the leader's state.
    pub(super) fn after_propose(&mut self, out: &[Action], now_ms: u64) {
        for a in out {
            match a {
                Action::Send {
                    to,
                    packet: LeaderPacket::Proposal { zxid, .. },
                } => self.liveness.proposal_sent(*to, *zxid, now_ms),
                Action::GiveUp { .. } => self.gave_up = true,
                _ => {}
            }
        }
    }

    /// The local log made every txn up to `upto` durable: the leader's own ACKs, and
    /// before that its own NEWLEADER ACK if it waited for its log.
    pub fn on_durable(&mut self, upto: Zxid, now_ms: u64) -> Vec<Action> {
        let mut out = Vec::new();
        if self.gave_up {
            return out;
        }
        if upto >= self.start.last_processed_zxid {
            let events = self.discovery.own_log_durable();
            self.apply(events, None, now_ms, &mut out);
        }
        if let Some(b) = self.broadcast.as_mut().filter(|_| !self.gave_up) {
            let actions = b.on_durable(upto);
            self.after_commits(&actions);
            out.extend(actions);
        }
        out
    }

    /// A learner's forwarded sync reached the leader's pipeline (Leader.processSync). With
    /// linearizable sync, it first waits for a confirmed round.
    pub fn process_sync(&mut self, from: Sid) -> Vec<Action> {
        if self.gave_up || self.broadcast.is_none() {
            return Vec::new();
        }
        if self.confirm.is_some() {
            return self.wait_for_round(SyncWaiter::Learner(from));
        }
        match self.broadcast.as_mut() {
            Some(b) => b.process_sync(from),
            None => Vec::new(),
        }
    }

    /// A sync of one of the leader's own clients (named by `token`), after the writes its
    /// session sent before it. [`Action::SyncConfirmed`] says when it may be answered: at
    /// once without linearizable sync (ZooKeeper's CommitProcessor answers it as a read),
    /// after a confirmed round with it; never by a leader that gave up.
    pub fn local_sync(&mut self, token: u64) -> Vec<Action> {
        if self.gave_up || !self.serving {
            return Vec::new();
        }
        if self.confirm.is_some() {
            return self.wait_for_round(SyncWaiter::Local(token));
        }
        vec![Action::SyncConfirmed { token }]
    }

    /// Syncs waiting for a leadership round (linearizable sync).
    pub fn confirming_syncs(&self) -> usize {
        self.confirm.as_ref().map_or(0, Confirm::waiting)
    }

    fn wait_for_round(&mut self, w: SyncWaiter) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(c) = self.confirm.as_mut() else {
            return out;
        };
        let (taken, steps) = c.add(w);
        if !taken {
            tracing::warn!("too many syncs wait for a leadership round: {w:?} dropped");
        }
        self.run_steps(steps, &mut out);
        out
    }

    /// Performs a round's steps: PINGs out (counted), confirmed syncs released.
    fn run_steps(&mut self, steps: Vec<Step>, out: &mut Vec<Action>) {
        for step in steps {
            match step {
                Step::Ping(to) => {
                    let zxid = self
                        .broadcast
                        .as_ref()
                        .map_or(Zxid(0), |b| b.last_proposed());
                    for sid in to {
                        out.push(Action::Send {
                            to: sid,
                            packet: LeaderPacket::Ping { zxid },
                        });
                        if let Some(c) = self.confirm.as_mut() {
                            c.ping_sent(sid);
                        }
                    }
                }
                Step::Confirmed(waiters) => {
                    for w in waiters {
                        match w {
                            SyncWaiter::Learner(sid) if self.learners.contains_key(&sid) => {
                                if let Some(b) = self.broadcast.as_mut() {
                                    out.extend(b.process_sync(sid));
                                }
                            }
                            SyncWaiter::Learner(_) => {}
                            SyncWaiter::Local(token) => out.push(Action::SyncConfirmed { token }),
                        }
                    }
                }
            }
        }
    }

    /// The local pipeline applied committed txn `zxid`.
    pub fn applied(&mut self, zxid: Zxid) {
        if let Some(b) = self.broadcast.as_mut() {
            b.applied(zxid);
        }
    }

    /// Time passes: barrier timeouts, then the half-tick loop once serving.
    pub fn on_tick(&mut self, now_ms: u64) -> Vec<Action> {
        let mut out = Vec::new();
        if self.gave_up {
            return out;
        }
        let events = self.discovery.on_tick(now_ms);
        self.apply(events, None, now_ms, &mut out);
        if self.gave_up {
            return out;
        }
        let last_proposed = self
            .broadcast
            .as_ref()
            .map_or(Zxid(0), |b| b.last_proposed());
        let actions = self.liveness.on_tick(now_ms, last_proposed);
        for a in &actions {
            match a {
                Action::CloseLearner { sid, .. } => self.forget(*sid),
                Action::GiveUp { .. } => self.gave_up = true,
                Action::Send {
                    to,
                    packet: LeaderPacket::Ping { .. },
                } => {
                    if let Some(c) = self.confirm.as_mut() {
                        c.ping_sent(*to);
                    }
                }
                _ => {}
            }
        }
        out.extend(actions);
        out
    }

    /// When to call [`Leader::on_tick`] next.
    pub fn next_wakeup_ms(&self) -> Option<u64> {
        match (
            self.discovery.next_deadline_ms(),
            self.liveness.next_wakeup_ms(),
        ) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The learner's link closed (or the driver closed it after an error).
    pub fn remove_learner(&mut self, sid: Sid) {
        self.forget(sid);
    }

    fn forget(&mut self, sid: Sid) {
        self.learners.remove(&sid);
        self.discovery.remove_learner(sid);
        self.liveness.remove_learner(sid);
        if let Some(c) = self.confirm.as_mut() {
            c.remove_learner(sid);
        }
        if let Some(b) = self.broadcast.as_mut() {
            b.remove_learner(sid);
        }
    }
}

#[cfg(test)]
mod confirm_tests;
#[cfg(test)]
mod last_seen_tests;
#[cfg(test)]
mod reconfig_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
