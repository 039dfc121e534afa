//! One simulated server: its disk, and the role it plays (the real [`Leader`] or
//! [`Learner`] machine), with the driver that performs their actions the way the module
//! guides of `quorum::leader` and `quorum::zab` say a driver must.

use std::collections::BTreeMap;

use bytes::BytesMut;

use super::config::View;
use super::disk::{Disk, Txn};
use super::invariants::Record;
use super::net::Net;
use super::{PlantedBug, Rng, COMMIT_LOG_COUNT, INIT_LIMIT, SYNC_LIMIT, TICK_MS};
use crate::jute::Jute;
use crate::proto::quorum::packet::QuorumPacket;
use crate::quorum::leader::sync::{TxnLogRead, TxnLogView};
use crate::quorum::leader::{Leader, LeaderConfig, LeaderStart};
use crate::quorum::zab::{Learner, LearnerConfig, Persisted};
use crate::quorum::{LearnerType, Majority, Sid, Zxid};

/// What a server's event handling may touch besides the server itself.
pub(crate) struct Ctx<'a> {
    pub(crate) now_ms: u64,
    pub(crate) rng: &'a mut Rng,
    pub(crate) net: &'a mut Net,
    pub(crate) rec: &'a mut Record,
    /// Connections closed by this server; the world tells their other ends.
    pub(crate) closed: &'a mut Vec<u64>,
    pub(crate) bug: Option<PlantedBug>,
    pub(crate) flush_at_role_end: bool,
    /// Leaders run with linearizableSync.
    pub(crate) linearizable_sync: bool,
    /// Leaders propose reconfigs, and servers act on the configs the machines activate
    /// (off: they ignore them, as before reconfig was simulated, so old seeds replay).
    pub(crate) reconfigs: bool,
    /// NEWLEADER offers a pending reconfig's config, as the peer's driver has it.
    pub(crate) offer_pending_config: bool,
    /// A new leader carries over a last-seen config whose txn its log lacks.
    pub(crate) last_seen_without_txn: bool,
    /// The servers a reconfig may make voters (participants and the spare).
    pub(crate) participants: &'a [Sid],
    /// A trace of what happened, printed with a failure.
    pub(crate) trace: &'a mut Vec<String>,
}

impl Ctx<'_> {
    fn close(&mut self, conn: u64) {
        self.net.close(conn);
        self.closed.push(conn);
    }
}

/// A leader and the links of its learners.
pub(crate) struct Leading {
    pub(crate) leader: Leader<Majority>,
    /// Connection → the learner's sid, once its FOLLOWERINFO named it.
    pub(crate) conns: BTreeMap<u64, Option<Sid>>,
    /// The epoch, once established (the leader then takes proposals).
    pub(crate) epoch: Option<i64>,
    /// How far the tree has applied: `log[..processed]` (at start, the whole log, as
    /// ZKDatabase loads every logged txn).
    pub(crate) processed: usize,
    /// The last proposed counter.
    pub(crate) counter: i64,
    /// What NEWLEADER offered: its config is activated once the epoch is established.
    pub(crate) newleader: LeaderStart,
    /// The configs this leader's reconfig txns proposed, by zxid.
    pub(crate) reconfigs: BTreeMap<Zxid, View>,
}

/// A learner's connection to its leader.
pub(crate) struct Following {
    pub(crate) leader_sid: Sid,
    pub(crate) conn: u64,
    pub(crate) learner: Learner,
    /// LoadSnapshot was asked: the next thing on the stream is the snapshot.
    pub(crate) awaiting_snapshot: bool,
    /// The zxid of the sync's first packet (DIFF/TRUNC/SNAP): everything logged up to it
    /// is the leader's committed history once UPTODATE comes.
    pub(crate) sync_zxid: Option<Zxid>,
}

/// The role a server plays now.
pub(crate) enum Role {
    /// Crashed; restarts at this time.
    Down { restart_at_ms: u64 },
    /// Waiting for the election.
    Looking,
    /// Leading.
    Leading(Box<Leading>),
    /// Following.
    Following(Box<Following>),
}

/// One server.
pub(crate) struct Node {
    pub(crate) sid: Sid,
    /// An observer: it follows, never votes or leads.
    pub(crate) observer: bool,
    pub(crate) disk: Disk,
    pub(crate) role: Role,
    /// When the log writer's next fsync runs (group commit of everything written by then).
    pub(crate) fsync_at_ms: Option<u64>,
    /// The activated config (the dynamic config file: it survives a crash).
    pub(crate) config: View,
    /// The last config seen proposed or activated (`zoo.cfg.dynamic.next`).
    pub(crate) last_seen: View,
    /// QuorumPeer's reconfigFlag: a committed reconfig designated this leader, so the next
    /// role is taken under it without an election, if it leads before the given time.
    pub(crate) designated: Option<(Sid, u64)>,
}

