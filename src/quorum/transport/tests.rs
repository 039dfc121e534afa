//! The election port between Rust servers on loopback, and what it does with bad input.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Decoder;

use super::cnx::CnxManager;
use super::election::{Decided, ElectionPort};
use super::frames;
use super::view::View;
use crate::config::{Config, ServerSpec};
use crate::proto::quorum::election::ElectionFrameCodec;
use crate::proto::quorum::handshake::{InitialMessage, PROTOCOL_VERSION_V1};
use crate::quorum::election::{Timing, ToSend};
use crate::quorum::{ServerState, Sid, Zxid};

const WAIT: Duration = Duration::from_secs(20);

/// Free loopback ports, one per sid (bound then released: a small race, fine on loopback).
async fn free_ports(n: usize) -> Vec<u16> {
    let mut listeners = Vec::new();
    for _ in 0..n {
        listeners.push(TcpListener::bind("127.0.0.1:0").await.expect("bind"));
    }
    listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

fn config(my_id: u64, ports: &BTreeMap<u64, u16>) -> Config {
    let mut cfg = Config::default_standalone();
    cfg.my_id = Some(my_id);
    cfg.tick_time_ms = 200;
    cfg.sync_limit = 5;
    cfg.servers = ports
        .iter()
        .map(|(&sid, &port)| {
            let spec = ServerSpec {
                sid,
                host: "127.0.0.1".into(),
                quorum_port: 1,
                election_port: port,
                observer: false,
                client_addr: None,
            };
            (sid, spec)
        })
        .collect();
    cfg
}

async fn start(sids: &[u64], view: &BTreeMap<u64, u16>) -> Vec<ElectionPort> {
    let mut ports = Vec::new();
    for &sid in sids {
        let port = ElectionPort::start(&config(sid, view), Zxid(0), 0, Timing::default())
            .await
            .expect("start");
        ports.push(port);
    }
    ports
}

async fn decided(port: &mut ElectionPort) -> Decided {
    tokio::time::timeout(WAIT, port.decided())
        .await
        .expect("decided in time")
        .expect("driver running")
}

async fn view(sids: &[u64]) -> BTreeMap<u64, u16> {
    sids.iter()
        .copied()
        .zip(free_ports(sids.len()).await)
        .collect()
}

#[tokio::test]
async fn three_rust_servers_elect_the_highest_sid() {
    let view = view(&[1, 2, 3]).await;
    let mut ports = start(&[1, 2, 3], &view).await;
    for port in &mut ports {
        let d = decided(port).await;
        assert_eq!(d.leader, Sid(3), "sid {}", port.sid().0);
        let want = if port.sid() == Sid(3) {
            ServerState::Leading
        } else {
            ServerState::Following
        };
        assert_eq!(d.state, want);
    }
    // The surviving connections are the mesh: every pair connected.
    for port in &ports {
        for other in [1, 2, 3].map(Sid).into_iter().filter(|s| *s != port.sid()) {
            assert!(port.connected_to(other), "{} to {}", port.sid().0, other.0);
        }
    }
}

#[tokio::test]
async fn a_late_server_follows_the_decided_leader() {
    // 1 and 2 decide (2 leads, a quorum of 3); 3 starts later and, although its sid is the
    // highest, follows 2 by the answers of the decided servers (WorkerReceiver when not
    // LOOKING, and lookForLeader's outofelection votes).
    let view = view(&[1, 2, 3]).await;
    let mut first = start(&[1, 2], &view).await;
    for port in &mut first {
        assert_eq!(decided(port).await.leader, Sid(2));
    }
    let mut late = start(&[3], &view).await;
    let d = decided(&mut late[0]).await;
    assert_eq!((d.leader, d.state), (Sid(2), ServerState::Following));
}

fn initial(sid: i64, address: &str) -> BytesMut {
    let mut buf = BytesMut::new();
    InitialMessage::Versioned {
        protocol_version: PROTOCOL_VERSION_V1,
        sid,
        addresses: address.into(),
    }
    .encode(&mut buf);
    buf
}

/// Whether the server closes `s` within a few seconds (reading what it sends meanwhile).
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn bad_input_closes_only_that_connection() {
    // Sid 4 is in the view but never started: the fake connections speak as it.
    let view = view(&[1, 2, 3, 4]).await;
    let mut ports = start(&[1, 2, 3], &view).await;
    for port in &mut ports {
        assert_eq!(decided(port).await.leader, Sid(3));
    }
    let target = ports[0].local_addr();

    // Garbage instead of an initial message: a positive first long reads as a bare sid
    // that is not in the view; a negative one as an unknown protocol version.
    for garbage in [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], &[0xff; 64][..]] {
        let mut s = TcpStream::connect(target).await.expect("connect");
        s.write_all(garbage).await.expect("write");
        assert!(closed_by_server(&mut s).await, "garbage {garbage:?}");
    }
    // A sid outside the view that does not say where it listens, and an address longer
    // than InitialMessage allows.
    let mut s = TcpStream::connect(target).await.expect("connect");
    s.write_all(&initial(9, "nowhere")).await.expect("write");
    assert!(closed_by_server(&mut s).await, "sid 9");
    let mut s = TcpStream::connect(target).await.expect("connect");
    let mut long = BytesMut::new();
    long.extend_from_slice(&PROTOCOL_VERSION_V1.to_be_bytes());
    long.extend_from_slice(&4i64.to_be_bytes());
    long.extend_from_slice(&5000i32.to_be_bytes());
    long.extend_from_slice(&[b'a'; 5000]);
    let _ = s.write_all(&long).await;
    assert!(closed_by_server(&mut s).await, "long address");

    // A valid connection as sid 4 (larger than 1: it is kept).
    let mut s = TcpStream::connect(target).await.expect("connect");
    s.write_all(&initial(4, &format!("127.0.0.1:{}", view[&4])))
        .await
        .expect("write");
    // A frame whose payload is no notification is dropped; the connection stays.
    s.write_all(&[0, 0, 0, 5, 1, 2, 3, 4, 5])
        .await
        .expect("write");
    // A LOOKING notification gets the decided server's vote back.
    let looking = ToSend {
        leader: Sid(4),
        zxid: Zxid(0),
        election_epoch: 1,
        state: ServerState::Looking,
        peer_epoch: 0,
        config: Vec::new(),
    };
    s.write_all(&frames::encode(&looking).expect("encode"))
        .await
        .expect("write");
    let answer = read_until_not_looking(&mut s).await;
    assert_eq!(
        (answer.leader, answer.state),
        (Sid(3), ServerState::Following)
    );
    // An oversized length ends it.
    s.write_all(&i32::MAX.to_be_bytes()).await.expect("write");
    assert!(closed_by_server(&mut s).await, "oversized length");

    // The real connections are untouched: sid 1 elects again over them.
    for sid in [2, 3] {
        assert!(ports[0].connected_to(Sid(sid)), "1 to {sid}");
    }
    // Looking again, sid 1 hears sids 2 and 3 (FOLLOWING and LEADING 3), but with 4
    // voters their out-of-election votes are no quorum without sid 4: no decision, and
    // the first election's must not be taken for one.
    ports[0].look_again(Zxid(0), 0).await.expect("look again");
    let again = tokio::time::timeout(Duration::from_secs(2), ports[0].decided()).await;
    assert!(again.is_err(), "a stale decision: {again:?}");
}

