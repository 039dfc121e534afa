//! Golden tests on files written by Apache ZooKeeper 3.8.0 (tests/zk_files/datadir, made by
//! compat-tests/storage/StorageWorkload.java `workload … small` with snapCount=30, then one
//! restart, which wrote the non-fuzzy snapshot.6c). `state.txt` is that server's view of
//! every znode (StorageWorkload `dump`), which restoring the files must reproduce.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use ferrokeeper::pipeline::apply::apply;
use ferrokeeper::proto::TxnEntry;
use ferrokeeper::storage::zk::{
    empty_tree, read_data_dir, read_snapshot_full, read_txn_log_file, tree_digest, write_snapshot,
    write_txn_log_file, zxid_follows, ZkFileError,
};
use ferrokeeper::tree::DataTree;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zk_files")
}

fn files(prefix: &str) -> Vec<(i64, PathBuf)> {
    let dir = fixture().join("datadir/version-2");
    let mut out: Vec<(i64, PathBuf)> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name()?.to_str()?.to_string();
            let hex = name.strip_prefix(prefix)?;
            Some((i64::from_str_radix(hex, 16).ok()?, p))
        })
        .collect();
    out.sort();
    out
}

/// The StorageWorkload `dump` line of every znode, children in name order.
fn dump(tree: &DataTree) -> String {
    let mut out = String::new();
    let mut stack = vec!["/".to_string()];
    while let Some(p) = stack.pop() {
        let n = tree.get(&p).unwrap();
        let s = tree.stat_of(n);
        let data = match n.data() {
            None => "null".to_string(),
            Some(d) => d.iter().fold("x".to_string(), |mut a, b| {
                let _ = write!(a, "{b:02x}");
                a
            }),
        };
        let acl: String = tree
            .acl(n)
            .iter()
            .map(|a| format!("{}:{}:{};", a.id.scheme, a.id.id, a.perms))
            .collect();
        let _ = writeln!(
            out,
            "{p} data={data} stat={},{},{},{},{},{},{},{},{},{},{} acl={acl}",
            s.czxid,
            s.mzxid,
            s.ctime,
            s.mtime,
            s.version,
            s.cversion,
            s.aversion,
            s.ephemeral_owner,
            s.data_length,
            s.num_children,
            s.pzxid
        );
        let mut names: Vec<String> = tree.child_names(n);
        names.sort_unstable_by(|a, b| b.cmp(a));
        for c in names {
            stack.push(if p == "/" {
                format!("/{c}")
            } else {
                format!("{p}/{c}")
            });
        }
    }
    out
}

/// Snapshot + txns, replayed as ZooKeeper's restore does.
fn replay(snapshot: Option<&[u8]>, txns: &[(i64, Vec<u8>)]) -> (DataTree, BTreeMap<i64, i32>) {
    let (mut tree, sessions) = match snapshot {
        Some(b) => {
            let s = read_snapshot_full(b, true).unwrap();
            (s.tree, s.sessions)
        }
        None => (empty_tree(true), Vec::new()),
    };
    let mut sessions: BTreeMap<i64, i32> = sessions.into_iter().collect();
    for (zxid, bytes) in txns {
        let e = TxnEntry::from_bytes(bytes).unwrap();
        assert_eq!(e.header.zxid, *zxid);
        let a = apply(&mut tree, &e.header, &e.txn);
        if let Some((id, to)) = a.session_created {
            sessions.insert(id, to);
        }
        if let Some(id) = a.session_closed {
            sessions.remove(&id);
        }
    }
    (tree, sessions)
}

fn expected_state() -> String {
    fs::read_to_string(fixture().join("state.txt")).unwrap()
}

#[test]
fn every_zookeeper_snapshot_parses_and_reserializes() {
    let snaps = files("snapshot.");
    assert!(snaps.len() >= 5);
    for (zxid, path) in &snaps {
        let bytes = fs::read(path).unwrap();
        let s = read_snapshot_full(&bytes, true).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let d = s.digest.expect("3.8 writes the digest section");
        assert_eq!(d.version, 2);
        // Our serialization of the parsed tree reads back as the same tree.
        let mut again = Vec::new();
        write_snapshot(&s.tree, &s.sessions, *zxid, &mut again);
        let s2 = read_snapshot_full(&again, true).unwrap();
        assert_eq!(dump(&s.tree), dump(&s2.tree), "{path:?}");
        assert_eq!(s.sessions, s2.sessions);
        // Our digest of the tree equals ZooKeeper's where the snapshot is not fuzzy. (A server
        // that has applied no txn yet writes zxid 0 and digest 0.)
        if d.zxid == *zxid && d.zxid > 0 {
            assert_eq!(tree_digest(&s.tree), d.digest, "{path:?}");
        }
    }
    // snapshot.6c was taken at start-up, with nothing running: its digest must match.
    let (z, p) = snaps.last().unwrap();
    assert_eq!(*z, 0x6c);
    let s = read_snapshot_full(&fs::read(p).unwrap(), true).unwrap();
    assert_eq!(s.digest.unwrap().zxid, 0x6c);
    assert_eq!(tree_digest(&s.tree), s.digest.unwrap().digest);
    // snapshot.0 is ZooKeeper's empty tree, written before any txn.
    let s0 = read_snapshot_full(&fs::read(&snaps[0].1).unwrap(), true).unwrap();
    assert_eq!(s0.digest.unwrap().digest, 0);
    assert_eq!(dump(&s0.tree), dump(&empty_tree(true)));
    // ZooKeeper logged the empty tree's digest at start-up ("digest is 1371985504").
    assert_eq!(tree_digest(&s0.tree), 1371985504);
}

