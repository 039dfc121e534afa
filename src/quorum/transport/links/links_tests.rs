//! Links on loopback: a listener and `connect_leader`, and raw sockets playing the peer
//! where a test needs bytes no well-behaved peer sends.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::quorum::transport::sasl::QuorumAuth;
use crate::quorum::transport::tls::QuorumTls;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    connect_leader, LearnerListener, LinkError, LinkEvent, LinkHandle, LinkId, LinkLimits, LinkOut,
};
use crate::config::{Config, ServerSpec};
use crate::jute::Jute;
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::storage::zk::{empty_tree, read_snapshot_stream, snapshot_stream};
use crate::tree::DataTree;

const WAIT: Duration = Duration::from_secs(10);
/// The listener's jute limit in these tests.
const MAX_BUFFER: usize = 4096;

/// Sid 1 with quorum port 0 (any free port), in a three-server ensemble.
fn config() -> Config {
    let mut cfg = Config::default_standalone();
    cfg.my_id = Some(1);
    cfg.servers = (1..=3)
        .map(|sid| {
            let spec = ServerSpec {
                sid,
                host: "127.0.0.1".into(),
                quorum_port: if sid == 1 { 0 } else { 1 },
                election_port: 1,
                observer: false,
                client_addr: None,
            };
            (sid, spec)
        })
        .collect::<BTreeMap<_, _>>();
    cfg
}

struct Leader {
    addr: SocketAddr,
    events: mpsc::Receiver<LinkEvent>,
    cancel: CancellationToken,
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn leader(max_links: Option<usize>) -> Leader {
    // A small jute limit, so that an oversized packet is cheap to send.
    let limits = LinkLimits {
        max_buffer: MAX_BUFFER,
        ..LinkLimits::default()
    };
    let mut l = LearnerListener::bind(&config())
        .await
        .expect("bind")
        .with_limits(limits);
    if let Some(n) = max_links {
        l = l.with_max_links(n);
    }
    let addr = l.local_addr();
    assert_ne!(addr.port(), 0);
    let (tx, events) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    tokio::spawn(l.run(tx, cancel.clone()));
    Leader {
        addr,
        events,
        cancel,
    }
}

async fn next(rx: &mut mpsc::Receiver<LinkEvent>) -> LinkEvent {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("an event in time")
        .expect("the channel is open")
}

/// Nothing arrives for a while.
async fn quiet(rx: &mut mpsc::Receiver<LinkEvent>) {
    if let Ok(ev) = tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        panic!("unexpected event {ev:?}");
    }
}

async fn opened(rx: &mut mpsc::Receiver<LinkEvent>) -> (LinkId, SocketAddr, LinkHandle) {
    match next(rx).await {
        LinkEvent::Opened { link, addr, handle } => {
            assert_eq!((handle.id(), handle.addr()), (link, addr));
            (link, addr, handle)
        }
        other => panic!("expected Opened, got {other:?}"),
    }
}

async fn packet(rx: &mut mpsc::Receiver<LinkEvent>, of: LinkId) -> QuorumPacket {
    match next(rx).await {
        LinkEvent::Packet { link, packet } if link == of => packet,
        other => panic!("expected a packet on {of}, got {other:?}"),
    }
}

async fn closed(rx: &mut mpsc::Receiver<LinkEvent>, of: LinkId) -> String {
    match next(rx).await {
        LinkEvent::Closed { link, reason } if link == of => reason,
        other => panic!("expected {of} closed, got {other:?}"),
    }
}

fn sample_tree() -> DataTree {
    let mut t = empty_tree(false);
    let acl = vec![crate::proto::Acl::world(crate::proto::perms::READ)];
    let stat = t.get("/").map(|n| n.stat()).expect("root");
    t.restore_node("/a", Some(b"hello".to_vec()), acl, stat)
        .expect("restore");
    t
}

