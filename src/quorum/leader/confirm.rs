//! Linearizable sync (`linearizableSync=true`, Ferrokeeper's own): before a sync is
//! answered, the leader confirms it still leads with a quorum round that started after
//! the sync arrived.
//!
//! ZooKeeper 3.8 answers a sync from the leader's own state (Leader.processSync, or the
//! CommitProcessor for the leader's own clients), so a leader paused past syncLimit can
//! wake up, still believe it leads, and answer a sync before it notices that a quorum has
//! elected someone else and committed newer writes (ZOOKEEPER-1675). A stale read follows.
//!
//! The proof used here: a PING sent after the sync arrived, answered by a quorum of voters
//! (the leader counts for itself). A follower that acknowledged a later epoch has left this
//! leader's link for good (it closes the link when it goes LOOKING, and never rejoins a
//! leader of an older epoch), so a reply read on the link shows that, when it was sent, that
//! follower was not part of a later epoch's quorum; a quorum of such replies intersects every
//! quorum a later epoch could have had before the sync arrived.
//!
//! The replies carry no round number, so they are matched by count: Java's Learner (and
//! Ferrokeeper's) answers every PING it reads in its main loop with exactly one PING, in
//! order, and drops the PINGs it reads while syncing (before UPTODATE). So only PINGs queued
//! after UPTODATE are counted, and the k-th reply read answers the k-th of those. Nothing new
//! goes on the wire: PING is what a Java 3.8 learner already answers.
//!
//! Syncs that arrive while a round is out wait for the next one, which starts when the
//! current one is confirmed: at most one round is out at a time, and a round costs one PING
//! per learner and one round trip of sync latency. Writes never wait for it.

use std::collections::BTreeMap;

use crate::quorum::{QuorumVerifier, Sid};

/// At most this many syncs wait; beyond it a learner's sync is dropped (its client times
/// out), as a leader that cannot confirm its leadership gives up within syncLimit anyway.
pub(crate) const MAX_WAITING: usize = 1 << 16;

/// Who waits for a confirmed round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyncWaiter {
    /// A learner's forwarded sync (then Leader.processSync's commit wait).
    Learner(Sid),
    /// A sync of one of the leader's own clients, named by the driver's token.
    Local(u64),
}

/// PINGs queued to one learner since its UPTODATE, and the PING replies read from it.
#[derive(Debug, Clone, Copy, Default)]
struct Probe {
    sent: u64,
    answered: u64,
}

/// A round out: the PING count each learner must answer up to, and who waits for it.
#[derive(Debug, Clone)]
struct Round {
    need: BTreeMap<Sid, u64>,
    waiters: Vec<SyncWaiter>,
}

/// What the leader must do about a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Queue a PING to each of these learners now (a round starts).
    Ping(Vec<Sid>),
    /// Leadership confirmed: these syncs may go on.
    Confirmed(Vec<SyncWaiter>),
}

/// The confirmation state.
#[derive(Debug, Clone)]
pub(crate) struct Confirm<Q> {
    qv: Q,
    /// An outstanding reconfig's new view: a round needs a quorum of it too.
    last_seen: Option<Q>,
    my_sid: Sid,
    probes: BTreeMap<Sid, Probe>,
    out: Option<Round>,
    next: Vec<SyncWaiter>,
}

impl<Q: QuorumVerifier> Confirm<Q> {
    pub(crate) fn new(qv: Q, my_sid: Sid) -> Confirm<Q> {
        Confirm {
            qv,
            last_seen: None,
            my_sid,
            probes: BTreeMap::new(),
            out: None,
            next: Vec::new(),
        }
    }

    /// The views a round needs a quorum of from now on: the committed one, and an
    /// outstanding reconfig's new one.
    pub(crate) fn set_views(&mut self, qv: Q, last_seen: Option<Q>) {
        self.qv = qv;
        self.last_seen = last_seen;
    }

    /// Syncs waiting (in the round out and for the next one).
    pub(crate) fn waiting(&self) -> usize {
        self.out.as_ref().map_or(0, |r| r.waiters.len()) + self.next.len()
    }

    /// UPTODATE was queued to `sid` (a new link): its PING replies count from now on.
    pub(crate) fn up_to_date(&mut self, sid: Sid) {
        self.probes.insert(sid, Probe::default());
        // Every PING on this link goes after the round out started, so its first reply
        // will do for it (a learner that reconnected must not have to catch up with its
        // old link's count).
        if let Some(r) = self.out.as_mut() {
            r.need.insert(sid, 1);
        }
    }

    /// A PING was queued to `sid` (the half-tick loop's or a round's).
    pub(crate) fn ping_sent(&mut self, sid: Sid) {
        if let Some(p) = self.probes.get_mut(&sid) {
            p.sent += 1;
        }
    }

    /// A PING reply was read from `sid`.
    pub(crate) fn ping_answered(&mut self, sid: Sid) -> Vec<Step> {
        if let Some(p) = self.probes.get_mut(&sid) {
            // A reply to no counted PING (one that reached the learner before UPTODATE)
            // must not advance the count: it would match a later PING than it answers.
            if p.answered < p.sent {
                p.answered += 1;
            }
        }
        self.check()
    }

    /// The learner's link closed: its replies can no longer come.
    pub(crate) fn remove_learner(&mut self, sid: Sid) {
        self.probes.remove(&sid);
    }

    /// A sync arrived. Returns false when too many wait already (the sync is dropped).
    pub(crate) fn add(&mut self, w: SyncWaiter) -> (bool, Vec<Step>) {
        if self.waiting() >= MAX_WAITING {
            return (false, Vec::new());
        }
        self.next.push(w);
        if self.out.is_some() {
            return (true, Vec::new());
        }
        (true, self.start_round())
    }

    /// Starts a round for the syncs in `next`: a PING to every learner past UPTODATE.
    fn start_round(&mut self) -> Vec<Step> {
        let waiters = std::mem::take(&mut self.next);
        if waiters.is_empty() {
            return Vec::new();
        }
        let to: Vec<Sid> = self.probes.keys().copied().collect();
        let need = (self.probes.iter())
            .map(|(s, p)| (*s, p.sent + 1))
            .collect();
        self.out = Some(Round { need, waiters });
        let mut steps = vec![Step::Ping(to)];
        // The caller queues the PINGs and reports each with ping_sent; a leader that is a
        // quorum by itself is confirmed at once.
        steps.extend(self.check());
        steps
    }

    /// Whether the round out is confirmed; if so, its syncs go and the next round starts.
    fn check(&mut self) -> Vec<Step> {
        let Some(round) = &self.out else {
            return Vec::new();
        };
        let mut ok = std::collections::BTreeSet::from([self.my_sid]);
        ok.extend(round.need.iter().filter_map(|(s, need)| {
            let p = self.probes.get(s)?;
            (p.answered >= *need).then_some(*s)
        }));
        let in_last_seen = self
            .last_seen
            .as_ref()
            .is_none_or(|q| q.contains_quorum(&ok));
        if !self.qv.contains_quorum(&ok) || !in_last_seen {
            return Vec::new();
        }
        let waiters = self.out.take().map(|r| r.waiters).unwrap_or_default();
        let mut steps = vec![Step::Confirmed(waiters)];
        steps.extend(self.start_round());
        steps
    }
}
