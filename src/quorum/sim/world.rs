//! The run: the simulated clock, the event loop over servers and links, the faults, the
//! client workload, and the election stand-in.

use super::config::View;
use super::disk::Disk;
use super::invariants::{check_all, Record};
use super::net::{Net, Wire};
use super::node::{Ctx, Node, Role};
use super::{Rng, SimConfig};
use crate::quorum::Sid;

mod elect;

/// How many trace lines a run reports.
const TRACE_TAIL: usize = 60;

/// Per-millisecond chance (parts per million) that clients ask each leader for a reconfig.
const RECONFIG_PPM: u64 = 1500;

/// A whole ensemble under simulation.
pub(crate) struct World {
    cfg: SimConfig,
    now_ms: u64,
    rng: Rng,
    net: Net,
    rec: Record,
    nodes: Vec<Node>,
    /// The servers a reconfig may make voters: the participants, and the spare.
    participants: Vec<Sid>,
    trace: Vec<String>,
    /// When the current partition heals.
    heal_at_ms: Option<u64>,
}

/// What a finished run reports.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The violations, in order (empty: the run kept every invariant).
    pub(crate) violations: Vec<String>,
    /// How many writes a leader acknowledged.
    pub(crate) acked: usize,
    /// How many epochs were established.
    pub(crate) epochs: usize,
    /// How often each notable event happened.
    pub(crate) counts: std::collections::BTreeMap<String, u64>,
    /// The last lines of the trace.
    pub(crate) trace_tail: Vec<String>,
}

impl World {
    /// An ensemble of `cfg.servers` fresh participants, sids 1..=N, and `cfg.observers`
    /// observers after them.
    pub(crate) fn new(cfg: SimConfig) -> World {
        let sids: Vec<Sid> = (1..=cfg.servers).map(Sid).collect();
        let observers: Vec<Sid> = (1..=cfg.observers).map(|o| Sid(cfg.servers + o)).collect();
        let config = View {
            version: 0,
            voters: sids.iter().copied().collect(),
            observers: observers.iter().copied().collect(),
        };
        let mut nodes: Vec<Node> = (sids.iter().map(|&s| Node::new(s, false, config.clone())))
            .chain(
                observers
                    .iter()
                    .map(|&s| Node::new(s, true, config.clone())),
            )
            .collect();
        let mut participants = sids;
        if cfg.reconfigs {
            // The spare starts as a joiner does: the current config plus itself. No one
            // else counts it, so it follows as a non-voter until a reconfig adds it.
            let spare = Sid(cfg.servers + cfg.observers + 1);
            let mut own = config.clone();
            own.voters.insert(spare);
            nodes.push(Node::new(spare, false, own));
            participants.push(spare);
        }
        World {
            cfg,
            now_ms: 0,
            rng: Rng::new(cfg.seed),
            net: Net::default(),
            rec: Record::default(),
            nodes,
            participants,
            trace: Vec::new(),
            heal_at_ms: None,
        }
    }

