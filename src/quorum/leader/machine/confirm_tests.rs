//! Linearizable sync: a sync is answered only after a quorum of PING replies to PINGs
//! queued after it arrived; without the mode, as ZooKeeper (at once).

use super::*;
use crate::quorum::{LearnerType, Majority};

use super::test_support::{z, NoDisk, TICK};

fn send(to: u64, packet: LeaderPacket) -> Action {
    Action::Send {
        to: Sid(to),
        packet,
    }
}

fn ping(to: u64, zxid: Zxid) -> Action {
    send(to, LeaderPacket::Ping { zxid })
}

fn reply() -> LearnerPacket {
    LearnerPacket::Ping { touches: vec![] }
}

const NO_LOG: &[Zxid] = &[];

fn log() -> LogState<'static> {
    LogState {
        last_processed_zxid: z(1, 0),
        committed_log: NO_LOG,
        txn_log: &NoDisk,
        snapshot_size_factor: 0.33,
        force_snap_sync: false,
    }
}

/// Leader 1 of {1,2,3}, both followers past UPTODATE, epoch 2.
fn serving(linearizable: bool) -> Leader<Majority> {
    let qv = Majority::new([1, 2, 3].map(Sid), []);
    let start = LeaderStart {
        accepted_epoch: 1,
        current_epoch: 1,
        last_processed_zxid: z(1, 0),
        durable_zxid: z(1, 0),
        config_version: 0,
        last_seen_config_version: 0,
        reconfig_enabled: false,
        config_members: "server.1=a:1:2:participant\n".into(),
    };
    let cfg = LeaderConfig {
        my_sid: Sid(1),
        tick_ms: TICK,
        init_limit: 10,
        sync_limit: 5,
    };
    let (mut l, _) = Leader::new(cfg, qv.clone(), start, 0);
    l.set_linearizable_sync(linearizable, qv);
    for sid in [2, 3] {
        let info = LearnerPacket::Info {
            learner_type: LearnerType::Participant,
            zxid: z(1, 0),
            sid: Some(sid),
            protocol_version: 0x10000,
            config_version: Some(0),
        };
        l.on_learner_info(info, &log(), 1).expect("info");
        let ack_epoch = LearnerPacket::AckEpoch {
            current_epoch: 1,
            last_zxid: z(1, 0),
        };
        l.on_packet(Sid(sid as u64), ack_epoch, &log(), 2)
            .expect("ackepoch");
    }
    for sid in [2, 3] {
        let out = l
            .on_packet(Sid(sid), LearnerPacket::Ack { zxid: z(2, 0) }, &log(), 3)
            .expect("newleader ack");
        assert!(out.contains(&send(sid, LeaderPacket::UpToDate)), "{out:?}");
    }
    assert!(l.serving());
    l
}

fn answer(l: &mut Leader<Majority>, sid: u64) -> Vec<Action> {
    l.on_packet(Sid(sid), reply(), &log(), 10)
        .expect("ping reply")
}

#[test]
fn without_the_mode_syncs_are_answered_at_once_as_zookeeper_does() {
    let mut l = serving(false);
    assert_eq!(l.process_sync(Sid(2)), vec![send(2, LeaderPacket::Sync)]);
    assert_eq!(l.local_sync(7), vec![Action::SyncConfirmed { token: 7 }]);
    assert_eq!(l.confirming_syncs(), 0);
}

#[test]
fn a_sync_waits_for_a_quorum_of_replies_to_pings_sent_after_it() {
    let mut l = serving(true);
    // A sync arrives: a round starts, a PING to each follower.
    assert_eq!(l.local_sync(1), vec![ping(2, z(2, 0)), ping(3, z(2, 0))]);
    assert_eq!(l.process_sync(Sid(3)), vec![]);
    assert_eq!(l.confirming_syncs(), 2);
    // One reply + the leader is a quorum of three: the first sync goes; the learner's
    // sync arrived while the round was out, so it waits for the next round.
    assert_eq!(
        answer(&mut l, 2),
        vec![
            Action::SyncConfirmed { token: 1 },
            ping(2, z(2, 0)),
            ping(3, z(2, 0))
        ]
    );
    // 3's reply answers the first round's PING, not the second's.
    assert_eq!(answer(&mut l, 3), vec![]);
    assert_eq!(answer(&mut l, 3), vec![send(3, LeaderPacket::Sync)]);
    assert_eq!(l.confirming_syncs(), 0);
    // The late reply from 2 answers nothing that waits.
    assert_eq!(answer(&mut l, 2), vec![]);
}

/// The paused leader: the followers answered PINGs sent before the pause, their replies sat
/// in the socket while the leader was stopped and are read after the sync. They must not
/// confirm it.
#[test]
fn replies_to_pings_sent_before_the_sync_do_not_confirm_it() {
    let mut l = serving(true);
    let due = l.next_wakeup_ms().expect("the half-tick loop runs");
    assert_eq!(l.on_tick(due), vec![ping(2, z(2, 0)), ping(3, z(2, 0))]);
    // (the leader is stopped here; the replies wait in its sockets)
    assert_eq!(l.local_sync(9), vec![ping(2, z(2, 0)), ping(3, z(2, 0))]);
    assert_eq!(answer(&mut l, 2), vec![]);
    assert_eq!(answer(&mut l, 3), vec![]);
    assert_eq!(l.confirming_syncs(), 1);
    // A PING of the half-tick loop sent after the sync counts as well as the round's.
    assert_eq!(answer(&mut l, 3), vec![Action::SyncConfirmed { token: 9 }]);
}