fn info(zxid: i64) -> QuorumPacket {
    QuorumPacket::with_data(pt::FOLLOWERINFO, zxid, vec![0, 0, 0, 2, 0, 1, 0, 0])
}

#[tokio::test]
async fn leader_and_learner_exchange_packets_both_ways() {
    let mut leader = leader(None).await;
    let (tx, mut learner_events) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let to_leader = connect_leader(
        leader.addr,
        &LinkLimits::default(),
        &QuorumTls::plain(),
        &QuorumAuth::none(),
        tx,
        &cancel,
    )
    .await
    .expect("connect");
    let (learner_link, _, _) = opened(&mut learner_events).await;
    assert_eq!(learner_link, to_leader.id());
    let (link, _, to_learner) = opened(&mut leader.events).await;
    assert_ne!(link, learner_link);

    for z in 0..3 {
        to_leader.send(LinkOut::Packet(info(z))).expect("send");
    }
    for z in 0..3 {
        assert_eq!(packet(&mut leader.events, link).await, info(z));
    }

    // The leader's side of a SNAP: the packet, the raw snapshot, then more packets.
    let stream = snapshot_stream(&sample_tree(), &[(7, 3000)]);
    let snap = QuorumPacket::bare(pt::SNAP, 0x1_0000_0000);
    let newleader = QuorumPacket::with_data(pt::NEWLEADER, 0x1_0000_0000, b"version=0".to_vec());
    let uptodate = QuorumPacket::bare(pt::UPTODATE, -1);
    to_learner
        .send(LinkOut::Packet(QuorumPacket::bare(pt::DIFF, 5)))
        .expect("send");
    to_learner
        .send(LinkOut::Packet(snap.clone()))
        .expect("send");
    to_learner.send(LinkOut::Raw(stream.clone())).expect("send");
    to_learner
        .send(LinkOut::Packet(newleader.clone()))
        .expect("send");
    to_learner
        .send(LinkOut::Packet(uptodate.clone()))
        .expect("send");
    assert_eq!(
        packet(&mut learner_events, learner_link).await,
        QuorumPacket::bare(pt::DIFF, 5)
    );
    match next(&mut learner_events).await {
        LinkEvent::Snapshot {
            link,
            packet,
            bytes,
        } => {
            assert_eq!((link, packet), (learner_link, snap));
            assert_eq!(&bytes[..], &stream[..]);
        }
        other => panic!("expected the snapshot, got {other:?}"),
    }
    assert_eq!(packet(&mut learner_events, learner_link).await, newleader);
    assert_eq!(packet(&mut learner_events, learner_link).await, uptodate);

    // The learner closes after a flush: the leader gets its last packet, then the close.
    to_leader.send(LinkOut::Packet(info(9))).expect("send");
    to_leader.send(LinkOut::Close).expect("send");
    assert_eq!(packet(&mut leader.events, link).await, info(9));
    let reason = closed(&mut leader.events, link).await;
    assert!(reason.contains("peer closed"), "{reason}");
    closed(&mut learner_events, learner_link).await;
    // Exactly one Closed: after it the link's tasks (the only senders) are gone.
    assert!(tokio::time::timeout(WAIT, learner_events.recv())
        .await
        .expect("the channel closes")
        .is_none());
    assert_eq!(
        to_leader.send(LinkOut::Close),
        Err(LinkError::Closed { link: learner_link })
    );
    assert!(to_learner.is_closed());
}

