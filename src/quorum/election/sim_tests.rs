//! A seeded, in-memory simulation of whole elections: servers exchange notifications over a
//! network that delays, reorders, duplicates and drops them; time is simulated. Every run is replayed
//! exactly from its seed (the seed is in every failure message).
//!
//! Invariants checked (names after the properties FLE exists to give Zab):
//! - `Termination`: every server decides.
//! - `Agreement`: one leader; it is LEADING and every other server follows or observes it.
//! - `LeaderIsMaximal` (well-behaved network only): the leader has the highest
//!   (peer epoch, zxid, sid) of all voters, which is what totalOrderPredicate promises when
//!   every vote arrives within finalizeWait.
//! - `LeaderDominatesQuorum` (any network): the leader's vote is at least the initial vote
//!   of a quorum of voters, so it holds every txn a quorum of voters had logged.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::*;
use crate::quorum::{LearnerType, Majority, QuorumVerifier, ServerState, Sid, Zxid};

use crate::rng::Rng;

/// The network and the schedule.
#[derive(Debug, Clone, Copy)]
struct Net {
    start_jitter_ms: u64,
    min_delay_ms: u64,
    max_delay_ms: u64,
    /// Messages between two servers lost, per mille (a server's messages to itself never are).
    drop_per_mille: u64,
    /// Messages delivered twice, per mille (QuorumCnxManager re-sends the last message when a
    /// sender thread restarts).
    dup_per_mille: u64,
    /// How often `haveDelivered()` says no, per mille (then the timeout only reconnects).
    undelivered_per_mille: u64,
    /// Stand in for Zab: a follower whose leader is not LEADING, or a leader without a quorum
    /// of followers, goes back to LOOKING after this long.
    zab_check_ms: Option<u64>,
}

/// Delays below finalizeWait, everyone up within 40 ms, nothing lost.
const CALM: Net = Net {
    start_jitter_ms: 40,
    min_delay_ms: 1,
    max_delay_ms: 50,
    drop_per_mille: 0,
    dup_per_mille: 0,
    undelivered_per_mille: 0,
    zab_check_ms: None,
};

/// Delays beyond finalizeWait, staggered starts, a fifth of the messages lost.
const ROUGH: Net = Net {
    start_jitter_ms: 1500,
    min_delay_ms: 1,
    max_delay_ms: 400,
    drop_per_mille: 200,
    dup_per_mille: 50,
    undelivered_per_mille: 100,
    zab_check_ms: Some(2000),
};

struct Server {
    sid: Sid,
    last_zxid: Zxid,
    current_epoch: i64,
    election: Election,
    start_at: u64,
    started: bool,
    decided: Option<Sid>,
    check_at: Option<u64>,
}

struct Sim {
    rng: Rng,
    net: Net,
    now_ms: u64,
    qv: Majority,
    servers: Vec<Server>,
    /// Messages on their way, earliest first.
    wire: BinaryHeap<Reverse<InFlight>>,
    in_flight: Vec<Option<ToSend>>,
    restarts: u32,
    trace: Vec<String>,
}

/// A message on the wire: (deliver at, sequence, recipient index, sender, index into
/// `in_flight`). The sequence keeps ties in send order, so a run is deterministic; the
/// message itself waits in `in_flight` because ToSend is not Ord.
type InFlight = (u64, u64, usize, Sid, usize);

struct Outcome {
    leader: Sid,
    restarts: u32,
}

