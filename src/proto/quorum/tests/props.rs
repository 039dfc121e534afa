//! Property round trips: any value encodes and decodes back, through the stream codecs
//! whatever way the bytes are split; any bytes decode without panicking.

use bytes::BytesMut;
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

use super::malformed::decode_everything;
use crate::proto::acl::Id;
use crate::proto::quorum::election::*;
use crate::proto::quorum::handshake::*;
use crate::proto::quorum::packet::{QuorumPacket, QuorumPacketCodec};
use crate::proto::quorum::payload::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn id() -> impl Strategy<Value = Id> {
    ("[a-z]{0,8}", "[ -~]{0,16}").prop_map(|(scheme, id)| Id { scheme, id })
}

fn packet() -> impl Strategy<Value = QuorumPacket> {
    (
        any::<i32>(),
        any::<i64>(),
        prop::option::of(bytes(300)),
        prop::option::of(prop::collection::vec(id(), 0..4)),
    )
        .prop_map(|(r#type, zxid, data, authinfo)| QuorumPacket {
            r#type,
            zxid,
            data,
            authinfo,
        })
}

fn notification() -> impl Strategy<Value = Notification> {
    (
        0..4i32,
        any::<(i64, i64, i64, i64)>(),
        0..3u8,
        any::<i32>(),
        bytes(200),
    )
        .prop_map(
            |(state, (leader, zxid, election_epoch, peer), form, v, config)| {
                // The three forms the decoder tells apart: 28 bytes, 40 bytes, 44 + config.
                let (peer_epoch, version, config) = match form {
                    0 => (None, 0, None),
                    1 => (Some(peer), v, None),
                    _ => (Some(peer), NOTIFICATION_VERSION.max(v), Some(config)),
                };
                Notification {
                    state,
                    leader,
                    zxid,
                    election_epoch,
                    peer_epoch,
                    version,
                    config,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn quorum_packets_survive_any_split(ps in prop::collection::vec(packet(), 1..5), split in any::<prop::sample::Index>()) {
        let mut wire = BytesMut::new();
        let mut codec = QuorumPacketCodec::default();
        for p in &ps {
            codec.encode(p, &mut wire).expect("encode");
        }
        let at = split.index(wire.len() + 1);
        let mut buf = BytesMut::from(&wire[..at]);
        let mut got = Vec::new();
        while let Some(p) = codec.decode(&mut buf).expect("first part") {
            got.push(p);
        }
        buf.extend_from_slice(&wire[at..]);
        while let Some(p) = codec.decode(&mut buf).expect("second part") {
            got.push(p);
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, ps);
    }

    #[test]
    fn notifications_roundtrip(n in notification(), split in any::<prop::sample::Index>()) {
        let mut wire = BytesMut::new();
        ElectionFrameCodec.encode(&n, &mut wire).expect("encode");
        prop_assert_eq!(wire.len(), 4 + n.encoded_len());
        let at = split.index(wire.len());
        let mut buf = BytesMut::from(&wire[..at]);
        prop_assert!(ElectionFrameCodec.decode(&mut buf).expect("part").is_none());
        buf.extend_from_slice(&wire[at..]);
        let frame = ElectionFrameCodec.decode(&mut buf).expect("frame").expect("whole");
        prop_assert_eq!(Notification::decode(&frame).expect("decode"), n);
    }

    #[test]
    fn initial_messages_roundtrip(
        sid in any::<i64>(), v2 in any::<bool>(),
        hosts in prop::collection::vec(("[a-z0-9.]{1,20}", any::<u16>()), 1..4),
    ) {
        let hosts = if v2 { hosts } else { hosts[..1].to_vec() };
        let addresses = hosts.iter().map(|(h, p)| format!("{h}:{p}")).collect::<Vec<_>>().join("|");
        let protocol_version = if v2 { PROTOCOL_VERSION_V2 } else { PROTOCOL_VERSION_V1 };
        let m = InitialMessage::Versioned { protocol_version, sid, addresses };
        let mut b = BytesMut::new();
        m.encode(&mut b);
        let (back, used) = InitialMessage::decode(&b).expect("decode").expect("whole");
        prop_assert_eq!(used, b.len());
        prop_assert_eq!(back.election_addresses().expect("addresses"), hosts);
        prop_assert_eq!(back, m);
    }

    #[test]
    fn fixed_payloads_roundtrip(a in any::<i64>(), b in any::<i32>(), c in any::<i64>(), valid in any::<bool>(), body in bytes(64)) {
        fn rt<T: Payload + PartialEq + std::fmt::Debug>(v: T) -> Result<(), TestCaseError> {
            prop_assert_eq!(T::decode(&v.to_data()).expect("decode"), v);
            Ok(())
        }
        rt(LearnerInfo { serverid: a, protocol_version: b, config_version: c })?;
        rt(LeaderInfo { protocol_version: b })?;
        rt(AckEpoch { current_epoch: b })?;
        rt(RevalidateAsk { session_id: a, timeout_ms: b })?;
        rt(RevalidateAnswer { session_id: a, valid })?;
        rt(CommitAndActivate { designated_leader: c })?;
        rt(PingTouches(vec![SessionTouch { session_id: a, timeout_ms: b }; body.len() % 5]))?;
        rt(ForwardedRequest { session_id: a, cxid: b, op_type: b.wrapping_neg(), body })?;
        let view = LearnerInfoView::parse(&LearnerInfo { serverid: a, protocol_version: b, config_version: c }.to_data());
        prop_assert_eq!((view.serverid, view.protocol_version, view.config_version), (Some(a), Some(b), Some(c)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in bytes(512)) {
        decode_everything(&b);
    }
}
