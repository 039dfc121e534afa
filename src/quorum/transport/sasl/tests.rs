//! The QuorumAuthPacket codec against pinned bytes, and both ends of the exchange over
//! in-memory pipes and loopback.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::packet::{AuthPacket, Status, HEADER_LEN, MAGIC, MAX_TOKEN};
use super::*;
use crate::config::QuorumSaslConfig;

/// What a Java 3.8 learner sends first (SaslQuorumAuthLearner.send of the empty initial
/// token): `-0xa0dbcafecafe1234L`, IN_PROGRESS, a zero-length token, as QuorumAuth.java's
/// constant and jute's BinaryOutputArchive make it (compat-tests/quorum-sasl/run.sh checks
/// a Java learner's first bytes on the wire against these).
const JAVA_FIRST_PACKET: [u8; 16] = [
    0x5f, 0x24, 0x35, 0x01, 0x35, 0x01, 0xed, 0xcc, 0, 0, 0, 0, 0, 0, 0, 0,
];

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 2888))
}

fn cfg(learner_require: bool, server_require: bool, password: &str) -> QuorumSaslConfig {
    QuorumSaslConfig {
        learner_require,
        server_require,
        learner_context: "QuorumLearner".into(),
        server_context: "QuorumServer".into(),
        service_principal: "zkquorum/localhost".into(),
        login: Some(("learner".into(), password.into())),
        users: BTreeMap::from([("learner".to_string(), "s3cret".to_string())]),
        jaas_file: "/jaas.conf".into(),
    }
}

fn auth(c: QuorumSaslConfig) -> Arc<QuorumAuth> {
    QuorumAuth::new(Some(&c), Duration::from_secs(5))
}