/// The followers elected someone else and closed their links: the old leader's sync is
/// never answered, and it gives up within syncLimit.
#[test]
fn a_leader_that_cannot_reach_its_quorum_never_answers() {
    let mut l = serving(true);
    let p = l.process_sync(Sid(2));
    assert_eq!(p, vec![ping(2, z(2, 0)), ping(3, z(2, 0))]);
    l.remove_learner(Sid(2));
    l.remove_learner(Sid(3));
    assert_eq!(l.local_sync(4), vec![]);
    let mut gave_up = false;
    for _ in 0..40 {
        let Some(t) = l.next_wakeup_ms() else { break };
        for a in l.on_tick(t) {
            assert!(
                !matches!(
                    a,
                    Action::SyncConfirmed { .. }
                        | Action::Send {
                            packet: LeaderPacket::Sync,
                            ..
                        }
                ),
                "answered a sync without a quorum: {a:?}"
            );
            gave_up |= matches!(a, Action::GiveUp { .. });
        }
    }
    assert!(gave_up && l.gave_up());
    assert_eq!(l.local_sync(5), vec![]);
}

/// A learner's sync still waits for the commit of what was proposed before it
/// (Leader.processSync), after its round.
#[test]
fn a_learner_sync_also_waits_for_the_outstanding_proposal() {
    let mut l = serving(true);
    let data = bytes::Bytes::from_static(b"txn");
    l.propose(z(2, 1), data, 5).expect("propose");
    assert_eq!(
        l.process_sync(Sid(2)),
        vec![ping(2, z(2, 1)), ping(3, z(2, 1))]
    );
    assert_eq!(answer(&mut l, 3), vec![]);
    assert_eq!(l.on_durable(z(2, 1), 6), vec![]);
    let out = l
        .on_packet(Sid(3), LearnerPacket::Ack { zxid: z(2, 1) }, &log(), 7)
        .expect("ack");
    assert_eq!(out.last(), Some(&send(2, LeaderPacket::Sync)), "{out:?}");
}

/// A follower that reconnects while a round is out counts with its first reply on the new
/// link (every PING there went after the sync), not after its old link's count.
#[test]
fn a_follower_that_reconnects_during_a_round_counts_on_its_new_link() {
    let mut l = serving(true);
    for _ in 0..3 {
        let due = l.next_wakeup_ms().expect("the half-tick loop runs");
        l.on_tick(due);
    }
    assert_eq!(l.local_sync(1), vec![ping(2, z(2, 0)), ping(3, z(2, 0))]);
    l.remove_learner(Sid(2));
    l.remove_learner(Sid(3));
    let info = LearnerPacket::Info {
        learner_type: LearnerType::Participant,
        zxid: z(2, 0),
        sid: Some(2),
        protocol_version: 0x10000,
        config_version: Some(0),
    };
    l.on_learner_info(info, &log(), 20).expect("info");
    let ack_epoch = LearnerPacket::AckEpoch {
        current_epoch: 2,
        last_zxid: z(2, 0),
    };
    l.on_packet(Sid(2), ack_epoch, &log(), 21)
        .expect("ackepoch");
    let out = l
        .on_packet(Sid(2), LearnerPacket::Ack { zxid: z(2, 0) }, &log(), 22)
        .expect("newleader ack");
    assert!(out.contains(&send(2, LeaderPacket::UpToDate)), "{out:?}");
    // A reply before any PING on the new link answers nothing.
    assert_eq!(answer(&mut l, 2), vec![]);
    let due = l.next_wakeup_ms().expect("the half-tick loop runs");
    assert!(l.on_tick(due).contains(&ping(2, z(2, 0))));
    assert_eq!(answer(&mut l, 2), vec![Action::SyncConfirmed { token: 1 }]);
}

/// While a reconfig is outstanding a round needs a quorum of both views; once it
/// commits, of the new one only.
#[test]
fn a_round_needs_both_views_while_a_reconfig_is_outstanding() {
    let mut l = serving(true);
    let new_view = Majority::new([1, 3, 4].map(Sid), []);
    let p = l
        .propose_reconfig(z(2, 1), Bytes::from_static(b"r"), new_view, 5)
        .expect("reconfig");
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(l.local_sync(1), vec![ping(2, z(2, 1)), ping(3, z(2, 1))]);
    // {1,2}: a quorum of {1,2,3}, not of {1,3,4}.
    assert_eq!(answer(&mut l, 2), vec![]);
    assert_eq!(answer(&mut l, 3), vec![Action::SyncConfirmed { token: 1 }]);
    // The reconfig commits: {1,3} will do alone, 2 is not needed any more.
    l.on_durable(z(2, 1), 6);
    let out = l
        .on_packet(Sid(3), LearnerPacket::Ack { zxid: z(2, 1) }, &log(), 7)
        .expect("ack");
    assert!(out.contains(&Action::Commit { zxid: z(2, 1) }), "{out:?}");
    assert_eq!(l.local_sync(2), vec![ping(2, z(2, 1)), ping(3, z(2, 1))]);
    assert_eq!(answer(&mut l, 3), vec![Action::SyncConfirmed { token: 2 }]);
}
