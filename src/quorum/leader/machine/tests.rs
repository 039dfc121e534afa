//! The whole leader, from discovery to broadcast, with exact actions.

use bytes::Bytes;

use super::*;
use crate::quorum::leader::sync::{LogSource, StreamRange};
use crate::quorum::Majority;

use super::test_support::{z, NoDisk, TICK};

fn cfg() -> LeaderConfig {
    LeaderConfig {
        my_sid: Sid(1),
        tick_ms: TICK,
        init_limit: 10,
        sync_limit: 5,
    }
}

fn config_bytes() -> Bytes {
    // Config version 0 becomes the new epoch's first zxid (ZOOKEEPER-1783).
    Bytes::from_static(b"server.1=a:1:2:participant\nversion=200000000")
}

fn send(to: u64, packet: LeaderPacket) -> Action {
    Action::Send {
        to: Sid(to),
        packet,
    }
}

fn info(sid: i64, epoch: i64, learner_type: LearnerType) -> LearnerPacket {
    LearnerPacket::Info {
        learner_type,
        zxid: z(epoch, 0),
        sid: Some(sid),
        protocol_version: 0x10000,
        config_version: Some(0),
    }
}

/// Leader 1 of {1,2,3} + observer 4; epochs 1/1; last processed 1.5, committedLog 1.1-1.5.
fn start() -> (Leader<Majority>, Vec<Zxid>) {
    let qv = Majority::new([1, 2, 3].map(Sid), [Sid(4)]);
    let start = LeaderStart {
        accepted_epoch: 1,
        current_epoch: 1,
        last_processed_zxid: z(1, 5),
        durable_zxid: z(1, 5),
        config_version: 0,
        last_seen_config_version: 0,
        reconfig_enabled: true,
        config_members: "server.1=a:1:2:participant\n".into(),
    };
    let (leader, out) = Leader::new(cfg(), qv, start, 0);
    assert_eq!(out, vec![]);
    (leader, (1..=5).map(|c| z(1, c)).collect())
}

fn log<'a>(processed: Zxid, committed: &'a [Zxid]) -> LogState<'a> {
    LogState {
        last_processed_zxid: processed,
        committed_log: committed,
        txn_log: &NoDisk,
        snapshot_size_factor: 0.33,
        force_snap_sync: false,
    }
}

