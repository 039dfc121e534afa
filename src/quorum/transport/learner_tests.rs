//! The driver against a scripted leader on loopback: discovery, a DIFF with one proposal,
//! NEWLEADER, UPTODATE, a broadcast proposal, and the ACK order Java's leader expects.

use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_util::codec::Framed;

use super::*;
use crate::config::ServerSpec;
use crate::proto::quorum::payload::{LeaderInfo, Payload, ZAB_PROTOCOL_VERSION};
use crate::proto::{op, Acl, CreateTxn, Txn, TxnHeader};
use crate::storage::epoch::MemEpochs;
use crate::storage::MemLog;

fn create(zxid: Zxid, path: &str) -> Vec<u8> {
    TxnEntry {
        header: TxnHeader {
            client_id: 7,
            cxid: 1,
            zxid: zxid.0,
            time: 1_700_000_000_000 + zxid.counter(),
            r#type: op::CREATE,
        },
        txn: Txn::Create(
            op::CREATE,
            CreateTxn {
                path: path.into(),
                data: Some(path.as_bytes().to_vec()),
                acl: vec![Acl::world(31)],
                ephemeral: false,
                parent_cversion: -1,
            },
        ),
        digest: None,
    }
    .to_bytes()
    .to_vec()
}

fn config() -> Config {
    let mut cfg = Config::default_standalone();
    cfg.my_id = Some(1);
    cfg.tick_time_ms = 500;
    cfg.init_limit = 10;
    cfg.sync_limit = 5;
    cfg.servers.insert(
        1,
        ServerSpec {
            sid: 1,
            host: "127.0.0.1".into(),
            quorum_port: 1,
            election_port: 2,
            observer: false,
            client_addr: None,
        },
    );
    cfg
}

