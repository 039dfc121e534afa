use super::*;
use crate::proto::{perms, Acl, Id, CONTAINER_EPHEMERAL_OWNER, TTL_OWNER_MASK};
use crate::tree::DataTree;

fn digest_acl() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "digest".into(),
            id: "u:XZ7JVuUe3DbT0nqWL2HdYMTJgPg=".into(),
        },
    }]
}

/// Every node kind: persistent (with and without data), sequential, ephemeral, container,
/// TTL, a non-open ACL, a deep path, a deleted child.
pub(super) fn sample_tree() -> DataTree {
    let mut t = DataTree::new(true);
    let open = vec![Acl::world(perms::ALL)];
    let read = vec![Acl::world(perms::READ)];
    let mut z = 0;
    let mut mk = |t: &mut DataTree, p: &str, d: Option<&[u8]>, acl: &Vec<Acl>, owner: i64| {
        z += 1;
        let pcv = t
            .get(crate::tree::parent_and_name(p).0)
            .map_or(0, |n| n.stat().cversion)
            + 1;
        t.create(
            p,
            d.map(<[u8]>::to_vec),
            acl.clone(),
            owner,
            pcv,
            z,
            1000 + z,
        )
        .unwrap();
    };
    mk(&mut t, "/a", Some(b"hello"), &open, 0);
    mk(&mut t, "/a/null", None, &open, 0);
    mk(&mut t, "/a/seq0000000002", Some(b""), &read, 0);
    mk(&mut t, "/a/b", Some(b"x"), &digest_acl(), 0);
    mk(&mut t, "/a/b/deep", Some(b"deep"), &open, 0);
    mk(&mut t, "/eph", Some(b"e"), &open, 0x1_0000_0001);
    mk(&mut t, "/cont", None, &open, CONTAINER_EPHEMERAL_OWNER);
    mk(&mut t, "/ttl", Some(b"t"), &open, TTL_OWNER_MASK | 5000);
    mk(&mut t, "/gone", None, &open, 0);
    t.delete("/gone", 20).unwrap();
    t.set_data("/a", Some(b"world".to_vec()), 1, 21, 3000)
        .unwrap();
    t.set_acl("/a/null", read.clone(), 1).unwrap();
    t
}

pub(super) fn same_tree(a: &DataTree, b: &DataTree) {
    let (pa, pb) = (a.preorder(), b.preorder());
    assert_eq!(pa.len(), pb.len());
    for ((p1, n1), (p2, n2)) in pa.iter().zip(pb.iter()) {
        assert_eq!(p1, p2);
        assert_eq!(n1.data(), n2.data(), "{p1}");
        assert_eq!(&**a.acl(n1), &**b.acl(n2), "{p1}");
        assert_eq!(n1.stat(), n2.stat(), "{p1}");
    }
}

#[test]
fn snapshot_round_trip() {
    let t = sample_tree();
    let sessions = vec![(0x1_0000_0001, 30000), (0x1_0000_0002, 4000)];
    let mut bytes = Vec::new();
    write_snapshot(&t, &sessions, 21, &mut bytes);
    assert_eq!(&bytes[..4], b"ZKSN");
    assert_eq!(&bytes[bytes.len() - 5..], &[0, 0, 0, 1, b'/']);
    let s = read_snapshot_full(&bytes, true).unwrap();
    same_tree(&t, &s.tree);
    assert_eq!(s.sessions, sessions);
    let d = s.digest.unwrap();
    assert_eq!((d.zxid, d.version), (21, DIGEST_VERSION));
    assert_eq!(d.digest, tree_digest(&t));
    assert_eq!(
        s.tree.ephemerals_of(0x1_0000_0001),
        vec!["/eph".to_string()]
    );
    assert!(s.tree.containers().contains("/cont"));
    assert!(s.tree.ttls().contains("/ttl"));
    // Writing the read tree again gives the same bytes.
    let mut again = Vec::new();
    write_snapshot(&s.tree, &s.sessions, 21, &mut again);
    assert_eq!(bytes, again);
}

#[test]
fn snapshot_read_in_chunks_equals_read_whole() {
    let t = sample_tree();
    let sessions = vec![(0x1_0000_0001, 30000)];
    let mut bytes = Vec::new();
    write_snapshot(&t, &sessions, 21, &mut bytes);
    for size in [1, 2, 3, 7, 64, 1000, bytes.len()] {
        let chunks = bytes.chunks(size).map(|c| Ok(c.to_vec()));
        let (tree, s) = read_snapshot_chunks(bytes.len(), chunks, true).unwrap();
        same_tree(&t, &tree);
        assert_eq!(s, sessions);
    }
    // Damage and truncation are errors in chunks too, and a source's error comes through.
    let mut bad = bytes.clone();
    let at = bad.windows(5).position(|w| w == b"world").unwrap();
    bad[at] = b'W';
    let e = read_snapshot_chunks(bad.len(), bad.chunks(5).map(|c| Ok(c.to_vec())), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("snapshot seal checksum mismatch"), "{e}");
    let cut = &bytes[..bytes.len() / 2];
    assert!(
        read_snapshot_chunks(bytes.len(), cut.chunks(9).map(|c| Ok(c.to_vec())), true).is_err()
    );
    let failing = bytes
        .chunks(9)
        .map(|c| Ok(c.to_vec()))
        .chain(std::iter::once(Err("chunk 7 missing".to_string())));
    let e = read_snapshot_chunks(bytes.len(), failing, true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("chunk 7 missing"), "{e}");
}

