//! The leader's driver: learner packets in (decoded from the wire with
//! `LearnerPacket::decode`), the leader's actions out.

use bytes::{Bytes, BytesMut};

use super::{Ctx, LogFile, Node, Role, COMMIT_LOG_COUNT};
use crate::jute::Jute;
use crate::proto::codes::op;
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::txn::{CreateSessionTxn, Txn, TxnEntry, TxnHeader};
use crate::quorum::leader::sync::{LogState, StreamRange};
use crate::quorum::leader::{Action, LeaderPacket, LearnerPacket};
use crate::quorum::sim::invariants::{
    integrity, leader_completeness, leadership, linearizable_sync, reconfig,
};
use crate::quorum::sim::net::Wire;
use crate::quorum::sim::PlantedBug;
use crate::quorum::{Sid, Zxid};

/// A small valid txn for `zxid`: a createSession, as a client's connect makes.
pub(crate) fn txn_bytes(zxid: Zxid) -> Bytes {
    TxnEntry {
        header: TxnHeader {
            client_id: 0x0100_0000_0000_0000 + zxid.0,
            cxid: 0,
            zxid: zxid.0,
            time: 1_700_000_000_000,
            r#type: op::CREATE_SESSION,
        },
        txn: Txn::CreateSession(CreateSessionTxn { time_out: 30_000 }),
        digest: None,
    }
    .to_bytes()
    .freeze()
}

impl Node {
    /// A packet from a learner's connection.
    pub(crate) fn leader_on_packet(&mut self, ctx: &mut Ctx<'_>, conn: u64, bytes: &[u8]) {
        let Role::Leading(l) = &self.role else { return };
        let known = l.conns.get(&conn).copied();
        let p = match QuorumPacket::from_bytes(bytes) {
            Ok(p) => p,
            Err(e) => return self.leader_refuse(ctx, conn, known.flatten(), e.to_string()),
        };
        let packet = match LearnerPacket::decode(p.r#type, p.zxid, p.data.as_deref(), p.authinfo) {
            Ok(p) => p,
            Err(e) => return self.leader_refuse(ctx, conn, known.flatten(), e.to_string()),
        };
        if let (Some(Some(sid)), LearnerPacket::Ack { zxid }) = (known, &packet) {
            reconfig::on_ack(ctx.rec, sid, *zxid);
            // A NEWLEADER ACK: the learner logged the leader's history, the reconfig txn of
            // its last-seen config included.
            if let (0, Some(z)) = (zxid.counter(), self.newleader_reconfig()) {
                reconfig::on_ack(ctx.rec, sid, z);
            }
        }
        let now = ctx.now_ms;
        let result = {
            let Self { role, disk, .. } = self;
            let Role::Leading(l) = role else { return };
            // ZKDatabase's committedLog (the newest processed txns) and the txn log.
            let committed: Vec<Zxid> = disk.log
                [l.processed.saturating_sub(COMMIT_LOG_COUNT)..l.processed]
                .iter()
                .map(|t| t.0)
                .collect();
            let file = LogFile(&disk.log);
            let log = LogState {
                last_processed_zxid: l
                    .processed
                    .checked_sub(1)
                    .map_or(Zxid(0), |i| disk.log[i].0),
                committed_log: &committed,
                txn_log: &file,
                snapshot_size_factor: 0.33,
                force_snap_sync: false,
            };
            match known {
                Some(Some(sid)) => l.leader.on_packet(sid, packet, &log, now).map(|a| (sid, a)),
                _ => {
                    let r = l.leader.on_learner_info(packet, &log, now);
                    if let Ok((sid, _)) = &r {
                        // A learner reconnecting replaces its old link.
                        let old: Vec<u64> = (l.conns.iter())
                            .filter(|(_, s)| **s == Some(*sid))
                            .map(|(c, _)| *c)
                            .collect();
                        for c in old {
                            l.conns.remove(&c);
                            ctx.close(c);
                        }
                        l.conns.insert(conn, Some(*sid));
                    }
                    r
                }
            }
        };
        match result {
            Ok((_, actions)) => self.leader_actions(ctx, actions),
            Err(e) => self.leader_refuse(ctx, conn, known.flatten(), e.to_string()),
        }
    }

