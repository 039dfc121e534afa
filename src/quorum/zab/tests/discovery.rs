//! Discovery: FOLLOWERINFO, LEADERINFO, ACKEPOCH (Learner.registerWithLeader).

use super::*;
use crate::proto::quorum::payload::{AckEpoch, LearnerInfo};
use crate::quorum::zab::ZabError;

fn ack_epoch(last_logged: Zxid, current_epoch: i32) -> Action {
    Action::Send(QuorumPacket::with_data(
        pt::ACKEPOCH,
        last_logged.0,
        AckEpoch { current_epoch }.to_data(),
    ))
}

#[test]
fn start_sends_followerinfo_with_the_accepted_epoch() {
    let mut l = Learner::new(
        config(LearnerType::Participant),
        persisted(3, 2, Zxid::new(2, 9)),
    );
    let info = LearnerInfo {
        serverid: 2,
        protocol_version: 0x10000,
        config_version: 0,
    };
    assert_eq!(
        l.start(0).expect("start"),
        vec![Action::Send(QuorumPacket::with_data(
            pt::FOLLOWERINFO,
            Zxid::new(3, 0).0,
            info.to_data()
        ))]
    );
    // Twice is a driver bug.
    assert!(matches!(l.start(1), Err(ZabError::Stopped)));
}

#[test]
fn observer_sends_observerinfo() {
    let mut l = Learner::new(config(LearnerType::Observer), persisted(0, 0, Zxid(0)));
    let out = l.start(0).expect("start");
    assert!(matches!(&out[..], [Action::Send(p)] if p.r#type == pt::OBSERVERINFO && p.zxid == 0));
}

#[test]
fn newer_epoch_is_persisted_then_acked_with_current_epoch() {
    let mut l = started(persisted(1, 1, Zxid::new(1, 3)));
    assert_eq!(
        feed(&mut l, 5, &leader_info(2)),
        vec![
            Action::PersistAcceptedEpoch(2),
            ack_epoch(Zxid::new(1, 3), 1),
        ]
    );
    assert_eq!(l.epochs(), (2, 1));
}

#[test]
fn equal_epoch_is_acked_with_minus_one_and_not_persisted() {
    let mut l = started(persisted(2, 1, Zxid::new(1, 3)));
    assert_eq!(
        feed(&mut l, 5, &leader_info(2)),
        vec![ack_epoch(Zxid::new(1, 3), -1)]
    );
    assert_eq!(l.epochs(), (2, 1));
}

#[test]
fn older_epoch_is_refused_and_stops_the_learner() {
    let mut l = started(persisted(3, 3, Zxid::new(3, 1)));
    let err = l.on_packet(5, &leader_info(2)).expect_err("older epoch");
    assert!(matches!(
        err,
        ZabError::EpochBehind {
            leader: 2,
            accepted: 3
        }
    ));
    assert!(!err.is_fatal());
    assert_eq!(l.epochs(), (3, 3));
    assert!(matches!(
        l.on_packet(6, &leader_info(4)),
        Err(ZabError::Stopped)
    ));
}

#[test]
fn pre_zab_1_0_leader_is_refused() {
    let mut l = started(persisted(0, 0, Zxid(0)));
    let err = l
        .on_packet(5, &bare(pt::NEWLEADER, Zxid::new(1, 0)))
        .expect_err("pre-1.0");
    assert!(matches!(err, ZabError::PreZab10Leader));
}

#[test]
fn short_leaderinfo_is_malformed_not_a_panic() {
    let mut l = started(persisted(0, 0, Zxid(0)));
    let p = QuorumPacket::with_data(pt::LEADERINFO, Zxid::new(1, 0).0, vec![0, 1]);
    assert!(matches!(
        l.on_packet(5, &p),
        Err(ZabError::Malformed {
            packet: "LEADERINFO",
            ..
        })
    ));
    let mut l = started(persisted(0, 0, Zxid(0)));
    assert!(matches!(
        l.on_packet(5, &bare(pt::LEADERINFO, Zxid::new(1, 0))),
        Err(ZabError::Malformed { .. })
    ));
}

#[test]
fn leader_silence_in_discovery_is_init_limit_ticks() {
    let mut l = started(persisted(0, 0, Zxid(0)));
    assert_eq!(l.tick(10 * TICK_MS - 1), vec![]);
    let out = l.tick(10 * TICK_MS);
    assert!(matches!(&out[..], [Action::GoLooking { .. }]), "{out:?}");
    // Stopped: no second GoLooking, and packets are refused.
    assert_eq!(l.tick(20 * TICK_MS), vec![]);
    assert!(matches!(
        l.on_packet(20 * TICK_MS, &leader_info(1)),
        Err(ZabError::Stopped)
    ));
}
