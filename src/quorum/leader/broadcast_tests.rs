//! Broadcast rules, each checked against the exact actions 3.8 would take.

use bytes::Bytes;

use super::broadcast::{AckOutcome, Broadcast};
use super::{Action, LeaderError, LeaderPacket};
use crate::quorum::{LearnerType, Majority, Sid, Zxid};

fn z(c: i64) -> Zxid {
    Zxid::new(5, c)
}

fn data(c: i64) -> Bytes {
    Bytes::from(vec![c as u8; 3])
}

fn send(to: u64, packet: LeaderPacket) -> Action {
    Action::Send {
        to: Sid(to),
        packet,
    }
}

/// Leader 1 of voters {1,2,3,4,5}, observer 6; 2 and 3 forwarding, 6 observing.
fn leader() -> Broadcast<Majority> {
    let qv = Majority::new([1, 2, 3, 4, 5].map(Sid), [Sid(6)]);
    let mut b = Broadcast::new(qv, Sid(1), 5);
    b.establish();
    assert!(b
        .start_forwarding(Sid(2), LearnerType::Participant, z(0))
        .is_empty());
    assert!(b
        .start_forwarding(Sid(3), LearnerType::Participant, z(0))
        .is_empty());
    assert!(b
        .start_forwarding(Sid(6), LearnerType::Observer, z(0))
        .is_empty());
    b
}

fn commit_actions(c: i64) -> Vec<Action> {
    vec![
        send(2, LeaderPacket::Commit { zxid: z(c) }),
        send(3, LeaderPacket::Commit { zxid: z(c) }),
        send(
            6,
            LeaderPacket::Inform {
                zxid: z(c),
                data: data(c),
            },
        ),
        Action::Commit { zxid: z(c) },
    ]
}

#[test]
fn propose_sends_to_forwarding_followers_only() {
    let mut b = leader();
    assert_eq!(
        b.propose(z(1), data(1)),
        Ok(vec![
            send(
                2,
                LeaderPacket::Proposal {
                    zxid: z(1),
                    data: data(1)
                }
            ),
            send(
                3,
                LeaderPacket::Proposal {
                    zxid: z(1),
                    data: data(1)
                }
            ),
        ])
    );
    assert_eq!(b.last_proposed(), z(1));
    assert_eq!(
        b.propose(z(1), data(1)),
        Err(LeaderError::ProposalOutOfOrder {
            zxid: z(1).0,
            last: z(1).0
        })
    );
}

#[test]
fn a_quorum_of_voter_acks_commits_with_commit_inform_and_local_commit() {
    let mut b = leader();
    b.propose(z(1), data(1)).expect("propose");
    assert_eq!(b.process_ack(Sid(2), z(1)), (AckOutcome::Counted, vec![]));
    // An observer's ACK (and a stranger's) never counts.
    assert_eq!(b.process_ack(Sid(6), z(1)), (AckOutcome::Counted, vec![]));
    assert_eq!(b.process_ack(Sid(9), z(1)), (AckOutcome::Counted, vec![]));
    // The leader's own durability is its ACK: 3 of 5.
    assert_eq!(b.on_durable(z(0)), vec![]);
    assert_eq!(b.process_ack(Sid(3), z(1)), (AckOutcome::Counted, vec![]));
    assert_eq!(b.on_durable(z(1)), commit_actions(1));
    assert_eq!(b.last_committed(), z(1));
}

#[test]
fn commits_are_strictly_in_zxid_order() {
    let mut b = leader();
    b.propose(z(1), data(1)).expect("propose");
    b.propose(z(2), data(2)).expect("propose");
    // z2 reaches a quorum first: it waits for z1.
    for s in [1, 2, 3] {
        assert_eq!(b.process_ack(Sid(s), z(2)).0, AckOutcome::Counted);
    }
    assert_eq!(b.process_ack(Sid(1), z(1)).0, AckOutcome::Counted);
    assert_eq!(b.process_ack(Sid(2), z(1)).0, AckOutcome::Counted);
    assert_eq!(
        b.process_ack(Sid(3), z(1)),
        (AckOutcome::Committed, commit_actions(1))
    );
    // As in 3.8, committing z1 does not sweep z2: its next ACK does.
    assert_eq!(b.outstanding().collect::<Vec<_>>(), vec![z(2)]);
    assert_eq!(
        b.process_ack(Sid(4), z(2)),
        (AckOutcome::Committed, commit_actions(2))
    );
}

#[test]
fn acks_that_cannot_count_are_ignored_at_3_8_log_levels() {
    let mut b = leader();
    let zero = (AckOutcome::EpochStart, vec![]);
    assert_eq!(b.process_ack(Sid(2), z(0)), zero, "NEWLEADER/UPTODATE ack");
    assert_eq!(
        b.process_ack(Sid(2), z(1)),
        (AckOutcome::NoneOutstanding, vec![])
    );
    b.propose(z(1), data(1)).expect("propose");
    b.propose(z(2), data(2)).expect("propose");
    assert_eq!(b.process_ack(Sid(2), z(7)), (AckOutcome::Unknown, vec![]));
    for s in [1, 2] {
        b.process_ack(Sid(s), z(1));
    }
    assert_eq!(b.process_ack(Sid(3), z(1)).0, AckOutcome::Committed);
    assert_eq!(
        b.process_ack(Sid(4), z(1)),
        (AckOutcome::AlreadyCommitted, vec![])
    );
    assert_eq!(
        AckOutcome::AlreadyCommitted.level(),
        Some(tracing::Level::DEBUG)
    );
    assert_eq!(
        AckOutcome::NoneOutstanding.level(),
        Some(tracing::Level::DEBUG)
    );
    assert_eq!(AckOutcome::Unknown.level(), Some(tracing::Level::WARN));
    assert_eq!(AckOutcome::EpochStart.level(), None);
}