/// A server outside the view (one joining by reconfig) that says where it listens is let
/// in, as Java lets it in, and answered as a non-voter with the decided vote.
#[tokio::test]
async fn a_stranger_is_answered_as_a_non_voter() {
    let view = view(&[1, 2, 3]).await;
    let mut ports = start(&[1, 2, 3], &view).await;
    for port in &mut ports {
        assert_eq!(decided(port).await.leader, Sid(3));
    }
    let mut s = TcpStream::connect(ports[0].local_addr())
        .await
        .expect("connect");
    s.write_all(&initial(9, "127.0.0.1:1"))
        .await
        .expect("write");
    let looking = ToSend {
        leader: Sid(9),
        zxid: Zxid(0),
        election_epoch: 1,
        state: ServerState::Looking,
        peer_epoch: 0,
        config: Vec::new(),
    };
    s.write_all(&frames::encode(&looking).expect("encode"))
        .await
        .expect("write");
    let answer = read_until_not_looking(&mut s).await;
    assert_eq!(
        (answer.leader, answer.state),
        (Sid(3), ServerState::Following)
    );
}

/// Read frames from a fake peer's connection until a notification that is not LOOKING
/// (a new connection first repeats the last LOOKING notification queued for it).
async fn read_until_not_looking(s: &mut TcpStream) -> crate::quorum::election::Notification {
    let mut buf = BytesMut::new();
    let mut codec = ElectionFrameCodec;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        while let Some(frame) = codec.decode(&mut buf).expect("frame") {
            let n = frames::decode(Sid(1), &frame)
                .expect("notification")
                .expect("known state");
            if n.state != ServerState::Looking {
                return n;
            }
        }
        let n = tokio::time::timeout_at(deadline, s.read_buf(&mut buf))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(n > 0, "closed before answering");
    }
}

#[tokio::test]
async fn a_peer_that_dials_us_is_dialed_back_at_once() {
    // Sid 2's dials to 1 fail and back off to 1.6 s, and one more dial sleeps out that
    // backoff. When 1 comes up it dials 2, loses the challenge and closes; 2 must dial back
    // now, not when its backoff ends, or the election waits for nothing.
    let ports = view(&[1, 2]).await;
    let v = View::from_config(&config(2, &ports)).expect("view");
    let (tx, _rx) = tokio::sync::mpsc::channel(8);
    let cancel = tokio_util::sync::CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let (cnx, addr_of_2) = CnxManager::start(
        &v,
        super::tls::QuorumTls::plain(),
        super::sasl::QuorumAuth::none(),
        tx,
        cancel,
    )
    .await
    .expect("start");
    for wait_ms in [50, 150, 250, 450, 850] {
        cnx.connect_one(Sid(1));
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    }
    let one = TcpListener::bind(("127.0.0.1", ports[&1]))
        .await
        .expect("bind 1");
    cnx.connect_one(Sid(1)); // sleeps out the 1.6 s backoff
    let mut s = TcpStream::connect(addr_of_2).await.expect("connect");
    s.write_all(&initial(1, &format!("127.0.0.1:{}", ports[&1])))
        .await
        .expect("write");
    let dialed_back = tokio::time::timeout(Duration::from_millis(600), one.accept()).await;
    assert!(dialed_back.is_ok(), "2 dialed 1 back at once");
}

