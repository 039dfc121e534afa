//! Tests of the learner machine, one file per phase, each checking the exact actions;
//! `golden` replays conversations captured from a real ZooKeeper 3.8 ensemble.

mod broadcast;
mod discovery;
mod golden;
mod props;
mod reconfig;
mod sync;

use super::{Action, Learner, LearnerConfig, Persisted};
use crate::proto::codes::op;
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::proto::quorum::payload::{LeaderInfo, Payload, ZAB_PROTOCOL_VERSION};
use crate::proto::txn::{CreateSessionTxn, Txn, TxnEntry, TxnHeader};
use crate::quorum::{LearnerType, Sid, Zxid};

/// tickTime 1000 ms, initLimit 10, syncLimit 5.
pub(super) const TICK_MS: u64 = 1000;

pub(super) fn config(learner_type: LearnerType) -> LearnerConfig {
    LearnerConfig {
        sid: Sid(2),
        learner_type,
        config_version: 0,
        tick_time_ms: TICK_MS,
        init_limit: 10,
        sync_limit: 5,
    }
}

pub(super) fn persisted(accepted: i64, current: i64, last_logged: Zxid) -> Persisted {
    Persisted {
        accepted_epoch: accepted,
        current_epoch: current,
        last_logged_zxid: last_logged,
        durable_zxid: last_logged,
    }
}

/// A follower that has sent FOLLOWERINFO at t=0.
pub(super) fn started(p: Persisted) -> Learner {
    started_as(LearnerType::Participant, p)
}

pub(super) fn started_as(t: LearnerType, p: Persisted) -> Learner {
    let mut l = Learner::new(config(t), p);
    l.start(0).expect("start");
    l
}

pub(super) fn leader_info(epoch: i64) -> QuorumPacket {
    let data = LeaderInfo {
        protocol_version: ZAB_PROTOCOL_VERSION,
    }
    .to_data();
    QuorumPacket::with_data(pt::LEADERINFO, Zxid::new(epoch, 0).0, data)
}

/// A follower at epoch 1 with log up to (1, 3), after the LEADERINFO for epoch 2: it
/// waits for the sync start.
pub(super) fn in_sync_start(t: LearnerType) -> Learner {
    let mut l = started_as(t, persisted(1, 1, Zxid::new(1, 3)));
    feed(&mut l, 10, &leader_info(2));
    l
}

/// Feeds a packet that must be accepted.
pub(super) fn feed(l: &mut Learner, now_ms: u64, p: &QuorumPacket) -> Vec<Action> {
    l.on_packet(now_ms, p)
        .unwrap_or_else(|e| panic!("{} refused: {e}", pt::name(p.r#type)))
}

pub(super) fn bare(t: i32, zxid: Zxid) -> QuorumPacket {
    QuorumPacket::bare(t, zxid.0)
}

pub(super) fn send(t: i32, zxid: Zxid) -> Action {
    Action::Send(bare(t, zxid))
}

/// A createSession txn with this zxid.
pub(super) fn entry(zxid: Zxid) -> TxnEntry {
    TxnEntry {
        header: TxnHeader {
            client_id: 0x0100_0004_85bf_0000 + zxid.counter(),
            cxid: 0,
            zxid: zxid.0,
            time: 1_700_000_000_000,
            r#type: op::CREATE_SESSION,
        },
        txn: Txn::CreateSession(CreateSessionTxn { time_out: 30_000 }),
        digest: None,
    }
}

pub(super) fn proposal(zxid: Zxid) -> QuorumPacket {
    QuorumPacket::with_data(pt::PROPOSAL, zxid.0, entry(zxid).to_bytes().to_vec())
}

/// The Log action a [`proposal`] becomes.
pub(super) fn log(zxid: Zxid) -> Action {
    Action::Log {
        zxid,
        entry: Box::new(entry(zxid)),
        raw: entry(zxid).to_bytes().to_vec(),
    }
}

/// A follower in broadcast in epoch 2, with nothing pending, heard from at t=100.
pub(super) fn serving() -> Learner {
    let mut l = in_sync_start(LearnerType::Participant);
    feed(&mut l, 20, &bare(pt::DIFF, Zxid::new(1, 3)));
    feed(&mut l, 30, &bare(pt::NEWLEADER, Zxid::new(2, 0)));
    feed(&mut l, 100, &bare(pt::UPTODATE, Zxid(-1)));
    l
}