    /// Runs `f` on node `i` with a context over the rest of the world, then tells the
    /// other ends of the connections it closed.
    fn on_node(&mut self, i: usize, f: impl FnOnce(&mut Node, &mut Ctx<'_>)) {
        let mut closed = Vec::new();
        let mut ctx = Ctx {
            now_ms: self.now_ms,
            rng: &mut self.rng,
            net: &mut self.net,
            rec: &mut self.rec,
            closed: &mut closed,
            bug: self.cfg.bug,
            flush_at_role_end: self.cfg.flush_at_role_end,
            linearizable_sync: self.cfg.syncs == Some(true),
            reconfigs: self.cfg.reconfigs,
            offer_pending_config: self.cfg.offer_pending_config,
            last_seen_without_txn: self.cfg.last_seen_without_txn,
            participants: &self.participants,
            trace: &mut self.trace,
        };
        f(&mut self.nodes[i], &mut ctx);
        // Closing can cascade (a learner whose link closes goes LOOKING): a worklist.
        while let Some(conn) = closed.pop() {
            for j in 0..self.nodes.len() {
                let mut ctx = Ctx {
                    now_ms: self.now_ms,
                    rng: &mut self.rng,
                    net: &mut self.net,
                    rec: &mut self.rec,
                    closed: &mut closed,
                    bug: self.cfg.bug,
                    flush_at_role_end: self.cfg.flush_at_role_end,
                    linearizable_sync: self.cfg.syncs == Some(true),
                    reconfigs: self.cfg.reconfigs,
                    offer_pending_config: self.cfg.offer_pending_config,
                    last_seen_without_txn: self.cfg.last_seen_without_txn,
                    participants: &self.participants,
                    trace: &mut self.trace,
                };
                let n = &mut self.nodes[j];
                match &n.role {
                    Role::Following(f) if f.conn == conn => n.go_looking(&mut ctx, "link closed"),
                    Role::Leading(_) => n.leader_conn_closed(conn),
                    _ => {}
                }
            }
        }
    }

    fn index(&self, sid: Sid) -> usize {
        (sid.0 - 1) as usize
    }

    /// Runs to the end and reports.
    pub(crate) fn run(mut self) -> Outcome {
        while self.now_ms < self.cfg.duration_ms && self.rec.violations.is_empty() {
            self.step();
            self.now_ms += 1;
        }
        self.check();
        let tail = self.trace.len().saturating_sub(TRACE_TAIL);
        Outcome {
            violations: self.rec.violations,
            acked: self.rec.acked.len(),
            epochs: self.rec.established.len(),
            counts: self.rec.counts,
            trace_tail: self.trace[tail..].to_vec(),
        }
    }

    fn check(&mut self) {
        let disks: Vec<(Sid, &Disk)> = self.nodes.iter().map(|n| (n.sid, &n.disk)).collect();
        check_all(&mut self.rec, &disks);
    }

    fn step(&mut self) {
        while let Some(m) = self.net.pop_due(self.now_ms) {
            let i = self.index(m.to);
            let conn = m.conn;
            match (&self.nodes[i].role, m.wire) {
                (Role::Leading(_), Wire::Packet(b)) => {
                    self.on_node(i, |n, ctx| n.leader_on_packet(ctx, conn, &b))
                }
                (Role::Following(f), w) if f.conn == conn => {
                    self.on_node(i, |n, ctx| n.learner_on_wire(ctx, conn, w))
                }
                // Nobody listens there any more: the connection is refused or reset.
                _ => self.on_node(i, |_, ctx| {
                    ctx.net.close(conn);
                    ctx.closed.push(conn);
                }),
            }
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].fsync_at_ms.is_some_and(|t| t <= self.now_ms) {
                self.on_node(i, |n, ctx| {
                    n.fsync_at_ms = None;
                    n.disk.sync();
                    let upto = n.disk.last_zxid();
                    n.report_durable(ctx, upto);
                });
            }
            self.on_node(i, |n, ctx| {
                n.leader_tick(ctx);
                n.learner_tick(ctx);
            });
        }
        self.faults();
        // Clients write at every leader (one that lost its quorum may still take writes
        // until it notices), in bursts.
        if self.rng.chance_ppm(30_000) {
            for i in 0..self.nodes.len() {
                for _ in 0..self.rng.range(1, 5) {
                    self.on_node(i, |n, ctx| n.client_write(ctx));
                }
            }
        }
        // Reconfigs only when asked for, so other runs replay as before.
        if self.cfg.reconfigs && self.rng.chance_ppm(RECONFIG_PPM) {
            for i in 0..self.nodes.len() {
                self.on_node(i, |n, ctx| n.client_reconfig(ctx));
            }
        }
        // Syncs only when asked for, so other runs replay as before.
        if self.cfg.syncs.is_some() && self.rng.chance_ppm(50_000) {
            for i in 0..self.nodes.len() {
                self.on_node(i, |n, ctx| n.client_sync(ctx));
            }
        }
        if self.now_ms.is_multiple_of(50) {
            self.elect();
            self.check();
        }
    }

    fn faults(&mut self) {
        let n = self.nodes.len() as u64;
        for i in 0..self.nodes.len() {
            match self.nodes[i].role {
                Role::Down { restart_at_ms } if restart_at_ms <= self.now_ms => {
                    self.nodes[i].role = Role::Looking;
                    self.trace
                        .push(format!("{} {} restarts", self.now_ms, i + 1));
                }
                Role::Down { .. } => {}
                _ if self.rng.chance_ppm(self.cfg.crash_ppm) => {
                    // Check first: a crash forgets what was delivered.
                    self.check();
                    self.on_node(i, |n, ctx| n.crash(ctx));
                }
                _ => {}
            }
        }
        if self.heal_at_ms.is_some_and(|t| t <= self.now_ms) {
            self.net.heal();
            self.heal_at_ms = None;
            self.trace.push(format!("{} partition heals", self.now_ms));
        }
        if self.rng.chance_ppm(self.cfg.cut_ppm) {
            let a = Sid(1 + self.rng.below(n));
            // One link in two cuts; otherwise `a` is isolated from everyone.
            let others: Vec<Sid> = match self.rng.below(2) {
                0 => vec![Sid(1 + self.rng.below(n))],
                _ => (1..=n).map(Sid).collect(),
            };
            for b in others.into_iter().filter(|&b| b != a) {
                self.net.cut(a, b);
                self.trace
                    .push(format!("{} cut {}-{}", self.now_ms, a.0, b.0));
            }
            if self.heal_at_ms.is_none() {
                self.heal_at_ms = Some(self.now_ms + self.rng.range(100, 3000));
            }
            self.close_across_partitions();
        }
    }

    /// A cut link closes both ends of every connection across it.
    fn close_across_partitions(&mut self) {
        for i in 0..self.nodes.len() {
            let sid = self.nodes[i].sid;
            let cut = match &self.nodes[i].role {
                Role::Following(f) if !self.net.reachable(sid, f.leader_sid) => Some(f.conn),
                _ => None,
            };
            if let Some(conn) = cut {
                self.on_node(i, |n, ctx| {
                    n.go_looking(ctx, &format!("link to leader cut (conn {conn})"))
                });
            }
        }
    }
}
