//! Every captured message decodes, makes sense, and re-encodes to the very same bytes.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::{golden, manifest, Entry};
use crate::jute::Jute;
use crate::proto::codes::op;
use crate::proto::quorum::election::{
    ElectionFrameCodec, Notification, ServerState, NOTIFICATION_VERSION,
};
use crate::proto::quorum::handshake::{InitialMessage, PROTOCOL_VERSION_V1};
use crate::proto::quorum::packet::{QuorumPacket, QuorumPacketCodec};
use crate::proto::quorum::packet_type as pt;
use crate::proto::quorum::payload::*;
use crate::proto::quorum::{make_zxid, zxid_counter, zxid_epoch};
use crate::proto::request::Request;
use crate::proto::txn::{Txn, TxnEntry};

/// Decodes one packet from a stream buffer holding exactly `bytes`, checks it used them
/// all, and that encoding it (through the codec too) gives them back.
fn packet(bytes: &[u8]) -> QuorumPacket {
    let mut buf = BytesMut::from(bytes);
    let p = QuorumPacketCodec::default()
        .decode(&mut buf)
        .expect("decode")
        .expect("whole");
    assert!(buf.is_empty(), "{} bytes left", buf.len());
    assert_eq!(p.to_bytes().as_ref(), bytes);
    let mut out = BytesMut::new();
    QuorumPacketCodec::default()
        .encode(&p, &mut out)
        .expect("encode");
    assert_eq!(out.as_ref(), bytes);
    assert_eq!(p.encoded_len(), bytes.len());
    p
}

/// Decodes a packet's payload as `T` and checks it re-encodes to the same data.
fn payload<T: Payload + std::fmt::Debug>(p: &QuorumPacket) -> T {
    let v = T::decode(p.data_or_empty()).unwrap_or_else(|e| panic!("{}: {e}", T::KIND));
    assert_eq!(v.to_data(), p.data_or_empty(), "{v:?}");
    v
}

