//! Liveness rules, with exact actions.

use super::*;
use crate::quorum::Majority;

const TICK: u64 = 2000;

fn cfg() -> LeaderConfig {
    LeaderConfig {
        my_sid: Sid(1),
        tick_ms: TICK,
        init_limit: 10,
        sync_limit: 5,
    }
}

fn ping(to: u64, c: i64) -> Action {
    Action::Send {
        to: Sid(to),
        packet: LeaderPacket::Ping {
            zxid: Zxid::new(2, c),
        },
    }
}

/// Voters {1,2,3}; learners 2 and 3 past NEWLEADER; the loop started at 0.
fn live() -> Liveness<Majority> {
    let mut l = Liveness::new(Majority::new([1, 2, 3].map(Sid), []), cfg());
    for s in [2, 3] {
        l.add_learner(Sid(s));
        l.sending_started(Sid(s));
        l.sync_check_started(Sid(s));
    }
    l.start(0);
    l
}

#[test]
fn pings_every_half_tick_with_the_last_proposed_zxid() {
    let mut l = live();
    assert_eq!(l.on_tick(TICK / 2 - 1, Zxid::new(2, 4)), vec![]);
    assert_eq!(
        l.on_tick(TICK / 2, Zxid::new(2, 4)),
        vec![ping(2, 4), ping(3, 4)]
    );
    assert_eq!(l.tick(), 0, "the first turn skips the tick");
    assert_eq!(
        l.on_tick(TICK, Zxid::new(2, 5)),
        vec![ping(2, 5), ping(3, 5)]
    );
    assert_eq!(l.tick(), 1);
    // A learner whose sender has not started is not pinged.
    l.add_learner(Sid(4));
    assert_eq!(
        l.on_tick(3 * TICK / 2, Zxid::new(2, 5)),
        vec![ping(2, 5), ping(3, 5)]
    );
}

#[test]
fn the_quorum_check_gives_up_when_synced_voters_fall_below_a_quorum() {
    let mut l = live();
    // Initial deadlines are tick 0 + 10 + 5 = 15; nobody answers.
    let mut now = 0;
    let mut gave_up = None;
    for _ in 0..40 {
        now += TICK / 2;
        let out = l.on_tick(now, Zxid::new(2, 0));
        if let Some(Action::GiveUp { reason }) = out.last() {
            gave_up = Some((l.tick(), reason.clone()));
            break;
        }
    }
    assert_eq!(
        gave_up,
        Some((
            16,
            "Not sufficient followers synced, only synced with sids: [ [1] ]".into()
        ))
    );
    assert_eq!(
        l.on_tick(now + TICK, Zxid(0)),
        vec![],
        "inert after giving up"
    );
}

#[test]
fn one_live_follower_keeps_a_three_voter_quorum() {
    let mut l = live();
    let mut now = 0;
    for _ in 0..60 {
        now += TICK / 2;
        l.packet_received(Sid(2)); // 2 keeps answering; 3 is silent
        let out = l.on_tick(now, Zxid::new(2, 0));
        assert!(
            !out.iter().any(|a| matches!(a, Action::GiveUp { .. })),
            "{out:?}"
        );
    }
}

#[test]
fn a_learner_that_leaves_a_proposal_unacked_for_sync_limit_is_closed() {
    let mut l = live();
    l.proposal_sent(Sid(2), Zxid::new(2, 1), 100);
    l.proposal_sent(Sid(2), Zxid::new(2, 2), 200);
    l.proposal_sent(Sid(3), Zxid::new(2, 1), 100);
    l.ack_received(Sid(3), Zxid::new(2, 1));
    // syncLimit 5 x 2000 ms: at 10100 the oldest has waited exactly the limit.
    l.next_half_tick_ms = Some(10_099);
    assert_eq!(
        l.on_tick(10_099, Zxid::new(2, 2)),
        vec![ping(2, 2), ping(3, 2)]
    );
    l.next_half_tick_ms = Some(10_100);
    assert_eq!(
        l.on_tick(10_100, Zxid::new(2, 2)),
        vec![
            Action::CloseLearner {
                sid: Sid(2),
                reason: "Closing connection to peer due to transaction timeout.".into()
            },
            ping(3, 2),
        ]
    );
}

#[test]
fn the_ack_timer_moves_to_the_newest_proposal_and_starts_after_newleader() {
    let mut c = SyncLimitCheck::default();
    c.update_proposal(Zxid(1), 10);
    assert_eq!(
        c.current, None,
        "not started: proposals during sync are not timed"
    );
    c.started = true;
    c.update_proposal(Zxid(1), 10);
    c.update_proposal(Zxid(2), 20);
    c.update_proposal(Zxid(3), 30);
    c.update_ack(Zxid(1));
    assert_eq!(c.current, Some((Zxid(3), 30)), "next holds only the newest");
    c.update_ack(Zxid(3));
    assert!(c.check(u64::MAX, 1));
}

#[test]
fn ping_replies_hand_touches_to_the_session_tracker() {
    let mut l = live();
    assert_eq!(l.on_ping(Sid(2), vec![]), vec![]);
    assert_eq!(
        l.on_ping(Sid(2), vec![(0x100, 4000), (0x101, 6000)]),
        vec![Action::Touch {
            sessions: vec![(0x100, 4000), (0x101, 6000)]
        }]
    );
}
