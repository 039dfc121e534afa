//! The codecs on real async streams, fed a few bytes at a time, as a driver will use them.

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::FramedRead;

use super::golden;
use crate::proto::quorum::election::{ElectionFrameCodec, Notification};
use crate::proto::quorum::handshake::InitialMessage;
use crate::proto::quorum::packet::QuorumPacketCodec;
use crate::proto::quorum::packet_type as pt;

/// A reader that yields `bytes` in `chunk`-byte writes.
fn trickle(bytes: Vec<u8>, chunk: usize) -> tokio::io::DuplexStream {
    let (mut tx, rx) = tokio::io::duplex(64);
    tokio::spawn(async move {
        for c in bytes.chunks(chunk) {
            if tx.write_all(c).await.is_err() {
                return;
            }
        }
    });
    rx
}

#[tokio::test]
async fn a_leader_stream_decodes_in_small_pieces() {
    let bytes = golden("stream_leader_diff.bin");
    let mut frames = FramedRead::new(trickle(bytes, 3), QuorumPacketCodec::default());
    let mut types = Vec::new();
    while let Some(p) = frames.next().await {
        types.push(p.expect("packet").r#type);
    }
    // LEADERINFO, then DIFF, then the missed PROPOSAL/COMMIT pairs.
    assert_eq!(types[..3], [pt::LEADERINFO, pt::DIFF, pt::PROPOSAL]);
    assert_eq!(types.len(), 8);
}

#[tokio::test]
async fn after_snap_the_driver_takes_the_raw_snapshot_from_the_buffer() {
    let bytes = golden("snap_with_snapshot.bin");
    let total = bytes.len();
    let mut frames = FramedRead::new(trickle(bytes, 7), QuorumPacketCodec::default());
    let snap = frames.next().await.expect("one packet").expect("SNAP");
    assert_eq!(snap.r#type, pt::SNAP);
    // What the codec already buffered is the start of the snapshot; the rest is still in
    // the reader. Together they are everything after the 20-byte SNAP packet.
    let mut snapshot = frames.read_buffer_mut().split().to_vec();
    let mut reader = frames.into_inner();
    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut snapshot)
        .await
        .expect("read");
    assert_eq!(snapshot.len(), total - 20);
    assert!(snapshot.ends_with(b"\0\0\0\x0aBenWasHere"));
}

#[tokio::test]
async fn an_election_stream_decodes_after_its_handshake() {
    let bytes = golden("election_stream.bin");
    let (initial, used) = InitialMessage::decode(&bytes).expect("ok").expect("whole");
    assert!(initial.sid() > 0);
    let frames = FramedRead::new(trickle(bytes[used..].to_vec(), 5), ElectionFrameCodec);
    let votes: Vec<Notification> = frames
        .map(|f| Notification::decode(&f.expect("frame")).expect("notification"))
        .collect()
        .await;
    assert!(votes.len() >= 2);
}
