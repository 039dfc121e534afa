//! Truncated, corrupted and oversized input: errors or "need more", never a panic, and
//! no allocation driven by a hostile length.

use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::{golden, manifest};
use crate::jute::Jute;
use crate::proto::quorum::election::*;
use crate::proto::quorum::handshake::*;
use crate::proto::quorum::packet::{QuorumPacket, QuorumPacketCodec, DEFAULT_MAX_BUFFER};
use crate::proto::quorum::payload::*;
use crate::proto::quorum::QuorumWireError;
use crate::proto::txn::TxnEntry;

/// Runs every decoder of this layer over `b`; only the absence of panics matters here.
pub(super) fn decode_everything(b: &[u8]) {
    let _ = QuorumPacketCodec::new(4096).decode(&mut BytesMut::from(b));
    let _ = QuorumPacket::from_bytes(b);
    let _ = ElectionFrameCodec.decode(&mut BytesMut::from(b));
    let _ = InitialMessage::decode(b);
    let _ = Notification::decode(b);
    let _ = LearnerInfo::decode(b);
    let _ = LearnerInfoView::parse(b);
    let _ = LeaderInfo::decode(b);
    let _ = AckEpoch::decode(b);
    let _ = RevalidateAsk::decode(b);
    let _ = RevalidateAnswer::decode(b);
    let _ = PingTouches::decode(b);
    let _ = ForwardedRequest::decode(b);
    let _ = TxnEntry::decode(b);
    let _ = InformAndActivate::decode(b);
    let _ = NewLeaderConfig::decode(b);
}

#[test]
fn every_strict_prefix_of_a_golden_message_waits_for_more() {
    for e in manifest() {
        let bytes = golden(&e.file);
        for cut in 0..bytes.len() {
            let part = &bytes[..cut];
            match e.kind.as_str() {
                "quorum_packet" | "quorum_stream" | "snap+snapshot" => {
                    let mut buf = BytesMut::from(part);
                    let mut codec = QuorumPacketCodec::default();
                    // Whole packets may come out of a stream prefix, then None: never an error.
                    while let Some(p) = codec.decode(&mut buf).expect(&e.file) {
                        assert!(e.kind != "quorum_packet", "{}: {p:?} from {cut}", e.file);
                        if p.r#type == crate::proto::quorum::packet_type::SNAP {
                            break;
                        }
                    }
                }
                "election_frame" => {
                    let got = ElectionFrameCodec.decode(&mut BytesMut::from(part));
                    assert!(matches!(got, Ok(None)), "{}: {got:?} at {cut}", e.file);
                    // A cut payload is malformed, except where it looks like an older
                    // server's 28- or 40-byte form.
                    if cut > 4 && cut != 32 && cut != 44 {
                        assert!(
                            Notification::decode(&part[4..]).is_err(),
                            "{} at {cut}",
                            e.file
                        );
                    }
                }
                "election_initial" => {
                    assert!(
                        matches!(InitialMessage::decode(part), Ok(None)),
                        "{} {cut}",
                        e.file
                    )
                }
                _ => match InitialMessage::decode(part).expect(&e.file) {
                    None => {}
                    Some((_, used)) => {
                        let mut buf = BytesMut::from(&part[used..]);
                        while ElectionFrameCodec
                            .decode(&mut buf)
                            .expect(&e.file)
                            .is_some()
                        {}
                    }
                },
            }
            decode_everything(part);
        }
    }
}

#[test]
fn corrupted_golden_messages_never_panic() {
    for e in manifest() {
        let bytes = golden(&e.file);
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[at] ^= flip;
                decode_everything(&b);
                decode_everything(&b[at..]);
            }
        }
    }
}

fn header(data_len: i32) -> BytesMut {
    let mut b = BytesMut::with_capacity(64);
    b.put_i32(2);
    b.put_i64(0x1_0000_0001);
    b.put_i32(data_len);
    b
}