    /// A learner's packet was refused: close its link (the machine forgot it already).
    fn leader_refuse(&mut self, ctx: &mut Ctx<'_>, conn: u64, sid: Option<Sid>, why: String) {
        ctx.rec.count(format!(
            "leader closes learner: {}",
            why.split(&[':', ',']).next().unwrap_or("")
        ));
        ctx.trace.push(format!(
            "{} {} closes conn {conn} ({sid:?}): {why}",
            ctx.now_ms, self.sid.0
        ));
        if let Role::Leading(l) = &mut self.role {
            l.conns.remove(&conn);
        }
        ctx.close(conn);
    }

    /// The learner's end of `conn` closed it.
    pub(crate) fn leader_conn_closed(&mut self, conn: u64) {
        if let Role::Leading(l) = &mut self.role {
            if let Some(sid) = l.conns.remove(&conn).flatten() {
                l.leader.remove_learner(sid);
            }
        }
    }

    fn conn_of(&self, sid: Sid) -> Option<u64> {
        let Role::Leading(l) = &self.role else {
            return None;
        };
        l.conns
            .iter()
            .find(|(_, s)| **s == Some(sid))
            .map(|(c, _)| *c)
    }

    fn send_to(&mut self, ctx: &mut Ctx<'_>, to: Sid, wire: Wire) {
        if let Some(conn) = self.conn_of(to) {
            ctx.net.send(ctx.rng, ctx.now_ms, conn, self.sid, to, wire);
        }
    }

    fn send_packet(&mut self, ctx: &mut Ctx<'_>, to: Sid, packet: &LeaderPacket) {
        let mut b = BytesMut::new();
        packet.encode(&mut b);
        self.send_to(ctx, to, Wire::Packet(b.to_vec()));
    }

    /// Performs the leader's actions, in order.
    pub(crate) fn leader_actions(&mut self, ctx: &mut Ctx<'_>, actions: Vec<Action>) {
        for a in actions {
            if !matches!(self.role, Role::Leading(_)) {
                return;
            }
            match a {
                Action::Send { to, packet } => self.send_packet(ctx, to, &packet),
                Action::PersistAcceptedEpoch(e) => self.disk.accepted_epoch = e,
                Action::PersistCurrentEpoch(e) => self.disk.current_epoch = e,
                Action::StreamSnapshot { to } => {
                    let Role::Leading(l) = &self.role else { return };
                    let snap = self.disk.log[..l.processed].to_vec();
                    self.send_to(ctx, to, Wire::Snapshot(snap));
                }
                Action::StreamProposals { to, range } => self.stream(ctx, to, range),
                Action::Established { zxid } => self.established(ctx, zxid.epoch()),
                Action::Activate { zxid, designated } if ctx.reconfigs => {
                    self.leader_activate(ctx, zxid, designated)
                }
                Action::Commit { zxid } => self.leader_commit(ctx, zxid),
                Action::CloseLearner { sid, reason } => {
                    if let Some(conn) = self.conn_of(sid) {
                        self.leader_refuse(ctx, conn, Some(sid), reason);
                    }
                }
                Action::GiveUp { reason } => {
                    ctx.rec.count(format!(
                        "leader gives up: {}",
                        reason.split(',').next().unwrap_or("")
                    ));
                    self.go_looking(ctx, &reason)
                }
                // The token is the time the client issued the sync.
                Action::SyncConfirmed { token } => {
                    let Role::Leading(l) = &self.role else { return };
                    let history = &self.disk.log[..l.processed];
                    linearizable_sync::on_answered(ctx.rec, self.sid, token, history);
                }
                // No sessions and no client requests from learners in the simulation.
                Action::Forwarded { .. }
                | Action::Revalidate { .. }
                | Action::Touch { .. }
                | Action::Activate { .. } => {}
            }
        }
    }

