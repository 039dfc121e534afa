//! Conversations captured from a real ZooKeeper 3.8.0 ensemble (tests/golden/quorum/):
//! the machine, fed the leader's packets, must write what the Java follower wrote.

use std::path::PathBuf;

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::*;
use crate::proto::quorum::packet::QuorumPacketCodec;
use crate::quorum::zab::ping_reply;

fn golden(file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/quorum")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every packet of a captured stream (or of a one-packet file).
fn packets(file: &str) -> Vec<QuorumPacket> {
    let mut buf = BytesMut::from(&golden(file)[..]);
    let mut codec = QuorumPacketCodec::default();
    let mut out = Vec::new();
    while let Some(p) = codec.decode(&mut buf).expect("decode") {
        out.push(p);
    }
    assert!(buf.is_empty(), "{file}: {} bytes left", buf.len());
    out
}

fn one(file: &str) -> QuorumPacket {
    let mut ps = packets(file);
    assert_eq!(ps.len(), 1, "{file}");
    ps.remove(0)
}

/// The packets among `actions`, with PING replies filled with an empty touch table.
fn sent(actions: Vec<Action>) -> Vec<QuorumPacket> {
    actions
        .into_iter()
        .filter_map(|a| match a {
            Action::Send(p) => Some(p),
            Action::ReplyPing { zxid, authinfo } => Some(ping_reply(zxid, authinfo, &[])),
            _ => None,
        })
        .collect()
}

/// Server 1 joins a fresh ensemble (epoch 0, empty log), syncs by an empty DIFF and
/// serves; then, for each PING (or proposal ACK) the Java follower wrote next, the machine
/// gets the leader's PING (or that proposal and its durability). The bytes it writes must
/// be the Java follower's (stream_learner.bin, minus the REQUESTs its clients caused).
#[test]
fn fresh_follower_writes_what_the_java_follower_wrote() {
    let java: Vec<QuorumPacket> = packets("stream_learner.bin")
        .into_iter()
        .filter(|p| p.r#type != pt::REQUEST)
        .collect();
    let mut cfg = config(LearnerType::Participant);
    cfg.sid = Sid(1);
    let mut l = Learner::new(cfg, persisted(0, 0, Zxid(0)));
    let mut wrote = sent(l.start(0).expect("start"));
    let mut actions = Vec::new();
    for (t, file) in [
        "leaderinfo.bin",
        "diff.bin",
        "newleader.bin",
        "uptodate.bin",
    ]
    .into_iter()
    .enumerate()
    {
        actions.extend(feed(&mut l, 10 * t as u64, &one(file)));
    }
    assert!(actions.contains(&Action::PersistAcceptedEpoch(1)));
    assert!(actions.contains(&Action::PersistCurrentEpoch(1)));
    assert!(actions.contains(&Action::Serving { epoch: 1 }));
    wrote.extend(sent(actions));
    // FOLLOWERINFO, ACKEPOCH, the NEWLEADER ACK and the UPTODATE ACK.
    assert_eq!(wrote, java[..4]);
    let proposal = one("proposal_createsession.bin");
    for (t, answer) in java[4..].iter().enumerate() {
        let now = 100 + t as u64;
        let out = match answer.r#type {
            pt::PING => feed(&mut l, now, &one("ping_leader.bin")),
            pt::ACK if answer.zxid == proposal.zxid => {
                feed(&mut l, now, &proposal);
                l.durable(Zxid(proposal.zxid)).expect("durable")
            }
            _ => panic!("no leader packet in the capture for {answer:?}"),
        };
        assert_eq!(sent(out), vec![answer.clone()]);
    }
    assert_eq!(l.epochs(), (1, 1));
}

/// A follower restarted in epoch 1 with its log at 0x10000000c rejoins: equal epoch
/// (ACKEPOCH -1, ackepoch_same_epoch.bin), then the leader's DIFF stream
/// (stream_leader_diff.bin) whose proposals must be logged byte for byte at NEWLEADER.
#[test]
fn rejoining_follower_follows_the_java_leaders_diff() {
    let mut l = started(persisted(1, 1, Zxid(0x1_0000_000c)));
    let stream = packets("stream_leader_diff.bin");
    let (info, rest) = stream.split_first().expect("LEADERINFO");
    assert_eq!(
        sent(feed(&mut l, 1, info)),
        vec![one("ackepoch_same_epoch.bin")]
    );
    // DIFF and the PROPOSAL/COMMIT pairs: queued, in order (no warning), nothing out.
    for (t, p) in rest.iter().enumerate() {
        assert_eq!(
            feed(&mut l, 2 + t as u64, p),
            vec![],
            "{}",
            pt::name(p.r#type)
        );
    }
    let proposals: Vec<&QuorumPacket> = rest.iter().filter(|p| p.r#type == pt::PROPOSAL).collect();
    let newleader = one("newleader.bin");
    let config = newleader
        .data
        .clone()
        .expect("NEWLEADER carries the config")
        .to_vec();
    let mut out = feed(&mut l, 20, &newleader);
    // The leader's config is seen first (setLastSeenQuorumVerifier), then activated at
    // UPTODATE.
    assert_eq!(
        out.remove(0),
        Action::SeenConfig {
            config: config.clone()
        }
    );
    assert_eq!(out.len(), proposals.len());
    for (a, p) in out.iter().zip(&proposals) {
        assert!(
            matches!(a, Action::Log { zxid, raw, .. } if zxid.0 == p.zxid && Some(raw) == p.data.as_ref()),
            "{a:?}"
        );
    }
    let last = Zxid(proposals.last().expect("proposals").zxid);
    let epoch_ack = QuorumPacket::bare(pt::ACK, Zxid::new(1, 0).0);
    assert_eq!(
        l.durable(last).expect("durable"),
        vec![
            Action::PersistCurrentEpoch(1),
            Action::Send(epoch_ack.clone())
        ]
    );
    let out = feed(&mut l, 30, &one("uptodate.bin"));
    let mut expected = vec![
        Action::Activate {
            config,
            designated: None,
        },
        Action::Send(epoch_ack),
        Action::Serving { epoch: 1 },
    ];
    expected.extend((proposals.iter()).map(|p| Action::Send(QuorumPacket::bare(pt::ACK, p.zxid))));
    expected.extend(
        proposals
            .iter()
            .map(|p| Action::Commit { zxid: Zxid(p.zxid) }),
    );
    assert_eq!(out, expected);
}

/// The captured TRUNC (the restarted old leader, whose last txn the new epoch dropped)
/// and SNAP (a follower with a wiped log) become the driver's Truncate and LoadSnapshot.
#[test]
fn captured_trunc_and_snap_start_their_syncs() {
    let trunc = one("trunc.bin");
    let mut l = started(persisted(1, 1, Zxid(trunc.zxid + 1)));
    feed(&mut l, 1, &leader_info(2));
    assert_eq!(
        feed(&mut l, 2, &trunc),
        vec![Action::Truncate {
            zxid: Zxid(trunc.zxid)
        }]
    );

    // The snapshot bytes after SNAP are not a packet: the driver reads them itself.
    let mut buf = BytesMut::from(&golden("snap_with_snapshot.bin")[..]);
    let snap = (QuorumPacketCodec::default().decode(&mut buf))
        .expect("decode")
        .expect("SNAP");
    assert!(buf.ends_with(b"BenWasHere"));
    let mut l = started(persisted(0, 0, Zxid(0)));
    feed(&mut l, 1, &one("leaderinfo.bin"));
    assert_eq!(
        feed(&mut l, 2, &snap),
        vec![Action::LoadSnapshot {
            zxid: Zxid(snap.zxid)
        }]
    );
    assert_eq!(l.snapshot_loaded(3).expect("loaded"), vec![]);
    let newleader = one("newleader.bin");
    assert_eq!(
        feed(&mut l, 4, &newleader),
        vec![
            Action::SeenConfig {
                config: newleader.data.clone().expect("config").to_vec()
            },
            Action::TakeSnapshot { sync: true },
            Action::PersistCurrentEpoch(1),
            send(pt::ACK, Zxid::new(1, 0)),
        ]
    );
}

/// The captured reconfig (the observer re-added with a client address): a follower sees
/// the PROPOSAL's config, ACKs it, and on COMMITANDACTIVATE activates it for the leader
/// the packet designates (3, the leader itself) before the commit applies; the observer
/// does the same with INFORMANDACTIVATE.
#[test]
fn captured_reconfig_is_seen_then_activated() {
    let proposal = one("proposal_reconfig.bin");
    let commit = one("commitandactivate.bin");
    assert_eq!(commit.zxid, proposal.zxid);
    let config = match TxnEntry::decode(proposal.data.as_deref().expect("txn"))
        .expect("txn")
        .txn
    {
        Txn::Reconfig(t) => t.data.expect("config"),
        other => panic!("not a reconfig: {other:?}"),
    };
    assert!(String::from_utf8_lossy(&config).contains("version="));
    let z = Zxid(proposal.zxid);
    let mut l = serving_at(z);
    let out = feed(&mut l, 200, &proposal);
    assert_eq!(
        out.first(),
        Some(&Action::SeenConfig {
            config: config.clone()
        })
    );
    assert!(matches!(out.get(1), Some(Action::Log { zxid, .. }) if *zxid == z));
    assert_eq!(l.durable(z).expect("durable"), vec![send(pt::ACK, z)]);
    assert_eq!(
        feed(&mut l, 201, &commit),
        vec![
            Action::Activate {
                config: config.clone(),
                designated: Some((3, z)),
            },
            Action::Commit { zxid: z },
        ]
    );

    let inform = one("informandactivate_reconfig.bin");
    let mut o = serving_observer_at(z);
    let out = feed(&mut o, 200, &inform);
    assert_eq!(
        out.first(),
        Some(&Action::Activate {
            config,
            designated: Some((3, Zxid(inform.zxid))),
        })
    );
    assert!(matches!(out.get(1), Some(Action::CommitInformed { zxid, .. }) if *zxid == z));
}

/// A learner serving in `z`'s epoch with its log just before `z`.
fn serving_at(z: Zxid) -> Learner {
    serving_as(LearnerType::Participant, z)
}

fn serving_observer_at(z: Zxid) -> Learner {
    serving_as(LearnerType::Observer, z)
}

fn serving_as(t: LearnerType, z: Zxid) -> Learner {
    let before = Zxid(z.0 - 1);
    let mut l = started_as(t, persisted(z.epoch(), z.epoch(), before));
    feed(&mut l, 10, &leader_info(z.epoch()));
    feed(&mut l, 20, &bare(pt::DIFF, before));
    let out = feed(&mut l, 30, &bare(pt::NEWLEADER, Zxid::new(z.epoch(), 0)));
    assert!(!out.is_empty(), "NEWLEADER is ACKed");
    feed(&mut l, 100, &bare(pt::UPTODATE, Zxid(-1)));
    l
}
