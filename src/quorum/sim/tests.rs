//! The simulator's tests: many seeds for 3 and 5 servers, each failure printing its seed
//! and the command that replays it, and the planted bug the invariants must catch.
//!
//! Replay one seed: `SIM_SEED=<seed> SIM_SERVERS=<n> [SIM_OBSERVERS=<m>] [SIM_NO_FLUSH=1]
//! [SIM_RECONFIG=1] cargo test --no-default-features --lib quorum::sim::tests::replay --
//! --ignored --nocapture`.

use super::world::{Outcome, World};
use super::{PlantedBug, SimConfig};

fn run(cfg: SimConfig) -> Outcome {
    World::new(cfg).run()
}

fn replay_command(cfg: &SimConfig) -> String {
    format!(
        "SIM_SEED={} SIM_SERVERS={} SIM_OBSERVERS={}{}{}{} cargo test --release \
         --no-default-features --lib quorum::sim::tests::replay -- --ignored --nocapture",
        cfg.seed,
        cfg.servers,
        cfg.observers,
        if cfg.flush_at_role_end {
            ""
        } else {
            " SIM_NO_FLUSH=1"
        },
        match (cfg.reconfigs, cfg.offer_pending_config) {
            (false, _) => "",
            (true, false) => " SIM_RECONFIG=1",
            (true, true) => " SIM_RECONFIG=1 SIM_OFFER_PENDING=1",
        },
        if cfg.reconfigs && cfg.last_seen_without_txn {
            " SIM_LAST_SEEN_WITHOUT_TXN=1"
        } else {
            ""
        }
    )
}

/// Runs `seeds` for `servers` servers; panics with every failing seed.
fn many(servers: u64, seeds: std::ops::Range<u64>, flush_at_role_end: bool) {
    many_with(servers, 0, seeds, flush_at_role_end)
}