    /// PROPOSAL then COMMIT for each logged txn in `range` (LearnerHandler.queueCommittedProposals).
    fn stream(&mut self, ctx: &mut Ctx<'_>, to: Sid, range: StreamRange) {
        let txns: Vec<_> = (self.disk.log.iter())
            .filter(|t| t.0 > range.after && t.0 <= range.upto)
            .cloned()
            .collect();
        for (zxid, data) in txns {
            self.send_packet(ctx, to, &LeaderPacket::Proposal { zxid, data });
            self.send_packet(ctx, to, &LeaderPacket::Commit { zxid });
        }
    }

    fn established(&mut self, ctx: &mut Ctx<'_>, epoch: i64) {
        ctx.trace.push(format!(
            "{} {} established epoch {epoch}",
            ctx.now_ms, self.sid.0
        ));
        leadership::on_established(ctx.rec, epoch, self.sid);
        leader_completeness::on_established(ctx.rec, self.sid, epoch, &self.disk);
        reconfig::on_established(ctx.rec, self.sid, epoch, &self.disk);
        if ctx.reconfigs {
            self.leader_activate_newleader(ctx, epoch);
        }
        let Role::Leading(l) = &mut self.role else {
            return;
        };
        l.epoch = Some(epoch);
        if ctx.bug == Some(PlantedBug::ReconfigOldQuorumOnly) {
            if let Some(b) = l.leader.broadcast_mut() {
                b.old_quorum_only = true;
            }
        }
        // Zab.tla LeaderProcessACKLD: the initial history is committed.
        self.disk.committed = self.disk.committed.max(l.processed);
    }

    fn leader_commit(&mut self, ctx: &mut Ctx<'_>, zxid: Zxid) {
        if let Err(e) = self.disk.deliver_upto(zxid) {
            ctx.rec
                .violated("Integrity", format!("leader {}: {e}", self.sid.0));
            return;
        }
        let Role::Leading(l) = &mut self.role else {
            return;
        };
        l.processed = l.processed.max(self.disk.committed);
        l.leader.applied(zxid);
        if let Some(i) = self.disk.position(zxid) {
            let data = &self.disk.log[i].1;
            reconfig::on_committed(ctx.rec, self.sid, zxid, data, self.config.version);
            ctx.rec.acked.insert(zxid, self.disk.log[i].1.clone());
            ctx.rec.acked_at.push((ctx.now_ms, zxid));
        }
    }

    /// A client of this leader sends a sync (then reads here): answered by SyncConfirmed,
    /// whose token is now.
    pub(crate) fn client_sync(&mut self, ctx: &mut Ctx<'_>) {
        let Role::Leading(l) = &mut self.role else {
            return;
        };
        if l.epoch.is_none() {
            return;
        }
        ctx.rec.count("client sync");
        let actions = l.leader.local_sync(ctx.now_ms);
        self.leader_actions(ctx, actions);
    }

    /// The client workload: propose the next txn if established.
    pub(crate) fn client_write(&mut self, ctx: &mut Ctx<'_>) {
        let Role::Leading(l) = &mut self.role else {
            return;
        };
        let Some(epoch) = l.epoch else { return };
        let zxid = Zxid::new(epoch, l.counter + 1);
        let data = txn_bytes(zxid);
        let actions = match l.leader.propose(zxid, data.clone(), ctx.now_ms) {
            Ok(a) => a,
            Err(e) => {
                ctx.trace.push(format!(
                    "{} {} propose refused: {e}",
                    ctx.now_ms, self.sid.0
                ));
                return;
            }
        };
        l.counter += 1;
        integrity::on_proposed(ctx.rec, self.sid, zxid, data.clone());
        self.logged_proposal(ctx, zxid, data, actions);
    }

