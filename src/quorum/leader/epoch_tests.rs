use super::*;
use crate::quorum::Majority;
use DiscoveryEvent as E;

const INIT_MS: u64 = 10 * 2000;

fn qv(voters: &[u64], observers: &[u64]) -> Majority {
    Majority::new(
        voters.iter().map(|&s| Sid(s)),
        observers.iter().map(|&s| Sid(s)),
    )
}

fn summary(epoch: i64, zxid: Zxid) -> StateSummary {
    StateSummary {
        current_epoch: epoch,
        last_zxid: zxid,
    }
}

/// Leader 1 of {1,2,3} (+ observer 4), acceptedEpoch 3, currentEpoch 3, last zxid 3.5.
fn leader() -> Discovery<Majority> {
    let (d, out) = Discovery::start(
        qv(&[1, 2, 3], &[4]),
        Sid(1),
        3,
        summary(3, Zxid::new(3, 5)),
        INIT_MS,
        0,
    );
    assert!(out.is_empty(), "the leader alone is no quorum: {out:?}");
    d
}

#[test]
fn new_epoch_is_max_accepted_plus_one_once_a_quorum_with_the_leader_reports() {
    let mut d = leader();
    // An observer's acceptedEpoch raises the epoch but does not count.
    assert_eq!(d.on_learner_info(Sid(4), 6, 10), vec![]);
    assert_eq!(d.epoch(), 7);
    let out = d.on_learner_info(Sid(2), 5, 20);
    assert_eq!(
        out,
        vec![
            E::AcceptedEpoch(7),
            E::EpochProposed {
                sid: Sid(2),
                epoch: 7
            },
            E::EpochProposed {
                sid: Sid(4),
                epoch: 7
            },
        ]
    );
    // A late learner passes at once with the settled epoch, even with a higher one.
    assert_eq!(
        d.on_learner_info(Sid(3), 9, 30),
        vec![E::EpochProposed {
            sid: Sid(3),
            epoch: 7
        }]
    );
    assert_eq!(d.epoch(), 7);
}

#[test]
fn epoch_ack_quorum_persists_current_epoch_then_releases_learners() {
    let mut d = leader();
    d.on_learner_info(Sid(2), 3, 0);
    // -1: learner 2 had accepted epoch 4 before; it waits but does not count.
    let out = d
        .on_ack_epoch(Sid(2), summary(-1, Zxid::new(3, 5)), 5)
        .expect("ok");
    assert_eq!(out, vec![]);
    d.on_learner_info(Sid(3), 3, 6);
    let out = d
        .on_ack_epoch(Sid(3), summary(3, Zxid::new(3, 2)), 7)
        .expect("ok");
    assert_eq!(
        out,
        vec![
            E::CurrentEpoch(4),
            E::EpochAcked { sid: Sid(3) },
            E::EpochAcked { sid: Sid(2) },
        ]
    );
}

#[test]
fn a_learner_ahead_of_the_leader_is_refused_the_rule_of_wait_for_epoch_ack() {
    // (currentEpoch, lastZxid) compared as StateSummary.isMoreRecentThan.
    let rows: &[(StateSummary, bool)] = &[
        (summary(4, Zxid::new(2, 1)), true), // higher epoch, whatever the zxid
        (summary(3, Zxid::new(3, 6)), true), // same epoch, higher zxid
        (summary(3, Zxid::new(3, 5)), false), // equal
        (summary(2, Zxid::new(9, 9)), false), // lower epoch, whatever the zxid
        (summary(-1, Zxid::new(9, 9)), false), // -1 is never checked
    ];
    for (ss, ahead) in rows {
        let mut d = leader();
        d.on_learner_info(Sid(2), 3, 0);
        let got = d.on_ack_epoch(Sid(2), *ss, 1);
        assert_eq!(got.is_err(), *ahead, "{ss:?}: {got:?}");
        if *ahead {
            assert_eq!(
                got,
                Err(LeaderError::FollowerAhead {
                    leader_epoch: 3,
                    leader_zxid: Zxid::new(3, 5).0
                })
            );
        }
    }
    // After the barrier has passed, nobody is checked any more.
    let mut d = leader();
    d.on_learner_info(Sid(2), 3, 0);
    d.on_ack_epoch(Sid(2), summary(3, Zxid::new(3, 1)), 1)
        .expect("ok");
    assert_eq!(
        d.on_ack_epoch(Sid(3), summary(9, Zxid::new(9, 9)), 2),
        Ok(vec![E::EpochAcked { sid: Sid(3) }])
    );
}