#[test]
fn discovery_sync_and_broadcast_with_two_followers() {
    let (mut l, committed) = start();
    let before = log(z(1, 5), &committed);
    let (sid, out) = l
        .on_learner_info(info(2, 1, LearnerType::Participant), &before, 10)
        .expect("info");
    assert_eq!(sid, Sid(2));
    assert_eq!(
        out,
        vec![
            Action::PersistAcceptedEpoch(2),
            send(2, LeaderPacket::LeaderInfo { zxid: z(2, 0) })
        ]
    );

    let ack_epoch = LearnerPacket::AckEpoch {
        current_epoch: 1,
        last_zxid: z(1, 3),
    };
    let out = l
        .on_packet(Sid(2), ack_epoch, &before, 20)
        .expect("ackepoch");
    assert_eq!(
        out,
        vec![
            Action::PersistCurrentEpoch(2),
            send(2, LeaderPacket::Diff { zxid: z(1, 5) }),
            Action::StreamProposals {
                to: Sid(2),
                range: StreamRange {
                    source: LogSource::CommittedLog,
                    after: z(1, 3),
                    upto: z(1, 5)
                }
            },
            send(
                2,
                LeaderPacket::NewLeader {
                    zxid: z(2, 0),
                    config: Some(config_bytes())
                }
            ),
        ]
    );
    let out = l
        .on_packet(Sid(2), LearnerPacket::Ack { zxid: z(2, 0) }, &before, 30)
        .expect("ack");
    assert_eq!(
        out,
        vec![
            Action::Established { zxid: z(2, 0) },
            send(2, LeaderPacket::UpToDate)
        ]
    );

    // Learner 3 arrives late: every barrier is open; the leader now sits at 2.0.
    let after = log(z(2, 0), &committed);
    let (_, out) = l
        .on_learner_info(info(3, 1, LearnerType::Participant), &after, 40)
        .expect("info");
    assert_eq!(
        out,
        vec![send(3, LeaderPacket::LeaderInfo { zxid: z(2, 0) })]
    );
    let ack_epoch = LearnerPacket::AckEpoch {
        current_epoch: 1,
        last_zxid: z(1, 5),
    };
    let out = l
        .on_packet(Sid(3), ack_epoch, &after, 41)
        .expect("ackepoch");
    assert_eq!(
        out,
        vec![
            send(3, LeaderPacket::Diff { zxid: z(1, 5) }),
            send(
                3,
                LeaderPacket::NewLeader {
                    zxid: z(2, 0),
                    config: Some(config_bytes())
                }
            ),
        ]
    );
    let out = l
        .on_packet(Sid(3), LearnerPacket::Ack { zxid: z(2, 0) }, &after, 42)
        .expect("ack");
    assert_eq!(out, vec![send(3, LeaderPacket::UpToDate)]);

    // Broadcast: leader + 2 make a quorum.
    let data = Bytes::from_static(b"txn");
    let out = l.propose(z(2, 1), data.clone(), 50).expect("propose");
    assert_eq!(
        out,
        vec![
            send(
                2,
                LeaderPacket::Proposal {
                    zxid: z(2, 1),
                    data: data.clone()
                }
            ),
            send(
                3,
                LeaderPacket::Proposal {
                    zxid: z(2, 1),
                    data: data.clone()
                }
            ),
        ]
    );
    assert_eq!(l.on_durable(z(2, 1), 0), vec![]);
    let out = l
        .on_packet(Sid(2), LearnerPacket::Ack { zxid: z(2, 1) }, &after, 60)
        .expect("ack");
    assert_eq!(
        out,
        vec![
            send(2, LeaderPacket::Commit { zxid: z(2, 1) }),
            send(3, LeaderPacket::Commit { zxid: z(2, 1) }),
            Action::Commit { zxid: z(2, 1) },
        ]
    );
    // The UPTODATE ack (counter 0) is ignored.
    assert_eq!(
        l.on_packet(Sid(3), LearnerPacket::Ack { zxid: z(2, 0) }, &after, 61),
        Ok(vec![])
    );

    // Main-loop traffic.
    let ping = LearnerPacket::Ping {
        touches: vec![(0x55, 30_000)],
    };
    assert_eq!(
        l.on_packet(Sid(3), ping, &after, 70),
        Ok(vec![Action::Touch {
            sessions: vec![(0x55, 30_000)]
        }])
    );
    let req = LearnerPacket::Request {
        session_id: 0x55,
        cxid: 1,
        op_type: 9,
        body: vec![],
        authinfo: None,
    };
    assert_eq!(
        l.on_packet(Sid(3), req.clone(), &after, 71),
        Ok(vec![Action::Forwarded {
            from: Sid(3),
            request: Box::new(req)
        }])
    );
    assert_eq!(l.process_sync(Sid(3)), vec![send(3, LeaderPacket::Sync)]);

    // The half-tick loop pings everyone with the last proposed zxid.
    assert_eq!(l.next_wakeup_ms(), Some(30 + TICK / 2));
    assert_eq!(
        l.on_tick(30 + TICK / 2),
        vec![
            send(2, LeaderPacket::Ping { zxid: z(2, 1) }),
            send(3, LeaderPacket::Ping { zxid: z(2, 1) })
        ]
    );
}

#[test]
fn packets_out_of_handshake_order_are_errors_and_forget_the_learner() {
    let (mut l, committed) = start();
    let state = log(z(1, 5), &committed);
    l.on_learner_info(info(2, 1, LearnerType::Participant), &state, 0)
        .expect("info");
    let got = l.on_packet(Sid(2), LearnerPacket::Ack { zxid: z(2, 0) }, &state, 1);
    assert_eq!(
        got,
        Err(LeaderError::OutOfOrder {
            sid: Sid(2),
            got: "ACK",
            expected: "waiting for ACKEPOCH"
        })
    );
    assert_eq!(
        l.on_packet(Sid(2), LearnerPacket::Ack { zxid: z(2, 0) }, &state, 2),
        Err(LeaderError::UnknownLearner(Sid(2)))
    );
    // A first packet that is not LearnerInfo, and a learner with a newer config.
    assert!(l
        .on_learner_info(LearnerPacket::Ack { zxid: z(0, 0) }, &state, 3)
        .is_err());
    let mut newer = info(3, 1, LearnerType::Participant);
    if let LearnerPacket::Info { config_version, .. } = &mut newer {
        *config_version = Some(1);
    }
    assert_eq!(
        l.on_learner_info(newer, &state, 4).map(|_| ()),
        Err(LeaderError::ConfigAhead)
    );
}

#[test]
fn a_follower_ahead_is_refused_and_the_leader_times_out_without_a_quorum() {
    let (mut l, committed) = start();
    let state = log(z(1, 5), &committed);
    l.on_learner_info(info(2, 1, LearnerType::Participant), &state, 0)
        .expect("info");
    let ahead = LearnerPacket::AckEpoch {
        current_epoch: 1,
        last_zxid: z(1, 9),
    };
    assert!(matches!(
        l.on_packet(Sid(2), ahead, &state, 1),
        Err(LeaderError::FollowerAhead { .. })
    ));
    // The leader's own wait for epoch acks began at 0 (when 2 completed the epoch quorum).
    assert_eq!(l.on_tick(cfg().init_timeout_ms() - 1), vec![]);
    assert_eq!(
        l.on_tick(cfg().init_timeout_ms()),
        vec![Action::GiveUp {
            reason: "Timeout while waiting for epoch to be acked by quorum".into()
        }]
    );
    assert!(l.gave_up());
}