#[tokio::test]
async fn snap_in_awkward_pieces_is_one_snapshot_event_then_packets() {
    let tree = sample_tree();
    let sessions = [(0x1_0000_0001i64, 30000i32), (0x1_0000_0002, 4000)];
    let stream = snapshot_stream(&tree, &sessions);
    let snap = QuorumPacket::bare(pt::SNAP, 0x1_0000_0000);
    let after = [
        QuorumPacket::with_data(pt::NEWLEADER, 0x1_0000_0000, b"version=0".to_vec()),
        QuorumPacket::bare(pt::UPTODATE, -1),
        QuorumPacket::bare(pt::PING, 0x1_0000_0000),
    ];
    let mut bytes = QuorumPacket::with_data(pt::LEADERINFO, 0x1_0000_0000, vec![0, 1, 0, 0])
        .to_bytes()
        .to_vec();
    bytes.extend_from_slice(&snap.to_bytes());
    bytes.extend_from_slice(&stream);
    for p in &after {
        bytes.extend_from_slice(&p.to_bytes());
    }

    // 7-byte pieces (every field split somewhere), odd ones, and all at once (the rest
    // of the stream then sits in the codec's buffer behind the SNAP).
    for piece in [7, 13, bytes.len()] {
        let raw_leader = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (tx, mut events) = mpsc::channel(64);
        let cancel = CancellationToken::new();
        let addr = raw_leader.local_addr().expect("addr");
        let handle = connect_leader(
            addr,
            &LinkLimits::default(),
            &QuorumTls::plain(),
            &QuorumAuth::none(),
            tx,
            &cancel,
        )
        .await
        .expect("connect");
        let (mut sock, _) = raw_leader.accept().await.expect("accept");
        let (link, _, _) = opened(&mut events).await;
        for chunk in bytes.chunks(piece) {
            sock.write_all(chunk).await.expect("write");
            sock.flush().await.expect("flush");
            if piece < bytes.len() {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        }
        assert_eq!(packet(&mut events, link).await.r#type, pt::LEADERINFO);
        match next(&mut events).await {
            LinkEvent::Snapshot {
                link: l,
                packet,
                bytes: got,
            } => {
                assert_eq!((l, packet), (link, snap.clone()), "pieces of {piece}");
                assert_eq!(&got[..], &stream[..], "pieces of {piece}");
                let s = read_snapshot_stream(&got, false).expect("parse");
                assert_eq!(s.sessions, sessions);
                assert_eq!(s.tree.digest(), tree.digest());
            }
            other => panic!("pieces of {piece}: expected the snapshot, got {other:?}"),
        }
        for p in &after {
            assert_eq!(&packet(&mut events, link).await, p, "pieces of {piece}");
        }
        drop(sock);
        closed(&mut events, link).await;
        drop(handle);
    }
}

#[tokio::test]
async fn a_snapshot_over_the_limit_closes_the_learner_link() {
    let raw_leader = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (tx, mut events) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let addr = raw_leader.local_addr().expect("addr");
    let limits = LinkLimits {
        max_snapshot_bytes: 64,
        ..LinkLimits::default()
    };
    let _handle = connect_leader(
        addr,
        &limits,
        &QuorumTls::plain(),
        &QuorumAuth::none(),
        tx,
        &cancel,
    )
    .await
    .expect("connect");
    let (mut sock, _) = raw_leader.accept().await.expect("accept");
    let (link, _, _) = opened(&mut events).await;
    let mut bytes = QuorumPacket::bare(pt::SNAP, 1).to_bytes().to_vec();
    let stream = snapshot_stream(&sample_tree(), &[]);
    assert!(stream.len() > 64 + 16);
    bytes.extend_from_slice(&stream);
    sock.write_all(&bytes).await.expect("write");
    let reason = closed(&mut events, link).await;
    assert!(reason.contains("exceeds 64 bytes"), "{reason}");
}

#[tokio::test]
async fn garbage_closes_only_that_link() {
    let mut leader = leader(None).await;
    let mut socks = Vec::new();
    let mut links = BTreeMap::new();
    for _ in 0..3 {
        let s = TcpStream::connect(leader.addr).await.expect("connect");
        let (link, addr, handle) = opened(&mut leader.events).await;
        assert_eq!(addr, s.local_addr().expect("addr"));
        links.insert(socks.len(), link);
        socks.push((s, handle));
    }
    // A data length over the listener's limit (checked before the data arrives) ...
    let mut oversized = Vec::new();
    oversized.extend_from_slice(&pt::FOLLOWERINFO.to_be_bytes());
    oversized.extend_from_slice(&0i64.to_be_bytes());
    oversized.extend_from_slice(&(MAX_BUFFER as i32 + 1).to_be_bytes());
    socks[0].0.write_all(&oversized).await.expect("write");
    let reason = closed(&mut leader.events, links[&0]).await;
    assert!(reason.contains("bad packet"), "{reason}");
    // ... and a negative one.
    let mut negative = Vec::new();
    negative.extend_from_slice(&pt::ACK.to_be_bytes());
    negative.extend_from_slice(&0i64.to_be_bytes());
    negative.extend_from_slice(&(-5i32).to_be_bytes());
    socks[1].0.write_all(&negative).await.expect("write");
    let reason = closed(&mut leader.events, links[&1]).await;
    assert!(reason.contains("bad packet"), "{reason}");
    // The server hung up on both.
    for (s, _) in &mut socks[..2] {
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(WAIT, s.read(&mut buf))
            .await
            .expect("the server hangs up");
        assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    }
    // The third link still works.
    socks[2]
        .0
        .write_all(&info(3).to_bytes())
        .await
        .expect("write");
    assert_eq!(packet(&mut leader.events, links[&2]).await, info(3));
}

/// A current-thread runtime: the writer cannot run between the sends, so the queue's
/// bound is what decides.
#[tokio::test(flavor = "current_thread")]
async fn a_full_queue_is_an_error_from_send() {
    let raw_leader = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (tx, mut events) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let limits = LinkLimits {
        queue_capacity: 2,
        ..LinkLimits::default()
    };
    let addr = raw_leader.local_addr().expect("addr");
    let handle = connect_leader(
        addr,
        &limits,
        &QuorumTls::plain(),
        &QuorumAuth::none(),
        tx,
        &cancel,
    )
    .await
    .expect("connect");
    let (_sock, _) = raw_leader.accept().await.expect("accept");
    let (link, _, _) = opened(&mut events).await;
    handle.send(LinkOut::Packet(info(1))).expect("first");
    handle.send(LinkOut::Packet(info(2))).expect("second");
    assert_eq!(
        handle.send(LinkOut::Packet(info(3))),
        Err(LinkError::Full { link, capacity: 2 })
    );
    // What the caller does then: close the link.
    handle.close();
    closed(&mut events, link).await;
    assert_eq!(
        handle.send(LinkOut::Packet(info(4))),
        Err(LinkError::Closed { link })
    );
}

#[tokio::test]
async fn close_after_a_flush_delivers_what_was_queued() {
    let mut leader = leader(None).await;
    let mut sock = TcpStream::connect(leader.addr).await.expect("connect");
    let (link, _, handle) = opened(&mut leader.events).await;
    let packets: Vec<QuorumPacket> = (0..50)
        .map(|z| QuorumPacket::with_data(pt::PROPOSAL, z, vec![z as u8; 1000]))
        .collect();
    let mut expected = Vec::new();
    for p in &packets {
        handle.send(LinkOut::Packet(p.clone())).expect("send");
        expected.extend_from_slice(&p.to_bytes());
    }
    handle.send(LinkOut::Close).expect("close");
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, sock.read_to_end(&mut got))
        .await
        .expect("EOF in time")
        .expect("read");
    assert_eq!(got, expected);
    let reason = closed(&mut leader.events, link).await;
    assert!(reason.contains("closed by this server"), "{reason}");
}

/// A DIFF far longer than the queue goes out whole and in order: a batch takes one place.
#[tokio::test(flavor = "current_thread")]
async fn a_batch_longer_than_the_queue_takes_one_place() {
    let raw_leader = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (tx, mut events) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let limits = LinkLimits {
        queue_capacity: 2,
        ..LinkLimits::default()
    };
    let addr = raw_leader.local_addr().expect("addr");
    let handle = connect_leader(
        addr,
        &limits,
        &QuorumTls::plain(),
        &QuorumAuth::none(),
        tx,
        &cancel,
    )
    .await
    .expect("connect");
    let (mut sock, _) = raw_leader.accept().await.expect("accept");
    let (link, _, _) = opened(&mut events).await;
    let batch = |from: i64| -> Vec<QuorumPacket> {
        (from..from + 3000)
            .flat_map(|z| {
                [
                    QuorumPacket::with_data(pt::PROPOSAL, z, vec![z as u8; 40]),
                    QuorumPacket::bare(pt::COMMIT, z),
                ]
            })
            .collect()
    };
    let (first, second) = (batch(1), batch(3001));
    let mut expected = Vec::new();
    for p in first.iter().chain(&second) {
        expected.extend_from_slice(&p.to_bytes());
    }
    handle.send(LinkOut::Packets(first)).expect("first batch");
    handle.send(LinkOut::Packets(second)).expect("second batch");
    // The queue is full now; dropping the last handle flushes it and closes.
    drop(handle);
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, sock.read_to_end(&mut got))
        .await
        .expect("EOF in time")
        .expect("read");
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "the packets differ from what was queued");
    closed(&mut events, link).await;
}