#[test]
fn every_zookeeper_log_parses_contiguously() {
    let mut prev = 0;
    let mut n = 0;
    for (first, path) in files("log.") {
        let bytes = fs::read(&path).unwrap();
        let entries = read_txn_log_file(&bytes).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert_eq!(
            entries[0].0, first,
            "{path:?} is named after its first zxid"
        );
        for (z, e) in &entries {
            assert!(zxid_follows(prev, *z), "{path:?}: 0x{prev:x} then 0x{z:x}");
            prev = *z;
            TxnEntry::from_bytes(e).unwrap_or_else(|err| panic!("{path:?} 0x{z:x}: {err}"));
            n += 1;
        }
        // Our writer gives the same bytes, minus ZooKeeper's zero padding.
        let ours = write_txn_log_file(&entries);
        assert_eq!(&bytes[..ours.len()], &ours[..], "{path:?}");
        assert!(bytes[ours.len()..].iter().all(|b| *b == 0));
    }
    assert!(n > 100);
}

#[test]
fn restoring_the_data_dir_gives_zookeepers_state() {
    let r = read_data_dir(&fixture().join("datadir")).unwrap();
    assert_eq!(r.snapshot_zxid(), 0x6c);
    let (tree, _) = replay(r.snapshot.as_ref().map(|(_, b)| b.as_slice()), &r.txns);
    assert_eq!(dump(&tree), expected_state());
}

fn copy_dir(keep: impl Fn(&str) -> bool, name: &str) -> PathBuf {
    let dst = std::env::temp_dir().join(format!("fk-zk-files-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dst);
    fs::create_dir_all(dst.join("version-2")).unwrap();
    for e in fs::read_dir(fixture().join("datadir/version-2")).unwrap() {
        let p = e.unwrap().path();
        let n = p.file_name().unwrap().to_str().unwrap().to_string();
        if keep(&n) {
            fs::copy(&p, dst.join("version-2").join(&n)).unwrap();
        }
    }
    dst
}

#[test]
fn restoring_from_older_and_fuzzy_snapshots_gives_the_same_state() {
    let expected = expected_state();
    // Without the newest snapshots, every older (fuzzy) one plus the logs after it.
    for newest in ["snapshot.50", "snapshot.38", "snapshot.26", "snapshot.13"] {
        let d = copy_dir(|n| !n.starts_with("snapshot.") || n <= newest, "older");
        let r = read_data_dir(&d).unwrap();
        assert_eq!(r.snapshot_file.unwrap().file_name().unwrap(), newest);
        let (tree, _) = replay(r.snapshot.as_ref().map(|(_, b)| b.as_slice()), &r.txns);
        assert_eq!(dump(&tree), expected, "from {newest}");
        let _ = fs::remove_dir_all(&d);
    }
    // No snapshot at all: the logs from zxid 1.
    let d = copy_dir(|n| n.starts_with("log."), "nosnap");
    let r = read_data_dir(&d).unwrap();
    assert!(r.snapshot.is_none());
    assert_eq!(r.txns[0].0, 1);
    let (tree, _) = replay(None, &r.txns);
    assert_eq!(dump(&tree), expected);
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn a_damaged_newest_snapshot_falls_back_and_a_missing_log_is_a_gap() {
    let d = copy_dir(|_| true, "damaged");
    let v = d.join("version-2");
    let mut b = fs::read(v.join("snapshot.6c")).unwrap();
    b[100] ^= 0x20;
    fs::write(v.join("snapshot.6c"), &b).unwrap();
    let r = read_data_dir(&d).unwrap();
    assert_eq!(r.snapshot_zxid(), 0x50);
    assert_eq!(r.skipped.len(), 1);
    let (tree, _) = replay(r.snapshot.as_ref().map(|(_, b)| b.as_slice()), &r.txns);
    assert_eq!(dump(&tree), expected_state());
    // Without log.52, the txns after snapshot.50 start too late.
    fs::remove_file(v.join("log.52")).unwrap();
    match read_data_dir(&d) {
        Err(ZkFileError::Gap { prev, .. }) => assert!(prev >= 0x50),
        other => panic!("expected a gap, got {other:?}"),
    }
    let _ = fs::remove_dir_all(&d);
}
