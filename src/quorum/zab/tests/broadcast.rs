//! Broadcast: PROPOSAL → Log → durable → ACK, COMMIT, PING, SYNC, REVALIDATE, silence.

use super::*;
use crate::proto::quorum::payload::{RevalidateAnswer, SessionTouch};
use crate::quorum::zab::{ping_reply, Warning, ZabError};

fn e2(counter: i64) -> Zxid {
    Zxid::new(2, counter)
}

#[test]
fn proposals_are_logged_then_acked_one_by_one_once_durable() {
    let mut l = serving();
    assert_eq!(feed(&mut l, 200, &proposal(e2(1))), vec![log(e2(1))]);
    assert_eq!(feed(&mut l, 201, &proposal(e2(2))), vec![log(e2(2))]);
    assert_eq!(feed(&mut l, 202, &proposal(e2(3))), vec![log(e2(3))]);
    assert_eq!(
        l.durable(e2(1)).expect("durable"),
        vec![send(pt::ACK, e2(1))]
    );
    // One flush made two durable: one ACK each, in order.
    assert_eq!(
        l.durable(e2(3)).expect("durable"),
        vec![send(pt::ACK, e2(2)), send(pt::ACK, e2(3))]
    );
    assert_eq!(l.durable(e2(3)).expect("durable"), vec![]);
    // Commits follow the pending queue.
    for c in 1..=3 {
        assert_eq!(
            feed(&mut l, 300 + c as u64, &bare(pt::COMMIT, e2(c))),
            vec![Action::Commit { zxid: e2(c) }]
        );
    }
}

#[test]
fn commit_of_another_zxid_than_the_oldest_pending_is_fatal() {
    let mut l = serving();
    feed(&mut l, 200, &proposal(e2(1)));
    feed(&mut l, 201, &proposal(e2(2)));
    let err = l
        .on_packet(202, &bare(pt::COMMIT, e2(2)))
        .expect_err("mismatch");
    assert!(matches!(
        err,
        ZabError::UnmatchedCommit { commit, pending } if commit == e2(2) && pending == e2(1)
    ));
    assert!(err.is_fatal());
    assert!(matches!(l.durable(e2(2)), Err(ZabError::Stopped)));
}

#[test]
fn commit_with_nothing_pending_is_a_warning() {
    let mut l = serving();
    assert_eq!(
        feed(&mut l, 200, &bare(pt::COMMIT, e2(1))),
        vec![Action::Warn(Warning::CommitWithoutTxn(e2(1)))]
    );
}

#[test]
fn a_skipped_zxid_is_a_warning_and_still_logged() {
    let mut l = serving();
    assert_eq!(feed(&mut l, 200, &proposal(e2(1))), vec![log(e2(1))]);
    assert_eq!(
        feed(&mut l, 201, &proposal(e2(3))),
        vec![
            Action::Warn(Warning::UnexpectedZxid {
                got: e2(3),
                expected: e2(2)
            }),
            log(e2(3)),
        ]
    );
    assert_eq!(feed(&mut l, 202, &proposal(e2(4))), vec![log(e2(4))]);
}

#[test]
fn leader_silence_once_serving_is_sync_limit_ticks() {
    let mut l = serving();
    assert_eq!(l.tick(100 + 5 * TICK_MS - 1), vec![]);
    feed(&mut l, 3000, &bare(pt::PING, e2(0)));
    assert_eq!(l.wake_at_ms(), Some(3000 + 5 * TICK_MS));
    assert_eq!(l.tick(3000 + 5 * TICK_MS - 1), vec![]);
    let out = l.tick(3000 + 5 * TICK_MS);
    assert!(matches!(&out[..], [Action::GoLooking { .. }]), "{out:?}");
    assert!(matches!(
        l.on_packet(9000, &proposal(e2(1))),
        Err(ZabError::Stopped)
    ));
}

#[test]
fn ping_is_answered_with_the_touch_table() {
    let mut l = serving();
    assert_eq!(
        feed(&mut l, 200, &bare(pt::PING, e2(0))),
        vec![Action::ReplyPing {
            zxid: e2(0).0,
            authinfo: None
        }]
    );
    let touch = SessionTouch {
        session_id: 0x0100_0004_85bf_0000,
        timeout_ms: 20_000,
    };
    let reply = ping_reply(e2(0).0, None, &[touch]);
    assert_eq!(
        (reply.r#type, reply.zxid, reply.data_or_empty().len()),
        (pt::PING, e2(0).0, 12)
    );
    // No touched session: empty data, not null (ByteArrayOutputStream.toByteArray).
    assert_eq!(ping_reply(1, None, &[]).data, Some(vec![]));
}

#[test]
fn sync_and_revalidate_answers() {
    let mut l = serving();
    assert_eq!(
        feed(&mut l, 200, &bare(pt::SYNC, Zxid(0))),
        vec![Action::SyncDone]
    );
    let answer = RevalidateAnswer {
        session_id: 42,
        valid: true,
    };
    let p = QuorumPacket::with_data(pt::REVALIDATE, -1, answer.to_data());
    assert_eq!(
        feed(&mut l, 201, &p),
        vec![Action::Revalidated {
            session_id: 42,
            valid: true
        }]
    );
    let short = QuorumPacket::with_data(pt::REVALIDATE, -1, vec![0; 8]);
    assert!(matches!(
        l.on_packet(202, &short),
        Err(ZabError::Malformed { .. })
    ));
}

#[test]
fn uptodate_again_is_ignored_and_an_unknown_activation_is_refused() {
    let mut l = serving();
    assert_eq!(
        feed(&mut l, 200, &bare(pt::UPTODATE, Zxid(-1))),
        vec![Action::Warn(Warning::Ignored {
            packet: "UPTODATE",
            phase: "broadcast"
        })]
    );
    assert!(matches!(
        l.on_packet(201, &bare(pt::COMMITANDACTIVATE, e2(1))),
        Err(ZabError::Malformed { .. })
    ));
}

#[test]
fn a_malformed_proposal_is_an_error_not_a_panic() {
    let mut l = serving();
    let p = QuorumPacket::with_data(pt::PROPOSAL, e2(1).0, vec![0, 0, 1]);
    assert!(matches!(
        l.on_packet(200, &p),
        Err(ZabError::Malformed {
            packet: "PROPOSAL",
            ..
        })
    ));
}

#[test]
fn observer_applies_informs_and_ignores_proposals() {
    let mut l = in_sync_start(LearnerType::Observer);
    feed(&mut l, 20, &bare(pt::DIFF, Zxid::new(1, 3)));
    feed(&mut l, 30, &bare(pt::NEWLEADER, e2(0)));
    feed(&mut l, 40, &bare(pt::UPTODATE, Zxid(-1)));
    let inform = QuorumPacket {
        r#type: pt::INFORM,
        ..proposal(e2(1))
    };
    assert_eq!(
        feed(&mut l, 50, &inform),
        vec![Action::CommitInformed {
            zxid: e2(1),
            entry: Box::new(entry(e2(1))),
            raw: entry(e2(1)).to_bytes().to_vec(),
        }]
    );
    assert_eq!(
        feed(&mut l, 51, &proposal(e2(2))),
        vec![Action::Warn(Warning::Ignored {
            packet: "PROPOSAL",
            phase: "broadcast"
        })]
    );
    // Nothing to ACK: an observer never ACKs proposals.
    assert_eq!(l.durable(e2(2)).expect("durable"), vec![]);
}
