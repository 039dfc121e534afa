//! The leader's side of a reconfig, against what 3.8 does: ACKs counted in both views
//! while it is outstanding, its commit's exact actions, the designated leader, and
//! allowedToCommit.

use bytes::Bytes;

use super::broadcast::{AckOutcome, Broadcast};
use super::{Action, LeaderError, LeaderPacket};
use crate::quorum::{LearnerType, Majority, QuorumVerifier, Sid, Zxid};

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

fn view(voters: &[u64]) -> Majority {
    Majority::new(voters.iter().copied().map(Sid), [Sid(6)])
}

/// Leader 1 of `voters` + observer 6; `followers` forwarding, 6 observing.
fn leader(voters: &[u64], followers: &[u64]) -> Broadcast<Majority> {
    let mut b = Broadcast::new(view(voters), Sid(1), 5);
    b.establish();
    for &f in followers {
        assert!(b
            .start_forwarding(Sid(f), LearnerType::Participant, z(0))
            .is_empty());
    }
    assert!(b
        .start_forwarding(Sid(6), LearnerType::Observer, z(0))
        .is_empty());
    b
}

fn ack(b: &mut Broadcast<Majority>, sid: u64, c: i64) -> (AckOutcome, Vec<Action>) {
    b.process_ack(Sid(sid), z(c))
}