#[test]
fn oversized_data_is_rejected_from_the_header_alone() {
    for len in [i32::MAX, DEFAULT_MAX_BUFFER as i32 + 1] {
        let mut buf = header(len);
        let cap = buf.capacity();
        let got = QuorumPacketCodec::default().decode(&mut buf);
        assert!(
            matches!(got, Err(QuorumWireError::TooLarge { what: "data", .. })),
            "{got:?}"
        );
        assert_eq!(
            buf.capacity(),
            cap,
            "nothing reserved for the claimed length"
        );
    }
    // At the limit it is only "need more".
    let mut buf = header(DEFAULT_MAX_BUFFER as i32);
    assert!(matches!(
        QuorumPacketCodec::default().decode(&mut buf),
        Ok(None)
    ));
    // A configured limit applies too.
    let mut buf = header(1025);
    assert!(QuorumPacketCodec::new(1024).decode(&mut buf).is_err());
}

#[test]
fn negative_lengths_other_than_null_are_errors() {
    let mut buf = header(-2);
    let got = QuorumPacketCodec::default().decode(&mut buf);
    assert!(
        matches!(got, Err(QuorumWireError::BadLength { .. })),
        "{got:?}"
    );
    for count in [-2, i32::MIN, i32::MAX] {
        let mut buf = header(-1);
        buf.put_i32(count);
        assert!(
            QuorumPacketCodec::default().decode(&mut buf).is_err(),
            "count {count}"
        );
    }
    // An authinfo id with an oversized string.
    let mut buf = header(-1);
    buf.put_i32(1);
    buf.put_i32(i32::MAX);
    assert!(QuorumPacketCodec::default().decode(&mut buf).is_err());
}

#[test]
fn oversized_packets_are_not_sent() {
    let p = QuorumPacket::with_data(2, 1, vec![0; 2048]);
    let mut out = BytesMut::new();
    assert!(QuorumPacketCodec::new(1024).encode(&p, &mut out).is_err());
    assert!(out.is_empty());
}

#[test]
fn election_frame_lengths_are_checked_before_reading() {
    for len in [0, -1, i32::MIN, MAX_FRAME_LEN as i32 + 1, i32::MAX] {
        let mut buf = BytesMut::new();
        buf.put_i32(len);
        let cap = buf.capacity();
        assert!(ElectionFrameCodec.decode(&mut buf).is_err(), "{len}");
        assert_eq!(buf.capacity(), cap);
    }
    let mut buf = BytesMut::new();
    buf.put_i32(MAX_FRAME_LEN as i32);
    assert!(matches!(ElectionFrameCodec.decode(&mut buf), Ok(None)));
    // A notification whose config does not fit in the frame would be too big to send.
    let n = Notification {
        state: 0,
        leader: 1,
        zxid: 0,
        election_epoch: 1,
        peer_epoch: Some(0),
        version: NOTIFICATION_VERSION,
        config: Some(vec![b'x'; MAX_FRAME_LEN]),
    };
    assert!(ElectionFrameCodec.encode(&n, &mut BytesMut::new()).is_err());
}