impl Sim {
    fn new(seed: u64, voters: usize, observers: usize, net: Net, order: OrderPredicate) -> Sim {
        let mut rng = Rng::new(seed);
        let voter_sids: Vec<Sid> = (1..=voters as u64).map(Sid).collect();
        let observer_sids: Vec<Sid> = (0..observers as u64)
            .map(|i| Sid(voters as u64 + 1 + i))
            .collect();
        let qv = Majority::new(voter_sids.clone(), observer_sids.clone());
        let mut servers = Vec::new();
        for &sid in voter_sids.iter().chain(&observer_sids) {
            // Few distinct values, so ties on epoch and zxid happen and the sid decides.
            let current_epoch = rng.range(1, 2) as i64;
            let last_zxid = Zxid::new(current_epoch, rng.range(0, 3) as i64);
            let learner = if qv.is_voter(sid) {
                LearnerType::Participant
            } else {
                LearnerType::Observer
            };
            let election = Election::new(
                sid,
                learner,
                qv.clone(),
                b"sim".to_vec(),
                last_zxid,
                current_epoch,
            )
            .with_order(order);
            let start_at = rng.range(0, net.start_jitter_ms);
            servers.push(Server {
                sid,
                last_zxid,
                current_epoch,
                election,
                start_at,
                started: false,
                decided: None,
                check_at: None,
            });
        }
        Sim {
            rng,
            net,
            now_ms: 0,
            qv,
            servers,
            wire: BinaryHeap::new(),
            in_flight: Vec::new(),
            restarts: 0,
            trace: Vec::new(),
        }
    }

    fn index(&self, sid: Sid) -> usize {
        self.servers
            .iter()
            .position(|s| s.sid == sid)
            .expect("a known sid")
    }

    fn log(&mut self, line: String) {
        self.trace.push(format!("{:>7} {line}", self.now_ms));
    }

    fn perform(&mut self, i: usize, out: Output) {
        let from = self.servers[i].sid;
        for action in out.actions {
            match action {
                Action::Send { to, msg } => {
                    if to != from && self.rng.per_mille(self.net.drop_per_mille) {
                        continue;
                    }
                    let copies = if self.rng.per_mille(self.net.dup_per_mille) {
                        2
                    } else {
                        1
                    };
                    for _ in 0..copies {
                        let delay = self.rng.range(self.net.min_delay_ms, self.net.max_delay_ms);
                        let key = self.in_flight.len();
                        self.in_flight.push(Some(msg.clone()));
                        let entry = (self.now_ms + delay, key as u64, self.index(to), from, key);
                        self.wire.push(Reverse(entry));
                    }
                }
                Action::ConnectAll => {}
                Action::Decided {
                    leader,
                    state,
                    vote,
                } => {
                    self.log(format!(
                        "{from:?} decides {state:?} under {leader:?} ({vote:?})"
                    ));
                    self.servers[i].decided = Some(leader);
                    self.servers[i].check_at = self.net.zab_check_ms.map(|d| self.now_ms + d);
                }
            }
        }
    }

    /// What Zab would find out: can this server run the role it decided?
    fn role_holds(&self, i: usize) -> bool {
        let me = &self.servers[i];
        match (me.election.state(), me.decided) {
            (ServerState::Leading, Some(_)) => {
                let acks = self
                    .servers
                    .iter()
                    .filter(|s| {
                        s.decided == Some(me.sid) && s.election.state() != ServerState::Looking
                    })
                    .map(|s| s.sid)
                    .collect();
                self.qv.contains_quorum(&acks)
            }
            (ServerState::Looking, _) | (_, None) => true,
            (_, Some(leader)) => {
                let l = &self.servers[self.index(leader)];
                l.election.state() == ServerState::Leading && l.decided == Some(leader)
            }
        }
    }

    fn stable(&self) -> Option<Sid> {
        let leader = self
            .servers
            .iter()
            .find(|s| s.election.state() == ServerState::Leading)?
            .sid;
        let all_under_leader = self
            .servers
            .iter()
            .all(|s| s.election.state() != ServerState::Looking && s.decided == Some(leader));
        (all_under_leader && (0..self.servers.len()).all(|i| self.role_holds(i))).then_some(leader)
    }