#[tokio::test]
async fn the_accept_cap_refuses_links_beyond_it() {
    let mut leader = leader(Some(1)).await;
    let first = TcpStream::connect(leader.addr).await.expect("connect");
    // Held: a link whose every handle is dropped closes.
    let (link, _, _handle) = opened(&mut leader.events).await;
    let mut second = TcpStream::connect(leader.addr).await.expect("connect");
    let mut buf = [0u8; 4];
    let n = tokio::time::timeout(WAIT, second.read(&mut buf))
        .await
        .expect("the server hangs up");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    quiet(&mut leader.events).await;
    drop(first);
    closed(&mut leader.events, link).await;
    // The slot is free again.
    let mut third = TcpStream::connect(leader.addr).await.expect("connect");
    let (third_link, _, _third_handle) = opened(&mut leader.events).await;
    third.write_all(&info(1).to_bytes()).await.expect("write");
    assert_eq!(packet(&mut leader.events, third_link).await, info(1));
}

#[tokio::test]
async fn cancelling_the_listener_closes_every_link() {
    let mut leader = leader(None).await;
    let _a = TcpStream::connect(leader.addr).await.expect("connect");
    let (a, _, _ha) = opened(&mut leader.events).await;
    let _b = TcpStream::connect(leader.addr).await.expect("connect");
    let (b, _, _hb) = opened(&mut leader.events).await;
    leader.cancel.cancel();
    let mut ends = vec![
        match next(&mut leader.events).await {
            LinkEvent::Closed { link, .. } => link,
            other => panic!("{other:?}"),
        },
        match next(&mut leader.events).await {
            LinkEvent::Closed { link, .. } => link,
            other => panic!("{other:?}"),
        },
    ];
    ends.sort();
    assert_eq!(ends, vec![a.min(b), a.max(b)]);
    // The listener and both links are gone: nothing holds the sender any more (the
    // handles hold no sender of events).
    assert!(tokio::time::timeout(WAIT, leader.events.recv())
        .await
        .expect("the channel closes")
        .is_none());
}

#[tokio::test]
async fn dropping_every_handle_closes_the_link_after_a_flush() {
    let mut leader = leader(None).await;
    let mut sock = TcpStream::connect(leader.addr).await.expect("connect");
    let (link, _, handle) = opened(&mut leader.events).await;
    handle.send(LinkOut::Packet(info(1))).expect("send");
    drop(handle);
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, sock.read_to_end(&mut got))
        .await
        .expect("EOF in time")
        .expect("read");
    assert_eq!(got, info(1).to_bytes().to_vec());
    let reason = closed(&mut leader.events, link).await;
    assert!(reason.contains("every handle"), "{reason}");
}