#[test]
fn snap_sync_streams_the_snapshot_before_newleader_and_observers_get_inform() {
    let (mut l, committed) = start();
    let state = log(z(1, 5), &committed);
    // An observer with an empty log, and learner 2 completing the quorums.
    l.on_learner_info(info(2, 1, LearnerType::Participant), &state, 0)
        .expect("info");
    l.on_packet(
        Sid(2),
        LearnerPacket::AckEpoch {
            current_epoch: 1,
            last_zxid: z(1, 5),
        },
        &state,
        0,
    )
    .expect("ok");
    l.on_packet(Sid(2), LearnerPacket::Ack { zxid: z(2, 0) }, &state, 0)
        .expect("ok");
    let data = Bytes::from_static(b"t");
    l.propose(z(2, 1), data.clone(), 1).expect("propose");
    let after = log(z(2, 0), &committed);
    l.on_learner_info(info(4, 0, LearnerType::Observer), &after, 2)
        .expect("info");
    let out = l
        .on_packet(
            Sid(4),
            LearnerPacket::AckEpoch {
                current_epoch: 0,
                last_zxid: Zxid(0),
            },
            &after,
            3,
        )
        .expect("ackepoch");
    // Observers get no outstanding proposals from startForwarding.
    assert_eq!(
        out,
        vec![
            send(4, LeaderPacket::Snap { zxid: z(2, 0) }),
            Action::StreamSnapshot { to: Sid(4) },
            send(
                4,
                LeaderPacket::NewLeader {
                    zxid: z(2, 0),
                    config: Some(config_bytes())
                }
            ),
        ]
    );
    // Commit of 2.1 reaches the observer as INFORM.
    l.on_durable(z(2, 1), 0);
    let out = l
        .on_packet(Sid(2), LearnerPacket::Ack { zxid: z(2, 1) }, &after, 4)
        .expect("ack");
    assert_eq!(
        out,
        vec![
            send(2, LeaderPacket::Commit { zxid: z(2, 1) }),
            send(
                4,
                LeaderPacket::Inform {
                    zxid: z(2, 1),
                    data
                }
            ),
            Action::Commit { zxid: z(2, 1) },
        ]
    );
}

#[test]
fn packets_sent_while_the_handler_is_blocked_wait_for_uptodate() {
    let qv = Majority::new([1, 2, 3, 4, 5].map(Sid), []);
    let start = LeaderStart {
        accepted_epoch: 1,
        current_epoch: 1,
        last_processed_zxid: z(1, 5),
        durable_zxid: z(1, 5),
        config_version: 0,
        last_seen_config_version: 0,
        reconfig_enabled: true,
        config_members: "server.1=a:1:2:participant\n".into(),
    };
    let (mut l, _) = Leader::new(cfg(), qv, start, 0);
    let committed: Vec<Zxid> = (1..=5).map(|c| z(1, c)).collect();
    let state = log(z(1, 5), &committed);
    for s in [2, 3] {
        l.on_learner_info(info(s, 1, LearnerType::Participant), &state, 0)
            .expect("info");
    }
    for s in [2, 3] {
        let ack = LearnerPacket::AckEpoch {
            current_epoch: 1,
            last_zxid: z(1, 5),
        };
        l.on_packet(Sid(s), ack, &state, 0).expect("ackepoch");
    }
    assert_eq!(
        l.on_packet(Sid(2), LearnerPacket::Ack { zxid: z(2, 0) }, &state, 1),
        Ok(vec![])
    );
    // Nothing is proposed before the leader serves.
    assert_eq!(
        l.propose(z(2, 1), Bytes::new(), 1),
        Err(LeaderError::NotServing)
    );
    // Learner 2 waits in waitForNewLeaderAck: its PING reply is not read yet.
    let ping = LearnerPacket::Ping {
        touches: vec![(7, 4000)],
    };
    assert_eq!(l.on_packet(Sid(2), ping, &state, 2), Ok(vec![]));
    let out = l
        .on_packet(Sid(3), LearnerPacket::Ack { zxid: z(2, 0) }, &state, 3)
        .expect("ack");
    assert_eq!(
        out,
        vec![
            Action::Established { zxid: z(2, 0) },
            send(2, LeaderPacket::UpToDate),
            Action::Touch {
                sessions: vec![(7, 4000)]
            },
            send(3, LeaderPacket::UpToDate),
        ]
    );
}