#[tokio::test]
async fn idle_connections_are_bounded_and_timed_out() {
    let view = view(&[1, 2, 3]).await;
    let mut ports = start(&[1, 2, 3], &view).await;
    let target = ports[0].local_addr();
    // MAX_PENDING_HANDSHAKES sockets that never send their initial message...
    let mut idle = Vec::new();
    for _ in 0..super::limits::MAX_PENDING_HANDSHAKES {
        idle.push(TcpStream::connect(target).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ...make the next one be closed at once...
    let mut extra = TcpStream::connect(target).await.expect("connect");
    let mut buf = [0u8; 8];
    let closed_at_once = tokio::time::timeout(Duration::from_millis(500), extra.read(&mut buf))
        .await
        .is_ok_and(|r| matches!(r, Ok(0) | Err(_)));
    assert!(
        closed_at_once,
        "the connection over the limit is closed at once"
    );
    // ...and each is closed after the handshake timeout (tickTime 200 x syncLimit 5).
    for s in &mut idle {
        assert!(closed_by_server(s).await, "idle connection closed");
    }
    // Meanwhile the real servers elected as usual.
    for port in &mut ports {
        assert_eq!(decided(port).await.leader, Sid(3));
    }
}

/// Quorum SASL on the election port (serverRequireSasl): a peer with the wrong password
/// is answered ERROR and closed, and not dialed back (handleConnection authenticates
/// before the larger-sid rule); the manager then serves the same peer with the right
/// password, dials it back, and authenticates on that dial too.
#[tokio::test]
async fn a_failed_sasl_peer_is_closed_and_the_next_one_served() {
    use super::sasl::QuorumAuth;
    let ports = view(&[1, 2]).await;
    let v = View::from_config(&config(2, &ports)).expect("view");
    let sasl = |password: &str| {
        let c = crate::config::QuorumSaslConfig {
            learner_require: true,
            server_require: true,
            learner_context: "QuorumLearner".into(),
            server_context: "QuorumServer".into(),
            service_principal: "zkquorum/localhost".into(),
            login: Some(("zkquorum".into(), password.into())),
            users: BTreeMap::from([("zkquorum".to_string(), "s3cret".to_string())]),
            jaas_file: "/jaas.conf".into(),
        };
        QuorumAuth::new(Some(&c), Duration::from_secs(5))
    };
    let (tx, _rx) = tokio::sync::mpsc::channel(8);
    let cancel = tokio_util::sync::CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    let (_cnx, addr_of_2) = CnxManager::start(
        &v,
        super::tls::QuorumTls::plain(),
        sasl("s3cret"),
        tx,
        cancel,
    )
    .await
    .expect("start");
    let one = TcpListener::bind(("127.0.0.1", ports[&1]))
        .await
        .expect("bind 1");
    let me = format!("127.0.0.1:{}", ports[&1]);

    let mut bad = TcpStream::connect(addr_of_2).await.expect("connect");
    bad.write_all(&initial(1, &me)).await.expect("write");
    let r = sasl("guess")
        .authenticate_learner(&mut bad, addr_of_2)
        .await;
    assert!(r.is_err(), "the wrong password passed");
    assert!(
        closed_by_server(&mut bad).await,
        "the failed peer is closed"
    );
    let dialed = tokio::time::timeout(Duration::from_millis(500), one.accept()).await;
    assert!(dialed.is_err(), "a peer that failed SASL was dialed back");

    let mut good = TcpStream::connect(addr_of_2).await.expect("connect");
    good.write_all(&initial(1, &me)).await.expect("write");
    sasl("s3cret")
        .authenticate_learner(&mut good, addr_of_2)
        .await
        .expect("the right password passes");
    let (mut back, _) = tokio::time::timeout(Duration::from_secs(3), one.accept())
        .await
        .expect("dialed back at once")
        .expect("accept");
    // Its initial message, then the first QuorumAuthPacket (learnerRequireSasl).
    let (_, mut rest) = super::link::read_initial_message(&mut back)
        .await
        .expect("initial message");
    while rest.len() < 16 {
        assert!(back.read_buf(&mut rest).await.expect("read") > 0, "closed");
    }
    assert_eq!(&rest[..8], &super::sasl::packet::MAGIC.to_be_bytes());
}
