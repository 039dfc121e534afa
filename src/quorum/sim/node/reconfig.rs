//! Reconfig in the driver, as the peer does it (src/peer/reconfig.rs, src/peer/leading.rs):
//! the leader proposes a reconfig now and then, a seen config is remembered, an activated
//! one replaces the membership, and a major change ends the role, the next one being the
//! designated leader's.

use super::{Ctx, Node, Role};
use crate::quorum::sim::config::View;
use crate::quorum::sim::invariants::{integrity, reconfig};
use crate::quorum::{Sid, Zxid};

/// How long a designated role waits for its leader to lead before an election instead
/// (Learner.connectToLeader's retries span about initLimit).
const DESIGNATED_WAIT_MS: u64 = 1000;

/// The fewest voters a seeded reconfig leaves: fewer would stall most runs.
const MIN_VOTERS: usize = 3;

impl Node {
    /// QuorumPeer.setLastSeenQuorumVerifier: a config was proposed (or NEWLEADER offered it).
    pub(crate) fn seen_config(&mut self, v: View) {
        if v.version > self.last_seen.version {
            self.last_seen = v;
        }
    }

    /// QuorumPeer.processReconfig under `leader`: activates `text` if newer than our
    /// config. Returns whether this is a major change (our learner type changes, or the
    /// designated leader is not `leader`; without one, our leader is no voter any more):
    /// the role must end, and with a designated leader the next role is taken under it.
    pub(crate) fn activate(
        &mut self,
        ctx: &mut Ctx<'_>,
        text: &[u8],
        designated: Option<(i64, Zxid)>,
        leader: Sid,
    ) -> bool {
        let Some(v) = View::parse(text) else {
            ctx.rec.violated(
                "ConfigText",
                format!("server {}: an unparseable config activated", self.sid.0),
            );
            return false;
        };
        if v.version <= self.config.version {
            return false;
        }
        ctx.trace.push(format!(
            "{} {} activates config {:x} voters {:?} (designated {:?})",
            ctx.now_ms,
            self.sid.0,
            v.version,
            v.voters.iter().map(|s| s.0).collect::<Vec<_>>(),
            designated.map(|d| d.0)
        ));
        ctx.rec.count("config activated");
        reconfig::on_activated(ctx.rec, self.sid, &v);
        // A removed participant stays a (non-voting) participant: only observer <->
        // participant is a role change (QuorumPeer.updateLearnerType).
        let role_change =
            self.config.observers.contains(&self.sid) != v.observers.contains(&self.sid);
        let leader_voter = v.voters.contains(&leader);
        self.seen_config(v.clone());
        self.config = v;
        match designated {
            Some((d, _)) => {
                let d = Sid(d as u64);
                let leader_change = d != leader;
                if role_change || leader_change {
                    let target = if leader_change { d } else { leader };
                    self.designated = Some((target, ctx.now_ms + DESIGNATED_WAIT_MS));
                }
                role_change || leader_change
            }
            None => {
                self.designated = None;
                role_change || !leader_voter
            }
        }
    }

    /// The leader's reconfig txn `zxid` committed (Leader.tryToCommit): activate it with
    /// its designated leader. Also at establishment, by a leader that started with a newer
    /// last-seen config: `zxid` is then the NEWLEADER zxid and that config is activated.
    /// A leader that is not designated keeps leading (the machine stops its commits) until
    /// its followers have left; then it takes the designated role.
    pub(crate) fn leader_activate(&mut self, ctx: &mut Ctx<'_>, zxid: Zxid, designated: Sid) {
        let Role::Leading(l) = &self.role else { return };
        // At establishment (a leader built with a newer last-seen config) the zxid is the
        // NEWLEADER one and the config the last-seen one (Leader.startZkServer), as the
        // peer's driver falls back to it.
        let at_establishment = l.epoch.is_none() && zxid.counter() == 0;
        let last_seen = (self.carried_last_seen(ctx).cloned()).filter(|_| at_establishment);
        if last_seen.is_some() {
            ctx.rec.count("last-seen config activated at establishment");
        }
        let Some(v) = l.reconfigs.get(&zxid).cloned().or(last_seen) else {
            ctx.rec.violated(
                "ConfigText",
                format!(
                    "leader {}: activating 0x{:x}, not its reconfig",
                    self.sid.0, zxid.0
                ),
            );
            return;
        };
        if designated != self.sid {
            ctx.rec.count("reconfig hands over leadership");
        }
        self.activate(
            ctx,
            v.text().as_bytes(),
            Some((designated.0 as i64, zxid)),
            self.sid,
        );
        // Learners that sync from now on are offered the committed config.
        if let Role::Leading(l) = &mut self.role {
            l.leader.set_last_seen_config(v.version, v.member_lines());
        }
    }