/// COMMIT, INFORM, local commit: an ordinary txn's commit to followers 2, 3, 4.
fn commit_actions(c: i64) -> Vec<Action> {
    vec![
        send(2, LeaderPacket::Commit { zxid: z(c) }),
        send(3, LeaderPacket::Commit { zxid: z(c) }),
        send(4, LeaderPacket::Commit { zxid: z(c) }),
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
fn a_reconfig_and_later_proposals_need_a_quorum_of_both_views() {
    // {1,2,3} → {1,2,3,4,5}: 4 joined as a follower; 5 is not connected.
    let mut b = leader(&[1, 2, 3], &[2, 3, 4]);
    b.propose_reconfig(z(1), data(1), view(&[1, 2, 3, 4, 5]))
        .expect("reconfig");
    b.propose(z(2), data(2)).expect("propose");
    assert!(
        b.on_durable(z(2)).is_empty(),
        "1 alone is no quorum of either"
    );
    // The joiner's ACK counts for the new view only: {1,4} is no quorum of it yet.
    assert_eq!(ack(&mut b, 4, 1), (AckOutcome::Counted, vec![]));
    // 2 makes {1,2} in the old view and {1,2,4} in the new.
    let (outcome, out) = ack(&mut b, 2, 1);
    assert_eq!(outcome, AckOutcome::Committed);
    assert!(out.contains(&Action::Activate {
        zxid: z(1),
        designated: Sid(1)
    }));
    // z2 was proposed while the reconfig was outstanding: it still needs both views.
    assert_eq!(ack(&mut b, 2, 2), (AckOutcome::Counted, vec![]));
    assert_eq!(
        ack(&mut b, 4, 2),
        (AckOutcome::Committed, commit_actions(2))
    );
    // From the commit on, only the new view counts: {1,4,5} is a quorum of it alone.
    b.propose(z(3), data(3)).expect("propose");
    b.on_durable(z(3));
    assert_eq!(ack(&mut b, 4, 3), (AckOutcome::Counted, vec![]));
    assert_eq!(
        ack(&mut b, 5, 3),
        (AckOutcome::Committed, commit_actions(3))
    );
}

#[test]
fn new_view_quorum_without_old_view_quorum_does_not_commit() {
    let mut b = leader(&[1, 2, 3], &[2, 3, 4]);
    b.propose_reconfig(z(1), data(1), view(&[1, 4, 5]))
        .expect("reconfig");
    b.on_durable(z(1));
    assert_eq!(ack(&mut b, 4, 1), (AckOutcome::Counted, vec![]));
    assert_eq!(ack(&mut b, 5, 1), (AckOutcome::Counted, vec![]));
    assert_eq!(b.outstanding().collect::<Vec<_>>(), vec![z(1)]);
    assert_eq!(ack(&mut b, 3, 1).0, AckOutcome::Committed);
}

#[test]
fn the_commit_of_a_reconfig_activates_then_commits_then_answers_syncs() {
    let mut b = leader(&[1, 2, 3], &[2, 3, 4]);
    b.propose_reconfig(z(1), data(1), view(&[1, 2, 3, 4]))
        .expect("reconfig");
    assert!(b.process_sync(Sid(3)).is_empty(), "waits for z1");
    b.on_durable(z(1));
    ack(&mut b, 2, 1);
    let (outcome, out) = ack(&mut b, 4, 1);
    assert_eq!(outcome, AckOutcome::Committed);
    let caa = |to| {
        send(
            to,
            LeaderPacket::CommitAndActivate {
                zxid: z(1),
                designated: 1,
            },
        )
    };
    assert_eq!(
        out,
        vec![
            caa(2),
            caa(3),
            caa(4),
            send(
                6,
                LeaderPacket::InformAndActivate {
                    zxid: z(1),
                    designated: 1,
                    data: data(1)
                }
            ),
            Action::Activate {
                zxid: z(1),
                designated: Sid(1)
            },
            Action::Commit { zxid: z(1) },
            send(3, LeaderPacket::Sync),
        ]
    );
    assert!(b.last_seen().is_none());
    assert!(b.qv().is_voter(Sid(4)));
    assert!(b.allowed_to_commit());
}

#[test]
fn only_one_reconfig_may_be_outstanding() {
    let mut b = leader(&[1, 2, 3], &[2, 3]);
    b.propose_reconfig(z(1), data(1), view(&[1, 2]))
        .expect("reconfig");
    assert_eq!(
        b.propose_reconfig(z(2), data(2), view(&[1, 3])),
        Err(LeaderError::ReconfigInProgress)
    );
    assert_eq!(b.last_proposed(), z(1), "the refused one is not proposed");
    b.on_durable(z(1));
    assert_eq!(ack(&mut b, 2, 1).0, AckOutcome::Committed);
    // Committed: the next reconfig may go.
    assert!(b.propose_reconfig(z(2), data(2), view(&[1, 3])).is_ok());
}

#[test]
fn proposals_whose_quorums_formed_first_commit_right_after_the_reconfig() {
    let mut b = leader(&[1, 2, 3], &[2, 3, 4]);
    b.propose_reconfig(z(1), data(1), view(&[1, 2, 3, 4, 5]))
        .expect("reconfig");
    b.propose(z(2), data(2)).expect("propose");
    b.propose(z(3), data(3)).expect("propose");
    b.on_durable(z(3));
    // z2 has both quorums ({1,2} / {1,2,4}) but waits for z1; z3 has neither.
    ack(&mut b, 2, 2);
    ack(&mut b, 4, 2);
    ack(&mut b, 3, 1);
    let (outcome, out) = ack(&mut b, 4, 1);
    assert_eq!(outcome, AckOutcome::Committed);
    let commits: Vec<Zxid> = (out.iter())
        .filter_map(|a| match a {
            Action::Commit { zxid } => Some(*zxid),
            _ => None,
        })
        .collect();
    assert_eq!(commits, vec![z(1), z(2)]);
    assert_eq!(out[out.len() - 5..], commit_actions(2)[..]);
    assert_eq!(b.outstanding().collect::<Vec<_>>(), vec![z(3)]);
}

/// The designated leader named in the reconfig's COMMITANDACTIVATE.
fn designated(out: &[Action]) -> Option<Sid> {
    out.iter().find_map(|a| match a {
        Action::Activate { designated, .. } => Some(*designated),
        _ => None,
    })
}

#[test]
fn a_removed_leader_designates_the_candidate_that_acked_the_most_later_proposals() {
    // {1..5} → {2,3,4,5}: the leader leaves. z2 acked by 3 and 4, z3 by 4 only.
    let mut b = leader(&[1, 2, 3, 4, 5], &[2, 3, 4]);
    b.propose_reconfig(z(1), data(1), view(&[2, 3, 4, 5]))
        .expect("reconfig");
    b.propose(z(2), data(2)).expect("propose");
    b.propose(z(3), data(3)).expect("propose");
    b.on_durable(z(3));
    ack(&mut b, 3, 2);
    ack(&mut b, 4, 2);
    ack(&mut b, 4, 3);
    ack(&mut b, 2, 1);
    ack(&mut b, 3, 1);
    let (outcome, out) = ack(&mut b, 4, 1);
    assert_eq!(outcome, AckOutcome::Committed);
    assert_eq!(designated(&out), Some(Sid(4)));
    assert!(out.contains(&send(
        2,
        LeaderPacket::CommitAndActivate {
            zxid: z(1),
            designated: 4
        }
    )));
    // Not the designated leader: nothing more commits, though z2 has {1,3,4} / {3,4}.
    assert!(!b.allowed_to_commit());
    assert_eq!(ack(&mut b, 5, 2), (AckOutcome::NotAllowedToCommit, vec![]));
    assert_eq!(ack(&mut b, 2, 2), (AckOutcome::NotAllowedToCommit, vec![]));
    assert_eq!(b.outstanding().collect::<Vec<_>>(), vec![z(2), z(3)]);
    b.propose(z(4), data(4)).expect("still proposes");
    assert!(b.on_durable(z(4)).is_empty());
}

#[test]
fn candidates_that_acked_as_much_go_by_lowest_sid() {
    let mut b = leader(&[1, 2, 3, 4, 5], &[2, 3, 4]);
    b.propose_reconfig(z(1), data(1), view(&[2, 3, 4, 5]))
        .expect("reconfig");
    b.propose(z(2), data(2)).expect("propose");
    b.on_durable(z(2));
    ack(&mut b, 4, 2);
    ack(&mut b, 3, 2);
    ack(&mut b, 4, 1);
    ack(&mut b, 3, 1);
    let (_, out) = ack(&mut b, 2, 1);
    assert_eq!(designated(&out), Some(Sid(3)));
}

#[test]
fn without_later_proposals_the_lowest_acking_voter_is_designated() {
    let mut b = leader(&[1, 2, 3, 4, 5], &[2, 3, 4]);
    b.propose_reconfig(z(1), data(1), view(&[2, 3, 4, 5]))
        .expect("reconfig");
    b.on_durable(z(1));
    ack(&mut b, 4, 1);
    ack(&mut b, 3, 1);
    let (_, out) = ack(&mut b, 5, 1);
    assert_eq!(designated(&out), Some(Sid(3)));
}

#[test]
fn a_joiner_is_dropped_by_the_old_views_ackset_of_later_proposals() {
    // {1,3,4} → {2,3,4}: the joiner 2 and 3 both acked z2, but Java narrows by z2's
    // old-view ackset ({1,3}) first, which leaves 3, not the lower 2.
    let mut b = leader(&[1, 3, 4], &[2, 3, 4]);
    b.propose_reconfig(z(1), data(1), view(&[2, 3, 4]))
        .expect("reconfig");
    b.propose(z(2), data(2)).expect("propose");
    b.on_durable(z(2));
    ack(&mut b, 2, 2);
    ack(&mut b, 3, 2);
    assert_eq!(ack(&mut b, 2, 1), (AckOutcome::Counted, vec![]));
    let (_, out) = ack(&mut b, 3, 1);
    assert_eq!(designated(&out), Some(Sid(3)));
}

#[test]
fn a_leader_that_stays_a_voter_keeps_committing() {
    let mut b = leader(&[1, 2, 3], &[2, 3]);
    b.propose_reconfig(z(1), data(1), view(&[1, 3]))
        .expect("reconfig");
    b.on_durable(z(1));
    ack(&mut b, 2, 1);
    let (_, out) = ack(&mut b, 3, 1);
    assert_eq!(designated(&out), Some(Sid(1)));
    assert!(b.allowed_to_commit());
}
