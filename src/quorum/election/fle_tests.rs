//! One test per rule of lookForLeader / WorkerReceiver, each checking the exact actions.

use super::*;
use crate::quorum::{LearnerType, Majority, ServerState, Sid, Zxid};
use ServerState::{Following, Leading, Looking, Observing};

const CFG: &[u8] = b"server.1=a:2888:3888:participant\nversion=0";

fn view(voters: &[u64], observers: &[u64]) -> Majority {
    Majority::new(
        voters.iter().map(|&s| Sid(s)),
        observers.iter().map(|&s| Sid(s)),
    )
}

/// A participant of voters {1,2,3}.
fn peer(me: u64, zxid: i64, epoch: i64) -> Election {
    peer_in(me, zxid, epoch, &[1, 2, 3])
}

fn peer_in(me: u64, zxid: i64, epoch: i64, voters: &[u64]) -> Election {
    Election::new(
        Sid(me),
        LearnerType::Participant,
        view(voters, &[]),
        CFG.to_vec(),
        Zxid(zxid),
        epoch,
    )
}

fn prop(leader: u64, zxid: i64, peer_epoch: i64) -> Proposal {
    Proposal {
        leader: Sid(leader),
        zxid: Zxid(zxid),
        peer_epoch,
    }
}

fn note(from: u64, p: Proposal, election_epoch: i64, state: ServerState) -> Notification {
    Notification {
        version: CURRENT_VERSION,
        leader: p.leader,
        zxid: p.zxid,
        election_epoch,
        state,
        sid: Sid(from),
        peer_epoch: p.peer_epoch,
        config: Some(CFG.to_vec()),
    }
}

fn msg(p: Proposal, election_epoch: i64, state: ServerState) -> ToSend {
    ToSend {
        leader: p.leader,
        zxid: p.zxid,
        election_epoch,
        state,
        peer_epoch: p.peer_epoch,
        config: CFG.to_vec(),
    }
}

fn send(to: u64, p: Proposal, election_epoch: i64, state: ServerState) -> Action {
    Action::Send {
        to: Sid(to),
        msg: msg(p, election_epoch, state),
    }
}

/// sendNotifications: the proposal as LOOKING to each voter.
fn broadcast(voters: &[u64], p: Proposal, election_epoch: i64) -> Vec<Action> {
    voters
        .iter()
        .map(|&to| send(to, p, election_epoch, Looking))
        .collect()
}

fn deliver(
    e: &mut Election,
    from: u64,
    p: Proposal,
    ee: i64,
    state: ServerState,
    now: u64,
) -> Output {
    e.on_notification(Sid(from), note(from, p, ee, state), now)
}

#[test]
fn start_sends_the_initial_vote_to_every_voter_and_itself() {
    let mut e = peer(2, 0x100, 1);
    let out = e.start(0, Zxid(0x100), 1);
    assert_eq!(out.actions, broadcast(&[1, 2, 3], prop(2, 0x100, 1), 1));
    assert_eq!(
        out.wake_at_ms,
        Some(200),
        "the first poll(notTimeout) is minNotificationInterval"
    );
    assert_eq!((e.state(), e.logicalclock()), (Looking, 1));
}