#[tokio::test]
async fn diff_sync_then_broadcast_against_a_scripted_leader() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log = SharedLog::new(Box::new(MemLog::default()));
    let mut f = Follower::new(
        &config(),
        log.clone(),
        Box::new(MemEpochs::default()),
        FollowerLimits::default(),
    )
    .expect("follower");
    let stop = CancellationToken::new();
    let run = tokio::spawn(async move {
        let end = f.follow(addr, &stop).await;
        (f, end)
    });

    let (sock, _) = listener.accept().await.expect("accept");
    let mut l = Framed::new(sock, QuorumPacketCodec::default());
    let info = l.next().await.expect("packet").expect("decodes");
    assert_eq!((info.r#type, info.zxid), (pt::FOLLOWERINFO, 0));
    let epoch1 = Zxid::new(1, 0);
    let li = LeaderInfo {
        protocol_version: ZAB_PROTOCOL_VERSION,
    };
    l.send(QuorumPacket::with_data(
        pt::LEADERINFO,
        epoch1.0,
        li.to_data(),
    ))
    .await
    .expect("send");
    let ack_epoch = l.next().await.expect("packet").expect("decodes");
    assert_eq!((ack_epoch.r#type, ack_epoch.zxid), (pt::ACKEPOCH, 0));

    let (z1, z2) = (Zxid::new(1, 1), Zxid::new(1, 2));
    for p in [
        QuorumPacket::bare(pt::DIFF, z1.0),
        QuorumPacket::with_data(pt::PROPOSAL, z1.0, create(z1, "/a")),
        QuorumPacket::bare(pt::COMMIT, z1.0),
        QuorumPacket::bare(pt::NEWLEADER, epoch1.0),
    ] {
        l.send(p).await.expect("send");
    }
    // NEWLEADER's ACK only once /a is durable; then UPTODATE, its ACK, /a's ACK.
    let p = l.next().await.expect("packet").expect("decodes");
    assert_eq!((p.r#type, p.zxid), (pt::ACK, epoch1.0));
    l.send(QuorumPacket::bare(pt::UPTODATE, -1))
        .await
        .expect("send");
    let acks: Vec<i64> = [l.next().await, l.next().await]
        .into_iter()
        .map(|p| p.expect("packet").expect("decodes"))
        .inspect(|p| assert_eq!(p.r#type, pt::ACK))
        .map(|p| p.zxid)
        .collect();
    assert_eq!(acks, vec![epoch1.0, z1.0]);

    // Broadcast, and a PING with its (empty) touch table answered.
    l.send(QuorumPacket::with_data(
        pt::PROPOSAL,
        z2.0,
        create(z2, "/b"),
    ))
    .await
    .expect("send");
    let p = l.next().await.expect("packet").expect("decodes");
    assert_eq!((p.r#type, p.zxid), (pt::ACK, z2.0));
    l.send(QuorumPacket::bare(pt::COMMIT, z2.0))
        .await
        .expect("send");
    l.send(QuorumPacket::bare(pt::PING, z2.0))
        .await
        .expect("send");
    let p = l.next().await.expect("packet").expect("decodes");
    assert_eq!(
        (p.r#type, p.zxid, p.data),
        (pt::PING, z2.0, Some(Vec::new()))
    );
    drop(l);

    let (f, end) = run.await.expect("task");
    assert_eq!(end.expect("no error"), FollowEnd::Closed);
    let t = f.tree();
    assert_eq!(t.get("/a").and_then(|n| n.data()), Some(&b"/a"[..]));
    assert_eq!(
        t.stat("/b").map(|s| (s.czxid, s.ctime)),
        Some((z2.0, 1_700_000_000_002))
    );
    assert_eq!(f.epochs(), (1, 1));
    assert_eq!(log.last_zxid(), z2.0);
    let p = f.progress().borrow().clone();
    assert_eq!(p.sync, Some(SyncKind::Diff { zxid: z1 }));
    assert_eq!((p.applied, p.acks), (z2, 2));
}

/// SNAP to a follower whose log runs past the snapshot: the stream is read off the
/// socket (with the packets after it in the same buffer), the log is cut back to the
/// snapshot, and the broadcast continues on top of it.
#[tokio::test]
async fn snap_over_a_log_that_runs_past_it() {
    use tokio::io::AsyncWriteExt;

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (z11, z12, z13, z21) = (
        Zxid::new(1, 1),
        Zxid::new(1, 2),
        Zxid::new(1, 3),
        Zxid::new(2, 1),
    );
    let mut mem = MemLog::default();
    for (z, path) in [(z11, "/a"), (z12, "/b"), (z13, "/c")] {
        mem.append(z.0, &create(z, path)).expect("append");
    }
    mem.sync().expect("sync");
    let log = SharedLog::new(Box::new(mem));
    let epochs = MemEpochs {
        accepted: 1,
        current: 1,
    };
    let mut f = Follower::new(
        &config(),
        log.clone(),
        Box::new(epochs),
        FollowerLimits::default(),
    )
    .expect("follower");
    assert!(f.tree().get("/c").is_some());
    let stop = CancellationToken::new();
    let run = tokio::spawn(async move {
        let end = f.follow(addr, &stop).await;
        (f, end)
    });

    // The leader's tree: only /a.
    let mut leader_tree = DataTree::new(false);
    let a = TxnEntry::from_bytes(&create(z11, "/a")).expect("entry");
    apply(&mut leader_tree, &a.header, &a.txn);
    let stream = super::super::snap::tests::stream_of(&leader_tree, &[]);

    let (sock, _) = listener.accept().await.expect("accept");
    let mut l = Framed::new(sock, QuorumPacketCodec::default());
    let info = l.next().await.expect("packet").expect("decodes");
    assert_eq!(
        (info.r#type, info.zxid),
        (pt::FOLLOWERINFO, Zxid::new(1, 0).0)
    );
    let epoch2 = Zxid::new(2, 0);
    let li = LeaderInfo {
        protocol_version: ZAB_PROTOCOL_VERSION,
    };
    l.send(QuorumPacket::with_data(
        pt::LEADERINFO,
        epoch2.0,
        li.to_data(),
    ))
    .await
    .expect("send");
    let ack_epoch = l.next().await.expect("packet").expect("decodes");
    assert_eq!((ack_epoch.r#type, ack_epoch.zxid), (pt::ACKEPOCH, z13.0));

    // SNAP, the raw snapshot and NEWLEADER in one write.
    let mut bytes = BytesMut::new();
    let mut codec = QuorumPacketCodec::default();
    use tokio_util::codec::Encoder;
    codec
        .encode(QuorumPacket::bare(pt::SNAP, z11.0), &mut bytes)
        .expect("encode");
    bytes.extend_from_slice(&stream);
    codec
        .encode(QuorumPacket::bare(pt::NEWLEADER, epoch2.0), &mut bytes)
        .expect("encode");
    l.get_mut().write_all(&bytes).await.expect("write");
    let p = l.next().await.expect("packet").expect("decodes");
    assert_eq!((p.r#type, p.zxid), (pt::ACK, epoch2.0));
    l.send(QuorumPacket::bare(pt::UPTODATE, -1))
        .await
        .expect("send");
    let p = l.next().await.expect("packet").expect("decodes");
    assert_eq!((p.r#type, p.zxid), (pt::ACK, epoch2.0));
    l.send(QuorumPacket::with_data(
        pt::PROPOSAL,
        z21.0,
        create(z21, "/z"),
    ))
    .await
    .expect("send");
    let p = l.next().await.expect("packet").expect("decodes");
    assert_eq!((p.r#type, p.zxid), (pt::ACK, z21.0));
    l.send(QuorumPacket::bare(pt::COMMIT, z21.0))
        .await
        .expect("send");
    // A PING round trip makes sure the COMMIT was handled before the link closes.
    l.send(QuorumPacket::bare(pt::PING, z21.0))
        .await
        .expect("send");
    let p = l.next().await.expect("packet").expect("decodes");
    assert_eq!(p.r#type, pt::PING);
    drop(l);

    let (f, end) = run.await.expect("task");
    assert_eq!(end.expect("no error"), FollowEnd::Closed);
    let t = f.tree();
    assert!(t.get("/a").is_some() && t.get("/z").is_some());
    assert!(t.get("/b").is_none() && t.get("/c").is_none());
    assert_eq!(f.epochs(), (2, 2));
    assert_eq!(log.last_zxid(), z21.0);
    assert_eq!(log.snapshot_zxids().expect("snapshots"), vec![z11.0]);
    assert_eq!(
        f.progress().borrow().sync,
        Some(SyncKind::Snap { zxid: z11 })
    );
}
