//! [`Leader`]: the leader's machines run together, with one LearnerHandler state per
//! learner. Inputs: learner packets, the local pipeline's proposals and durability,
//! ticks. Outputs: [`Action`]s, performed in order.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::broadcast::{AckOutcome, Broadcast};
use super::epoch::{Discovery, DiscoveryEvent};
use super::liveness::Liveness;
use super::sync::{plan_sync, LogState, SyncKind};
use super::{Action, LeaderConfig, LeaderError, LeaderPacket, LearnerPacket, StateSummary};
use crate::proto::quorum::payload::ZAB_PROTOCOL_VERSION;
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
    /// The version of the committed config (a learner with a newer one is refused).
    pub config_version: i64,
    /// NEWLEADER's data: the last-seen config as QuorumVerifier.toString bytes.
    pub config_bytes: Bytes,
}

/// The Zab leader.
#[derive(Debug)]
pub struct Leader<Q> {
    cfg: LeaderConfig,
    start: LeaderStart,
    discovery: Discovery<Q>,
    broadcast: Option<Broadcast<Q>>,
    liveness: Liveness<Q>,
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
        let summary = StateSummary {
            current_epoch: start.current_epoch,
            last_zxid: start.last_processed_zxid,
        };
        let (discovery, events) = Discovery::start(
            qv.clone(),
            cfg.my_sid,
            start.accepted_epoch,
            summary,
            cfg.init_timeout_ms(),
            now_ms,
        );
        let mut leader = Leader {
            cfg,
            start,
            discovery,
            broadcast: None,
            liveness: Liveness::new(qv, cfg),
            learners: BTreeMap::new(),
            follower_counter: -1,
            serving: false,
            gave_up: false,
        };
        let mut out = Vec::new();
        leader.apply(events, None, now_ms, &mut out);
        (leader, out)
    }

    /// The broadcast state, once the epoch is settled.
    pub fn broadcast(&self) -> Option<&Broadcast<Q>> {
        self.broadcast.as_ref()
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
                    let (outcome, actions) = b.process_ack(sid, zxid);
                    debug_assert!(outcome != AckOutcome::Committed || !actions.is_empty());
                    out.extend(actions);
                }
            }
            LearnerPacket::Ping { touches } => out.extend(self.liveness.on_ping(sid, touches)),
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

    /// The local pipeline proposes txn `zxid` (Leader.propose).
    pub fn propose(
        &mut self,
        zxid: Zxid,
        data: Bytes,
        now_ms: u64,
    ) -> Result<Vec<Action>, LeaderError> {
        let Some(b) = self.broadcast.as_mut().filter(|_| !self.gave_up) else {
            return Ok(Vec::new());
        };
        let out = b.propose(zxid, data)?;
        for a in &out {
            match a {
                Action::Send {
                    to,
                    packet: LeaderPacket::Proposal { zxid, .. },
                } => self.liveness.proposal_sent(*to, *zxid, now_ms),
                Action::GiveUp { .. } => self.gave_up = true,
                _ => {}
            }
        }
        Ok(out)
    }

    /// The local log made every txn up to `upto` durable: the leader's own ACKs.
    pub fn on_durable(&mut self, upto: Zxid) -> Vec<Action> {
        match self.broadcast.as_mut() {
            Some(b) if !self.gave_up => b.on_durable(upto),
            _ => Vec::new(),
        }
    }

    /// A learner's forwarded sync reached the leader's pipeline (Leader.processSync).
    pub fn process_sync(&mut self, from: Sid) -> Vec<Action> {
        match self.broadcast.as_mut() {
            Some(b) if !self.gave_up => b.process_sync(from),
            _ => Vec::new(),
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
        if let Some(b) = self.broadcast.as_mut() {
            b.remove_learner(sid);
        }
    }

    /// Turns discovery events into actions and handler moves.
    fn apply(
        &mut self,
        events: Vec<DiscoveryEvent>,
        log: Option<&LogState<'_>>,
        now_ms: u64,
        out: &mut Vec<Action>,
    ) {
        let mut queue = std::collections::VecDeque::from(events);
        while let Some(ev) = queue.pop_front() {
            match ev {
                DiscoveryEvent::AcceptedEpoch(epoch) => {
                    out.push(Action::PersistAcceptedEpoch(epoch));
                    self.broadcast =
                        Some(Broadcast::new(self.liveness_qv(), self.cfg.my_sid, epoch));
                }
                DiscoveryEvent::EpochProposed { sid, epoch } => {
                    let Some(h) = self.learners.get_mut(&sid) else {
                        continue;
                    };
                    if h.version < ZAB_PROTOCOL_VERSION {
                        // Pre-Zab-1.0 learner: no LEADERINFO; its FOLLOWERINFO zxid stands in
                        // for the ACKEPOCH ("we are going to have to extrapolate").
                        let zxid = h.info_zxid;
                        h.phase = Phase::EpochAckBarrier(zxid);
                        let summary = StateSummary {
                            current_epoch: zxid.epoch(),
                            last_zxid: zxid,
                        };
                        match self.discovery.on_ack_epoch(sid, summary, now_ms) {
                            Ok(more) => queue.extend(more),
                            Err(e) => {
                                self.forget(sid);
                                out.push(Action::CloseLearner {
                                    sid,
                                    reason: e.to_string(),
                                });
                            }
                        }
                        continue;
                    }
                    h.phase = Phase::AckEpoch;
                    out.push(Action::Send {
                        to: sid,
                        packet: LeaderPacket::LeaderInfo {
                            zxid: Zxid::new(epoch, 0),
                        },
                    });
                }
                DiscoveryEvent::CurrentEpoch(epoch) => out.push(Action::PersistCurrentEpoch(epoch)),
                DiscoveryEvent::EpochAcked { sid } => match log {
                    Some(log) => self.sync_learner(sid, log, out),
                    // Only a learner's ACKEPOCH can pass this barrier, and it brings the log.
                    None => tracing::error!("learner {} passed the epoch ack without a log", sid.0),
                },
                DiscoveryEvent::NewLeaderAcked { sid } => {
                    self.liveness.sync_check_started(sid);
                    if self.serving {
                        self.up_to_date(sid, out);
                    }
                }
                DiscoveryEvent::Established { zxid } => {
                    if let Some(b) = self.broadcast.as_mut() {
                        b.establish();
                    }
                    self.liveness.start(now_ms);
                    self.serving = true;
                    out.push(Action::Established { zxid });
                    let ready: Vec<Sid> = (self.learners.iter())
                        .filter(|(_, h)| matches!(h.phase, Phase::Startup(_)))
                        .map(|(s, _)| *s)
                        .collect();
                    ready.into_iter().for_each(|s| self.up_to_date(s, out));
                }
                DiscoveryEvent::LearnerTimedOut { sid, reason } => {
                    self.forget(sid);
                    out.push(Action::CloseLearner { sid, reason });
                }
                DiscoveryEvent::GiveUp { reason } => {
                    self.gave_up = true;
                    out.push(Action::GiveUp { reason });
                    return;
                }
            }
        }
    }

    fn liveness_qv(&self) -> Q {
        self.discovery.qv().clone()
    }

    /// LearnerHandler.run from syncFollower to NEWLEADER.
    fn sync_learner(&mut self, sid: Sid, log: &LogState<'_>, out: &mut Vec<Action>) {
        let Some(h) = self.learners.get_mut(&sid) else {
            return;
        };
        let Phase::EpochAckBarrier(peer_last_zxid) = h.phase.clone() else {
            return;
        };
        let plan = plan_sync(peer_last_zxid, log);
        let op = match plan.kind {
            SyncKind::Diff => LeaderPacket::Diff { zxid: plan.zxid },
            SyncKind::Trunc => LeaderPacket::Trunc { zxid: plan.zxid },
            SyncKind::Snap => LeaderPacket::Snap { zxid: plan.zxid },
        };
        out.push(Action::Send {
            to: sid,
            packet: op,
        });
        if plan.kind == SyncKind::Snap {
            out.push(Action::StreamSnapshot { to: sid });
        }
        out.extend(
            plan.stream
                .iter()
                .map(|&range| Action::StreamProposals { to: sid, range }),
        );
        let (learner_type, version) = (h.learner_type, h.version);
        h.phase = Phase::NewLeaderAck;
        if let Some(b) = self.broadcast.as_mut() {
            out.extend(b.start_forwarding(sid, learner_type, plan.forward_from));
        }
        let config = (version >= ZAB_PROTOCOL_VERSION).then(|| self.start.config_bytes.clone());
        out.push(Action::Send {
            to: sid,
            packet: LeaderPacket::NewLeader {
                zxid: self.discovery.new_leader_zxid(),
                config,
            },
        });
        self.liveness.sending_started(sid);
    }

    /// waitForStartup returned: UPTODATE, then the packets that waited unread.
    fn up_to_date(&mut self, sid: Sid, out: &mut Vec<Action>) {
        let Some(h) = self.learners.get_mut(&sid) else {
            return;
        };
        let Phase::Startup(deferred) = std::mem::replace(&mut h.phase, Phase::Serving) else {
            return;
        };
        out.push(Action::Send {
            to: sid,
            packet: LeaderPacket::UpToDate,
        });
        for p in deferred {
            self.serve(sid, p, out);
        }
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