    /// A proposal went out: log it, perform its actions, and put back the planted bug.
    pub(crate) fn logged_proposal(
        &mut self,
        ctx: &mut Ctx<'_>,
        zxid: Zxid,
        data: Bytes,
        actions: Vec<Action>,
    ) {
        // Leader.propose sends first; SyncRequestProcessor then logs it.
        if let Err(e) = self.disk.append((zxid, data)) {
            ctx.rec
                .violated("LocalPrimaryOrder", format!("leader {}: {e}", self.sid.0));
        }
        self.schedule_fsync(ctx);
        self.leader_actions(ctx, actions);
        match ctx.bug {
            Some(PlantedBug::AckBeforeDurable) => self.report_durable(ctx, zxid),
            Some(PlantedBug::PhantomAcks) => self.phantom_acks(ctx, zxid),
            Some(PlantedBug::ReconfigOldQuorumOnly) | None => {}
        }
    }

    /// The planted [`PlantedBug::PhantomAcks`]: ACKs no follower sent.
    fn phantom_acks(&mut self, ctx: &mut Ctx<'_>, zxid: Zxid) {
        let Role::Leading(l) = &mut self.role else {
            return;
        };
        let Some(b) = l.leader.broadcast() else {
            return;
        };
        let followers: Vec<Sid> = b.forwarding_followers().iter().copied().collect();
        let log = LogState {
            last_processed_zxid: Zxid(0),
            committed_log: &[],
            txn_log: &LogFile(&[]),
            snapshot_size_factor: 0.33,
            force_snap_sync: false,
        };
        let mut actions = Vec::new();
        for sid in followers {
            if let Ok(a) = l
                .leader
                .on_packet(sid, LearnerPacket::Ack { zxid }, &log, ctx.now_ms)
            {
                actions.extend(a);
            }
        }
        self.leader_actions(ctx, actions);
    }

    /// The log writer made everything up to `upto` durable.
    pub(crate) fn report_durable(&mut self, ctx: &mut Ctx<'_>, upto: Zxid) {
        match &mut self.role {
            Role::Leading(l) => {
                // The leader's own ACKs of its reconfigs (AckRequestProcessor).
                for z in l.reconfigs.keys().filter(|z| **z <= upto) {
                    reconfig::on_ack(ctx.rec, self.sid, *z);
                }
                // And of the reconfig txn of a last-seen config NEWLEADER offers.
                if let Some(z) = self.newleader_reconfig().filter(|z| *z <= upto) {
                    reconfig::on_ack(ctx.rec, self.sid, z);
                }
                let Role::Leading(l) = &mut self.role else {
                    return;
                };
                let a = l.leader.on_durable(upto, ctx.now_ms);
                self.leader_actions(ctx, a);
            }
            Role::Following(f) => {
                let got = f.learner.durable(upto);
                self.learner_result(ctx, got);
            }
            Role::Down { .. } | Role::Looking => {}
        }
    }

    /// The reconfig txn of the newer last-seen config this leader's NEWLEADER offers, if
    /// its log holds it (learners that ACK NEWLEADER logged it: their ACKs count for it).
    pub(crate) fn newleader_reconfig(&self) -> Option<Zxid> {
        let Role::Leading(_) = &self.role else {
            return None;
        };
        let z = Zxid(self.last_seen.version);
        (self.last_seen.version > self.config.version && self.disk.position(z).is_some())
            .then_some(z)
    }

    /// The leader's timer.
    pub(crate) fn leader_tick(&mut self, ctx: &mut Ctx<'_>) {
        let Role::Leading(l) = &mut self.role else {
            return;
        };
        if l.leader.next_wakeup_ms().is_some_and(|t| t <= ctx.now_ms) {
            let a = l.leader.on_tick(ctx.now_ms);
            self.leader_actions(ctx, a);
        }
    }
}