#[test]
fn initial_message_limits() {
    let msg = |version: i64, len: i32, addr: &[u8]| {
        let mut b = BytesMut::new();
        b.put_i64(version);
        b.put_i64(1);
        b.put_i32(len);
        b.put_slice(addr);
        InitialMessage::decode(&b)
    };
    let ok = msg(PROTOCOL_VERSION_V1, 14, b"127.0.0.1:3888")
        .expect("ok")
        .expect("whole");
    assert_eq!(ok.1, 34);
    assert!(matches!(
        msg(-1, 14, b"127.0.0.1:3888"),
        Err(QuorumWireError::UnknownProtocolVersion(-1))
    ));
    assert!(matches!(
        msg(PROTOCOL_VERSION_V1, 0, b""),
        Err(QuorumWireError::BadLength { .. })
    ));
    assert!(matches!(
        msg(PROTOCOL_VERSION_V1, -5, b""),
        Err(QuorumWireError::BadLength { .. })
    ));
    let too_long = msg(PROTOCOL_VERSION_V1, MAX_ADDRESS_LEN as i32 + 1, b"");
    assert!(matches!(too_long, Err(QuorumWireError::TooLarge { .. })));
    for bad in [
        &b"127.0.0.1"[..],
        b"host:1:2",
        b"h:port",
        b"[::1]",
        b"h:70000",
        b"\xff:1",
    ] {
        let got = msg(PROTOCOL_VERSION_V1, bad.len() as i32, bad);
        assert!(
            matches!(got, Err(QuorumWireError::BadAddress(_))),
            "{bad:?}: {got:?}"
        );
    }
    let v2 = msg(PROTOCOL_VERSION_V2, 18, b"[::1]:3888|h2:3889")
        .expect("v2")
        .expect("whole");
    assert_eq!(
        v2.0.election_addresses().expect("addresses"),
        vec![("::1".to_string(), 3888), ("h2".to_string(), 3889)]
    );
    // A first long that is not negative is a legacy bare sid.
    let mut b = BytesMut::new();
    b.put_i64(7);
    assert_eq!(
        InitialMessage::decode(&b).expect("legacy"),
        Some((InitialMessage::Legacy { sid: 7 }, 8))
    );
}

#[test]
fn notification_receive_rules() {
    let full = Notification {
        state: 1,
        leader: 3,
        zxid: 0x1_0000_0005,
        election_epoch: 2,
        peer_epoch: Some(1),
        version: NOTIFICATION_VERSION,
        config: Some(b"server.1=a:1:2:participant\nversion=0".to_vec()),
    };
    let mut b = BytesMut::new();
    full.encode(&mut b);
    assert_eq!(b.len(), full.encoded_len());
    assert!(Notification::decode(&b[..27]).is_err());
    // 28 bytes: the pre-ZOOKEEPER-107 form, no peer epoch.
    let n28 = Notification::decode(&b[..28]).expect("28");
    assert_eq!((n28.peer_epoch, n28.version, n28.config), (None, 0, None));
    // 36 bytes: peer epoch but the version read underflows, which Java drops.
    assert!(Notification::decode(&b[..36]).is_err());
    // 40 bytes: the version field is not read, so no config even though it says 2.
    let n40 = Notification::decode(&b[..40]).expect("40");
    assert_eq!((n40.peer_epoch, n40.config), (Some(1), None));
    // A config length past the end, or negative, is malformed.
    for len in [i32::MAX, -1, 1000] {
        let mut c = b.clone();
        c[40..44].copy_from_slice(&len.to_be_bytes());
        assert!(Notification::decode(&c).is_err(), "{len}");
    }
    // version <= 1 with more bytes: no config is read and the rest is ignored.
    let mut old = b.clone();
    old[36..40].copy_from_slice(&1i32.to_be_bytes());
    assert_eq!(Notification::decode(&old).expect("v1").config, None);
    assert_eq!(Notification::decode(&b).expect("full"), full);
    assert_eq!(Notification { state: 9, ..full }.server_state(), None);
}

#[test]
fn payload_shapes() {
    assert!(PingTouches::decode(&[0; 13]).is_err());
    assert_eq!(
        PingTouches::decode(&[]).expect("empty"),
        PingTouches::default()
    );
    assert!(ForwardedRequest::decode(&[0; 15]).is_err());
    assert!(AckEpoch::decode(&[0; 3]).is_err());
    // DataInputStream.readBoolean: any non-zero byte is true.
    let answer = RevalidateAnswer::decode(&[0, 0, 0, 0, 0, 0, 0, 1, 7]).expect("answer");
    assert!(answer.valid);
    // The leader's lenient view of a short LearnerInfo.
    let v = LearnerInfoView::parse(&[0, 0, 0, 0, 0, 0, 0, 5, 0, 1, 0]);
    assert_eq!(
        (v.serverid, v.protocol_version, v.config_version),
        (Some(5), None, None)
    );
    assert_eq!(LearnerInfoView::parse(&[]).serverid, None);
    assert!(NewLeaderConfig::decode(b"\xff").is_err());
}
