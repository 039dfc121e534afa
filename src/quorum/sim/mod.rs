//! A seeded simulator of a whole Zab ensemble: N servers, each the real [`Leader`] or
//! [`Learner`] machine over a simulated disk, joined by simulated FIFO links that carry the
//! real `proto::quorum` bytes, so a codec mismatch between the two machines shows up.
//!
//! Every source of randomness is the run's [`Rng`] (splitmix64) and time is a simulated
//! millisecond clock, so a seed replays exactly (openraft tests-turmoil's rule; habit 2 of
//! ARCHITECTURE.md). What a run drives: a client workload proposing txns at the leader,
//! ticks, crashes (only the durable disk survives) and restarts, partitions (a cut link
//! closes both ends, as TCP does), leader loss, re-election, and DIFF/TRUNC/SNAP sync.
//!
//! With `SimConfig::syncs`, clients also send syncs to every leader, checked by the
//! LinearizableSync invariant. A cut closes both ends of a link at once and nothing pauses a
//! server, so ZooKeeper's sync (the mode off) is not caught here; the paused leader is
//! `compat-tests/faults --scenario stop-leader-sync`'s.
//!
//! Not run: the election machine. Leader choice is what FLE would settle on among a
//! connected quorum of LOOKING servers (the highest (currentEpoch, lastZxid, sid)); a
//! LOOKING server that can reach a LEADING one follows it. Observers (sids after the
//! participants) never vote or lead: they follow a LEADING server they reach, get INFORMs,
//! and their histories are held to the same invariants. Sessions and the snapshot's bytes
//! are not modelled (SNAP copies the leader's history).
//!
//! With `SimConfig::reconfigs`, leaders now and then propose a reconfig txn (a voter
//! removed, one added back, or a new voter set; one pending at a time, and only with a
//! synced quorum of the new config), a spare server runs from the start as a joiner
//! (its view: the config plus itself) and follows as a non-voter until a reconfig adds
//! it, every server acts on the configs the machines activate as the peer does (a major
//! change ends the role, the next one being the designated leader's, without an
//! election), and the election stand-in counts by each server's own config. The checks
//! are in `invariants::reconfig`.
//!
//! What it found so far (each fixed in the machine, with a regression test beside it):
//! - a learner ACKed NEWLEADER over a log tail its previous role had not fsynced
//!   (`zab`: `Persisted::durable_zxid`; seed 1034, 5 servers, without the flush);
//! - a leader persisted currentEpoch and counted itself in the NEWLEADER quorum over an
//!   unsynced tail (`leader`: `LeaderStart::durable_zxid`; seeds 30507, 31431);
//! - a learner's ACKs survived its re-sync and TRUNC, so a proposal committed on a copy
//!   it no longer had (`Broadcast::start_forwarding`; seeds 10166, 10307, 10800).
//!
//!
//! What it found with reconfigs (not fixed: the peer's driver and Java do the same):
//! - NEWLEADER offering a pending reconfig's config (the peer's driver calls
//!   `set_last_seen_config` at propose, as Java's getQuorumVerifierBytes returns the
//!   last-seen config) makes a learner that syncs mid-reconfig activate it at UPTODATE
//!   before it commits (seed 3002, 3 servers, `SimConfig::offer_pending_config`);
//! - a last-seen config (`zoo.cfg.dynamic.next`, written when the reconfig's proposal
//!   arrives, before it is logged) survives a crash that loses its txn; the server then
//!   leads, and as Leader.lead does, offers it in NEWLEADER and activates it once
//!   established: a config is activated whose reconfig txn no history holds
//!   (ReconfigQuorums, ActivatedConfigKept; seeds 3029, 3048 with 3 servers, 4001, 4012,
//!   4019, 4026 with 5; `SimConfig::last_seen_without_txn`).
//!
//! Fixed with reconfigs: a committed reconfig whose COMMITANDACTIVATE only its leader saw
//! (it then crashed) is in the others' histories, but they kept the old config while the
//! election counted only the activated config and a new leader neither offered nor
//! activated its last-seen one; the old config's quorum and the new one's then both led
//! (seeds 60343, 60201, 60671: PrimaryIntegrity; 61834: Leadership2; 61943:
//! PrefixConsistency; 3 servers). Now, as Java's FLE and Leader.lead, both need a quorum
//! of the last-seen config too, and the leader activates it once established.
//!
//! [`Leader`]: crate::quorum::leader::Leader
//! [`Learner`]: crate::quorum::zab::Learner