#[test]
fn a_learner_with_no_zxid_or_an_observer_does_not_count_toward_the_epoch_ack() {
    let mut d = leader();
    d.on_learner_info(Sid(2), 3, 0);
    d.on_learner_info(Sid(4), 3, 0);
    assert_eq!(d.on_ack_epoch(Sid(2), summary(0, Zxid(-1)), 1), Ok(vec![]));
    assert_eq!(
        d.on_ack_epoch(Sid(4), summary(3, Zxid::new(3, 1)), 1),
        Ok(vec![])
    );
}

#[test]
fn new_leader_ack_quorum_establishes_and_a_wrong_zxid_passes_uncounted() {
    let mut d = leader();
    d.on_learner_info(Sid(2), 3, 0);
    d.on_learner_info(Sid(3), 3, 0);
    d.on_ack_epoch(Sid(2), summary(3, Zxid::new(3, 5)), 1)
        .expect("ok");
    d.on_ack_epoch(Sid(3), summary(3, Zxid::new(3, 5)), 1)
        .expect("ok");
    // Learner 3 acks a stale zxid: Java logs and lets it go on without counting it.
    assert_eq!(
        d.on_new_leader_ack(Sid(3), Zxid::new(3, 0), 2),
        vec![E::NewLeaderAcked { sid: Sid(3) }]
    );
    assert!(!d.established());
    let out = d.on_new_leader_ack(Sid(2), Zxid::new(4, 0), 3);
    assert_eq!(
        out,
        vec![
            E::NewLeaderAcked { sid: Sid(2) },
            E::Established {
                zxid: Zxid::new(4, 0)
            }
        ]
    );
    // Later arrivals go straight through every barrier.
    assert_eq!(
        d.on_new_leader_ack(Sid(4), Zxid(0), 4),
        vec![E::NewLeaderAcked { sid: Sid(4) }]
    );
}

#[test]
fn each_barrier_times_out_after_init_limit_ticks() {
    // The leader's own wait for epochs.
    let mut d = leader();
    assert_eq!(d.on_tick(INIT_MS - 1), vec![]);
    assert_eq!(
        d.on_tick(INIT_MS),
        vec![E::GiveUp {
            reason: "Timeout while waiting for epoch from quorum".into()
        }]
    );
    assert_eq!(
        d.on_learner_info(Sid(2), 3, INIT_MS + 1),
        vec![],
        "a machine that gave up is inert"
    );

    // The epoch-ack wait: learner 3 never acks.
    let mut d = leader();
    d.on_learner_info(Sid(2), 3, 100);
    assert_eq!(
        d.next_deadline_ms(),
        Some(100 + INIT_MS),
        "the leader's wait starts at quorum"
    );
    assert_eq!(
        d.on_tick(100 + INIT_MS),
        vec![E::GiveUp {
            reason: "Timeout while waiting for epoch to be acked by quorum".into()
        }]
    );

    // The NEWLEADER wait, and a learner whose own wait ends first.
    let mut d = leader();
    d.on_learner_info(Sid(2), 3, 0);
    d.on_ack_epoch(Sid(2), summary(3, Zxid::new(3, 1)), 0)
        .expect("ok");
    d.on_learner_info(Sid(3), 3, 5);
    assert_eq!(
        d.on_tick(INIT_MS),
        vec![E::GiveUp {
            reason: "Waiting for a quorum of followers, only synced with sids: [ [1] ]".into()
        }]
    );
    let mut d = leader();
    d.on_learner_info(Sid(4), 3, 0);
    d.on_learner_info(Sid(2), 3, 1);
    d.on_ack_epoch(Sid(4), summary(3, Zxid::new(3, 1)), 2)
        .expect("observer waits");
    d.on_ack_epoch(Sid(2), summary(3, Zxid::new(3, 1)), 3)
        .expect("quorum");
    // The observer's NEWLEADER ack is not counted: it waits, and so does the leader.
    assert_eq!(d.on_new_leader_ack(Sid(4), Zxid::new(4, 0), 4), vec![]);
    assert_eq!(d.next_deadline_ms(), Some(3 + INIT_MS));
    assert_eq!(
        d.on_tick(4 + INIT_MS - 1),
        vec![E::GiveUp {
            reason: "Waiting for a quorum of followers, only synced with sids: [ [1] ]".into()
        }]
    );
}

