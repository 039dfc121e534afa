//! A reconfig through the whole leader: liveness with both views, isQuorumSynced, and
//! what the leader knows of the config once the reconfig commits.

use super::*;
use crate::quorum::{LearnerType, Majority};

use super::test_support::{z, NoDisk, TICK};

fn view(voters: &[u64]) -> Majority {
    Majority::new(voters.iter().copied().map(Sid), [])
}

const NO_LOG: &[Zxid] = &[];

fn log() -> LogState<'static> {
    LogState {
        last_processed_zxid: z(1, 0),
        committed_log: NO_LOG,
        txn_log: &NoDisk,
        snapshot_size_factor: 0.33,
        force_snap_sync: false,
    }
}

fn info(sid: i64, config_version: i64) -> LearnerPacket {
    LearnerPacket::Info {
        learner_type: LearnerType::Participant,
        zxid: z(1, 0),
        sid: Some(sid),
        protocol_version: 0x10000,
        config_version: Some(config_version),
    }
}

/// Leader 1 of {1,2,3}, epoch 2; followers 2 and 3 and the joiner 4 (a participant
/// outside the view) past UPTODATE at 3 ms.
fn serving() -> Leader<Majority> {
    let start = LeaderStart {
        accepted_epoch: 1,
        current_epoch: 1,
        last_processed_zxid: z(1, 0),
        durable_zxid: z(1, 0),
        config_version: 0x1_0000_0000,
        last_seen_config_version: 0x1_0000_0000,
        reconfig_enabled: true,
        config_members: "server.1=a:1:2:participant\n".into(),
    };
    let cfg = LeaderConfig {
        my_sid: Sid(1),
        tick_ms: TICK,
        init_limit: 10,
        sync_limit: 5,
    };
    let (mut l, _) = Leader::new(cfg, view(&[1, 2, 3]), start, 0);
    for sid in [2, 3, 4] {
        l.on_learner_info(info(sid, 0x1_0000_0000), &log(), 1)
            .expect("info");
        let ack_epoch = LearnerPacket::AckEpoch {
            current_epoch: 1,
            last_zxid: z(1, 0),
        };
        l.on_packet(Sid(sid as u64), ack_epoch, &log(), 2)
            .expect("ackepoch");
    }
    for sid in [2, 3, 4] {
        let out = l
            .on_packet(Sid(sid), LearnerPacket::Ack { zxid: z(2, 0) }, &log(), 3)
            .expect("newleader ack");
        let up = Action::Send {
            to: Sid(sid),
            packet: LeaderPacket::UpToDate,
        };
        assert!(out.contains(&up), "{out:?}");
    }
    assert!(l.serving());
    l
}

fn ack(l: &mut Leader<Majority>, sid: u64, zxid: Zxid) -> Vec<Action> {
    l.on_packet(Sid(sid), LearnerPacket::Ack { zxid }, &log(), 10)
        .expect("ack")
}

fn ping_reply(l: &mut Leader<Majority>, sid: u64, now: u64) {
    let reply = LearnerPacket::Ping { touches: vec![] };
    l.on_packet(Sid(sid), reply, &log(), now)
        .expect("ping reply");
}

/// Runs the half-tick loop from 3 ms to `until`; the GiveUp reason if it gave up.
fn run_until(l: &mut Leader<Majority>, until: u64) -> Option<String> {
    let mut now = 3;
    while now <= until {
        for a in l.on_tick(now) {
            if let Action::GiveUp { reason } = a {
                return Some(reason);
            }
        }
        now += TICK / 2;
    }
    None
}

#[test]
fn while_a_reconfig_is_outstanding_liveness_needs_a_synced_quorum_of_both_views() {
    let mut l = serving();
    l.propose_reconfig(z(2, 1), Bytes::from_static(b"r"), view(&[1, 2, 4]), 5)
        .expect("reconfig");
    // {1,3} is a quorum of {1,2,3} but not of {1,2,4}.
    l.remove_learner(Sid(2));
    l.remove_learner(Sid(4));
    assert_eq!(
        run_until(&mut l, 2 * TICK).as_deref(),
        Some("Not sufficient followers synced, only synced with sids: [ [1, 3],[1] ]")
    );
}

#[test]
fn without_a_reconfig_the_same_learners_keep_the_leader() {
    let mut l = serving();
    l.remove_learner(Sid(2));
    l.remove_learner(Sid(4));
    assert_eq!(run_until(&mut l, 2 * TICK), None);
}