    fn run(&mut self, limit_ms: u64) -> Result<Outcome, String> {
        loop {
            if let Some(leader) = self.stable() {
                return Ok(Outcome {
                    leader,
                    restarts: self.restarts,
                });
            }
            let next = self
                .servers
                .iter()
                .flat_map(|s| {
                    let start = (!s.started).then_some(s.start_at);
                    [start, s.election.next_wakeup_ms(), s.check_at]
                })
                .flatten()
                .chain(self.wire.peek().map(|Reverse(m)| m.0))
                .min();
            let Some(next) = next else {
                return Err("Termination: nothing left to happen and no stable leader".into());
            };
            if next > limit_ms {
                return Err(format!("Termination: no stable leader after {limit_ms} ms"));
            }
            self.now_ms = next.max(self.now_ms);
            self.step();
        }
    }

    fn step(&mut self) {
        let now = self.now_ms;
        for i in 0..self.servers.len() {
            let s = &mut self.servers[i];
            if !s.started && s.start_at <= now {
                s.started = true;
                let out = s.election.start(now, s.last_zxid, s.current_epoch);
                self.perform(i, out);
            }
        }
        while self.wire.peek().is_some_and(|Reverse(m)| m.0 <= now) {
            let Some(Reverse((_, _, to, from, key))) = self.wire.pop() else {
                break;
            };
            let msg = self.in_flight[key].take().expect("delivered once");
            let out =
                self.servers[to]
                    .election
                    .on_notification(from, msg.into_notification(from), now);
            self.perform(to, out);
        }
        for i in 0..self.servers.len() {
            if self.servers[i]
                .election
                .next_wakeup_ms()
                .is_some_and(|t| t <= now)
            {
                let delivered = !self.rng.per_mille(self.net.undelivered_per_mille);
                let out = self.servers[i].election.tick(now, delivered);
                self.perform(i, out);
            }
            if self.servers[i].check_at.is_some_and(|t| t <= now) {
                self.servers[i].check_at = self.net.zab_check_ms.map(|d| now + d);
                if !self.role_holds(i) {
                    let s = &mut self.servers[i];
                    s.decided = None;
                    s.check_at = None;
                    let out = s.election.start(now, s.last_zxid, s.current_epoch);
                    self.restarts += 1;
                    self.log(format!(
                        "{:?} gives up its role and looks again",
                        self.servers[i].sid
                    ));
                    self.perform(i, out);
                }
            }
        }
    }

    fn init_proposal(&self, sid: Sid) -> Proposal {
        let s = &self.servers[self.index(sid)];
        Proposal {
            leader: s.sid,
            zxid: s.last_zxid,
            peer_epoch: s.current_epoch,
        }
    }

    fn check_leader_is_maximal(&self, leader: Sid) -> Result<(), String> {
        let best = self
            .qv
            .voting_members()
            .iter()
            .map(|&sid| self.init_proposal(sid))
            .max_by_key(|p| (p.peer_epoch, p.zxid, p.leader.as_i64()))
            .expect("voters");
        if best.leader != leader {
            return Err(format!(
                "LeaderIsMaximal: elected {leader:?}, but {best:?} is the highest vote"
            ));
        }
        Ok(())
    }

    fn check_leader_dominates_quorum(&self, leader: Sid) -> Result<(), String> {
        let lead = self.init_proposal(leader);
        let key = |p: &Proposal| (p.peer_epoch, p.zxid, p.leader.as_i64());
        let dominated = self
            .qv
            .voting_members()
            .iter()
            .copied()
            .filter(|&sid| key(&self.init_proposal(sid)) <= key(&lead))
            .collect();
        if !self.qv.contains_quorum(&dominated) {
            return Err(format!(
                "LeaderDominatesQuorum: {lead:?} beats only {dominated:?}"
            ));
        }
        Ok(())
    }
}

