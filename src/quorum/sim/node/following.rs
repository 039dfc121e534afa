//! The learner's driver: leader packets in (decoded with `QuorumPacket::from_bytes`), the
//! learner's actions out, the snapshot read off the stream after SNAP.

use bytes::Bytes;

use super::{encode, Ctx, Node, Role};
use crate::jute::Jute;
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::quorum::sim::config::View;
use crate::quorum::sim::disk::Txn;
use crate::quorum::sim::invariants::no_lost_writes;
use crate::quorum::sim::net::Wire;
use crate::quorum::sim::PlantedBug;
use crate::quorum::zab::{ping_reply, Action, ZabError};
use crate::quorum::Zxid;

impl Node {
    /// Something arrived from the leader on `conn`.
    pub(crate) fn learner_on_wire(&mut self, ctx: &mut Ctx<'_>, conn: u64, wire: Wire) {
        let Role::Following(f) = &mut self.role else {
            return;
        };
        if f.conn != conn {
            return;
        }
        let now = ctx.now_ms;
        let got = match wire {
            Wire::Snapshot(txns) if f.awaiting_snapshot => {
                f.awaiting_snapshot = false;
                self.load_snapshot(ctx, txns);
                let Role::Following(f) = &mut self.role else {
                    return;
                };
                f.learner.snapshot_loaded(now)
            }
            Wire::Snapshot(_) => {
                return self.go_looking(ctx, "a snapshot on the stream where packets were due")
            }
            Wire::Packet(_) if f.awaiting_snapshot => {
                return self.go_looking(ctx, "a packet on the stream where the snapshot was due")
            }
            Wire::Packet(bytes) => match QuorumPacket::from_bytes(&bytes) {
                Ok(p) => {
                    if matches!(p.r#type, pt::DIFF | pt::TRUNC | pt::SNAP) {
                        ctx.rec.count(format!("sync {}", pt::name(p.r#type)));
                        ctx.trace.push(format!(
                            "{now} {} gets {} 0x{:x} (log last 0x{:x}, durable {}/{})",
                            self.sid.0,
                            pt::name(p.r#type),
                            p.zxid,
                            self.disk.last_zxid().0,
                            self.disk.durable,
                            self.disk.log.len()
                        ));
                        f.sync_zxid = Some(Zxid(p.zxid));
                    }
                    f.learner.on_packet(now, &p)
                }
                Err(e) => return self.go_looking(ctx, &format!("undecodable packet: {e}")),
            },
        };
        self.learner_result(ctx, got);
    }

    /// SNAP: the tree (here the history) becomes the leader's. A delivered txn the
    /// snapshot lacks would be lost, which PrefixConsistency must not allow.
    fn load_snapshot(&mut self, ctx: &mut Ctx<'_>, txns: Vec<Txn>) {
        let delivered = self.disk.committed;
        if txns.len() < delivered || txns[..delivered] != self.disk.log[..delivered] {
            ctx.rec.violated(
                "PrefixConsistency",
                format!("server {}: SNAP replaces delivered txns", self.sid.0),
            );
            self.disk.committed = 0;
            ctx.rec.forget(self.sid);
        }
        // Simplification: the loaded snapshot counts as on disk at once (Java keeps the old
        // snapshot and log until NEWLEADER's TakeSnapshot).
        self.disk.log = txns;
        self.disk.sync();
    }

    /// Performs a learner call's outcome: its actions, or the end of the connection.
    pub(crate) fn learner_result(&mut self, ctx: &mut Ctx<'_>, got: Result<Vec<Action>, ZabError>) {
        match got {
            Ok(actions) => self.learner_actions(ctx, actions),
            Err(e) => {
                ctx.rec.count(format!(
                    "learner error: {}",
                    e.to_string().split(':').next().unwrap_or("")
                ));
                if e.is_fatal() {
                    // Java would exit the process: in a correct ensemble this never happens.
                    ctx.rec
                        .violated("LearnerFatal", format!("server {}: {e}", self.sid.0));
                }
                self.go_looking(ctx, &e.to_string());
            }
        }
    }

    fn learner_actions(&mut self, ctx: &mut Ctx<'_>, actions: Vec<Action>) {
        // UPTODATE's batch: `Serving` comes first, then (for an observer) the synced txns
        // are applied. The driver performs a batch before it reads a client's request, so
        // what serving means is checked once the batch is done.
        let mut serving = None;
        for a in actions {
            let Role::Following(f) = &mut self.role else {
                return;
            };
            let (sid, leader_sid, conn) = (self.sid, f.leader_sid, f.conn);
            match a {
                Action::Send(p) => {
                    let wire = Wire::Packet(encode(&p));
                    ctx.net
                        .send(ctx.rng, ctx.now_ms, conn, sid, leader_sid, wire);
                }
                Action::PersistAcceptedEpoch(e) => self.disk.accepted_epoch = e,
                Action::PersistCurrentEpoch(e) => self.disk.current_epoch = e,
                Action::Truncate { zxid } => {
                    if let Err(e) = self.disk.truncate(zxid) {
                        ctx.rec.violated(
                            "PrefixConsistency",
                            format!("server {sid}: {e}", sid = sid.0),
                        );
                        ctx.rec.forget(sid);
                    }
                }
                Action::LoadSnapshot { .. } => f.awaiting_snapshot = true,
                // The tree, synced to disk: what was applied survives a crash.
                Action::TakeSnapshot { .. } => self.disk.sync(),
                Action::Apply { entry } => {
                    // A COMMIT of a SNAP/TRUNC sync: part of the leader's committed history.
                    let zxid = Zxid(entry.header.zxid);
                    f.sync_zxid = f.sync_zxid.max(Some(zxid));
                    self.append(ctx, (zxid, Bytes::from(entry.to_bytes().to_vec())));
                }
                Action::Log { zxid, raw, .. } => {
                    self.append(ctx, (zxid, Bytes::from(raw)));
                    self.schedule_fsync(ctx);
                    if ctx.bug == Some(PlantedBug::AckBeforeDurable) {
                        self.report_durable(ctx, zxid);
                    }
                }
                Action::Commit { zxid } => {
                    if let Err(e) = self.disk.deliver_upto(zxid) {
                        ctx.rec
                            .violated("Integrity", format!("server {}: {e}", sid.0));
                    }
                }
                Action::Serving { epoch } => serving = Some(epoch),
                Action::ReplyPing { zxid, authinfo } => {
                    let wire = Wire::Packet(encode(&ping_reply(zxid, authinfo, &[])));
                    ctx.net
                        .send(ctx.rng, ctx.now_ms, conn, sid, leader_sid, wire);
                }
                Action::GoLooking { reason } => return self.go_looking(ctx, &reason),
                // Observer: logged (syncEnabled) and applied at once; it never ACKs.
                Action::CommitInformed { zxid, raw, .. } => {
                    ctx.rec.count("observer applied a txn".to_string());
                    self.append(ctx, (zxid, Bytes::from(raw)));
                    self.schedule_fsync(ctx);
                    if let Err(e) = self.disk.deliver_upto(zxid) {
                        ctx.rec
                            .violated("Integrity", format!("server {}: {e}", sid.0));
                    }
                }
                Action::SeenConfig { config } if ctx.reconfigs => {
                    if let Some(v) = View::parse(&config) {
                        self.seen_config(v);
                    }
                }
                // A major change ends the role here; nothing after it is performed (the
                // next role syncs the rest).
                Action::Activate { config, designated } if ctx.reconfigs => {
                    if self.activate(ctx, &config, designated, leader_sid) {
                        ctx.rec.count("role ends on reconfig");
                        return self.go_looking(ctx, "changes proposed in reconfig");
                    }
                }
                // No sessions or client syncs in the simulation.
                Action::SyncDone
                | Action::Revalidated { .. }
                | Action::Warn(_)
                | Action::SeenConfig { .. }
                | Action::Activate { .. } => {}
            }
        }
        if let Some(epoch) = serving {
            self.serving(ctx, epoch);
        }
    }

    fn append(&mut self, ctx: &mut Ctx<'_>, txn: Txn) {
        if let Err(e) = self.disk.append(txn) {
            ctx.rec
                .violated("LocalPrimaryOrder", format!("server {}: {e}", self.sid.0));
        }
    }

    /// UPTODATE: Zab.tla FollowerProcessCOMMITLD, the synced history is delivered.
    fn serving(&mut self, ctx: &mut Ctx<'_>, epoch: i64) {
        let Role::Following(f) = &self.role else {
            return;
        };
        ctx.trace.push(format!(
            "{} {} serving epoch {epoch}",
            ctx.now_ms, self.sid.0
        ));
        let upto = f.sync_zxid.unwrap_or(Zxid(0));
        // Everything up to the sync point (the DIFF/TRUNC/SNAP zxid, or the last txn a
        // SNAP/TRUNC sync applied); proposals forwarded after it wait for their COMMITs.
        let synced = self.disk.log.partition_point(|t| t.0 <= upto);
        self.disk.committed = self.disk.committed.max(synced);
        no_lost_writes::on_serving(ctx.rec, self.sid, epoch, &self.disk);
    }
}

impl Node {
    /// The learner's timer: the leader went silent for too long.
    pub(crate) fn learner_tick(&mut self, ctx: &mut Ctx<'_>) {
        let Role::Following(f) = &mut self.role else {
            return;
        };
        if f.learner.wake_at_ms().is_some_and(|t| t <= ctx.now_ms) {
            let a = f.learner.tick(ctx.now_ms);
            self.learner_result(ctx, Ok(a));
        }
    }
}