#[test]
fn once_the_reconfig_commits_only_the_new_view_keeps_the_leader() {
    let mut l = serving();
    l.propose_reconfig(z(2, 1), Bytes::from_static(b"r"), view(&[1, 2, 4]), 5)
        .expect("reconfig");
    l.on_durable(z(2, 1), 6);
    assert!(
        ack(&mut l, 4, z(2, 1)).is_empty(),
        "{{1}} of {{1,2,3}} waits"
    );
    let out = ack(&mut l, 2, z(2, 1));
    assert!(out.contains(&Action::Activate {
        zxid: z(2, 1),
        designated: Sid(1)
    }));
    // {1,4} is a quorum of {1,2,4} only.
    l.remove_learner(Sid(2));
    l.remove_learner(Sid(3));
    assert_eq!(run_until(&mut l, 3 * TICK), None);
    l.remove_learner(Sid(4));
    assert!(run_until(&mut l, 5 * TICK).is_some());
}

#[test]
fn is_quorum_synced_counts_the_leader_and_synced_forwarding_voters_of_the_view() {
    let mut l = serving();
    assert!(l.is_quorum_synced(&view(&[1, 2, 3])));
    // The leader outside the view: {2,3} of {2,3,5}.
    assert!(l.is_quorum_synced(&view(&[2, 3, 5])));
    assert!(!l.is_quorum_synced(&view(&[1, 5, 6])));
    // The joiner is a forwarding follower too.
    assert!(l.is_quorum_synced(&view(&[1, 4])));
    assert!(!l.is_quorum_synced(&view(&[4, 5, 6])));
    // 3 stays connected but stops answering: past its ack deadline it is no longer
    // synced (the first deadline is initLimit + syncLimit ticks after it connected),
    // while 2 and 4 keep answering.
    let mut now = 3;
    while l.liveness().tick() <= 16 {
        now += TICK / 2;
        ping_reply(&mut l, 2, now);
        ping_reply(&mut l, 4, now);
        let out = l.on_tick(now);
        assert!(
            !out.iter().any(|a| matches!(a, Action::GiveUp { .. })),
            "leader gave up at {now}"
        );
    }
    assert!(!l.is_quorum_synced(&view(&[1, 3, 5])));
    assert!(l.is_quorum_synced(&view(&[1, 4, 5])));
    assert!(l.is_quorum_synced(&view(&[2, 4, 5])));
    l.remove_learner(Sid(2));
    assert!(!l.is_quorum_synced(&view(&[2, 4, 5])));
}

#[test]
fn after_the_commit_a_learner_with_the_new_config_is_not_ahead() {
    let mut l = serving();
    let version = z(2, 1).0;
    l.propose_reconfig(z(2, 1), Bytes::from_static(b"r"), view(&[1, 2, 3, 4]), 5)
        .expect("reconfig");
    l.set_last_seen_config(
        version,
        "server.1=a:1:2:participant\nserver.4=d:1:2\n".into(),
    );
    assert_eq!(
        l.propose_reconfig(z(2, 2), Bytes::from_static(b"s"), view(&[1, 2]), 6),
        Err(LeaderError::ReconfigInProgress)
    );
    assert_eq!(
        l.on_learner_info(info(5, version), &log(), 7).map(|_| ()),
        Err(LeaderError::ConfigAhead)
    );
    l.on_durable(z(2, 1), 8);
    ack(&mut l, 2, z(2, 1));
    let out = ack(&mut l, 4, z(2, 1));
    let activate = out
        .iter()
        .position(|a| matches!(a, Action::Activate { .. }));
    let commit = out.iter().position(|a| matches!(a, Action::Commit { .. }));
    assert!(activate.is_some() && activate < commit, "{out:?}");
    // 3 reconnects with the config it just activated; NEWLEADER offers the new config.
    l.remove_learner(Sid(3));
    l.on_learner_info(info(3, version), &log(), 9)
        .expect("info");
    let ack_epoch = LearnerPacket::AckEpoch {
        current_epoch: 1,
        last_zxid: z(1, 0),
    };
    let out = l
        .on_packet(Sid(3), ack_epoch, &log(), 10)
        .expect("ackepoch");
    let config = Bytes::from(format!(
        "server.1=a:1:2:participant\nserver.4=d:1:2\nversion={version:x}"
    ));
    assert!(
        out.contains(&Action::Send {
            to: Sid(3),
            packet: LeaderPacket::NewLeader {
                zxid: z(2, 0),
                config: Some(config)
            }
        }),
        "{out:?}"
    );
}