#[test]
fn snapshot_damage_is_an_error() {
    let mut bytes = Vec::new();
    write_snapshot(&sample_tree(), &[], 21, &mut bytes);
    // A flipped data byte breaks the first seal.
    let mut bad = bytes.clone();
    let at = bad.windows(5).position(|w| w == b"world").unwrap();
    bad[at] = b'W';
    let e = read_snapshot(&bad, true).unwrap_err().to_string();
    assert!(e.contains("snapshot seal checksum mismatch"), "{e}");
    // A flipped digest byte breaks the second.
    let mut bad = bytes.clone();
    let n = bad.len();
    bad[n - 5 - 8 - 2] ^= 1;
    let e = read_snapshot(&bad, true).unwrap_err().to_string();
    assert!(e.contains("digest seal"), "{e}");
    // Every truncation is an error, never a panic.
    for cut in 0..bytes.len() - 1 {
        let r = read_snapshot(&bytes[..cut], true);
        // Cutting exactly after the first seal leaves a valid digest-less file.
        if r.is_ok() {
            assert_eq!(cut, bytes.len() - (8 + 4 + 8 + 8 + 5));
        }
    }
    let e = read_snapshot(b"ZKLG\0\0\0\x02", true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bad magic"), "{e}");
}

#[test]
fn snapshot_without_digest_and_with_39_trailer() {
    let t = sample_tree();
    let mut bytes = Vec::new();
    write_snapshot(&t, &[], 21, &mut bytes);
    let no_digest = &bytes[..bytes.len() - (8 + 4 + 8 + 8 + 5)];
    let s = read_snapshot_full(no_digest, true).unwrap();
    assert!(s.digest.is_none());
    same_tree(&t, &s.tree);
    // 3.9 adds lastProcessedZxid and a third seal.
    let mut v39 = bytes.clone();
    v39.extend_from_slice(&21i64.to_be_bytes());
    let sum = adler32(&v39);
    v39.extend_from_slice(&sum.to_be_bytes());
    v39.extend_from_slice(&[0, 0, 0, 1, b'/']);
    let s = read_snapshot_full(&v39, true).unwrap();
    assert_eq!(s.last_processed_zxid, Some(21));
}

fn entry(zxid: i64) -> Vec<u8> {
    use crate::proto::{CreateSessionTxn, Txn, TxnEntry, TxnHeader};
    TxnEntry {
        header: TxnHeader {
            client_id: 7,
            cxid: 0,
            zxid,
            time: 1,
            r#type: crate::proto::op::CREATE_SESSION,
        },
        txn: Txn::CreateSession(CreateSessionTxn { time_out: 30000 }),
        digest: None,
    }
    .to_bytes()
    .to_vec()
}

#[test]
fn txn_log_round_trip_and_endings() {
    let entries: Vec<_> = (1..=3).map(|z| (z, entry(z))).collect();
    let file = write_txn_log_file(&entries);
    assert_eq!(read_txn_log_file(&file).unwrap(), entries);
    // Preallocated zeros end the file.
    let mut padded = file.clone();
    padded.resize(file.len() + 4096, 0);
    assert_eq!(read_txn_log_file(&padded).unwrap(), entries);
    // A cut-off last entry (no 0x42) ends the file.
    for cut in 16..file.len() {
        let r = read_txn_log_file(&file[..cut]).unwrap();
        assert!(r.len() < 3 && entries.starts_with(&r));
    }
    // A damaged entry is an error.
    let mut bad = file.clone();
    let n = bad.len();
    bad[n - 3] ^= 0xff;
    let e = read_txn_log_file(&bad).unwrap_err().to_string();
    assert!(e.contains("checksum mismatch"), "{e}");
    assert!(read_txn_log_file(b"ZKSN\0\0\0\x02\0\0\0\0\0\0\0\0").is_err());
    assert!(read_txn_log_file(b"ZKLG").is_err());
    assert!(read_txn_log_file(b"").unwrap().is_empty());
}

#[test]
fn zxid_follow_rules() {
    assert!(zxid_follows(0, 1));
    assert!(zxid_follows(5, 6));
    assert!(!zxid_follows(5, 7));
    assert!(!zxid_follows(5, 5));
    assert!(zxid_follows(0x1_0000_0007, 0x2_0000_0001));
    assert!(zxid_follows(0, 0x1_0000_0001));
    assert!(!zxid_follows(0x2_0000_0001, 0x1_0000_0002));
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("fk-zk-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn data_dir_restore_rules() {
    let d = tmp("restore");
    let mut snap = Vec::new();
    write_snapshot(&sample_tree(), &[], 2, &mut snap);
    let all: Vec<_> = (1..=6).map(|z| (z, entry(z))).collect();
    write_data_dir(&d, 2, &snap, &all[2..4]).unwrap();
    let v = d.join(VERSION_DIR);
    // An older log (txns 1..=3) overlapping the snapshot, a newer one from 5.
    std::fs::write(v.join("log.1"), write_txn_log_file(&all[..3])).unwrap();
    std::fs::remove_file(v.join("log.3")).unwrap();
    std::fs::write(v.join("log.4"), write_txn_log_file(&all[3..4])).unwrap();
    std::fs::write(v.join("log.5"), write_txn_log_file(&all[4..])).unwrap();
    let r = read_data_dir(&d).unwrap();
    assert_eq!(r.snapshot_zxid(), 2);
    assert_eq!(r.txns, all[2..].to_vec());
    // A newer damaged snapshot is passed over; one that fails the quick check is ignored.
    let mut bad = snap.clone();
    bad[40] ^= 1;
    std::fs::write(v.join("snapshot.5"), &bad).unwrap();
    std::fs::write(v.join("snapshot.6"), b"partial").unwrap();
    let r = read_data_dir(&d).unwrap();
    assert_eq!((r.snapshot_zxid(), r.skipped.len()), (2, 1));
    // A missing log file is a gap.
    std::fs::remove_file(v.join("log.4")).unwrap();
    let e = read_data_dir(&d).unwrap_err();
    assert!(matches!(e, ZkFileError::Gap { prev: 3, next: 5 }), "{e}");
    // No version-2: not a data dir. Export refuses to overwrite.
    assert!(read_data_dir(&d.join("nope")).is_err());
    assert!(write_data_dir(&d, 2, &snap, &[]).is_err());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn damaged_bytes_never_panic() {
    let mut snap = Vec::new();
    write_snapshot(&sample_tree(), &[(5, 4000)], 21, &mut snap);
    let log = write_txn_log_file(&(1..=3).map(|z| (z, entry(z))).collect::<Vec<_>>());
    for (file, read) in [
        (
            &snap,
            (|b: &[u8]| read_snapshot(b, true).is_ok()) as fn(&[u8]) -> bool,
        ),
        (&log, |b: &[u8]| read_txn_log_file(b).is_ok()),
    ] {
        for i in 0..file.len() {
            for x in [0x01, 0x80, 0xff] {
                let mut b = file.clone();
                b[i] ^= x;
                let _ = read(&b);
            }
        }
    }
}

#[test]
fn export_writes_epoch_files_for_quorum_zxids() {
    let d = tmp("epochs");
    let mut snap = Vec::new();
    write_snapshot(&sample_tree(), &[], 0x1_0000_0002, &mut snap);
    let txns = vec![(0x2_0000_0001, entry(0x2_0000_0001))];
    write_data_dir(&d, 0x1_0000_0002, &snap, &txns).unwrap();
    let v = d.join(VERSION_DIR);
    for f in ["acceptedEpoch", "currentEpoch"] {
        assert_eq!(std::fs::read_to_string(v.join(f)).unwrap(), "2");
    }
    assert!(v.join("snapshot.100000002").is_file() && v.join("log.200000001").is_file());
    let r = read_data_dir(&d).unwrap();
    assert_eq!(
        (r.snapshot_zxid(), r.last_zxid()),
        (0x1_0000_0002, 0x2_0000_0001)
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn export_writes_the_recorded_epochs_and_refuses_ones_zookeeper_would() {
    let d = tmp("recorded-epochs");
    let mut snap = Vec::new();
    write_snapshot(&sample_tree(), &[], 0x1_0000_0002, &mut snap);
    let recorded = ZkEpochs {
        accepted: Some(3),
        current: Some(2),
    };
    // currentEpoch older than the last zxid's epoch: ZooKeeper would not start.
    let stale = ZkEpochs {
        accepted: Some(3),
        current: Some(0),
    };
    assert!(write_data_dir_with_epochs(&d, 0x1_0000_0002, &snap, &[], stale).is_err());
    let upside_down = ZkEpochs {
        accepted: Some(1),
        current: Some(2),
    };
    assert!(write_data_dir_with_epochs(&d, 0x1_0000_0002, &snap, &[], upside_down).is_err());
    assert!(!d.join(VERSION_DIR).join("snapshot.100000002").exists());
    write_data_dir_with_epochs(&d, 0x1_0000_0002, &snap, &[], recorded).unwrap();
    let v = d.join(VERSION_DIR);
    assert_eq!(
        std::fs::read_to_string(v.join("acceptedEpoch")).unwrap(),
        "3"
    );
    assert_eq!(
        std::fs::read_to_string(v.join("currentEpoch")).unwrap(),
        "2"
    );
    let _ = std::fs::remove_dir_all(&d);
}
