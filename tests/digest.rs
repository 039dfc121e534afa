//! The tree digest against ZooKeeper's own: Apache ZooKeeper 3.8.0 logs, after each txn, the
//! digest of its tree once the txn is applied (TxnDigest, see tests/zk_files). Replaying
//! its logs from the empty tree, Ferrokeeper's kept digest must equal that value after
//! every txn, and the digest log must hold it at every multiple of 128.

use std::fs;
use std::path::Path;

use ferrokeeper::pipeline::apply::apply;
use ferrokeeper::proto::TxnEntry;
use ferrokeeper::storage::zk::{empty_tree, read_txn_log_file};

#[test]
fn kept_digest_equals_zookeepers_after_every_logged_txn() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zk_files/datadir/version-2");
    let mut logs: Vec<(i64, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let hex = p.file_name()?.to_str()?.strip_prefix("log.")?.to_string();
            Some((i64::from_str_radix(&hex, 16).ok()?, fs::read(&p).ok()?))
        })
        .collect();
    logs.sort();
    let mut tree = empty_tree(true);
    let (mut compared, mut last) = (0, 0);
    for (_, bytes) in logs {
        for (zxid, entry) in read_txn_log_file(&bytes).unwrap() {
            let e = TxnEntry::from_bytes(&entry).unwrap();
            apply(&mut tree, &e.header, &e.txn);
            if let Some(d) = e.digest {
                assert_eq!(d.version, 2);
                assert_eq!(tree.digest(), d.tree_digest, "after txn 0x{zxid:x}");
                compared += 1;
            }
            last = zxid;
        }
    }
    assert!(compared > 100, "only {compared} txns carried a digest");
    // The fixture stays below 128 txns: nothing is logged yet.
    assert!(last < 128);
    assert!(tree.digest_log().is_empty());
}