/// The whole log as one txn-log file.
struct LogFile<'a>(&'a [Txn]);

impl TxnLogView for LogFile<'_> {
    fn read_from(&self, _zxid: Zxid) -> Option<TxnLogRead> {
        // One file: the iterator opens it first, so getStorageSize counts nothing.
        (!self.0.is_empty()).then(|| TxnLogRead {
            zxids: self.0.iter().map(|t| t.0).collect(),
            storage_size: 0,
        })
    }
    fn snapshot_size(&self) -> u64 {
        0
    }
}

fn encode(p: &QuorumPacket) -> Vec<u8> {
    let mut b = BytesMut::new();
    p.write(&mut b);
    b.to_vec()
}

impl Node {
    /// A fresh server with an empty disk, running with `config`.
    pub(crate) fn new(sid: Sid, observer: bool, config: View) -> Node {
        Node {
            sid,
            observer,
            disk: Disk::default(),
            role: Role::Looking,
            fsync_at_ms: None,
            last_seen: config.clone(),
            config,
            designated: None,
        }
    }

    /// The (currentEpoch, lastZxid, sid) FLE's totalOrderPredicate ranks votes by.
    pub(crate) fn vote(&self) -> (i64, Zxid, Sid) {
        (self.disk.current_epoch, self.disk.last_zxid(), self.sid)
    }

    /// The last-seen config a new leader carries over (offers in NEWLEADER, activates once
    /// established): newer than the activated one and, unless
    /// [`SimConfig::last_seen_without_txn`](super::SimConfig), with its reconfig txn in
    /// the log.
    pub(crate) fn carried_last_seen(&self, ctx: &Ctx<'_>) -> Option<&View> {
        let v = &self.last_seen;
        let logged = self.disk.position(Zxid(v.version)).is_some();
        (ctx.reconfigs && v.version > self.config.version && (logged || ctx.last_seen_without_txn))
            .then_some(v)
    }

    /// Whether the server is up and LOOKING.
    pub(crate) fn looking(&self) -> bool {
        matches!(self.role, Role::Looking)
    }

    fn schedule_fsync(&mut self, ctx: &mut Ctx<'_>) {
        if self.fsync_at_ms.is_none() {
            // Mostly quick, sometimes a slow disk.
            let ms = match ctx.rng.below(10) {
                0 => ctx.rng.range(50, 1200),
                _ => ctx.rng.range(1, 20),
            };
            self.fsync_at_ms = Some(ctx.now_ms + ms);
        }
    }

    /// Crash: keep only the durable disk.
    pub(crate) fn crash(&mut self, ctx: &mut Ctx<'_>) {
        ctx.trace
            .push(format!("{} {} crashes", ctx.now_ms, self.sid.0));
        self.drop_role(ctx);
        self.disk.crash();
        ctx.rec.forget(self.sid);
        self.fsync_at_ms = None;
        self.designated = None;
        self.role = Role::Down {
            restart_at_ms: ctx.now_ms + ctx.rng.range(20, 2000),
        };
    }

    /// Ends the current role (closing its connections) and goes LOOKING.
    pub(crate) fn go_looking(&mut self, ctx: &mut Ctx<'_>, why: &str) {
        ctx.trace
            .push(format!("{} {} LOOKING: {why}", ctx.now_ms, self.sid.0));
        self.drop_role(ctx);
        self.role = Role::Looking;
        // ZooKeeperServer.shutdown stops SyncRequestProcessor, whose shutdown flushes the
        // log: the next role starts from a durable log. (Without it the learner once ACKed
        // NEWLEADER over txns a crash then lost: seed 1034 with 5 servers, and the
        // `no_flush_at_role_end` test.)
        if ctx.flush_at_role_end {
            self.disk.sync();
            self.fsync_at_ms = None;
        }
    }

    fn drop_role(&mut self, ctx: &mut Ctx<'_>) {
        match std::mem::replace(&mut self.role, Role::Looking) {
            Role::Leading(l) => l.conns.keys().for_each(|&c| ctx.close(c)),
            Role::Following(f) => ctx.close(f.conn),
            Role::Down { .. } | Role::Looking => {}
        }
    }

