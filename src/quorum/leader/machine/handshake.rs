//! The handshake half of [`Leader`]: what each discovery event does to the learners
//! (LearnerHandler.run from LEADERINFO to UPTODATE).

use super::{Leader, Phase};
use crate::proto::quorum::payload::ZAB_PROTOCOL_VERSION;
use crate::quorum::leader::broadcast::Broadcast;
use crate::quorum::leader::epoch::DiscoveryEvent;
use crate::quorum::leader::sync::{plan_sync, LogSource, LogState, SyncKind};
use crate::quorum::leader::{Action, LeaderPacket, StateSummary};
use crate::quorum::{QuorumVerifier, Sid, Zxid};

impl<Q: QuorumVerifier + Clone> Leader<Q> {
    /// Turns discovery events into actions and handler moves.
    pub(super) fn apply(
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
                    self.activate_last_seen(zxid, out);
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
        // Where the txns come from, as LearnerHandler logs it ("Use txnlog and committedLog
        // for peer sid"); the ensemble suite reads this line.
        let from_txnlog = plan.stream.iter().any(|r| r.source == LogSource::TxnLog);
        let source = match (plan.kind, from_txnlog, plan.stream.is_empty()) {
            (SyncKind::Snap, _, _) => "snapshot",
            (_, true, _) => "txnlog and committedLog",
            (_, false, false) => "committedLog",
            (_, false, true) => "nothing to send",
        };
        tracing::info!(
            "sync of learner sid: {}: {:?} 0x{} from {source}",
            sid.0,
            plan.kind,
            crate::quorum::leader::hex(plan.zxid)
        );
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
        let epoch = self.discovery.epoch();
        let config = (version >= ZAB_PROTOCOL_VERSION).then(|| self.start.new_leader_config(epoch));
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
        if let Some(c) = self.confirm.as_mut() {
            c.up_to_date(sid);
        }
        for p in deferred {
            self.serve(sid, p, out);
        }
    }
}