#[test]
fn a_waiting_learner_times_out_alone() {
    // Learner 2 waits for NEWLEADER acks longer than its own initLimit allows.
    let (mut d5, _) = Discovery::start(
        qv(&[1, 2, 3, 4, 5], &[]),
        Sid(1),
        3,
        summary(3, Zxid(0)),
        INIT_MS,
        0,
    );
    d5.on_learner_info(Sid(2), 3, 0);
    d5.on_learner_info(Sid(3), 3, 0);
    d5.on_ack_epoch(Sid(2), summary(3, Zxid(0)), 0).expect("ok");
    d5.on_ack_epoch(Sid(3), summary(3, Zxid(0)), 10)
        .expect("ok");
    // 2 acked NEWLEADER early; the leader's own wait began later, at 10.
    assert_eq!(d5.on_new_leader_ack(Sid(2), Zxid::new(4, 0), 1), vec![]);
    assert_eq!(
        d5.on_tick(1 + INIT_MS),
        vec![E::LearnerTimedOut {
            sid: Sid(2),
            reason: "Timeout while waiting for NEWLEADER to be acked by quorum".into()
        }]
    );

    let (mut d, _) = Discovery::start(
        qv(&[1, 2, 3, 4, 5], &[]),
        Sid(1),
        3,
        summary(3, Zxid(0)),
        INIT_MS,
        0,
    );
    d.on_learner_info(Sid(2), 3, 50);
    let out = d.on_tick(INIT_MS);
    assert_eq!(
        out,
        vec![E::GiveUp {
            reason: "Timeout while waiting for epoch from quorum".into()
        }]
    );
    let (mut d, _) = Discovery::start(
        qv(&[1, 2, 3, 4, 5], &[]),
        Sid(1),
        3,
        summary(3, Zxid(0)),
        INIT_MS,
        0,
    );
    d.on_learner_info(Sid(2), 3, 50);
    d.remove_learner(Sid(2));
    assert_eq!(d.next_deadline_ms(), Some(INIT_MS));
}

/// Leader 1 committed to {1,2,3}, with a newer last-seen view {1,4,5}.
fn leader_with_last_seen() -> Discovery<Majority> {
    let (d, out) = Discovery::start_with_last_seen(
        qv(&[1, 2, 3], &[]),
        Some(qv(&[1, 4, 5], &[])),
        Sid(1),
        3,
        summary(3, Zxid::new(3, 5)),
        INIT_MS,
        0,
    );
    assert!(out.is_empty(), "{out:?}");
    d
}

#[test]
fn with_a_newer_last_seen_view_only_newleader_needs_a_quorum_of_both() {
    let mut d = leader_with_last_seen();
    // getEpochToPropose and waitForEpochAck count with the committed view alone (Java
    // 3.8.0-3.9.5); 4 votes only in the last-seen view and does not count there.
    assert_eq!(d.on_learner_info(Sid(4), 3, 1), vec![]);
    let out = d.on_learner_info(Sid(2), 3, 1);
    assert_eq!(out[0], E::AcceptedEpoch(4));
    assert_eq!(
        d.on_ack_epoch(Sid(4), summary(3, Zxid::new(3, 5)), 2),
        Ok(vec![])
    );
    assert_eq!(
        d.on_ack_epoch(Sid(2), summary(3, Zxid::new(3, 5)), 2),
        Ok(vec![
            E::CurrentEpoch(4),
            E::EpochAcked { sid: Sid(2) },
            E::EpochAcked { sid: Sid(4) },
        ])
    );
    // {1,2} is a quorum of the committed view but holds only 1 of {1,4,5}.
    let zxid = Zxid::new(4, 0);
    assert_eq!(d.on_new_leader_ack(Sid(2), zxid, 3), vec![]);
    assert!(!d.established());
    // 4's ACK completes the last-seen view's quorum; it is recorded though not a voter
    // of the committed view.
    assert_eq!(
        d.on_new_leader_ack(Sid(4), zxid, 4),
        vec![
            E::NewLeaderAcked { sid: Sid(4) },
            E::NewLeaderAcked { sid: Sid(2) },
            E::Established { zxid },
        ]
    );
    assert_eq!(d.new_leader_acks(), &[1, 2, 4].map(Sid).into());
}

#[test]
fn a_newleader_timeout_reports_each_views_ack_set() {
    let mut d = leader_with_last_seen();
    d.on_learner_info(Sid(2), 3, 1);
    d.on_ack_epoch(Sid(2), summary(3, Zxid::new(3, 5)), 2)
        .expect("ok");
    d.on_new_leader_ack(Sid(2), Zxid::new(4, 0), 3);
    assert_eq!(
        d.on_tick(2 + INIT_MS),
        vec![E::GiveUp {
            reason: "Waiting for a quorum of followers, only synced with sids: [ [1, 2],[1] ]"
                .into()
        }]
    );
}
