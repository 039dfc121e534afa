//! One simulated server: its disk, and the role it plays (the real [`Leader`] or
//! [`Learner`] machine), with the driver that performs their actions the way the module
//! guides of `quorum::leader` and `quorum::zab` say a driver must.

use std::collections::BTreeMap;

use bytes::BytesMut;

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
    pub(crate) qv: &'a Majority,
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
    /// A fresh server with an empty disk.
    pub(crate) fn new(sid: Sid, observer: bool) -> Node {
        Node {
            sid,
            observer,
            disk: Disk::default(),
            role: Role::Looking,
            fsync_at_ms: None,
        }
    }

    /// The (currentEpoch, lastZxid, sid) FLE's totalOrderPredicate ranks votes by.
    pub(crate) fn vote(&self) -> (i64, Zxid, Sid) {
        (self.disk.current_epoch, self.disk.last_zxid(), self.sid)
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
            config_version: 0,
            last_seen_config_version: 0,
            reconfig_enabled: true,
            config_members: String::new(),
        };
        let (mut leader, actions) = Leader::new(cfg, ctx.qv.clone(), start, ctx.now_ms);
        leader.set_linearizable_sync(ctx.linearizable_sync, ctx.qv.clone());
        self.role = Role::Leading(Box::new(Leading {
            leader,
            conns: BTreeMap::new(),
            epoch: None,
            processed: self.disk.log.len(),
            counter: 0,
        }));
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
            config_version: 0,
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