#[test]
fn a_learner_closed_for_a_transaction_timeout_is_forgotten() {
    let (mut l, committed) = start();
    let state = log(z(1, 5), &committed);
    l.on_learner_info(info(2, 1, LearnerType::Participant), &state, 0)
        .expect("info");
    l.on_packet(
        Sid(2),
        LearnerPacket::AckEpoch {
            current_epoch: 1,
            last_zxid: z(1, 5),
        },
        &state,
        0,
    )
    .expect("ok");
    l.on_packet(Sid(2), LearnerPacket::Ack { zxid: z(2, 0) }, &state, 0)
        .expect("ok");
    l.propose(z(2, 1), Bytes::from_static(b"t"), 0)
        .expect("propose");
    let mut now = 0;
    let closed = loop {
        now += TICK / 2;
        l.on_packet(Sid(2), LearnerPacket::Ping { touches: vec![] }, &state, now)
            .expect("ping");
        let out = l.on_tick(now);
        if let Some(a @ Action::CloseLearner { .. }) = out.first() {
            break (now, a.clone());
        }
        assert!(now < 20 * TICK, "never closed");
    };
    assert_eq!(
        closed,
        (
            cfg().sync_timeout_ms(),
            Action::CloseLearner {
                sid: Sid(2),
                reason: "Closing connection to peer due to transaction timeout.".into()
            }
        )
    );
    assert_eq!(
        l.on_packet(Sid(2), LearnerPacket::Ping { touches: vec![] }, &state, now),
        Err(LeaderError::UnknownLearner(Sid(2)))
    );
}

/// Found by the ensemble simulator (quorum::sim seeds 30507 and 31431, with the driver's
/// flush at a role's end turned off): a leader whose log tail (from its previous role) is
/// not durable must neither persist the new currentEpoch nor count itself in the
/// NEWLEADER quorum until it is. Else a crash leaves it ranked newest in the next
/// election (its currentEpoch) with committed txns gone from its log.
#[test]
fn an_unsynced_own_log_holds_current_epoch_and_the_own_newleader_ack() {
    let qv = Majority::new([1, 2, 3].map(Sid), []);
    let start = LeaderStart {
        accepted_epoch: 1,
        current_epoch: 1,
        last_processed_zxid: z(1, 5),
        durable_zxid: z(1, 3),
        config_version: 0,
        last_seen_config_version: 0,
        reconfig_enabled: true,
        config_members: "server.1=a:1:2:participant\n".into(),
    };
    let (mut l, _) = Leader::new(cfg(), qv, start, 0);
    let committed: Vec<Zxid> = (1..=5).map(|c| z(1, c)).collect();
    let state = log(z(1, 5), &committed);
    l.on_learner_info(info(2, 1, LearnerType::Participant), &state, 10)
        .expect("info");
    let ack_epoch = LearnerPacket::AckEpoch {
        current_epoch: 1,
        last_zxid: z(1, 5),
    };
    let out = l
        .on_packet(Sid(2), ack_epoch, &state, 20)
        .expect("ackepoch");
    assert!(
        !out.iter()
            .any(|a| matches!(a, Action::PersistCurrentEpoch(_))),
        "{out:?}"
    );
    let out = (l.on_packet(Sid(2), LearnerPacket::Ack { zxid: z(2, 0) }, &state, 30)).expect("ack");
    assert_eq!(out, vec![]);
    // Durable short of the last zxid: still waiting.
    assert_eq!(l.on_durable(z(1, 4), 40), vec![]);
    assert_eq!(
        l.on_durable(z(1, 5), 50),
        vec![
            Action::PersistCurrentEpoch(2),
            Action::Established { zxid: z(2, 0) },
            send(2, LeaderPacket::UpToDate)
        ]
    );
}

/// reconfigEnabled=false (ZooKeeper's default): Leader.lead's stamp of the last-seen config
/// is a no-op there, and 3.8.0 sends NEWLEADER with `version=0` (captured on loopback).
#[test]
fn newleader_config_keeps_version_0_without_reconfig() {
    let start = LeaderStart {
        accepted_epoch: 1,
        current_epoch: 1,
        last_processed_zxid: z(1, 5),
        durable_zxid: z(1, 5),
        config_version: 0,
        last_seen_config_version: 0,
        reconfig_enabled: false,
        config_members: "server.1=a:1:2:participant\n".into(),
    };
    assert_eq!(
        start.new_leader_config(4),
        Bytes::from_static(b"server.1=a:1:2:participant\nversion=0")
    );
    let stamped = LeaderStart {
        reconfig_enabled: true,
        ..start
    };
    assert_eq!(stamped.new_leader_config(2), config_bytes());
}
