//! Synchronization: DIFF, TRUNC and SNAP up to UPTODATE (Learner.syncWithLeader).

use super::*;
use crate::quorum::zab::{Warning, ZabError};

fn z(counter: i64) -> Zxid {
    Zxid::new(1, counter)
}

#[test]
fn diff_sync_logs_at_newleader_acks_after_durable_and_commits_after_uptodate() {
    let mut l = in_sync_start(LearnerType::Participant);
    assert_eq!(feed(&mut l, 20, &bare(pt::DIFF, z(5))), vec![]);
    // Our log ends at (1, 3): (1, 4) follows, so no warning.
    assert_eq!(feed(&mut l, 21, &proposal(z(4))), vec![]);
    assert_eq!(feed(&mut l, 22, &proposal(z(5))), vec![]);
    assert_eq!(feed(&mut l, 23, &bare(pt::COMMIT, z(4))), vec![]);
    // NEWLEADER: the synced txns go to the log, and the ACK waits for them.
    assert_eq!(
        feed(&mut l, 30, &bare(pt::NEWLEADER, Zxid::new(2, 0))),
        vec![log(z(4)), log(z(5))]
    );
    assert_eq!(l.durable(z(4)).expect("durable"), vec![]);
    assert_eq!(
        l.durable(z(5)).expect("durable"),
        vec![
            Action::PersistCurrentEpoch(2),
            send(pt::ACK, Zxid::new(2, 0))
        ]
    );
    assert_eq!(l.epochs(), (2, 2));
    // Between the NEWLEADER ACK and UPTODATE: queued, not logged yet.
    assert_eq!(feed(&mut l, 40, &bare(pt::COMMIT, z(5))), vec![]);
    assert_eq!(feed(&mut l, 41, &proposal(Zxid::new(2, 1))), vec![]);
    assert_eq!(
        feed(&mut l, 50, &bare(pt::UPTODATE, Zxid(-1))),
        vec![
            send(pt::ACK, Zxid::new(2, 0)),
            Action::Serving { epoch: 2 },
            send(pt::ACK, z(4)),
            send(pt::ACK, z(5)),
            log(Zxid::new(2, 1)),
            Action::Commit { zxid: z(4) },
            Action::Commit { zxid: z(5) },
        ]
    );
    assert!(l.is_serving());
    // The proposal logged after UPTODATE is ACKed the usual way.
    assert_eq!(
        l.durable(Zxid::new(2, 1)).expect("durable"),
        vec![send(pt::ACK, Zxid::new(2, 1))]
    );
    assert_eq!(
        feed(&mut l, 60, &bare(pt::COMMIT, Zxid::new(2, 1))),
        vec![Action::Commit {
            zxid: Zxid::new(2, 1)
        }]
    );
}

#[test]
fn newleader_with_nothing_to_log_acks_at_once_and_switches_to_sync_limit() {
    let mut l = in_sync_start(LearnerType::Participant);
    feed(&mut l, 20, &bare(pt::DIFF, z(3)));
    // Until NEWLEADER the leader may be silent initLimit (10) ticks.
    assert_eq!(l.tick(20 + 10 * TICK_MS - 1), vec![]);
    assert_eq!(
        feed(&mut l, 10_000, &bare(pt::NEWLEADER, Zxid::new(2, 0))),
        vec![
            Action::PersistCurrentEpoch(2),
            send(pt::ACK, Zxid::new(2, 0))
        ]
    );
    // From NEWLEADER on, syncLimit (5) ticks.
    assert_eq!(l.tick(10_000 + 5 * TICK_MS - 1), vec![]);
    assert!(matches!(
        &l.tick(10_000 + 5 * TICK_MS)[..],
        [Action::GoLooking { .. }]
    ));
}