/// Checks what a quorum packet's data means for its type.
fn check_payload(e: &Entry, p: &QuorumPacket) {
    match p.r#type {
        pt::FOLLOWERINFO | pt::OBSERVERINFO => {
            let li: LearnerInfo = payload(p);
            assert!((1..=4).contains(&li.serverid), "{li:?}");
            assert_eq!(li.serverid == 4, p.r#type == pt::OBSERVERINFO);
            assert_eq!(li.protocol_version, ZAB_PROTOCOL_VERSION);
            assert_eq!(zxid_counter(p.zxid), 0, "zxid = acceptedEpoch << 32");
            let view = LearnerInfoView::parse(p.data_or_empty());
            assert_eq!(view.serverid, Some(li.serverid));
            assert_eq!(view.config_version, Some(li.config_version));
        }
        pt::LEADERINFO => {
            assert_eq!(
                payload::<LeaderInfo>(p).protocol_version,
                ZAB_PROTOCOL_VERSION
            );
            assert_eq!((zxid_epoch(p.zxid), zxid_counter(p.zxid)), (1, 0));
        }
        pt::ACKEPOCH => {
            let a: AckEpoch = payload(p);
            let same = e.file.contains("same_epoch");
            assert_eq!(a.current_epoch, if same { -1 } else { 0 });
        }
        pt::NEWLEADER => {
            let cfg: NewLeaderConfig = payload(p);
            for sid in 1..=4 {
                assert!(
                    cfg.0.contains(&format!("server.{sid}=127.0.0.1:")),
                    "{cfg:?}"
                );
            }
            // The leader stamps its config with the new epoch's first zxid.
            assert_eq!(cfg.version(), Some(make_zxid(1, 0)));
            assert_eq!(p.zxid, make_zxid(1, 0));
        }
        pt::PROPOSAL | pt::INFORM => check_txn(e, p.zxid, &payload::<TxnEntry>(p)),
        pt::INFORMANDACTIVATE => {
            let ia: InformAndActivate = payload(p);
            assert_eq!(ia.designated_leader, 3);
            check_txn(e, p.zxid, &ia.txn);
        }
        pt::COMMITANDACTIVATE => {
            assert_eq!(payload::<CommitAndActivate>(p).designated_leader, 3);
        }
        pt::REQUEST => check_request(e, p),
        pt::REVALIDATE if e.file.contains("answer") => {
            let a: RevalidateAnswer = payload(p);
            assert!(a.valid && a.session_id > 0, "{a:?}");
        }
        pt::REVALIDATE => {
            let a: RevalidateAsk = payload(p);
            assert_eq!(a.timeout_ms, 20_000, "{a:?}");
        }
        pt::PING if e.file.contains("learner") => {
            // The learner's reply is never null data: an empty touch table is 0 bytes.
            assert!(p.data.is_some());
            let t: PingTouches = payload(p);
            assert_eq!(t.0.is_empty(), !e.file.contains("touch"));
            assert!(t
                .0
                .iter()
                .all(|s| s.timeout_ms == 20_000 && s.session_id > 0));
        }
        pt::TRUNC => {
            // The old leader logged 0x100000014 alone; the new leader cuts it back to its
            // last committed zxid, in the old epoch.
            assert_eq!((zxid_epoch(p.zxid), p.data.as_ref()), (1, None));
        }
        _ => assert_eq!(p.data, None, "{} carries no data", pt::name(p.r#type)),
    }
}

fn check_txn(e: &Entry, zxid: i64, t: &TxnEntry) {
    assert_eq!(t.header.zxid, zxid);
    assert_eq!(zxid_epoch(zxid), 1);
    // 3.8 has digests on by default and every txn carries one (TxnDigest version 2),
    // except a failed write's error txn: PrepRequestProcessor sets no digest on that path.
    let digest_version = (t.header.r#type != op::ERROR).then_some(2);
    assert_eq!(
        t.digest.as_ref().map(|d| d.version),
        digest_version,
        "{t:?}"
    );
    let want = match e.file.split(['_', '.']).nth(1).unwrap_or_default() {
        "create" => op::CREATE,
        "createsession" => op::CREATE_SESSION,
        "closesession" => op::CLOSE_SESSION,
        "setdata" => op::SET_DATA,
        "setacl" => op::SET_ACL,
        "multi" => op::MULTI,
        "error" => op::ERROR,
        "reconfig" => op::RECONFIG,
        other => panic!("unexpected txn file kind {other}"),
    };
    assert_eq!(t.header.r#type, want, "{}", e.file);
    if let Txn::Multi(ops) = &t.txn {
        assert_eq!(ops.len(), 3);
    }
}

fn check_request(e: &Entry, p: &QuorumPacket) {
    assert_eq!(p.zxid, -1);
    let r: ForwardedRequest = payload(p);
    assert!(r.session_id > 0, "{r:?}");
    if r.op_type == op::CREATE_SESSION {
        // The learner invents cxid 0 and sends the negotiated timeout as the body; no auth.
        assert_eq!(
            (r.cxid, r.body.as_slice()),
            (0, &20_000i32.to_be_bytes()[..])
        );
        assert_eq!(p.authinfo, None);
        return;
    }
    // Forwarded client requests carry the connection's auth ids (here its ip).
    let ids = p.authinfo.as_deref().unwrap_or_default();
    assert!(
        ids.iter()
            .any(|id| id.scheme == "ip" && id.id == "127.0.0.1"),
        "{ids:?}"
    );
    if r.op_type != op::CLOSE_SESSION {
        let req = Request::decode(r.op_type, &r.body).expect("client request body");
        assert!(
            req.is_write() || matches!(req, Request::Sync(_)),
            "{}: {req:?}",
            e.file
        );
    }
}

fn check_notification(n: &Notification, state: i32, e: &Entry) {
    assert_eq!(n.state, state);
    assert!(n.server_state().is_some());
    assert_eq!(n.version, NOTIFICATION_VERSION);
    let cfg = String::from_utf8(n.config.clone().expect("3.8 sends its config")).expect("utf8");
    assert!(
        cfg.contains("server.1=") && cfg.contains("\nversion="),
        "{cfg}"
    );
    if n.leader == i64::MIN {
        // A non-voter (the observer) proposes Long.MIN_VALUE for sid, zxid and epoch.
        assert_eq!((n.zxid, n.peer_epoch), (i64::MIN, Some(i64::MIN)));
    } else {
        assert!((1..=3).contains(&n.leader), "{}", e.file);
        // peerEpoch is the leader's currentEpoch: at least its last zxid's epoch, more when
        // no txn was logged in the newest epoch yet.
        assert!(
            n.peer_epoch.is_some_and(|p| p >= zxid_epoch(n.zxid)),
            "{}: {n:?}",
            e.file
        );
    }
    if n.server_state() == Some(ServerState::Leading) {
        // A leader's vote is the one it was elected with (its peerEpoch is the epoch at
        // election time, 0 on a fresh ensemble). 3 led first, 2 after the TRUNC setup.
        assert!([2, 3].contains(&n.leader), "{n:?}");
    }
}

fn check_initial(m: &InitialMessage) {
    let InitialMessage::Versioned {
        protocol_version, ..
    } = m
    else {
        panic!("3.8 sends a versioned initial message: {m:?}");
    };
    assert_eq!(*protocol_version, PROTOCOL_VERSION_V1);
    let addrs = m.election_addresses().expect("addresses");
    assert_eq!(
        addrs,
        vec![("127.0.0.1".to_string(), 23887 + m.sid() as u16)]
    );
}

/// Decodes a whole election stream: the initial message, then frames to the end.
fn election_stream(bytes: &[u8], e: &Entry) -> usize {
    let (m, used) = InitialMessage::decode(bytes)
        .expect("initial")
        .expect("whole");
    check_initial(&m);
    let mut out = BytesMut::new();
    m.encode(&mut out);
    let mut buf = BytesMut::from(&bytes[used..]);
    let mut frames = 0;
    while let Some(frame) = ElectionFrameCodec.decode(&mut buf).expect("frame") {
        let n = Notification::decode(&frame).expect("notification");
        check_notification(&n, n.state, e);
        ElectionFrameCodec.encode(&n, &mut out).expect("encode");
        frames += 1;
    }
    assert!(buf.is_empty());
    assert_eq!(out.as_ref(), bytes);
    frames
}

#[test]
fn every_golden_message_roundtrips() {
    let entries = manifest();
    assert!(entries.len() >= 50, "{} entries", entries.len());
    for e in &entries {
        let bytes = golden(&e.file);
        match e.kind.as_str() {
            "quorum_packet" => {
                let p = packet(&bytes);
                assert_eq!((p.r#type, p.zxid), (e.r#type, e.zxid), "{}", e.file);
                check_payload(e, &p);
            }
            "quorum_stream" => {
                let mut buf = BytesMut::from(bytes.as_slice());
                let mut out = BytesMut::new();
                while let Some(p) = QuorumPacketCodec::default()
                    .decode(&mut buf)
                    .expect(&e.file)
                {
                    p.write(&mut out);
                }
                assert!(
                    buf.is_empty() && out.as_ref() == bytes.as_slice(),
                    "{}",
                    e.file
                );
            }
            "snap+snapshot" => {
                // The codec stops at SNAP's end; the raw snapshot that follows ends with
                // the "BenWasHere" signature.
                let mut buf = BytesMut::from(bytes.as_slice());
                let p = QuorumPacketCodec::default()
                    .decode(&mut buf)
                    .expect("snap")
                    .expect("whole");
                assert_eq!((p.r#type, p.data.as_ref()), (pt::SNAP, None));
                assert!(
                    buf.ends_with(b"\0\0\0\x0aBenWasHere"),
                    "{} snapshot bytes",
                    buf.len()
                );
            }
            "election_initial" => {
                let (m, used) = InitialMessage::decode(&bytes)
                    .expect("decode")
                    .expect("whole");
                assert_eq!(used, bytes.len());
                check_initial(&m);
                let mut out = BytesMut::new();
                m.encode(&mut out);
                assert_eq!(out.as_ref(), bytes.as_slice());
            }
            "election_frame" => {
                let mut buf = BytesMut::from(bytes.as_slice());
                let frame = ElectionFrameCodec
                    .decode(&mut buf)
                    .expect("frame")
                    .expect("whole");
                assert!(buf.is_empty());
                let n = Notification::decode(&frame).expect("notification");
                check_notification(&n, e.r#type, e);
                let mut out = BytesMut::new();
                ElectionFrameCodec.encode(&n, &mut out).expect("encode");
                assert_eq!(out.as_ref(), bytes.as_slice());
            }
            "election_stream" => assert!(election_stream(&bytes, e) >= 2),
            other => panic!("unknown kind {other} for {}", e.file),
        }
    }
}

#[test]
fn every_packet_type_was_captured() {
    let seen: std::collections::BTreeSet<i32> = manifest()
        .iter()
        .filter(|e| e.kind == "quorum_packet")
        .map(|e| e.r#type)
        .collect();
    let want: std::collections::BTreeSet<i32> = (1..=19).collect();
    assert_eq!(seen, want);
}

#[test]
fn the_same_txn_bytes_go_to_followers_and_observers() {
    // Leader.inform reuses the proposal's data: PROPOSAL and INFORM payloads are equal.
    for kind in [
        "create",
        "setdata",
        "multi",
        "createsession",
        "closesession",
        "error",
    ] {
        let prop = QuorumPacket::from_bytes(&golden(&format!("proposal_{kind}.bin"))).expect("p");
        let inform = QuorumPacket::from_bytes(&golden(&format!("inform_{kind}.bin"))).expect("i");
        assert_eq!(
            (prop.zxid, &prop.data),
            (inform.zxid, &inform.data),
            "{kind}"
        );
    }
    let ia = QuorumPacket::from_bytes(&golden("informandactivate_reconfig.bin")).expect("ia");
    let prop = QuorumPacket::from_bytes(&golden("proposal_reconfig.bin")).expect("prop");
    assert_eq!(ia.data_or_empty()[8..], *prop.data_or_empty());
}

#[test]
fn revalidate_and_touch_name_the_reattached_session() {
    let ask: RevalidateAsk =
        payload(&QuorumPacket::from_bytes(&golden("revalidate_ask.bin")).expect("ask"));
    let answer: RevalidateAnswer =
        payload(&QuorumPacket::from_bytes(&golden("revalidate_answer.bin")).expect("answer"));
    let touch: PingTouches =
        payload(&QuorumPacket::from_bytes(&golden("ping_learner_touch.bin")).expect("ping"));
    assert_eq!(ask.session_id, answer.session_id);
    assert_eq!(touch.0[0].session_id, ask.session_id);
}