mod config;
mod disk;
mod invariants;
mod net;
mod node;
mod world;

mod tests;

pub(crate) use crate::rng::Rng;

/// A bug the simulator can put back, to prove the invariants catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlantedBug {
    /// The log writer reports txns durable as soon as they are written, before the fsync:
    /// followers ACK (and the leader counts itself) for txns a crash then loses.
    AckBeforeDurable,
    /// The leader's driver counts an ACK from every forwarding follower the moment it
    /// proposes: the leader commits on its own, with fewer than a quorum.
    PhantomAcks,
    /// The leader commits a reconfig (and what follows it) on a quorum of the old config
    /// alone, without one of the new config.
    ReconfigOldQuorumOnly,
}

/// What one run does; every knob is derived from the seed except these.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SimConfig {
    /// The run's seed.
    pub(crate) seed: u64,
    /// Participants (3 or 5).
    pub(crate) servers: u64,
    /// Observers, sids `servers + 1 ..`.
    pub(crate) observers: u64,
    /// Simulated run length.
    pub(crate) duration_ms: u64,
    /// Per-millisecond crash probability of each server, in parts per million.
    pub(crate) crash_ppm: u64,
    /// Per-millisecond probability of cutting one random link, in parts per million.
    pub(crate) cut_ppm: u64,
    /// The planted bug, if any.
    pub(crate) bug: Option<PlantedBug>,
    /// Whether ending a role flushes the log, as Java's SyncRequestProcessor.shutdown does
    /// (off: the machines must cope with an unsynced tail on their own).
    pub(crate) flush_at_role_end: bool,
    /// Clients also send syncs to every leader, checked by the LinearizableSync invariant;
    /// `Some(on)`: with `linearizableSync=on` (off: ZooKeeper's sync, which may fail it).
    pub(crate) syncs: Option<bool>,
    /// Leaders now and then propose a reconfig, and a spare server (the last sid) runs
    /// from the start as a non-voting follower a reconfig may add.
    pub(crate) reconfigs: bool,
    /// With reconfigs: NEWLEADER offers a pending reconfig's config, as the peer's driver
    /// does (`set_last_seen_config` at propose); off, it offers the committed one.
    pub(crate) offer_pending_config: bool,
    /// With reconfigs: a new leader offers and activates its last-seen config even when
    /// its log does not hold that config's reconfig txn (lost in a crash before its fsync,
    /// or truncated), as the peer's driver and Java do (`zoo.cfg.dynamic.next` is written
    /// when the proposal arrives, before it is logged); off, it carries the last-seen
    /// config over only with its txn in its log. On, seed 3029 activates a config no
    /// history holds.
    pub(crate) last_seen_without_txn: bool,
}

impl SimConfig {
    /// The fault mix for `seed` and `servers` servers: the rates vary with the seed, from
    /// a calm ensemble to one that crashes and partitions every second.
    pub(crate) fn new(seed: u64, servers: u64) -> SimConfig {
        let mut rng = Rng::new(seed ^ 0x5eed);
        SimConfig {
            seed,
            servers,
            observers: 0,
            duration_ms: 12_000,
            crash_ppm: [30, 150, 400, 1000][rng.below(4) as usize],
            cut_ppm: [0, 300, 1000][rng.below(3) as usize],
            bug: None,
            flush_at_role_end: true,
            syncs: None,
            reconfigs: false,
            offer_pending_config: false,
            last_seen_without_txn: false,
        }
    }
}

/// `tickTime` in the simulation: short, so a run sees many elections.
pub(crate) const TICK_MS: u64 = 100;
/// `initLimit`, in ticks.
pub(crate) const INIT_LIMIT: u64 = 10;
/// `syncLimit`, in ticks.
pub(crate) const SYNC_LIMIT: u64 = 5;
/// How many of the newest committed txns the leader keeps in memory (ZooKeeper's
/// `commitLogCount` is 500; smaller here so the txn-log and SNAP paths run too).
pub(crate) const COMMIT_LOG_COUNT: usize = 20;
