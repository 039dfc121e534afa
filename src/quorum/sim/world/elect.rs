//! The election stand-in (the election machine is not run). A LOOKING server that can
//! reach a LEADING one follows it (FLE returns the established leader). Otherwise, if
//! LOOKING servers that all reach each other hold a quorum, the one with the highest
//! (currentEpoch, lastZxid, sid) leads and the others follow it (FLE's
//! totalOrderPredicate over a quorum of votes).
//!
//! With reconfigs, as FLE does it: each server counts votes by its own config, and a
//! LOOKING server adopts a newer config it hears of (WorkerReceiver's processReconfig of
//! a notification's config); a server whose role ended on a reconfig takes the role the
//! reconfig designated without an election (QuorumPeer's reconfigFlag). A server whose
//! last-seen config (a reconfig logged, not activated) is newer than its activated one
//! needs a quorum of both to decide (FLE with `set_last_seen`), as Java's does.

use std::collections::BTreeSet;

use super::World;
use crate::quorum::sim::node::Role;
use crate::quorum::{QuorumVerifier, Sid};

impl World {
    pub(super) fn elect(&mut self) {
        if self.cfg.reconfigs {
            self.take_designated();
            self.gossip_configs();
        }
        let leaders: Vec<Sid> = (self.nodes.iter())
            .filter(|n| matches!(n.role, Role::Leading(_)))
            .map(|n| n.sid)
            .collect();
        for i in 0..self.nodes.len() {
            let sid = self.nodes[i].sid;
            if !self.nodes[i].looking() || self.nodes[i].designated.is_some() {
                continue;
            }
            if let Some(&l) = leaders.iter().find(|&&l| self.net.reachable(sid, l)) {
                self.on_node(i, |n, ctx| n.follow(ctx, l));
            }
        }
        // Observers take no part in an election (they only follow what one settled).
        let looking: Vec<Sid> = (self.nodes.iter())
            .filter(|n| n.looking() && !n.observer && n.designated.is_none())
            .map(|n| n.sid)
            .collect();
        // Start from each LOOKING server: those it reaches that also reach each other.
        for &s in &looking {
            let group: Vec<Sid> = (looking.iter().copied())
                .filter(|&o| self.net.reachable(s, o))
                .collect();
            let clique = group
                .iter()
                .all(|&a| group.iter().all(|&b| a == b || self.net.reachable(a, b)));
            if !clique {
                continue;
            }
            // A candidate wins with a quorum of its own config among the servers whose
            // config counts it as a voter (FLE ignores votes for and from non-voters; a
            // server proposes itself only as a voter of its activated config). With a
            // newer last-seen config it needs a quorum of that one too (SyncedLearnerTracker
            // over both views), its voters counting as well (validVoter).
            let wins = |w: Sid| {
                let n = &self.nodes[self.index(w)];
                let supporters: BTreeSet<Sid> = (group.iter().copied())
                    .filter(|&g| self.nodes[self.index(g)].config.voters.contains(&w))
                    .collect();
                let next_ok = n.last_seen.version <= n.config.version
                    || n.last_seen.qv().contains_quorum(&supporters);
                n.config.voters.contains(&w)
                    && n.config.qv().contains_quorum(&supporters)
                    && next_ok
            };
            let Some(winner) = (group.iter().copied())
                .filter(|&w| wins(w))
                .max_by_key(|&w| self.nodes[self.index(w)].vote())
            else {
                continue;
            };
            let votes: Vec<String> = (group.iter())
                .map(|&g| format!("{:?}", self.nodes[self.index(g)].vote()))
                .collect();
            self.trace.push(format!(
                "{} election among {}",
                self.now_ms,
                votes.join(" ")
            ));
            let w = self.index(winner);
            self.on_node(w, |n, ctx| n.lead(ctx));
            for &g in group.iter().filter(|&&g| g != winner) {
                let gi = self.index(g);
                self.on_node(gi, |n, ctx| n.follow(ctx, winner));
            }
            return;
        }
    }

    /// Roles a reconfig designated: the designated leader leads at once, then the others
    /// follow it once it leads (or, past their wait, look for a leader as usual).
    fn take_designated(&mut self) {
        for leaders_first in [true, false] {
            for i in 0..self.nodes.len() {
                let (sid, Some((d, until))) = (self.nodes[i].sid, self.nodes[i].designated) else {
                    continue;
                };
                if !self.nodes[i].looking() || (d == sid) != leaders_first {
                    continue;
                }
                let leading = matches!(self.nodes[self.index(d)].role, Role::Leading(_));
                if d == sid || (leading && self.net.reachable(sid, d)) {
                    self.nodes[i].designated = None;
                    self.rec.count("designated role taken");
                    self.on_node(i, |n, ctx| {
                        ctx.trace.push(format!(
                            "{} {} takes the designated role",
                            ctx.now_ms, sid.0
                        ));
                        if d == sid {
                            n.lead(ctx)
                        } else {
                            n.follow(ctx, d)
                        }
                    });
                } else if self.now_ms >= until {
                    self.nodes[i].designated = None;
                }
            }
        }
    }

    /// A LOOKING server adopts the newest config among the servers it reaches: FLE's
    /// notifications carry each sender's activated config.
    fn gossip_configs(&mut self) {
        for i in 0..self.nodes.len() {
            let sid = self.nodes[i].sid;
            if !self.nodes[i].looking() || self.nodes[i].designated.is_some() {
                continue;
            }
            let newest = (self.nodes.iter())
                .filter(|n| !matches!(n.role, Role::Down { .. }) && self.net.reachable(sid, n.sid))
                .map(|n| &n.config)
                .max_by_key(|c| c.version)
                .filter(|c| c.version > self.nodes[i].config.version)
                .map(|c| c.text());
            if let Some(text) = newest {
                self.on_node(i, |n, ctx| {
                    ctx.rec.count("config adopted from the election");
                    n.activate(ctx, text.as_bytes(), None, sid);
                });
            }
        }
    }
}