#[test]
fn sync_is_answered_when_the_proposals_before_it_commit() {
    let mut b = leader();
    assert_eq!(
        b.process_sync(Sid(2)),
        vec![send(2, LeaderPacket::Sync)],
        "nothing outstanding"
    );
    b.propose(z(1), data(1)).expect("propose");
    b.propose(z(2), data(2)).expect("propose");
    assert_eq!(b.process_sync(Sid(3)), vec![]);
    assert_eq!(b.pending_syncs(), 1);
    for s in [1, 2, 3] {
        b.process_ack(Sid(s), z(1));
    }
    assert_eq!(b.pending_syncs(), 1, "keyed to z2, the last proposed");
    b.process_ack(Sid(1), z(2));
    b.process_ack(Sid(2), z(2));
    let mut want = commit_actions(2);
    want.push(send(3, LeaderPacket::Sync));
    assert_eq!(b.process_ack(Sid(3), z(2)), (AckOutcome::Committed, want));
}

#[test]
fn start_forwarding_queues_unapplied_commits_then_outstanding_for_voters() {
    let mut b = leader();
    b.propose(z(1), data(1)).expect("propose");
    b.propose(z(2), data(2)).expect("propose");
    b.propose(z(3), data(3)).expect("propose");
    for s in [1, 2, 3] {
        b.process_ack(Sid(s), z(1));
        b.process_ack(Sid(s), z(2));
    }
    b.applied(z(1));
    // Learner 4 synced to z1: z2 (committed, not applied) with COMMIT, then z3.
    assert_eq!(
        b.start_forwarding(Sid(4), LearnerType::Participant, z(1)),
        vec![
            send(
                4,
                LeaderPacket::Proposal {
                    zxid: z(2),
                    data: data(2)
                }
            ),
            send(4, LeaderPacket::Commit { zxid: z(2) }),
            send(
                4,
                LeaderPacket::Proposal {
                    zxid: z(3),
                    data: data(3)
                }
            ),
        ]
    );
    // An observer gets no outstanding proposals.
    assert_eq!(
        b.start_forwarding(Sid(7), LearnerType::Observer, z(0)),
        vec![
            send(
                7,
                LeaderPacket::Proposal {
                    zxid: z(2),
                    data: data(2)
                }
            ),
            send(7, LeaderPacket::Commit { zxid: z(2) }),
        ]
    );
    // From now on 4 gets proposals even though it is still syncing.
    assert!(b.forwarding_followers().contains(&Sid(4)));
    let sent = b.propose(z(4), data(4)).expect("propose");
    assert!(sent.contains(&send(
        4,
        LeaderPacket::Proposal {
            zxid: z(4),
            data: data(4)
        }
    )));
}

#[test]
fn a_syncing_voters_ack_counts_like_any_other() {
    // 3.8's processAck does not look at forwardingFollowers: any voter's ACK counts.
    let mut b = leader();
    b.propose(z(1), data(1)).expect("propose");
    b.process_ack(Sid(1), z(1));
    b.process_ack(Sid(4), z(1)); // 4 is not forwarding (yet)
    assert_eq!(b.process_ack(Sid(5), z(1)).0, AckOutcome::Committed);
}

#[test]
fn counter_rollover_forces_a_new_election() {
    let mut b = leader();
    let top = Zxid::new(5, 0xffff_ffff);
    assert_eq!(
        b.propose(top, data(0)),
        Ok(vec![Action::GiveUp {
            reason: "zxid lower 32 bits have rolled over, forcing re-election, and therefore new epoch start".into()
        }])
    );
    assert_eq!(
        b.propose(Zxid::new(5, 1), data(1)),
        Ok(vec![]),
        "a machine that gave up is inert"
    );
}

#[test]
fn a_closed_learner_gets_nothing_more() {
    let mut b = leader();
    b.remove_learner(Sid(3));
    assert_eq!(
        b.propose(z(1), data(1)),
        Ok(vec![send(
            2,
            LeaderPacket::Proposal {
                zxid: z(1),
                data: data(1)
            }
        )])
    );
}

/// Found by the ensemble simulator (quorum::sim seeds 10166, 10307, 10800 with slow links
/// and disks): follower 2 ACKed a proposal, restarted, and was TRUNCated below it on
/// re-sync; its old ACK still counted, so the proposal committed on a copy that follower
/// no longer had, and a later leader lacked it. A re-sync now drops the learner's ACKs
/// of proposals after its sync point; the re-sent copies are ACKed again once durable.
#[test]
fn a_resync_drops_the_learners_acks_after_its_sync_point() {
    let mut b = leader();
    b.propose(z(1), data(1)).expect("propose");
    b.process_ack(Sid(2), z(1));
    b.process_ack(Sid(3), z(1));
    // 2 reconnects, synced only up to z(0): it gets z(1) again.
    let out = b.start_forwarding(Sid(2), LearnerType::Participant, z(0));
    assert_eq!(
        out,
        vec![send(
            2,
            LeaderPacket::Proposal {
                zxid: z(1),
                data: data(1)
            }
        )]
    );
    // The leader's own ACK makes 2 of 5 fresh ACKs (1 and 3): no quorum yet.
    assert_eq!(b.on_durable(z(1)), vec![]);
    assert_eq!(b.last_committed(), z(0));
    // 2 ACKs the re-sent copy: 1, 2, 3 is a quorum of 5.
    let (_, out) = b.process_ack(Sid(2), z(1));
    assert!(out.contains(&Action::Commit { zxid: z(1) }), "{out:?}");
}
