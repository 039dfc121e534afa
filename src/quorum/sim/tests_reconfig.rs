//! Reconfig under crashes and partitions: leaders propose reconfigs (a voter removed, one
//! added back, a new voter set), a spare server joins as a non-voter and may be added,
//! and the reconfig invariants hold besides Zab's.

use super::{catch_with, replay_command, run};
use crate::quorum::sim::{PlantedBug, SimConfig};

/// Runs `seeds` with reconfigs; returns the summed event counts, panics on violations.
fn many_reconfig(
    servers: u64,
    seeds: std::ops::Range<u64>,
) -> std::collections::BTreeMap<String, u64> {
    let mut failures = Vec::new();
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    let (mut acked, mut epochs) = (0, 0);
    for seed in seeds.clone() {
        let mut cfg = SimConfig::new(seed, servers);
        cfg.reconfigs = true;
        let out = run(cfg);
        acked += out.acked;
        epochs += out.epochs;
        for (k, v) in &out.counts {
            *counts.entry(k.clone()).or_default() += v;
        }
        if let Some(v) = out.violations.first() {
            failures.push(format!(
                "seed {seed}: {v}\\n  replay: {}",
                replay_command(&cfg)
            ));
        }
    }
    println!(
        "reconfig, {servers} servers, seeds {seeds:?}: {acked} acked, {epochs} epochs, {counts:#?}"
    );
    assert!(
        failures.is_empty(),
        "{} failing seeds:\\n{}",
        failures.len(),
        failures.join("\\n")
    );
    let runs = seeds.end - seeds.start;
    assert!(
        acked as u64 > 20 * runs,
        "only {acked} writes acknowledged in {runs} runs"
    );
    counts
}

/// The runs must reconfigure for real: reconfigs committed and activated, leadership
/// handed to a designated leader.
fn assert_covered(counts: &std::collections::BTreeMap<String, u64>, runs: u64) {
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    assert!(n("reconfig proposed") > 3 * runs, "{counts:?}");
    assert!(n("config activated") > 5 * runs, "{counts:?}");
    assert!(n("reconfig hands over leadership") > 0, "{counts:?}");
    assert!(n("designated role taken") > 0, "{counts:?}");
}

#[test]
fn many_seeds_reconfig_3_servers() {
    let counts = many_reconfig(3, 3000..3080);
    assert_covered(&counts, 80);
}

#[test]
fn many_seeds_reconfig_5_servers() {
    let counts = many_reconfig(5, 4000..4030);
    assert_covered(&counts, 30);
}

/// The larger run: `cargo test --release ... quorum::sim -- --ignored`. It fails on the
/// seeds of the test below (and 60201, 60671, 61943) until a new leader carries its
/// last-seen config over as Java's does.
#[test]
#[ignore]
fn many_more_reconfig_seeds() {
    many_reconfig(3, 60_000..62_000);
}

/// The larger run, 5 servers.
#[test]
#[ignore]
fn many_more_reconfig_seeds_5_servers() {
    many_reconfig(5, 70_000..71_000);
}

/// Put a bug back: a leader that commits a reconfig on the old config's quorum alone.
#[test]
fn planted_reconfig_old_quorum_only_is_caught() {
    let (seed, v) = catch_with(PlantedBug::ReconfigOldQuorumOnly, true);
    println!("planted ReconfigOldQuorumOnly caught at seed {seed}: {v}");
    assert!(v.starts_with("ReconfigQuorums"), "{v}");
}

/// What the peer's driver does (and Java: NEWLEADER carries the last-seen config): a
/// learner that syncs while a reconfig is pending activates its config at UPTODATE,
/// before a quorum of the new config ACKed it. Seed 3000: server 4 rejoins mid-reconfig.
#[test]
fn offering_the_pending_config_activates_it_before_its_commit() {
    let mut cfg = SimConfig::new(3000, 3);
    cfg.reconfigs = true;
    cfg.offer_pending_config = true;
    let out = run(cfg);
    let v = out.violations.first().cloned().unwrap_or_default();
    assert!(v.starts_with("ReconfigQuorums"), "{:?}", out.violations);
}

/// A committed reconfig that only its leader activated before crashing (its
/// COMMITANDACTIVATE lost): the others hold the txn but keep the old config, since a new
/// leader neither offers nor activates its last-seen config and the election counts only
/// the activated one (Java's Leader.lead and FLE also need a quorum of the last-seen
/// config, and the leader activates it once established). A quorum of the old config
/// then commits (or establishes an epoch) beside one of the new config. Seed 60343:
/// epoch 4 commits on {2, 3} of {1, 2, 3}, then {1, 4} of {1, 3, 4} elects 4 without
/// them; seed 61834: epoch 5 established twice, once per config.
#[test]
fn a_reconfig_only_its_leader_activated_splits_the_ensemble() {
    for (seed, property) in [(60343, "PrimaryIntegrity"), (61834, "Leadership2")] {
        let mut cfg = SimConfig::new(seed, 3);
        cfg.reconfigs = true;
        let out = run(cfg);
        let v = out.violations.first().cloned().unwrap_or_default();
        assert!(v.starts_with(property), "seed {seed}: {:?}", out.violations);
    }
}