/// Found by the ensemble simulator (quorum::sim, seed 1034 with 5 servers, when the
/// driver did not flush at a role's end): a learner whose log tail from the previous role
/// is not durable yet must not ACK NEWLEADER before it is, even when the sync itself logs
/// nothing; else a crash loses txns the new epoch counts as committed.
#[test]
fn newleader_ack_waits_for_an_unsynced_tail_from_the_previous_role() {
    let mut p = persisted(1, 1, z(3));
    p.durable_zxid = z(1);
    let mut l = started(p);
    feed(&mut l, 10, &leader_info(2));
    assert_eq!(feed(&mut l, 20, &bare(pt::DIFF, z(3))), vec![]);
    assert_eq!(
        feed(&mut l, 30, &bare(pt::NEWLEADER, Zxid::new(2, 0))),
        vec![]
    );
    assert_eq!(l.durable(z(2)).expect("durable"), vec![]);
    assert_eq!(
        l.durable(z(3)).expect("durable"),
        vec![
            Action::PersistCurrentEpoch(2),
            send(pt::ACK, Zxid::new(2, 0))
        ]
    );
    // A TRUNC below the unsynced part leaves nothing to wait for.
    let mut p = persisted(1, 1, z(3));
    p.durable_zxid = z(1);
    let mut l = started(p);
    feed(&mut l, 10, &leader_info(2));
    feed(&mut l, 20, &bare(pt::TRUNC, z(1)));
    assert_eq!(
        feed(&mut l, 30, &bare(pt::NEWLEADER, Zxid::new(2, 0))),
        vec![
            Action::TakeSnapshot { sync: false },
            Action::PersistCurrentEpoch(2),
            send(pt::ACK, Zxid::new(2, 0))
        ]
    );
}

#[test]
fn trunc_sync_applies_commits_and_snapshots_at_newleader() {
    let mut l = in_sync_start(LearnerType::Participant);
    assert_eq!(
        feed(&mut l, 20, &bare(pt::TRUNC, z(2))),
        vec![Action::Truncate { zxid: z(2) }]
    );
    assert_eq!(feed(&mut l, 21, &proposal(z(3))), vec![]);
    // Before NEWLEADER of a TRUNC, a COMMIT goes straight to the tree.
    assert_eq!(
        feed(&mut l, 22, &bare(pt::COMMIT, z(3))),
        vec![Action::Apply {
            entry: Box::new(entry(z(3)))
        }]
    );
    assert_eq!(feed(&mut l, 23, &proposal(z(4))), vec![]);
    // A COMMIT that is not for the head is only a warning here.
    assert_eq!(
        feed(&mut l, 24, &bare(pt::COMMIT, z(9))),
        vec![Action::Warn(Warning::CommitOutOfOrder {
            commit: z(9),
            next: z(4)
        })]
    );
    assert_eq!(
        feed(&mut l, 30, &bare(pt::NEWLEADER, Zxid::new(2, 0))),
        vec![Action::TakeSnapshot { sync: false }, log(z(4))]
    );
    assert_eq!(
        l.durable(z(4)).expect("durable"),
        vec![
            Action::PersistCurrentEpoch(2),
            send(pt::ACK, Zxid::new(2, 0))
        ]
    );
    assert_eq!(
        feed(&mut l, 40, &bare(pt::UPTODATE, Zxid(-1))),
        vec![
            send(pt::ACK, Zxid::new(2, 0)),
            Action::Serving { epoch: 2 },
            send(pt::ACK, z(4)),
        ]
    );
    // (1, 4) is still pending: its COMMIT comes in broadcast.
    assert_eq!(
        feed(&mut l, 50, &bare(pt::COMMIT, z(4))),
        vec![Action::Commit { zxid: z(4) }]
    );
}

#[test]
fn snap_sync_waits_for_the_snapshot_then_takes_a_synced_one_at_newleader() {
    let mut l = in_sync_start(LearnerType::Participant);
    assert_eq!(
        feed(&mut l, 20, &bare(pt::SNAP, z(7))),
        vec![Action::LoadSnapshot { zxid: z(7) }]
    );
    // Reading a large snapshot is not leader silence.
    assert_eq!(l.tick(20 + 100 * TICK_MS), vec![]);
    assert_eq!(l.wake_at_ms(), None);
    assert_eq!(l.snapshot_loaded(200_000).expect("loaded"), vec![]);
    assert_eq!(feed(&mut l, 200_001, &proposal(z(8))), vec![]);
    assert_eq!(
        feed(&mut l, 200_002, &bare(pt::COMMIT, z(8))),
        vec![Action::Apply {
            entry: Box::new(entry(z(8)))
        }]
    );
    assert_eq!(
        feed(&mut l, 200_010, &bare(pt::NEWLEADER, Zxid::new(2, 0))),
        vec![
            Action::TakeSnapshot { sync: true },
            Action::PersistCurrentEpoch(2),
            send(pt::ACK, Zxid::new(2, 0)),
        ]
    );
    assert_eq!(
        feed(&mut l, 200_020, &bare(pt::UPTODATE, Zxid(-1))),
        vec![send(pt::ACK, Zxid::new(2, 0)), Action::Serving { epoch: 2 }]
    );
}