/// Runs one seed and checks every invariant that the network allows.
fn check(
    seed: u64,
    voters: usize,
    observers: usize,
    net: Net,
    order: OrderPredicate,
) -> Result<Outcome, String> {
    let mut sim = Sim::new(seed, voters, observers, net, order);
    let result = sim.run(600_000).and_then(|outcome| {
        if net.drop_per_mille == 0 && net.zab_check_ms.is_none() {
            sim.check_leader_is_maximal(outcome.leader)?;
        }
        sim.check_leader_dominates_quorum(outcome.leader)?;
        Ok(outcome)
    });
    result.map_err(|e| {
        let tail = sim.trace.len().saturating_sub(20);
        format!(
            "seed {seed} ({voters} voters, {observers} observers): {e}\n{}",
            sim.trace[tail..].join("\n")
        )
    })
}

#[test]
fn three_servers_on_a_calm_network_elect_the_highest_vote() {
    for seed in 0..200 {
        let outcome =
            check(seed, 3, 0, CALM, total_order_predicate).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome.restarts, 0);
    }
}

#[test]
fn five_servers_and_an_observer_on_a_calm_network_elect_the_highest_vote() {
    for seed in 0..200 {
        let outcome =
            check(seed, 5, 1, CALM, total_order_predicate).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(outcome.restarts, 0);
    }
}

#[test]
fn three_and_five_servers_on_a_lossy_network_settle_on_a_dominating_leader() {
    for seed in 0..100 {
        for (voters, observers) in [(3, 0), (5, 1)] {
            check(seed, voters, observers, ROUGH, total_order_predicate)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn a_run_replays_exactly_from_its_seed() {
    let trace = |seed| {
        let mut sim = Sim::new(seed, 5, 1, ROUGH, total_order_predicate);
        sim.run(600_000).map(|o| o.leader).ok();
        (sim.trace, sim.now_ms)
    };
    assert_eq!(trace(7), trace(7));
}

/// A planted bug: an order that forgets the zxid. The simulator must catch it.
fn ignores_zxid(new: &Proposal, cur: &Proposal, new_weight: u64) -> bool {
    new_weight != 0 && (new.peer_epoch, new.leader.as_i64()) > (cur.peer_epoch, cur.leader.as_i64())
}

#[test]
fn the_simulator_catches_a_predicate_that_ignores_the_zxid() {
    let caught: Vec<String> = (0..50)
        .filter_map(|seed| check(seed, 3, 0, CALM, ignores_zxid).err())
        .collect();
    assert!(
        !caught.is_empty(),
        "a broken totalOrderPredicate went unnoticed in 50 seeds"
    );
    assert!(caught
        .iter()
        .all(|e| e.contains("LeaderIsMaximal") || e.contains("LeaderDominatesQuorum")));
    // The same seeds pass with the real predicate, so it is the bug that fails them.
    for seed in 0..50 {
        check(seed, 3, 0, CALM, total_order_predicate).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn on_a_lossy_network_fle_alone_splits_and_need_not_pick_the_highest() {
    // Not a bug: this is why Zab, not FLE, has the last word. Losses beyond finalizeWait let
    // servers decide for different leaders (the Zab stand-in sends them back to LOOKING),
    // and a server whose vote was lost joins the ensemble that formed without it.
    let (mut restarts, mut not_highest) = (0, 0);
    for seed in 0..100 {
        let mut sim = Sim::new(seed, 5, 1, ROUGH, total_order_predicate);
        let outcome = sim
            .run(600_000)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        restarts += outcome.restarts;
        not_highest += u32::from(sim.check_leader_is_maximal(outcome.leader).is_err());
    }
    assert!(
        restarts > 0,
        "the lossy network never split an election: it tests too little"
    );
    assert!(
        not_highest > 0,
        "every lossy run elected the highest vote: it tests too little"
    );
}

/// The same checks over many more seeds: `cargo test --lib many_seeds -- --ignored`.
#[test]
#[ignore]
fn many_seeds() {
    for seed in 0..5000 {
        for (voters, observers) in [(3, 0), (4, 0), (5, 1), (7, 2)] {
            check(seed, voters, observers, CALM, total_order_predicate)
                .unwrap_or_else(|e| panic!("{e}"));
            check(seed, voters, observers, ROUGH, total_order_predicate)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}
