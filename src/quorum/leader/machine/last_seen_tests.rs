//! A leader whose last-seen config is newer than its committed one (a reconfig logged,
//! never activated): NEWLEADER needs a quorum of both views, and establishment activates
//! the last-seen config with a designated leader (Leader.startZkServer).

use super::*;
use crate::quorum::{LearnerType, Majority};

use super::test_support::{z, NoDisk, TICK};

const OLD: i64 = 0x1_0000_0000;
const NEW: i64 = 0x1_0000_0003;
const NO_LOG: &[Zxid] = &[];

fn view(voters: &[u64]) -> Majority {
    Majority::new(voters.iter().copied().map(Sid), [])
}

fn log() -> LogState<'static> {
    LogState {
        last_processed_zxid: z(1, 3),
        committed_log: NO_LOG,
        txn_log: &NoDisk,
        snapshot_size_factor: 0.33,
        force_snap_sync: false,
    }
}

fn start(last_seen_version: i64) -> LeaderStart {
    LeaderStart {
        accepted_epoch: 1,
        current_epoch: 1,
        last_processed_zxid: z(1, 3),
        durable_zxid: z(1, 3),
        config_version: OLD,
        last_seen_config_version: last_seen_version,
        reconfig_enabled: true,
        config_members: "server.1=a:1:2:participant\n".into(),
    }
}

/// Leader 1 committed to {1,2,3}, with `last_seen` of version NEW.
fn leader(last_seen: &[u64]) -> Leader<Majority> {
    let cfg = LeaderConfig {
        my_sid: Sid(1),
        tick_ms: TICK,
        init_limit: 10,
        sync_limit: 5,
    };
    let (l, out) =
        Leader::with_last_seen(cfg, view(&[1, 2, 3]), Some(view(last_seen)), start(NEW), 0);
    assert_eq!(out, vec![]);
    l
}

/// Learner `sid` goes through discovery and ACKs NEWLEADER; the actions of that ACK.
fn join(l: &mut Leader<Majority>, sid: u64) -> Vec<Action> {
    let info = LearnerPacket::Info {
        learner_type: LearnerType::Participant,
        zxid: z(1, 3),
        sid: Some(sid as i64),
        protocol_version: 0x10000,
        config_version: Some(OLD),
    };
    l.on_learner_info(info, &log(), 1).expect("info");
    let ack_epoch = LearnerPacket::AckEpoch {
        current_epoch: 1,
        last_zxid: z(1, 3),
    };
    l.on_packet(Sid(sid), ack_epoch, &log(), 2)
        .expect("ackepoch");
    l.on_packet(Sid(sid), LearnerPacket::Ack { zxid: z(2, 0) }, &log(), 3)
        .expect("newleader ack")
}

/// Where `a` is in `out`.
fn at(out: &[Action], a: &Action) -> usize {
    out.iter()
        .position(|x| x == a)
        .unwrap_or_else(|| panic!("{a:?} not in {out:?}"))
}

#[test]
fn newleader_needs_a_quorum_of_the_last_seen_view_too() {
    let mut l = leader(&[1, 2, 4, 5]);
    join(&mut l, 2);
    let out = join(&mut l, 3);
    // {1,2,3} is the whole committed view but only half of {1,2,4,5}.
    assert!(!l.serving(), "{out:?}");
    assert!(!out.iter().any(|a| matches!(a, Action::Activate { .. })));
    // The joiner 4 votes only in the last-seen view; its ACK completes that quorum.
    let out = join(&mut l, 4);
    assert!(l.serving());
    let activate = Action::Activate {
        zxid: z(2, 0),
        designated: Sid(1),
    };
    assert!(at(&out, &activate) < at(&out, &Action::Established { zxid: z(2, 0) }));
    let b = l.broadcast().expect("broadcast");
    assert_eq!(b.qv(), &view(&[1, 2, 4, 5]));
    assert!(b.last_seen().is_none());
    assert!(b.allowed_to_commit());
    assert_eq!(l.liveness().views(), (&view(&[1, 2, 4, 5]), None));
}

#[test]
fn a_leader_outside_the_last_seen_view_designates_a_voter_that_acked_and_stops_committing() {
    let mut l = leader(&[2, 3, 4]);
    join(&mut l, 3);
    let out = join(&mut l, 2);
    let activate = Action::Activate {
        zxid: z(2, 0),
        designated: Sid(2),
    };
    assert!(at(&out, &activate) < at(&out, &Action::Established { zxid: z(2, 0) }));
    let b = l.broadcast().expect("broadcast");
    assert_eq!(b.qv(), &view(&[2, 3, 4]));
    assert!(!b.allowed_to_commit());
    // The leader's own proposal is ACKed by the quorum of the new view, yet not committed.
    let out = l
        .propose(z(2, 1), bytes::Bytes::from_static(b"t"), 10)
        .expect("propose");
    assert!(
        out.iter().any(|a| matches!(a, Action::Send { .. })),
        "{out:?}"
    );
    for sid in [2, 3] {
        let out = l
            .on_packet(Sid(sid), LearnerPacket::Ack { zxid: z(2, 1) }, &log(), 11)
            .expect("ack");
        assert!(
            !out.iter().any(|a| matches!(a, Action::Commit { .. })),
            "{out:?}"
        );
    }
}

#[test]
fn after_activation_a_learner_with_the_last_seen_version_is_not_ahead() {
    let mut l = leader(&[1, 2, 3]);
    join(&mut l, 2);
    assert!(l.serving());
    let info = LearnerPacket::Info {
        learner_type: LearnerType::Participant,
        zxid: z(1, 3),
        sid: Some(3),
        protocol_version: 0x10000,
        config_version: Some(NEW),
    };
    l.on_learner_info(info, &log(), 5)
        .expect("not ahead any more");
}

#[test]
fn a_last_seen_view_that_is_not_newer_changes_nothing() {
    let cfg = LeaderConfig {
        my_sid: Sid(1),
        tick_ms: TICK,
        init_limit: 10,
        sync_limit: 5,
    };
    let qv = view(&[1, 2, 3]);
    let (mut l, _) = Leader::with_last_seen(cfg, qv, Some(view(&[1, 4, 5])), start(OLD), 0);
    let out = join(&mut l, 2);
    assert!(l.serving());
    assert!(
        !out.iter().any(|a| matches!(a, Action::Activate { .. })),
        "{out:?}"
    );
    assert_eq!(l.broadcast().expect("broadcast").qv(), &view(&[1, 2, 3]));
}
