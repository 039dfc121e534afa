//! The leader's packets against bytes captured from a real ZooKeeper 3.8 ensemble
//! (tests/golden/quorum, see its README): what [`LeaderPacket::encode`] writes must be
//! byte-identical, and [`LearnerPacket::decode`] must read what Java learners send.

use std::path::PathBuf;

use bytes::{Bytes, BytesMut};

use super::sync::{LogSource, LogState, StreamRange, TxnLogRead, TxnLogView};
use super::{Action, Leader, LeaderConfig, LeaderPacket, LeaderStart, LearnerPacket};
use crate::jute::Jute;
use crate::proto::quorum::packet::QuorumPacket;
use crate::quorum::{LearnerType, Majority, Sid, Zxid};

fn golden(file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/quorum")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn packet(file: &str) -> QuorumPacket {
    QuorumPacket::from_bytes(&golden(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn encode(p: &LeaderPacket) -> Vec<u8> {
    let mut out = BytesMut::new();
    p.encode(&mut out);
    out.to_vec()
}

fn learner(file: &str) -> LearnerPacket {
    let p = packet(file);
    LearnerPacket::decode(p.r#type, p.zxid, p.data.as_deref(), p.authinfo)
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn leader_packets_are_byte_identical_to_java() {
    let z = |file: &str| Zxid(packet(file).zxid);
    let data = |file: &str| Bytes::from(packet(file).data.unwrap_or_default());
    let cases = [
        (
            "leaderinfo.bin",
            LeaderPacket::LeaderInfo {
                zxid: z("leaderinfo.bin"),
            },
        ),
        (
            "diff.bin",
            LeaderPacket::Diff {
                zxid: z("diff.bin"),
            },
        ),
        (
            "diff_catchup.bin",
            LeaderPacket::Diff {
                zxid: z("diff_catchup.bin"),
            },
        ),
        (
            "trunc.bin",
            LeaderPacket::Trunc {
                zxid: z("trunc.bin"),
            },
        ),
        (
            "snap.bin",
            LeaderPacket::Snap {
                zxid: z("snap.bin"),
            },
        ),
        (
            "commit.bin",
            LeaderPacket::Commit {
                zxid: z("commit.bin"),
            },
        ),
        (
            "ping_leader.bin",
            LeaderPacket::Ping {
                zxid: z("ping_leader.bin"),
            },
        ),
        ("sync.bin", LeaderPacket::Sync),
        ("uptodate.bin", LeaderPacket::UpToDate),
        (
            "newleader.bin",
            LeaderPacket::NewLeader {
                zxid: z("newleader.bin"),
                config: Some(data("newleader.bin")),
            },
        ),
        (
            "proposal_create.bin",
            LeaderPacket::Proposal {
                zxid: z("proposal_create.bin"),
                data: data("proposal_create.bin"),
            },
        ),
        (
            "inform_setdata.bin",
            LeaderPacket::Inform {
                zxid: z("inform_setdata.bin"),
                data: data("inform_setdata.bin"),
            },
        ),
    ];
    let LearnerPacket::Revalidate { session_id, .. } = learner("revalidate_ask.bin") else {
        panic!("revalidate")
    };
    // The capture's session was valid.
    let answer = LeaderPacket::Revalidate {
        session_id,
        valid: true,
    };
    assert_eq!(
        encode(&answer),
        golden("revalidate_answer.bin"),
        "revalidate_answer.bin"
    );
    for (file, p) in cases {
        assert_eq!(encode(&p), golden(file), "{file}");
    }
}

#[test]
fn learner_packets_from_java_decode() {
    assert!(matches!(
        learner("followerinfo.bin"),
        LearnerPacket::Info {
            learner_type: LearnerType::Participant,
            sid: Some(1),
            protocol_version: 0x10000,
            ..
        }
    ));
    assert!(matches!(
        learner("observerinfo.bin"),
        LearnerPacket::Info {
            learner_type: LearnerType::Observer,
            sid: Some(4),
            config_version: Some(0x1_0000_0000),
            ..
        }
    ));
    assert_eq!(
        learner("ackepoch.bin"),
        LearnerPacket::AckEpoch {
            current_epoch: 0,
            last_zxid: Zxid(0)
        }
    );
    assert_eq!(
        learner("ackepoch_same_epoch.bin"),
        LearnerPacket::AckEpoch {
            current_epoch: -1,
            last_zxid: Zxid(0x1_0000_000c)
        }
    );
    assert_eq!(
        learner("ack_newleader.bin"),
        LearnerPacket::Ack {
            zxid: Zxid::new(1, 0)
        }
    );
    assert_eq!(
        learner("ack.bin"),
        LearnerPacket::Ack {
            zxid: Zxid::new(1, 1)
        }
    );
    assert_eq!(
        learner("ping_learner.bin"),
        LearnerPacket::Ping { touches: vec![] }
    );
    let LearnerPacket::Ping { touches } = learner("ping_learner_touch.bin") else {
        panic!("ping")
    };
    let LearnerPacket::Revalidate {
        session_id,
        timeout_ms,
    } = learner("revalidate_ask.bin")
    else {
        panic!("revalidate")
    };
    assert_eq!(
        touches,
        vec![(session_id, timeout_ms)],
        "the reattached session is touched"
    );
    assert!(matches!(
        learner("request_sync.bin"),
        LearnerPacket::Request { op_type: 9, .. }
    ));
}

/// The captured ensemble's members (server 4 is an observer).
const MEMBERS: &str = "server.1=127.0.0.1:22888:23888:participant\n\
                       server.2=127.0.0.1:22889:23889:participant\n\
                       server.3=127.0.0.1:22890:23890:participant\n\
                       server.4=127.0.0.1:22891:23891:observer\n";

struct NoDisk;

impl TxnLogView for NoDisk {
    fn read_from(&self, _: Zxid) -> Option<TxnLogRead> {
        None
    }
    fn snapshot_size(&self) -> u64 {
        0
    }
}

/// The captured catch-up: a follower that stopped at 1.c rejoins epoch 1 whose leader
/// committed up to 1.12. Java sent LEADERINFO, DIFF(1.12), then PROPOSAL/COMMIT from 1.d.
#[test]
fn a_rejoining_follower_gets_the_stream_java_sent() {
    let stream = golden("stream_leader_diff.bin");
    let mut wire = Vec::new();
    let mut rest = &stream[..];
    while !rest.is_empty() {
        let (r, p) = QuorumPacket::read(rest).expect("packet");
        wire.push(p);
        rest = r;
    }
    let qv = Majority::new([1, 2, 3].map(Sid), [Sid(4)]);
    let start = LeaderStart {
        accepted_epoch: 0,
        current_epoch: 0,
        last_processed_zxid: Zxid(0),
        durable_zxid: Zxid(0),
        config_version: 0,
        last_seen_config_version: 0,
        reconfig_enabled: true,
        config_members: MEMBERS.into(),
    };
    let cfg = LeaderConfig {
        my_sid: Sid(3),
        tick_ms: 1000,
        init_limit: 10,
        sync_limit: 5,
    };
    let (mut l, _) = Leader::new(cfg, qv, start, 0);
    let log0 = LogState {
        last_processed_zxid: Zxid(0),
        committed_log: &[],
        txn_log: &NoDisk,
        snapshot_size_factor: 0.33,
        force_snap_sync: false,
    };
    // Follower 2 forms the quorum of epoch 1.
    let info = |sid| LearnerPacket::Info {
        learner_type: LearnerType::Participant,
        zxid: Zxid(0),
        sid: Some(sid),
        protocol_version: 0x10000,
        config_version: Some(0),
    };
    l.on_learner_info(info(2), &log0, 0).expect("info");
    let ack_epoch = LearnerPacket::AckEpoch {
        current_epoch: 0,
        last_zxid: Zxid(0),
    };
    l.on_packet(Sid(2), ack_epoch, &log0, 0).expect("ackepoch");
    l.on_packet(
        Sid(2),
        LearnerPacket::Ack {
            zxid: Zxid::new(1, 0),
        },
        &log0,
        0,
    )
    .expect("ack");
    // Later, with 1.1..1.12 committed, follower 1 comes back from 1.c.
    let committed: Vec<Zxid> = (1..=0x12).map(|c| Zxid::new(1, c)).collect();
    let log = LogState {
        last_processed_zxid: Zxid::new(1, 0x12),
        committed_log: &committed,
        ..log0
    };
    let (_, out) = l.on_learner_info(info(1), &log, 10).expect("info");
    let LeaderPacket::LeaderInfo { .. } = sent(&out[0]) else {
        panic!("{out:?}")
    };
    assert_eq!(encode(sent(&out[0])), to_bytes(&wire[0]), "LEADERINFO");
    let ack_epoch = LearnerPacket::AckEpoch {
        current_epoch: 1,
        last_zxid: Zxid::new(1, 0xc),
    };
    let out = l.on_packet(Sid(1), ack_epoch, &log, 11).expect("ackepoch");
    assert_eq!(encode(sent(&out[0])), to_bytes(&wire[1]), "DIFF");
    let range = StreamRange {
        source: LogSource::CommittedLog,
        after: Zxid::new(1, 0xc),
        upto: Zxid::new(1, 0x12),
    };
    assert_eq!(out[1], Action::StreamProposals { to: Sid(1), range });
    // NEWLEADER carries the config with version 1.0, byte for byte what Java sent.
    assert_eq!(encode(sent(&out[2])), golden("newleader.bin"), "NEWLEADER");
    // Java's stream: PROPOSAL then COMMIT for each zxid after 1.c, in order.
    for (i, pair) in wire[2..].chunks(2).enumerate() {
        let zxid = Zxid::new(1, 0xd + i as i64);
        assert_eq!((pair[0].r#type, pair[0].zxid), (2, zxid.0));
        assert_eq!(to_bytes(&pair[1]), encode(&LeaderPacket::Commit { zxid }));
    }
}

fn sent(a: &Action) -> &LeaderPacket {
    match a {
        Action::Send { packet, .. } => packet,
        other => panic!("not a send: {other:?}"),
    }
}

fn to_bytes(p: &QuorumPacket) -> Vec<u8> {
    p.to_bytes().to_vec()
}
