//! [`proposals_for`] against the packets a 3.8.0 leader sent in a DIFF.

use std::path::PathBuf;

use super::proposals_for;
use crate::jute::Jute;
use crate::proto::quorum::packet::QuorumPacket;
use crate::proto::quorum::packet_type as pt;
use crate::storage::{MemLog, TxnLog};

fn golden(file: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/quorum")
        .join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const PROPOSALS: [&str; 6] = [
    "proposal_createsession.bin",
    "proposal_create.bin",
    "proposal_setdata.bin",
    "proposal_setacl.bin",
    "proposal_multi.bin",
    "proposal_error.bin",
];

/// A log holding what the captured PROPOSALs carried, as a follower logs it.
fn golden_log() -> (MemLog, Vec<Vec<u8>>) {
    let mut log = MemLog::default();
    let mut raw = Vec::new();
    for f in PROPOSALS {
        let bytes = golden(f);
        let p = QuorumPacket::from_bytes(&bytes).expect("decode");
        log.append(p.zxid, p.data_or_empty()).expect("append");
        raw.push(bytes);
    }
    log.sync().expect("sync");
    (log, raw)
}

#[test]
fn proposals_and_commits_are_the_bytes_a_java_leader_sends() {
    let (log, raw) = golden_log();
    let zxids: Vec<i64> = log
        .read_range(0, 100)
        .expect("read")
        .iter()
        .map(|(z, _)| *z)
        .collect();
    let packets = proposals_for(&log, 0, i64::MAX, 100).expect("proposals");
    assert_eq!(packets.len(), 2 * PROPOSALS.len());
    for (i, pair) in packets.chunks(2).enumerate() {
        assert_eq!(&pair[0].to_bytes()[..], &raw[i][..], "{}", PROPOSALS[i]);
        assert_eq!(pair[1], QuorumPacket::bare(pt::COMMIT, zxids[i]));
    }
    // The COMMIT of the first txn is commit.bin: null data, null authinfo.
    assert_eq!(&packets[1].to_bytes()[..], &golden("commit.bin")[..]);
}

#[test]
fn the_range_is_after_exclusive_upto_inclusive_and_limited() {
    let (log, _) = golden_log();
    let zxids: Vec<i64> = log
        .read_range(0, 100)
        .expect("read")
        .iter()
        .map(|(z, _)| *z)
        .collect();
    let of = |ps: &[QuorumPacket]| -> Vec<(i32, i64)> {
        ps.iter().map(|p| (p.r#type, p.zxid)).collect()
    };
    let got = proposals_for(&log, zxids[1], zxids[3], 100).expect("range");
    assert_eq!(
        of(&got),
        vec![
            (pt::PROPOSAL, zxids[2]),
            (pt::COMMIT, zxids[2]),
            (pt::PROPOSAL, zxids[3]),
            (pt::COMMIT, zxids[3]),
        ]
    );
    let got = proposals_for(&log, zxids[0], i64::MAX, 2).expect("limited");
    assert_eq!(of(&got).len(), 4);
    assert_eq!(got[3].zxid, zxids[2]);
    assert!(proposals_for(&log, zxids[5], i64::MAX, 10)
        .expect("none")
        .is_empty());
    assert!(proposals_for(&log, 0, zxids[0], 0)
        .expect("zero")
        .is_empty());
}

#[test]
fn long_ranges_are_read_in_slices_without_gaps() {
    let mut log = MemLog::default();
    for z in 1..=2500i64 {
        log.append(z, &z.to_be_bytes()).expect("append");
    }
    let got = proposals_for(&log, 10, 2400, 2100).expect("proposals");
    assert_eq!(got.len(), 4200);
    for (i, pair) in got.chunks(2).enumerate() {
        let z = 11 + i as i64;
        assert_eq!(
            pair[0],
            QuorumPacket::with_data(pt::PROPOSAL, z, z.to_be_bytes().to_vec())
        );
        assert_eq!(pair[1], QuorumPacket::bare(pt::COMMIT, z));
    }
    assert_eq!(
        proposals_for(&log, 10, 2400, 5000).expect("all").len(),
        2 * 2390
    );
}