#[test]
fn a_packet_while_the_snapshot_is_read_is_refused() {
    let mut l = in_sync_start(LearnerType::Participant);
    feed(&mut l, 20, &bare(pt::SNAP, z(7)));
    assert!(matches!(
        l.on_packet(21, &proposal(z(8))),
        Err(ZabError::Unexpected { .. })
    ));
}

#[test]
fn sync_must_start_with_diff_trunc_or_snap_else_fatal() {
    let mut l = in_sync_start(LearnerType::Participant);
    let err = l
        .on_packet(20, &proposal(z(4)))
        .expect_err("not a sync start");
    assert!(matches!(err, ZabError::BadSyncStart("PROPOSAL")));
    assert!(err.is_fatal());
}

#[test]
fn commit_before_any_proposal_during_sync_is_an_error() {
    let mut l = in_sync_start(LearnerType::Participant);
    feed(&mut l, 20, &bare(pt::DIFF, z(4)));
    assert!(matches!(
        l.on_packet(21, &bare(pt::COMMIT, z(4))),
        Err(ZabError::CommitBeforeProposal(c)) if c == z(4)
    ));
}

#[test]
fn commit_after_newleader_with_nothing_pending_is_an_error_as_in_java() {
    let mut l = in_sync_start(LearnerType::Participant);
    feed(&mut l, 20, &bare(pt::DIFF, z(3)));
    feed(&mut l, 30, &bare(pt::NEWLEADER, Zxid::new(2, 0)));
    assert!(matches!(
        l.on_packet(31, &bare(pt::COMMIT, z(3))),
        Err(ZabError::CommitBeforeProposal(_))
    ));
}

#[test]
fn uptodate_before_the_newleader_ack_is_an_error() {
    let mut l = in_sync_start(LearnerType::Participant);
    feed(&mut l, 20, &bare(pt::DIFF, z(4)));
    feed(&mut l, 21, &proposal(z(4)));
    feed(&mut l, 22, &bare(pt::NEWLEADER, Zxid::new(2, 0)));
    // (1, 4) is not durable yet, so NEWLEADER is not ACKed.
    assert!(matches!(
        l.on_packet(23, &bare(pt::UPTODATE, Zxid(-1))),
        Err(ZabError::Unexpected { .. })
    ));
    assert!(matches!(l.durable(z(4)), Err(ZabError::Stopped)));
}

#[test]
fn ping_during_sync_is_read_and_dropped() {
    let mut l = in_sync_start(LearnerType::Participant);
    feed(&mut l, 20, &bare(pt::DIFF, z(3)));
    assert_eq!(feed(&mut l, 21, &bare(pt::PING, Zxid::new(2, 0))), vec![]);
    // It still counts as hearing from the leader.
    assert_eq!(l.wake_at_ms(), Some(21 + 10 * TICK_MS));
    assert_eq!(
        feed(&mut l, 22, &bare(pt::REVALIDATE, Zxid(-1))),
        vec![Action::Warn(Warning::Ignored {
            packet: "REVALIDATE",
            phase: "syncing"
        })]
    );
}

#[test]
fn observer_sync_commits_matched_txns_at_uptodate_without_logging_or_acking_them() {
    let mut l = in_sync_start(LearnerType::Observer);
    feed(&mut l, 20, &bare(pt::DIFF, z(5)));
    feed(&mut l, 21, &proposal(z(4)));
    feed(&mut l, 22, &bare(pt::COMMIT, z(4)));
    feed(&mut l, 23, &proposal(z(5)));
    assert_eq!(
        feed(&mut l, 30, &bare(pt::NEWLEADER, Zxid::new(2, 0))),
        vec![
            Action::PersistCurrentEpoch(2),
            send(pt::ACK, Zxid::new(2, 0))
        ]
    );
    assert_eq!(
        feed(&mut l, 40, &bare(pt::UPTODATE, Zxid(-1))),
        vec![
            send(pt::ACK, Zxid::new(2, 0)),
            Action::Serving { epoch: 2 },
            Action::CommitInformed {
                zxid: z(4),
                entry: Box::new(entry(z(4))),
                raw: entry(z(4)).to_bytes().to_vec(),
            },
            Action::Warn(Warning::CommitWithoutTxn(z(5))),
        ]
    );
}
