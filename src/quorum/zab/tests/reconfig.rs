//! Reconfig at the learner: a reconfig PROPOSAL is seen, COMMITANDACTIVATE and
//! INFORMANDACTIVATE activate it (before the commit applies), NEWLEADER's config is seen at
//! NEWLEADER and activated at UPTODATE before its ACK (Learner.syncWithLeader,
//! Follower.processPacket, Observer.processPacket).

use super::*;
use crate::proto::quorum::payload::{CommitAndActivate, InformAndActivate};
use crate::proto::txn::SetDataTxn;
use crate::quorum::zab::ZabError;

const NEW_CONFIG: &[u8] = b"server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n\
server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n\
server.4=127.0.0.1:2890:3890:participant;127.0.0.1:2184\nversion=200000001";

/// The reconfig txn (type 16, a SetDataTxn of /zookeeper/config).
fn reconfig_entry(zxid: Zxid) -> TxnEntry {
    TxnEntry {
        header: TxnHeader {
            client_id: 0x0100_0004_85bf_0001,
            cxid: 7,
            zxid: zxid.0,
            time: 1_700_000_000_000,
            r#type: op::RECONFIG,
        },
        txn: Txn::Reconfig(SetDataTxn {
            path: "/zookeeper/config".into(),
            data: Some(NEW_CONFIG.to_vec()),
            version: -1,
        }),
        digest: None,
    }
}

fn reconfig_proposal(zxid: Zxid) -> QuorumPacket {
    QuorumPacket::with_data(
        pt::PROPOSAL,
        zxid.0,
        reconfig_entry(zxid).to_bytes().to_vec(),
    )
}

fn commit_and_activate(zxid: Zxid, designated: i64) -> QuorumPacket {
    let data = CommitAndActivate {
        designated_leader: designated,
    }
    .to_data();
    QuorumPacket::with_data(pt::COMMITANDACTIVATE, zxid.0, data)
}

fn seen() -> Action {
    Action::SeenConfig {
        config: NEW_CONFIG.to_vec(),
    }
}

fn activate(designated: Option<(i64, Zxid)>) -> Action {
    Action::Activate {
        config: NEW_CONFIG.to_vec(),
        designated,
    }
}

#[test]
fn a_follower_sees_the_proposal_and_activates_before_the_commit() {
    let mut l = serving();
    let z = Zxid::new(2, 1);
    let logged = Action::Log {
        zxid: z,
        entry: Box::new(reconfig_entry(z)),
        raw: reconfig_entry(z).to_bytes().to_vec(),
    };
    assert_eq!(
        feed(&mut l, 200, &reconfig_proposal(z)),
        vec![seen(), logged]
    );
    assert_eq!(l.durable(z).expect("durable"), vec![send(pt::ACK, z)]);
    assert_eq!(
        feed(&mut l, 201, &commit_and_activate(z, 3)),
        vec![activate(Some((3, z))), Action::Commit { zxid: z }]
    );
}

#[test]
fn commit_and_activate_of_a_plain_txn_or_malformed_is_an_error() {
    let mut l = serving();
    let z = Zxid::new(2, 1);
    feed(&mut l, 200, &proposal(z));
    assert!(matches!(
        l.on_packet(201, &commit_and_activate(z, 3)),
        Err(ZabError::Unexpected { .. })
    ));
    let mut l = serving();
    feed(&mut l, 200, &reconfig_proposal(z));
    let short = QuorumPacket::with_data(pt::COMMITANDACTIVATE, z.0, vec![0; 4]);
    assert!(matches!(
        l.on_packet(201, &short),
        Err(ZabError::Malformed { .. })
    ));
}

#[test]
fn an_observer_activates_then_applies_inform_and_activate() {
    let mut l = in_sync_start(LearnerType::Observer);
    feed(&mut l, 20, &bare(pt::DIFF, Zxid::new(1, 3)));
    feed(&mut l, 30, &bare(pt::NEWLEADER, Zxid::new(2, 0)));
    feed(&mut l, 100, &bare(pt::UPTODATE, Zxid(-1)));
    let z = Zxid::new(2, 1);
    let data = InformAndActivate {
        designated_leader: 1,
        txn: reconfig_entry(z),
    }
    .to_data();
    let p = QuorumPacket::with_data(pt::INFORMANDACTIVATE, z.0, data);
    assert_eq!(
        feed(&mut l, 200, &p),
        vec![
            activate(Some((1, z))),
            Action::CommitInformed {
                zxid: z,
                entry: Box::new(reconfig_entry(z)),
                raw: reconfig_entry(z).to_bytes().to_vec(),
            }
        ]
    );
    // COMMITANDACTIVATE is not an observer's: Java warns and goes on.
    assert!(matches!(
        feed(&mut l, 201, &commit_and_activate(z, 1)).as_slice(),
        [Action::Warn(_)]
    ));
}

#[test]
fn newleader_config_is_seen_then_activated_before_the_uptodate_ack() {
    let mut l = in_sync_start(LearnerType::Participant);
    feed(&mut l, 20, &bare(pt::DIFF, Zxid::new(1, 3)));
    let newleader = QuorumPacket::with_data(pt::NEWLEADER, Zxid::new(2, 0).0, NEW_CONFIG.to_vec());
    let out = feed(&mut l, 30, &newleader);
    assert_eq!(out.first(), Some(&seen()));
    assert_eq!(
        feed(&mut l, 100, &bare(pt::UPTODATE, Zxid(-1))),
        vec![
            activate(None),
            send(pt::ACK, Zxid::new(2, 0)),
            Action::Serving { epoch: 2 },
        ]
    );
}

#[test]
fn a_reconfig_committed_during_sync_is_activated_when_committed() {
    let mut l = in_sync_start(LearnerType::Participant);
    feed(&mut l, 20, &bare(pt::DIFF, Zxid::new(1, 5)));
    let z = Zxid::new(1, 4);
    assert_eq!(feed(&mut l, 21, &reconfig_proposal(z)), vec![seen()]);
    assert_eq!(
        feed(&mut l, 22, &commit_and_activate(z, 2)),
        vec![activate(Some((2, z)))]
    );
}