/// [`many`] with `observers` observers beside the participants.
fn many_with(servers: u64, observers: u64, seeds: std::ops::Range<u64>, flush_at_role_end: bool) {
    let mut failures = Vec::new();
    let (mut acked, mut epochs) = (0, 0);
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for seed in seeds.clone() {
        let mut cfg = SimConfig::new(seed, servers);
        cfg.observers = observers;
        cfg.flush_at_role_end = flush_at_role_end;
        let out = run(cfg);
        acked += out.acked;
        epochs += out.epochs;
        for (k, v) in &out.counts {
            *counts.entry(k.clone()).or_default() += v;
        }
        if !out.violations.is_empty() {
            failures.push(format!(
                "seed {seed}: {}\n  replay: {}",
                out.violations[0],
                replay_command(&cfg)
            ));
        }
    }
    println!("{servers} servers + {observers} observers, seeds {seeds:?}: {acked} acked, {epochs} epochs, {counts:#?}");
    assert!(
        failures.is_empty(),
        "{} failing seeds:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The runs must do something: writes acknowledged and leaders re-elected.
    let runs = seeds.end - seeds.start;
    assert!(
        acked as u64 > 50 * runs,
        "only {acked} writes acknowledged in {runs} runs"
    );
    assert!(
        epochs as u64 > 2 * runs,
        "only {epochs} epochs established in {runs} runs"
    );
    // Observers must have taken part: txns reached them by INFORM or sync.
    let informed = counts.get("observer applied a txn").copied().unwrap_or(0);
    assert!(
        observers == 0 || informed > 50 * runs,
        "observers applied only {informed} txns in {runs} runs"
    );
}

#[test]
fn many_seeds_3_servers() {
    many(3, 0..150, true);
}

#[test]
fn many_seeds_5_servers() {
    many(5, 1000..1100, true);
}

/// Three participants and two observers: the observers' histories keep every invariant,
/// and an observer never counts toward a quorum (a leader with one participant and the
/// observers must not commit; PhantomAcks-style miscounting would show as lost writes).
#[test]
fn many_seeds_3_servers_2_observers() {
    many_with(3, 2, 2000..2100, true);
}

/// The larger run: `cargo test --release ... quorum::sim -- --ignored`.
#[test]
#[ignore]
fn many_more_seeds() {
    many(3, 10_000..12_000, true);
    many(5, 20_000..21_000, true);
    many(3, 30_000..32_000, false);
    many(5, 40_000..41_000, false);
    many_with(3, 2, 50_000..51_000, true);
}

/// Replays `SIM_SEED` (and `SIM_SERVERS`, default 3), printing the trace tail.
#[test]
#[ignore]
fn replay() {
    let seed = std::env::var("SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let servers = std::env::var("SIM_SERVERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut cfg = SimConfig::new(seed, servers);
    cfg.observers = std::env::var("SIM_OBSERVERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    cfg.flush_at_role_end = std::env::var("SIM_NO_FLUSH").is_err();
    cfg.reconfigs = std::env::var("SIM_RECONFIG").is_ok();
    cfg.offer_pending_config = std::env::var("SIM_OFFER_PENDING").is_ok();
    cfg.last_seen_without_txn = std::env::var("SIM_LAST_SEEN_WITHOUT_TXN").is_ok();
    let out = run(cfg);
    for line in &out.trace_tail {
        println!("{line}");
    }
    println!("acked {} epochs {}", out.acked, out.epochs);
    assert!(out.violations.is_empty(), "{:?}", out.violations);
}

/// The first seed of 200 at which the invariants catch `bug`, with what they said.
fn catch(bug: PlantedBug) -> (u64, String) {
    catch_with(bug, false)
}

/// [`catch`], with reconfigs on if `reconfigs`.
fn catch_with(bug: PlantedBug, reconfigs: bool) -> (u64, String) {
    let caught = (0..200).find_map(|seed| {
        let mut cfg = SimConfig::new(seed, 3);
        cfg.bug = Some(bug);
        cfg.reconfigs = reconfigs;
        cfg.crash_ppm = 1500;
        let out = run(cfg);
        out.violations.first().map(|v| (seed, v.clone()))
    });
    caught.unwrap_or_else(|| panic!("no seed of 200 caught the planted {bug:?}"))
}

/// Put a known bug back: with ACKs sent before the fsync, crashes lose acknowledged
/// writes, and the invariants must say so for some seed.
#[test]
fn planted_ack_before_durable_is_caught() {
    let (seed, v) = catch(PlantedBug::AckBeforeDurable);
    println!("planted AckBeforeDurable caught at seed {seed}: {v}");
}

/// Put a known bug back: a leader that commits without a quorum's ACKs.
#[test]
fn planted_phantom_acks_are_caught() {
    let (seed, v) = catch(PlantedBug::PhantomAcks);
    println!("planted PhantomAcks caught at seed {seed}: {v}");
}

/// The same fault mix without the bug keeps every invariant (the catch above is the bug's).
#[test]
fn heavy_crashes_without_the_bug_pass() {
    for seed in 0..40 {
        let mut cfg = SimConfig::new(seed, 3);
        cfg.crash_ppm = 1500;
        let out = run(cfg);
        assert!(
            out.violations.is_empty(),
            "seed {seed}: {:?}\n  replay with crash_ppm 1500",
            out.violations
        );
    }
}

/// Without the driver's flush at a role's end, a rejoining server carries an unsynced log
/// tail into its next sync. Seed 1034 (5 servers) lost committed txns that way until the
/// learner's NEWLEADER ACK waited for that tail too.
#[test]
fn no_flush_at_role_end() {
    let mut failures = Vec::new();
    for (seed, servers) in (0..100).map(|s| (s, 3)).chain((1000..1100).map(|s| (s, 5))) {
        let mut cfg = SimConfig::new(seed, servers);
        cfg.flush_at_role_end = false;
        let out = run(cfg);
        if let Some(v) = out.violations.first() {
            failures.push(format!(
                "seed {seed}: {v}\n  replay: {}",
                replay_command(&cfg)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Clients sync at every leader: with linearizableSync no answer misses a write
/// acknowledged before the sync was issued. Returns the violations of ZooKeeper's sync
/// (the mode off) over the same seeds, for the test below.
fn syncs(servers: u64, seeds: std::ops::Range<u64>, linearizable: bool) -> (u64, Vec<String>) {
    let mut answered = 0;
    let mut failures = Vec::new();
    for seed in seeds {
        let mut cfg = SimConfig::new(seed, servers);
        cfg.syncs = Some(linearizable);
        let out = run(cfg);
        answered += out.counts.get("sync answered").copied().unwrap_or(0);
        if let Some(v) = out.violations.first() {
            failures.push(format!("seed {seed}: {v}"));
        }
    }
    (answered, failures)
}

#[test]
fn linearizable_sync_answers_only_with_every_acknowledged_write() {
    for (servers, seeds) in [(3, 0..60), (5, 1000..1030)] {
        let (answered, failures) = syncs(servers, seeds, true);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(answered > 1000, "only {answered} syncs answered");
    }
}

/// ZooKeeper's sync over the same runs: printed, for comparison (the simulator closes a
/// cut link at both ends at once, so a stale answer needs an old leader's last half tick).
#[test]
fn zookeeper_sync_in_the_simulator() {
    let (answered, failures) = syncs(3, 0..60, false);
    println!(
        "ZooKeeper's sync: {answered} answered, {} runs with a stale one{}",
        failures.len(),
        failures
            .first()
            .map(|f| format!(", e.g. {f}"))
            .unwrap_or_default()
    );
}

#[path = "tests_reconfig.rs"]
mod reconfig;