#[test]
fn java_first_packet_bytes() {
    assert_eq!(MAGIC, (-(0xa0db_cafe_cafe_1234u64 as i64)));
    assert_eq!(
        AuthPacket::new(Status::InProgress, &[]).encode(),
        JAVA_FIRST_PACKET
    );
    let null = AuthPacket {
        status: Status::Error,
        token: None,
    }
    .encode();
    assert_eq!(
        &null[8..],
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
}

#[test]
fn header_decoding() {
    let mut h = [0u8; HEADER_LEN];
    h.copy_from_slice(&AuthPacket::new(Status::Success, b"abc").encode()[..HEADER_LEN]);
    assert_eq!(
        AuthPacket::decode_header(&h).unwrap(),
        (Status::Success, Some(3))
    );
    // An unknown status is ERROR (QuorumAuth.Status.getStatus).
    h[8..12].copy_from_slice(&7i32.to_be_bytes());
    assert_eq!(AuthPacket::decode_header(&h).unwrap().0, Status::Error);
    h[12..16].copy_from_slice(&((MAX_TOKEN + 1) as i32).to_be_bytes());
    assert!(AuthPacket::decode_header(&h).is_err());
    h[12..16].copy_from_slice(&(-2i32).to_be_bytes());
    assert!(AuthPacket::decode_header(&h).is_err());
    h[0] ^= 1;
    h[12..16].copy_from_slice(&0i32.to_be_bytes());
    assert!(AuthPacket::decode_header(&h).is_err());
}

/// Runs both ends over a pipe; the learner then writes `after`, which the server must
/// hand back untouched. Returns both results and what the server passed on.
async fn exchange(
    learner: Arc<QuorumAuth>,
    server: Arc<QuorumAuth>,
    after: &'static [u8],
) -> (
    Result<(), QuorumAuthError>,
    Result<Vec<u8>, QuorumAuthError>,
) {
    let (mut a, mut b): (DuplexStream, DuplexStream) = duplex(64 * 1024);
    let l = tokio::spawn(async move {
        let r = learner.authenticate_learner(&mut a, peer()).await;
        if r.is_ok() {
            let _ = a.write_all(after).await;
        }
        // Keep the pipe open until the server is done with it.
        let mut sink = Vec::new();
        let _ = a.read_to_end(&mut sink).await;
        r
    });
    let s = async {
        let pending = server
            .authenticate_server(&mut b, BytesMut::new(), peer())
            .await?;
        let mut got = pending.to_vec();
        while got.len() < after.len() {
            let mut byte = [0u8; 1];
            if b.read(&mut byte).await? == 0 {
                break;
            }
            got.push(byte[0]);
        }
        Ok(got)
    };
    let s = s.await;
    drop(b);
    (l.await.expect("learner task"), s)
}

#[tokio::test]
async fn learner_and_server_agree() {
    let (l, s) = exchange(
        auth(cfg(true, true, "s3cret")),
        auth(cfg(true, true, "s3cret")),
        b"\x00\x00\x00\x1cnext frame",
    )
    .await;
    l.expect("learner");
    assert_eq!(s.expect("server"), b"\x00\x00\x00\x1cnext frame");
}

#[tokio::test]
async fn wrong_password_fails_both_ends() {
    let (l, s) = exchange(
        auth(cfg(true, true, "guess")),
        auth(cfg(true, true, "s3cret")),
        b"",
    )
    .await;
    // The server answered ERROR, as SaslQuorumAuthServer does.
    assert!(matches!(l, Err(QuorumAuthError::Refused(_))), "{l:?}");
    assert!(matches!(s, Err(QuorumAuthError::Mechanism(_))), "{s:?}");
}

#[tokio::test]
async fn wrong_password_is_let_in_when_not_required() {
    let (l, s) = exchange(
        auth(cfg(true, true, "guess")),
        auth(cfg(true, false, "s3cret")),
        b"",
    )
    .await;
    assert!(l.is_err());
    assert!(s.is_ok(), "{s:?}");
}

#[tokio::test]
async fn a_learner_that_does_not_authenticate() {
    // learnerRequireSasl=false: the learner sends nothing; its next bytes reach the caller.
    let frame = b"\x00\x00\x00\x0b\x00\x00\x00\x00\x00\x00\x00\x01abc";
    let (l, s) = exchange(
        auth(cfg(false, false, "s3cret")),
        auth(cfg(true, false, "s3cret")),
        frame,
    )
    .await;
    l.expect("learner skips");
    assert_eq!(s.expect("let in"), frame);
    let (_, s) = exchange(
        auth(cfg(false, false, "s3cret")),
        auth(cfg(true, true, "s3cret")),
        frame,
    )
    .await;
    assert!(
        matches!(s, Err(QuorumAuthError::NotAuthenticating)),
        "{s:?}"
    );
}

#[tokio::test]
async fn no_sasl_touches_nothing() {
    let (l, s) = exchange(QuorumAuth::none(), QuorumAuth::none(), b"abcd").await;
    l.unwrap();
    assert_eq!(s.unwrap(), b"abcd");
}

#[tokio::test]
async fn a_silent_learner_times_out() {
    let server = QuorumAuth::new(Some(&cfg(true, true, "s3cret")), Duration::from_secs(1));
    let (_a, mut b) = duplex(1024);
    let started = tokio::time::Instant::now();
    let r = server
        .authenticate_server(&mut b, BytesMut::new(), peer())
        .await;
    assert!(matches!(r, Err(QuorumAuthError::Timeout(_))), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn an_oversized_token_is_refused() {
    let server = auth(cfg(true, true, "s3cret"));
    let (mut a, mut b) = duplex(64 * 1024);
    let mut p = AuthPacket::new(Status::InProgress, &[]).encode();
    p[12..16].copy_from_slice(&(1i32 << 30).to_be_bytes());
    a.write_all(&p).await.unwrap();
    let r = server
        .authenticate_server(&mut b, BytesMut::new(), peer())
        .await;
    assert!(matches!(r, Err(QuorumAuthError::Packet(_))), "{r:?}");
    // ... and the learner was told: an ERROR packet with an empty token.
    let mut answer = [0u8; HEADER_LEN];
    a.read_exact(&mut answer).await.unwrap();
    assert_eq!(
        AuthPacket::decode_header(&answer).unwrap(),
        (Status::Error, Some(0))
    );
}

/// A leader's quorum port with serverRequireSasl: a learner with the wrong password is
/// closed, one with the right one gets its link, the listener keeps going.
#[tokio::test]
async fn a_failed_learner_is_closed_and_the_next_one_served() {
    use crate::config::{Config, ServerSpec};
    use crate::quorum::transport::links::{connect_leader, LearnerListener, LinkEvent, LinkLimits};
    use crate::quorum::transport::tls::QuorumTls;
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    let mut c = Config::default_standalone();
    c.my_id = Some(1);
    c.servers = (1..=3)
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
        .collect();
    let listener = LearnerListener::bind(&c)
        .await
        .expect("bind")
        .with_auth(auth(cfg(true, true, "s3cret")));
    let addr = listener.local_addr();
    let (tx, mut leader_events) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let _stop = cancel.clone().drop_guard();
    tokio::spawn(listener.run(tx, cancel.clone()));

    let (ltx, _learner_events) = mpsc::channel(16);
    let bad = connect_leader(
        addr,
        &LinkLimits::default(),
        &QuorumTls::plain(),
        &auth(cfg(true, true, "guess")),
        ltx.clone(),
        &cancel,
    )
    .await;
    assert!(bad.is_err(), "the wrong password got a link");
    let good = connect_leader(
        addr,
        &LinkLimits::default(),
        &QuorumTls::plain(),
        &auth(cfg(true, true, "s3cret")),
        ltx,
        &cancel,
    )
    .await;
    assert!(good.is_ok(), "{:?}", good.err());
    // The leader opened exactly one link: the good learner's.
    let first = tokio::time::timeout(Duration::from_secs(10), leader_events.recv())
        .await
        .expect("an event")
        .expect("open channel");
    assert!(matches!(first, LinkEvent::Opened { .. }));
    assert!(
        tokio::time::timeout(Duration::from_millis(300), leader_events.recv())
            .await
            .is_err(),
        "a second link opened"
    );
}