    /// FLE chose this server: Leader.lead.
    pub(crate) fn lead(&mut self, ctx: &mut Ctx<'_>) {
        ctx.trace.push(format!(
            "{} {} LEADING {:?}",
            ctx.now_ms,
            self.sid.0,
            self.vote()
        ));
        let cfg = LeaderConfig {
            my_sid: self.sid,
            tick_ms: TICK_MS,
            init_limit: INIT_LIMIT,
            sync_limit: SYNC_LIMIT,
        };
        let start = LeaderStart {
            accepted_epoch: self.disk.accepted_epoch,
            current_epoch: self.disk.current_epoch,
            last_processed_zxid: self.disk.last_zxid(),
            durable_zxid: self.disk.log[..self.disk.durable]
                .last()
                .map_or(Zxid(0), |t| t.0),
            // As the peer's driver does (Java's Leader.lead): NEWLEADER offers the
            // last-seen config when it is newer than the activated one (a reconfig logged
            // whose COMMITANDACTIVATE never came); the machine then needs a quorum of both
            // and activates it once established.
            config_version: self.config.version,
            last_seen_config_version: self
                .carried_last_seen(ctx)
                .map_or(self.config.version, |v| v.version),
            reconfig_enabled: true,
            config_members: if ctx.reconfigs {
                self.carried_last_seen(ctx)
                    .unwrap_or(&self.config)
                    .member_lines()
            } else {
                String::new()
            },
        };
        let qv = self.config.qv();
        let last_seen = self.carried_last_seen(ctx).map(|v| v.qv());
        if last_seen.is_some() {
            ctx.rec.count("leader starts with a newer last-seen config");
            let logged = self.disk.position(Zxid(self.last_seen.version)).is_some();
            if !logged {
                ctx.rec.count("leader's last-seen config not in its log");
            }
            ctx.trace.push(format!(
                "{} {} leads with last-seen config {:x} voters {:?} (its txn logged: {logged})",
                ctx.now_ms,
                self.sid.0,
                self.last_seen.version,
                self.last_seen
                    .voters
                    .iter()
                    .map(|s| s.0)
                    .collect::<Vec<_>>()
            ));
        }
        let (mut leader, actions) =
            Leader::with_last_seen(cfg, qv.clone(), last_seen, start.clone(), ctx.now_ms);
        leader.set_linearizable_sync(ctx.linearizable_sync, qv);
        self.role = Role::Leading(Box::new(Leading {
            leader,
            conns: BTreeMap::new(),
            epoch: None,
            processed: self.disk.log.len(),
            counter: 0,
            newleader: start,
            reconfigs: BTreeMap::new(),
        }));
        // The leader's own NEWLEADER ACK, if its log is durable already, covers the
        // reconfig txn of its last-seen config.
        if let Some(z) = self.newleader_reconfig() {
            if self.disk.position(z).is_some_and(|i| i < self.disk.durable) {
                super::invariants::reconfig::on_ack(ctx.rec, self.sid, z);
            }
        }
        self.leader_actions(ctx, actions);
    }

    /// FLE chose `leader_sid`: connect and send FOLLOWERINFO (Learner.registerWithLeader).
    pub(crate) fn follow(&mut self, ctx: &mut Ctx<'_>, leader_sid: Sid) {
        ctx.trace.push(format!(
            "{} {} FOLLOWING {}",
            ctx.now_ms, self.sid.0, leader_sid.0
        ));
        let cfg = LearnerConfig {
            sid: self.sid,
            learner_type: if self.observer {
                LearnerType::Observer
            } else {
                LearnerType::Participant
            },
            // LearnerInfo's configVersion: a leader with an older config refuses us.
            config_version: if ctx.reconfigs {
                self.config.version
            } else {
                0
            },
            tick_time_ms: TICK_MS,
            init_limit: INIT_LIMIT,
            sync_limit: SYNC_LIMIT,
        };
        let persisted = Persisted {
            accepted_epoch: self.disk.accepted_epoch,
            current_epoch: self.disk.current_epoch,
            last_logged_zxid: self.disk.last_zxid(),
            durable_zxid: self.disk.log[..self.disk.durable]
                .last()
                .map_or(Zxid(0), |t| t.0),
        };
        let mut learner = Learner::new(cfg, persisted);
        let got = learner.start(ctx.now_ms);
        self.role = Role::Following(Box::new(Following {
            leader_sid,
            conn: ctx.net.connect(),
            learner,
            awaiting_snapshot: false,
            sync_zxid: None,
        }));
        self.learner_result(ctx, got);
    }
}

mod following;
mod leading;
mod reconfig;