    /// The epoch is established: NEWLEADER's config (stamped with the epoch if it was the
    /// static one) is activated, and learners from now on are held to and offered it.
    pub(crate) fn leader_activate_newleader(&mut self, ctx: &mut Ctx<'_>, epoch: i64) {
        let Role::Leading(l) = &self.role else { return };
        let text = l.newleader.new_leader_config(epoch);
        self.activate(
            ctx,
            &text,
            Some((self.sid.0 as i64, Zxid::new(epoch, 0))),
            self.sid,
        );
        let (version, members) = (self.config.version, self.config.member_lines());
        if let Role::Leading(l) = &mut self.role {
            l.leader.set_committed_config_version(version);
            l.leader.set_last_seen_config(version, members);
        }
    }

    /// Now and then the leader proposes a reconfig instead of a write: a voter removed,
    /// one added back (the spare, or a removed one), or a new voter set; one at a time,
    /// and only with a synced quorum of the new config (NEWCONFIGNOQUORUM otherwise).
    pub(crate) fn client_reconfig(&mut self, ctx: &mut Ctx<'_>) {
        let Role::Leading(l) = &mut self.role else {
            return;
        };
        let Some(epoch) = l.epoch else { return };
        let Some(b) = l.leader.broadcast() else {
            return;
        };
        if b.last_seen().is_some() || !b.allowed_to_commit() {
            return;
        }
        let cur = self.config.clone();
        let all = ctx.participants;
        let mut voters = cur.voters.clone();
        match ctx.rng.below(3) {
            0 if voters.len() > MIN_VOTERS => {
                let out = *voters
                    .iter()
                    .nth(ctx.rng.below(voters.len() as u64) as usize)
                    .unwrap_or(&self.sid);
                voters.remove(&out);
            }
            1 => {
                let outside: Vec<Sid> = all
                    .iter()
                    .filter(|s| !voters.contains(s))
                    .copied()
                    .collect();
                if outside.is_empty() {
                    return;
                }
                voters.insert(outside[ctx.rng.below(outside.len() as u64) as usize]);
            }
            _ => {
                let n = ctx.rng.range(MIN_VOTERS as u64, all.len() as u64) as usize;
                let mut pool = all.to_vec();
                voters.clear();
                while voters.len() < n {
                    voters.insert(pool.swap_remove(ctx.rng.below(pool.len() as u64) as usize));
                }
            }
        }
        if voters == cur.voters {
            return;
        }
        let zxid = Zxid::new(epoch, l.counter + 1);
        let new = View {
            version: zxid.0,
            voters,
            observers: cur.observers.clone(),
        };
        if !l.leader.is_quorum_synced(&new.qv()) {
            ctx.rec.count("reconfig refused: new config not synced");
            return;
        }
        let data = new.txn(zxid);
        let actions = match l
            .leader
            .propose_reconfig(zxid, data.clone(), new.qv(), ctx.now_ms)
        {
            Ok(a) => a,
            Err(e) => {
                ctx.trace.push(format!(
                    "{} {} reconfig refused: {e}",
                    ctx.now_ms, self.sid.0
                ));
                return;
            }
        };
        if ctx.offer_pending_config {
            // The peer's driver does this (Java's getQuorumVerifierBytes is the last-seen
            // config): a learner syncing now activates the pending config at UPTODATE,
            // before the reconfig commits (seed 3002, 3 servers, breaks ReconfigQuorums).
            l.leader.set_last_seen_config(zxid.0, new.member_lines());
        }
        l.reconfigs.insert(zxid, new.clone());
        l.counter += 1;
        ctx.rec.count("reconfig proposed");
        ctx.trace.push(format!(
            "{} {} proposes reconfig 0x{:x} voters {:?}",
            ctx.now_ms,
            self.sid.0,
            zxid.0,
            new.voters.iter().map(|s| s.0).collect::<Vec<_>>()
        ));
        reconfig::on_proposed(ctx.rec, zxid, &cur, &new);
        integrity::on_proposed(ctx.rec, self.sid, zxid, data.clone());
        self.seen_config(new);
        self.logged_proposal(ctx, zxid, data, actions);
    }
}