#[test]
fn logicalclock_carries_over_from_round_to_round() {
    let mut e = peer(2, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let out = e.start(10, Zxid(0x100), 1);
    assert_eq!(out.actions, broadcast(&[1, 2, 3], prop(2, 0x100, 1), 2));
}

#[test]
fn a_better_vote_in_the_same_round_is_adopted_and_rebroadcast() {
    let mut e = peer(1, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let out = deliver(&mut e, 3, prop(3, 0x100, 1), 1, Looking, 10);
    assert_eq!(out.actions, broadcast(&[1, 2, 3], prop(3, 0x100, 1), 1));
    assert_eq!(
        out.wake_at_ms,
        Some(210),
        "a notification ends the poll; the next starts now"
    );
    assert_eq!(e.recvset_sids(), vec![Sid(3)]);
}

#[test]
fn a_worse_vote_is_recorded_without_a_send() {
    let mut e = peer(3, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let out = deliver(&mut e, 1, prop(1, 0x100, 1), 1, Looking, 10);
    assert_eq!(out.actions, vec![]);
    assert_eq!(e.proposal(), prop(3, 0x100, 1));
    assert_eq!(e.recvset_sids(), vec![Sid(1)]);
}

#[test]
fn a_higher_round_resets_recvset_and_is_judged_against_the_initial_vote() {
    let mut e = peer(1, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    deliver(&mut e, 3, prop(3, 0x100, 1), 1, Looking, 1); // proposal is now 3
                                                          // Round 5 from 2 proposing itself with an older zxid: worse than 3, and worse than our
                                                          // own initial vote, which is what Java compares it with. So we go back to proposing 1.
    let out = deliver(&mut e, 2, prop(2, 0x50, 1), 5, Looking, 2);
    assert_eq!(out.actions, broadcast(&[1, 2, 3], prop(1, 0x100, 1), 5));
    assert_eq!(e.logicalclock(), 5);
    assert_eq!(e.recvset_sids(), vec![Sid(2)], "3's round-1 vote is gone");
}

#[test]
fn a_lower_round_is_ignored_but_its_sender_is_told_our_proposal() {
    let mut e = peer(2, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    e.start(5, Zxid(0x100), 1); // logicalclock 2
    let out = deliver(&mut e, 1, prop(3, 0x999, 1), 1, Looking, 10);
    // WorkerReceiver answers the lagging peer; lookForLeader ignores the vote.
    assert_eq!(out.actions, vec![send(1, prop(2, 0x100, 1), 2, Looking)]);
    assert_eq!(e.proposal(), prop(2, 0x100, 1));
    assert_eq!(e.recvset_sids(), vec![]);
}

#[test]
fn a_quorum_waits_finalize_wait_then_leads() {
    let mut e = peer(3, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let p3 = prop(3, 0x100, 1);
    assert_eq!(deliver(&mut e, 3, p3, 1, Looking, 1).wake_at_ms, Some(201));
    let out = deliver(&mut e, 1, p3, 1, Looking, 2);
    assert_eq!(
        out,
        Output {
            actions: vec![],
            wake_at_ms: Some(202)
        }
    );
    assert_eq!(e.tick(201, true).actions, vec![]);
    let out = e.tick(202, true);
    let vote = Vote::looking(p3, 1);
    assert_eq!(
        out.actions,
        vec![Action::Decided {
            leader: Sid(3),
            state: Leading,
            vote
        }]
    );
    assert_eq!(out.wake_at_ms, None);
    assert_eq!((e.state(), e.current_vote()), (Leading, vote));
}

#[test]
fn finalize_wait_drops_a_worse_vote_unread_and_starts_over() {
    let mut e = peer(3, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let p3 = prop(3, 0x100, 1);
    deliver(&mut e, 3, p3, 1, Looking, 1);
    deliver(&mut e, 1, p3, 1, Looking, 2); // finalizing until 202
    let out = deliver(&mut e, 2, prop(2, 0x100, 1), 1, Looking, 100);
    assert_eq!(
        out,
        Output {
            actions: vec![],
            wake_at_ms: Some(300)
        }
    );
    assert_eq!(
        e.recvset_sids(),
        vec![Sid(1), Sid(3)],
        "2's vote was consumed, not recorded"
    );
    assert_eq!(e.tick(202, true).actions, vec![]);
    assert_eq!(e.tick(300, true).actions.len(), 1);
    assert_eq!(e.state(), Leading);
}

#[test]
fn a_better_vote_during_finalize_wait_reopens_the_election() {
    let mut e = peer(1, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let p1 = prop(1, 0x100, 1);
    deliver(&mut e, 1, p1, 1, Looking, 1);
    assert_eq!(deliver(&mut e, 2, p1, 1, Looking, 2).wake_at_ms, Some(202));
    let out = deliver(&mut e, 3, prop(3, 0x100, 1), 1, Looking, 50);
    assert_eq!(out.actions, broadcast(&[1, 2, 3], prop(3, 0x100, 1), 1));
    assert_eq!(out.wake_at_ms, Some(250), "back to poll(notTimeout)");
    assert_eq!(
        e.tick(202, true).actions,
        vec![],
        "no decision for 1 any more"
    );
}

#[test]
fn a_participant_that_is_not_elected_follows() {
    let mut e = peer(1, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let p3 = prop(3, 0x100, 1);
    deliver(&mut e, 3, p3, 1, Looking, 1);
    deliver(&mut e, 1, p3, 1, Looking, 2);
    let out = e.tick(202, true);
    let vote = Vote::looking(p3, 1);
    assert_eq!(
        out.actions,
        vec![Action::Decided {
            leader: Sid(3),
            state: Following,
            vote
        }]
    );
}

#[test]
fn the_notification_timeout_resends_or_connects_and_doubles_to_the_cap() {
    let mut e = peer(2, 0x100, 1);
    let mut now = 0;
    assert_eq!(e.start(now, Zxid(0x100), 1).wake_at_ms, Some(200));
    assert_eq!(e.tick(199, true).actions, vec![]);
    now = 200;
    let out = e.tick(now, true);
    assert_eq!(out.actions, broadcast(&[1, 2, 3], prop(2, 0x100, 1), 1));
    assert_eq!(out.wake_at_ms, Some(now + 400));
    now += 400;
    let out = e.tick(now, false);
    assert_eq!(
        out.actions,
        vec![Action::ConnectAll],
        "haveDelivered() false: connectAll"
    );
    let mut intervals = vec![out.wake_at_ms.unwrap() - now];
    for _ in 0..10 {
        now = e.next_wakeup_ms().unwrap();
        e.tick(now, false);
        intervals.push(e.next_wakeup_ms().unwrap() - now);
    }
    assert_eq!(
        intervals,
        [800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000, 60000, 60000]
    );
}

#[test]
fn a_notification_restarts_the_poll_but_keeps_the_doubled_interval() {
    let mut e = peer(3, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    e.tick(200, true); // interval 400
    let out = deliver(&mut e, 1, prop(1, 0x100, 1), 1, Looking, 500);
    assert_eq!(out.wake_at_ms, Some(900));
}

#[test]
fn following_and_leading_votes_of_this_round_decide_once_the_leader_says_leading() {
    let mut e = peer(1, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let p3 = prop(3, 0x200, 1);
    assert_eq!(deliver(&mut e, 2, p3, 1, Following, 1).actions, vec![]);
    let out = deliver(&mut e, 3, p3, 1, Leading, 2);
    let vote = Vote::looking(p3, 1);
    assert_eq!(
        out.actions,
        vec![Action::Decided {
            leader: Sid(3),
            state: Following,
            vote
        }]
    );
    assert_eq!(out.wake_at_ms, None);
}

#[test]
fn check_leader_wants_the_leaders_own_leading_vote() {
    let mut e = peer_in(1, 0x100, 1, &[1, 2, 3, 4, 5]);
    e.start(0, Zxid(0x100), 1);
    let p3 = prop(3, 0x200, 1);
    for from in [2, 4, 5] {
        assert_eq!(deliver(&mut e, from, p3, 1, Following, 1).actions, vec![]);
    }
    assert_eq!(
        e.state(),
        Looking,
        "a quorum follows 3, but 3 has not said LEADING"
    );
    let out = deliver(&mut e, 3, p3, 1, Leading, 2);
    assert!(matches!(
        out.actions[..],
        [Action::Decided {
            leader: Sid(3),
            state: Following,
            ..
        }]
    ));
}

#[test]
fn a_late_server_joins_an_established_ensemble_from_an_older_round() {
    let mut e = peer(1, 0x100, 1);
    for t in 0..5 {
        e.start(t, Zxid(0x100), 1); // logicalclock 5
    }
    let p3 = prop(3, 0x200, 2);
    assert_eq!(deliver(&mut e, 2, p3, 3, Following, 10).actions, vec![]);
    let out = deliver(&mut e, 3, p3, 3, Leading, 11);
    let vote = Vote::looking(p3, 3);
    assert_eq!(
        out.actions,
        vec![Action::Decided {
            leader: Sid(3),
            state: Following,
            vote
        }]
    );
    assert_eq!(
        e.logicalclock(),
        3,
        "outofelection takes the ensemble's round"
    );
}

#[test]
fn out_of_election_votes_match_on_leader_and_peer_epoch_only() {
    // ZOOKEEPER-1805: followers report zxids and rounds that drift after the election.
    let mut e = peer(1, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    deliver(&mut e, 2, prop(3, 0x250, 2), 4, Following, 1);
    let out = deliver(&mut e, 3, prop(3, 0x300, 2), 6, Leading, 2);
    assert!(matches!(
        out.actions[..],
        [Action::Decided {
            leader: Sid(3),
            state: Following,
            ..
        }]
    ));
    // A different peer epoch does not count as the same vote.
    let mut e = peer(1, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    deliver(&mut e, 2, prop(3, 0x250, 1), 4, Following, 1);
    assert_eq!(
        deliver(&mut e, 3, prop(3, 0x300, 2), 6, Leading, 2).actions,
        vec![]
    );
}

#[test]
fn followers_naming_me_make_me_lead_only_in_my_current_round() {
    let p2 = prop(2, 0x100, 1);
    let mut e = peer(2, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    e.start(1, Zxid(0x100), 1); // logicalclock 2
                                // Round 1 followers of 2: a quorum in outofelection, but checkLeader(me) wants round 2.
    deliver(&mut e, 1, p2, 1, Following, 2);
    assert_eq!(deliver(&mut e, 3, p2, 1, Following, 3).actions, vec![]);
    // One round-2 follower is enough: outofelection keeps 3's round-1 vote, which matches
    // (leader and peer epoch only), and now the round is ours.
    let out = deliver(&mut e, 1, p2, 2, Following, 4);
    let vote = Vote::looking(p2, 2);
    assert_eq!(
        out.actions,
        vec![Action::Decided {
            leader: Sid(2),
            state: Leading,
            vote
        }]
    );
}

#[test]
fn observing_notifications_are_ignored() {
    let mut e = peer(1, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let out = deliver(&mut e, 2, prop(3, 0x200, 1), 1, Observing, 5);
    assert_eq!(
        out,
        Output {
            actions: vec![],
            wake_at_ms: Some(205)
        }
    );
    assert_eq!(e.recvset_sids(), vec![]);
}

#[test]
fn votes_for_a_leader_outside_the_view_are_ignored() {
    let mut e = peer(1, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let out = deliver(&mut e, 2, prop(9, 0x900, 9), 1, Looking, 5);
    assert_eq!(out.actions, vec![]);
    assert_eq!(
        (e.proposal(), e.recvset_sids()),
        (prop(1, 0x100, 1), vec![])
    );
}

#[test]
fn a_non_voter_is_answered_at_once_and_never_counted() {
    let mut e = Election::new(
        Sid(1),
        LearnerType::Participant,
        view(&[1, 2, 3], &[4]),
        CFG.to_vec(),
        Zxid(0x100),
        1,
    );
    e.start(0, Zxid(0x100), 1);
    deliver(&mut e, 3, prop(3, 0x100, 1), 1, Looking, 1);
    let out = deliver(&mut e, 4, prop(4, 0x900, 9), 1, Looking, 2);
    // Our *current vote* (the one from startup, not the proposal), our logicalclock, our state.
    assert_eq!(out.actions, vec![send(4, prop(1, 0x100, 1), 1, Looking)]);
    assert_eq!(
        out.wake_at_ms,
        Some(201),
        "it never reached lookForLeader's poll"
    );
    assert_eq!(e.recvset_sids(), vec![Sid(3)]);
}

#[test]
fn zxid_minus_one_votes_are_not_compared() {
    let mut e = peer(1, -1, 0);
    e.start(0, Zxid(-1), 0);
    assert_eq!(
        deliver(&mut e, 3, prop(3, 0x100, 1), 1, Looking, 1).actions,
        vec![]
    );
    assert_eq!(e.recvset_sids(), vec![]);
    let mut e = peer(1, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    assert_eq!(
        deliver(&mut e, 3, prop(3, -1, 5), 1, Looking, 1).actions,
        vec![]
    );
    assert_eq!(e.recvset_sids(), vec![]);
}

#[test]
fn not_looking_answers_a_looking_voter_with_the_current_vote() {
    let mut e = peer(3, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let p3 = prop(3, 0x100, 1);
    deliver(&mut e, 3, p3, 1, Looking, 1);
    deliver(&mut e, 1, p3, 1, Looking, 2);
    e.tick(202, true);
    // The answer carries the vote's round (1), not a newer one, and our state.
    let out = deliver(&mut e, 2, prop(2, 0x50, 1), 7, Looking, 300);
    assert_eq!(
        out,
        Output {
            actions: vec![send(2, p3, 1, Leading)],
            wake_at_ms: None
        }
    );
    assert_eq!(deliver(&mut e, 2, p3, 1, Following, 301).actions, vec![]);
    // Once the new epoch is settled (QuorumPeer.updateElectionVote) the answer carries it.
    e.update_election_vote(2);
    let n = note(2, prop(2, 0x50, 1), 7, Looking);
    assert_eq!(
        e.answer_when_not_looking(&n),
        Some(msg(prop(3, 0x100, 2), 1, Leading))
    );
}

#[test]
fn an_observer_sends_to_voters_only_and_ends_up_observing() {
    let qv = view(&[1, 2, 3], &[4]);
    let mut e = Election::new(
        Sid(4),
        LearnerType::Observer,
        qv,
        CFG.to_vec(),
        Zxid(0x100),
        1,
    );
    let out = e.start(0, Zxid(0x100), 1);
    let nobody = Proposal {
        leader: Sid::NOT_A_VOTER,
        zxid: Zxid(i64::MIN),
        peer_epoch: i64::MIN,
    };
    assert_eq!(out.actions, broadcast(&[1, 2, 3], nobody, 1));
    let p3 = prop(3, 0x200, 1);
    assert_eq!(deliver(&mut e, 1, p3, 1, Following, 5).actions, vec![]);
    let out = deliver(&mut e, 3, p3, 1, Leading, 6);
    let vote = Vote::looking(p3, 1);
    assert_eq!(
        out.actions,
        vec![Action::Decided {
            leader: Sid(3),
            state: Observing,
            vote
        }]
    );
}

#[test]
fn notifications_before_the_first_round_wait_for_it() {
    let mut e = peer(1, 0x100, 1);
    assert_eq!(
        deliver(&mut e, 3, prop(3, 0x100, 1), 1, Looking, 0).actions,
        vec![]
    );
    let out = e.start(1, Zxid(0x100), 1);
    let mut want = broadcast(&[1, 2, 3], prop(1, 0x100, 1), 1);
    want.extend(broadcast(&[1, 2, 3], prop(3, 0x100, 1), 1));
    assert_eq!(out.actions, want);
    assert_eq!(e.recvset_sids(), vec![Sid(3)]);
}

/// A view where some voters weigh 0, as QuorumHierarchical allows.
struct ZeroWeight(Majority, Sid);

impl crate::quorum::QuorumVerifier for ZeroWeight {
    fn voting_members(&self) -> &std::collections::BTreeSet<Sid> {
        self.0.voting_members()
    }
    fn observing_members(&self) -> &std::collections::BTreeSet<Sid> {
        self.0.observing_members()
    }
    fn weight(&self, sid: Sid) -> u64 {
        u64::from(sid != self.1)
    }
    fn contains_quorum(&self, acks: &std::collections::BTreeSet<Sid>) -> bool {
        self.0.contains_quorum(acks)
    }
}

#[test]
fn a_leader_of_weight_zero_is_never_adopted() {
    let qv = ZeroWeight(view(&[1, 2, 3], &[]), Sid(3));
    let mut e = Election::new(
        Sid(1),
        LearnerType::Participant,
        qv,
        CFG.to_vec(),
        Zxid(0x100),
        1,
    );
    e.start(0, Zxid(0x100), 1);
    let out = e.on_notification(Sid(3), note(3, prop(3, 0x900, 9), 1, Looking), 1);
    assert_eq!(out.actions, vec![]);
    assert_eq!(e.proposal(), prop(1, 0x100, 1));
}

#[test]
fn a_duplicate_notification_changes_nothing() {
    // QuorumCnxManager re-sends the last message when a connection comes back.
    let mut e = peer(1, 0x100, 1);
    e.start(0, Zxid(0x100), 1);
    let p3 = prop(3, 0x100, 1);
    assert_eq!(deliver(&mut e, 3, p3, 1, Looking, 1).actions.len(), 3);
    assert_eq!(deliver(&mut e, 3, p3, 1, Looking, 2).actions, vec![]);
    assert_eq!((e.proposal(), e.recvset_sids()), (p3, vec![Sid(3)]));
}

#[test]
fn a_decided_server_answers_a_non_voter_whatever_its_state() {
    let qv = view(&[1, 2, 3], &[4]);
    let mut e = Election::new(
        Sid(3),
        LearnerType::Participant,
        qv,
        CFG.to_vec(),
        Zxid(0x100),
        1,
    );
    e.start(0, Zxid(0x100), 1);
    e.start(1, Zxid(0x100), 1); // logicalclock 2
    let p3 = prop(3, 0x100, 1);
    deliver(&mut e, 3, p3, 2, Looking, 2);
    deliver(&mut e, 1, p3, 2, Looking, 3);
    e.tick(203, true);
    e.set_current_vote(Vote::looking(p3, 1)); // an older round, to tell the two apart
                                              // Even an OBSERVING observer is answered: with our logicalclock (2), not the vote's (1).
    let out = deliver(&mut e, 4, prop(3, 0x100, 1), 2, Observing, 300);
    assert_eq!(out.actions, vec![send(4, p3, 2, Leading)]);
}

/// A newer config was seen (a reconfig logged, not activated): the votes must form a
/// quorum of it too, and its new voters count (getVoteTracker with the last-seen verifier,
/// validVoter over getCurrentAndNextConfigVoters). Here {1,2,3} runs and {1,3,4} was seen:
/// 2 and 3 following 3 are a quorum of the old config only.
#[test]
fn a_last_seen_config_needs_its_own_quorum_too() {
    let mut e = peer(1, 0x100, 1);
    e.set_last_seen(Some(view(&[1, 3, 4], &[])));
    let out = e.start(0, Zxid(0x100), 1);
    let sent: Vec<Sid> = out
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(
        sent,
        vec![Sid(1), Sid(2), Sid(3), Sid(4)],
        "both configs' voters"
    );
    let p3 = prop(3, 0x200, 1);
    assert_eq!(deliver(&mut e, 2, p3, 1, Following, 1).actions, vec![]);
    assert_eq!(deliver(&mut e, 3, p3, 1, Leading, 2).actions, vec![]);
    assert_eq!(e.state(), Looking, "no quorum of {{1,3,4}} yet");
    let out = deliver(&mut e, 4, p3, 1, Following, 3);
    assert!(
        matches!(
            out.actions.as_slice(),
            [Action::Decided { leader: Sid(3), .. }]
        ),
        "{:?}",
        out.actions
    );
}
