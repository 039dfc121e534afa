//! The SNAP stream writer ([`snapshot_stream`]) against the reader and a real 3.8.0 leader.

use std::path::PathBuf;

use super::tests::{same_tree, sample_tree};
use super::*;
use crate::jute::Jute;
use crate::proto::quorum::packet::QuorumPacket;

fn golden(file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/quorum")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn snapshot_stream_round_trips_through_the_reader() {
    let t = sample_tree();
    let sessions = vec![(0x1_0000_0001, 30000), (0x1_0000_0002, 4000)];
    let bytes = snapshot_stream(&t, &sessions);
    // No file header, and it ends with the signature, not a seal.
    assert_ne!(&bytes[..4], b"ZKSN");
    assert!(bytes.ends_with(b"\0\0\0\x0aBenWasHere"));
    let s = read_snapshot_stream(&bytes, true).expect("read");
    assert_eq!(s.len, bytes.len());
    same_tree(&t, &s.tree);
    assert_eq!(s.sessions, sessions);
    assert_eq!(s.tree.digest(), t.digest());
    assert_eq!(tree_digest(&s.tree), tree_digest(&t));
    assert_eq!(
        s.tree.ephemerals_of(0x1_0000_0001),
        vec!["/eph".to_string()]
    );
    assert!(s.tree.containers().contains("/cont"));
    assert!(s.tree.ttls().contains("/ttl"));
    assert_eq!(s.tree.get("/a/null").map(|n| n.data()), Some(None));
}

#[test]
fn snapshot_stream_is_the_snapshot_file_body() {
    // The stream and the file share SerializeUtils.serializeSnapshot: the file is the
    // 16-byte header, the same body, then seals and the digest section.
    let t = sample_tree();
    let sessions = vec![(7, 3000)];
    let stream = snapshot_stream(&t, &sessions);
    let mut file = Vec::new();
    write_snapshot(&t, &sessions, 21, &mut file);
    let body = &stream[..stream.len() - 14];
    assert_eq!(&file[16..16 + body.len()], body);
}

#[test]
fn golden_snapshot_stream_reencodes_byte_for_byte() {
    let bytes = golden("snap_with_snapshot.bin");
    let (rest, snap) = QuorumPacket::read(&bytes).expect("SNAP packet");
    assert_eq!(snap.r#type, crate::proto::quorum::packet_type::SNAP);
    let s = read_snapshot_stream(rest, false).expect("read");
    assert_eq!(s.len, rest.len(), "the capture holds the whole snapshot");
    assert!(s.tree.get("/zookeeper/config").is_some());
    // ZooKeeper walks children in HashSet order, which is not ours in general; this
    // capture's only siblings (/zookeeper's "config" and "quota") happen to come in
    // name order, it has no sessions (a HashMap's order again), and its one cached ACL
    // (the open list of /zookeeper/config) is index 1 in both: so the bytes are the same.
    // A larger tree would only be structurally equal.
    let again = snapshot_stream(&s.tree, &s.sessions);
    assert_eq!(again, rest);
}
